"""RecordingService: upload, list, read back and delete recordings."""

from __future__ import annotations

import json

from google.protobuf import json_format

from braindecode import tensors
from braindecode.errors import InvalidArgument
from braindecode.store import Store, Upload, load_array
from braindecode.v1 import common_pb2, recordings_pb2, recordings_pb2_grpc
from services._errors import grpc_errors
from services._tenancy import current_tenant


def recording_message(info) -> recordings_pb2.Recording:
    """A stored RecordingInfo as its wire message."""
    meta = info.meta
    return recordings_pb2.Recording(
        id=info.id, subject=info.subject, session=info.session, task=info.task, run=info.run,
        modality=info.modality, format=info.format, file_name=info.file_name,
        shape=meta.get("shape", []), sampling_rate=meta.get("sampling_rate") or 0.0,
        tr=meta.get("tr") or 0.0,
        channels=[recordings_pb2.Channel(name=n, type=t)
                  for n, t in zip(meta.get("ch_names") or [], meta.get("ch_types") or [])],
        voxel_size=meta.get("voxel_size") or [],
        affine=[v for row in (meta.get("affine") or []) for v in row],
        duration=meta.get("duration") or 0.0, sha256=info.sha256,
        events=[common_pb2.Event(**e) for e in info.events], size_bytes=info.size_bytes,
        created=info.created)


class RecordingServicer(recordings_pb2_grpc.RecordingServiceServicer):
    def __init__(self, store: Store, config):
        self.store, self.config = store, config

    @grpc_errors
    def UploadRecording(self, request_iterator, context):
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("part") != "metadata":
            raise InvalidArgument("the first upload message must carry the recording metadata")
        metadata = json_format.MessageToDict(first.metadata, preserving_proto_field_name=True,
                                             always_print_fields_with_no_presence=True)
        with Upload(self.store, metadata, self.config.max_upload_bytes, current_tenant()) as upload:
            for message in request_iterator:
                if message.WhichOneof("part") != "chunk":
                    raise InvalidArgument("metadata may only be sent once, in the first message")
                upload.write(message.chunk)
            return recording_message(upload.commit())

    @grpc_errors
    def GetRecording(self, request, context):
        return recording_message(self.store.get_recording(current_tenant(), request.id))

    @grpc_errors
    def ListRecordings(self, request, context):
        found, token = self.store.list_recordings(
            current_tenant(), subject=request.subject, modality=request.modality, task=request.task,
            page_size=request.page.page_size, page_token=request.page.page_token)
        return recordings_pb2.ListRecordingsResponse(
            recordings=[recording_message(r) for r in found], next_page_token=token)

    @grpc_errors
    def DeleteRecording(self, request, context):
        self.store.delete_recording(current_tenant(), request.id)
        return recordings_pb2.DeleteRecordingResponse(deleted=True)

    @grpc_errors
    def StreamData(self, request, context):
        spec = None
        if request.preprocessing_json:
            try:
                spec = json.loads(request.preprocessing_json)
            except json.JSONDecodeError as exc:
                raise InvalidArgument(f"preprocessing_json is not valid JSON: {exc}") from None
        array = load_array(self.store, current_tenant(), request.id, spec)
        chunk = request.chunk_bytes or self.config.chunk_bytes
        if chunk < 0:
            raise InvalidArgument("chunk_bytes must be positive")
        for message in tensors.to_chunks(array, min(chunk, self.config.max_message_bytes // 2)):
            if not context.is_active():
                return
            yield message
