"""ArtifactService: a tenant's stored results listed, described, downloaded file by file and deleted."""

from __future__ import annotations

import json

from braindecode.store import artifact_chunks, describe_artifact, list_artifact_descriptions
from braindecode.v1 import artifacts_pb2, artifacts_pb2_grpc
from services._tenancy import current_tenant
from services._wire import chunk_size


def artifact_message(description) -> artifacts_pb2.Artifact:
    """A store ArtifactDescription as its wire message."""
    info = description.info
    return artifacts_pb2.Artifact(
        id=info.id, kind=info.kind, size_bytes=description.size_bytes, meta_json=json.dumps(info.meta),
        provenance_json=json.dumps(info.provenance), created=info.created,
        files=[artifacts_pb2.ArtifactFile(name=f.name, size_bytes=f.size_bytes, sha256=f.sha256, dtype=f.dtype,
                                          shape=f.shape) for f in description.files])


class ArtifactServicer(artifacts_pb2_grpc.ArtifactServiceServicer):
    def __init__(self, store, config):
        self.store, self.config = store, config

    def ListArtifacts(self, request, context):
        found, token = list_artifact_descriptions(self.store, current_tenant(), request.kind,
                                                  request.page.page_size, request.page.page_token)
        return artifacts_pb2.ListArtifactsResponse(artifacts=[artifact_message(d) for d in found],
                                                   next_page_token=token)

    def GetArtifact(self, request, context):
        return artifact_message(describe_artifact(self.store, current_tenant(), request.id))

    def DownloadArtifact(self, request, context):
        pieces = artifact_chunks(self.store, current_tenant(), request.id, list(request.files),
                                 chunk_size(request.chunk_bytes, self.config))
        for stored, offset, data in pieces:
            if not context.is_active():
                return
            chunk = artifacts_pb2.ArtifactChunk(offset=offset, data=data)
            if stored is not None:
                chunk.file, chunk.size_bytes, chunk.sha256 = stored.name, stored.size_bytes, stored.sha256
            yield chunk

    def DeleteArtifact(self, request, context):
        self.store.delete_artifact(current_tenant(), request.id)
        return artifacts_pb2.DeleteArtifactResponse(deleted=True)
