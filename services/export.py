"""ExportService: the tenant's results as a BIDS derivatives dataset, streamed as a tar archive."""

from __future__ import annotations

import hashlib
import pathlib
import shutil
import tarfile
import tempfile

from braindecode.errors import InvalidArgument
from braindecode.store import Store, export_bids_derivatives
from braindecode.v1 import export_pb2, export_pb2_grpc
from services._tenancy import current_tenant

DATASET = "derivatives"


class ExportServicer(export_pb2_grpc.ExportServiceServicer):
    def __init__(self, store: Store, config):
        self.store, self.config = store, config

    def ExportBIDSDerivatives(self, request, context):
        if request.chunk_bytes < 0:
            raise InvalidArgument("chunk_bytes must be positive")
        chunk_bytes = min(request.chunk_bytes or self.config.chunk_bytes, self.config.max_message_bytes // 2)
        work = pathlib.Path(tempfile.mkdtemp(dir=self.store.root / "tmp"))
        try:
            export_bids_derivatives(self.store, current_tenant(), work / DATASET, list(request.artifact_ids))
            archive = work / f"{DATASET}.tar"
            with tarfile.open(archive, "w") as tar:
                tar.add(work / DATASET, arcname=DATASET)
            total, digest = archive.stat().st_size, hashlib.sha256()
            with open(archive, "rb") as f:
                for piece in iter(lambda: f.read(chunk_bytes), b""):
                    if not context.is_active():
                        return
                    digest.update(piece)
                    last = f.tell() == total
                    yield export_pb2.ArchiveChunk(data=piece, total_bytes=total,
                                                  sha256=digest.hexdigest() if last else "")
        finally:
            shutil.rmtree(work, ignore_errors=True)
