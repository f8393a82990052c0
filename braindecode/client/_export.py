"""``client.export``: stored results written out as a BIDS derivatives dataset."""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import tarfile
import tempfile

from braindecode.client._base import ServiceClient
from braindecode.client._checks import build, labels
from braindecode.v1 import export_pb2, export_pb2_grpc


class ExportClient(ServiceClient):
    """Export of stored results (the ``ExportService``)."""

    stub_class = export_pb2_grpc.ExportServiceStub

    def bids_derivatives(self, out_dir, artifact_ids=()) -> pathlib.Path:
        """Write the tenant's results as a BIDS derivatives dataset into ``out_dir``.

        Encoding score maps (NIfTI in the recordings' space), the decoded embeddings and retrieval
        results of batch jobs, RDMs, RSA comparisons and score matrices, each with a JSON sidecar
        holding its provenance; ``dataset_description.json`` names braindecode in ``GeneratedBy``
        (see ``braindecode.store.export_bids_derivatives`` for the layout).

        Parameters
        ----------
        out_dir : str or os.PathLike
            A folder that does not exist yet, or an empty one; it holds the whole dataset or nothing.
        artifact_ids : list of str, optional
            Only these results; default: all of them.

        Returns
        -------
        pathlib.Path
            ``out_dir``.
        """
        out = pathlib.Path(out_dir).expanduser()
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise FileExistsError(f"{out} already exists and is not an empty folder; export into a new one")
        request = build(export_pb2.ExportBIDSDerivativesRequest, artifact_ids=labels(artifact_ids, "artifact_ids"))
        out.parent.mkdir(parents=True, exist_ok=True)
        work = pathlib.Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
        try:
            archive, digest, expected = work / "export.tar", hashlib.sha256(), ""
            with open(archive, "wb") as f:
                for chunk in self._call("ExportBIDSDerivatives", request):
                    f.write(chunk.data)
                    digest.update(chunk.data)
                    expected = chunk.sha256 or expected
            if digest.hexdigest() != expected:
                raise OSError(f"the export archive arrived damaged (sha256 {digest.hexdigest()}, expected "
                              f"{expected or 'none'}); nothing was written")
            with tarfile.open(archive) as tar:
                tar.extractall(work / "dataset", filter="data")
            (dataset,) = (work / "dataset").iterdir()
            if out.exists():
                out.rmdir()
            os.replace(dataset, out)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return out
