"""``client.artifacts``: a tenant's stored results listed, described, downloaded and deleted."""

from __future__ import annotations

import hashlib
import os
import pathlib

from braindecode.client._base import ServiceClient
from braindecode.client._checks import build
from braindecode.client._replies import Artifact
from braindecode.errors import DataLoss
from braindecode.v1 import artifacts_pb2, artifacts_pb2_grpc


class _Arriving:
    """A downloaded file being written beside its final name, checked against its size and sha256."""

    def __init__(self, directory: pathlib.Path, artifact_id: str, chunk):
        name = chunk.file
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise DataLoss(f"artifact {artifact_id} sent a file named {name!r}")
        self.path, self.artifact_id = directory / name, artifact_id
        self.size, self.sha256 = chunk.size_bytes, chunk.sha256
        self.partial = directory / f".{name}.part"
        self.file = open(self.partial, "wb")
        self.digest = hashlib.sha256()

    def write(self, chunk) -> None:
        if chunk.offset != self.file.tell():
            raise DataLoss(f"file {self.path.name} of artifact {self.artifact_id} arrived out of order")
        self.file.write(chunk.data)
        self.digest.update(chunk.data)

    def finish(self) -> pathlib.Path:
        written = self.file.tell()
        self.file.close()
        if written != self.size or self.digest.hexdigest() != self.sha256:
            raise DataLoss(f"file {self.path.name} of artifact {self.artifact_id} arrived damaged ({written} of "
                           f"{self.size} bytes, sha256 {self.digest.hexdigest()} instead of {self.sha256})")
        os.replace(self.partial, self.path)
        return self.path

    def abandon(self) -> None:
        self.file.close()
        self.partial.unlink(missing_ok=True)


class ArtifactsClient(ServiceClient):
    """Stored results: decoders, encoders, activation and stimulus sets, RDMs, comparisons, score maps and
    matrices, reconstructions, the outputs of jobs' shards (the ``ArtifactService``)."""

    stub_class = artifacts_pb2_grpc.ArtifactServiceStub

    def list(self, kind: str = "", page_size: int = 100) -> list:
        """Every artifact of this tenant (all pages), oldest first.

        Parameters
        ----------
        kind : str, optional
            Only this kind: activations, stimuli, decoder, encoder, score-map, rdm, comparison,
            score_matrix, reconstruction or job-output.
        page_size : int
            Artifacts per page read.

        Returns
        -------
        list of Artifact
            Their files with sizes and sha256, without dtypes and shapes (see :meth:`get`).
        """
        return self._list("ListArtifacts", build(artifacts_pb2.ListArtifactsRequest, kind=kind), "artifacts",
                          page_size)

    def get(self, artifact_id: str) -> Artifact:
        """The artifact ``artifact_id``: kind, files with the arrays they hold, meta, provenance, creation time."""
        return self._get("GetArtifact", build(artifacts_pb2.GetArtifactRequest, id=artifact_id))

    def download(self, artifact_id: str, directory, files=()) -> dict:
        """Write an artifact's files into ``directory`` (created if needed), each checked against its sha256.

        Each file is written beside its name and renamed into place once its bytes are checked, so a
        file in ``directory`` is always whole.

        Parameters
        ----------
        artifact_id : str
        directory : str or pathlib.Path
        files : list of str, optional
            Names of the files to download; empty downloads every file.

        Returns
        -------
        dict of str -> pathlib.Path
            File name -> where it was written, in the artifact's order.
        """
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(f"directory must be a folder path, got {type(directory).__name__}")
        request = build(artifacts_pb2.DownloadArtifactRequest, id=artifact_id, files=files)
        directory = pathlib.Path(directory)
        written, current = {}, None
        try:
            for chunk in self._call("DownloadArtifact", request):
                if chunk.file:
                    if current is not None:
                        written[current.path.name] = current.finish()
                    directory.mkdir(parents=True, exist_ok=True)  # once the server has sent a file
                    current = _Arriving(directory, artifact_id, chunk)
                elif current is None:
                    raise DataLoss(f"artifact {artifact_id} sent bytes before naming their file")
                current.write(chunk)
            if current is not None:
                written[current.path.name] = current.finish()
                current = None
        finally:
            if current is not None:
                current.abandon()
        return written

    def delete(self, artifact_id: str) -> bool:
        """Delete the artifact ``artifact_id``; True once it is gone."""
        return self._call("DeleteArtifact", build(artifacts_pb2.DeleteArtifactRequest, id=artifact_id)).deleted
