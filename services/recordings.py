"""RecordingService: upload, list, read back and delete recordings."""

from __future__ import annotations

import json

from google.protobuf import json_format

from braindecode import tensors
from braindecode.containers import BrainResponses
from braindecode.errors import InvalidArgument
from braindecode.store import Store, Upload, check_event_count, load_array, set_recording_events
from braindecode.v1 import common_pb2, recordings_pb2, recordings_pb2_grpc
from services._tenancy import current_tenant
from services._wire import json_object, selection, tensor_chunks


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
        created=info.created, already_stored=info.already_stored)


def response_labels(responses: BrainResponses) -> common_pb2.ResponseLabels:
    """The labels of per-trial responses (``load_array``'s) as their wire message."""
    with_mask = responses.mask is not None
    return common_pb2.ResponseLabels(
        stimulus_ids=responses.stimulus_ids.tolist(), subjects=responses.subjects.tolist(),
        runs=responses.runs.tolist(), trials=[] if responses.trials is None else responses.trials.tolist(),
        n_events=responses.info.get("n_events", 0),
        feature_names=[] if with_mask or responses.feature_names is None else responses.feature_names,
        times=[] if responses.times is None else responses.times.tolist(),
        mask=tensors.to_tensor(responses.mask) if with_mask else None,
        affine=responses.affine.reshape(-1).tolist() if with_mask else [],
        info_json=json.dumps(responses.info, default=str))


class RecordingServicer(recordings_pb2_grpc.RecordingServiceServicer):
    def __init__(self, store: Store, config):
        self.store, self.config = store, config

    def UploadRecording(self, request_iterator, context):
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("part") != "metadata":
            raise InvalidArgument("the first upload message must carry the recording metadata")
        check_event_count(len(first.metadata.events))
        metadata = json_format.MessageToDict(first.metadata, preserving_proto_field_name=True,
                                             always_print_fields_with_no_presence=True)
        with Upload(self.store, metadata, self.config.max_upload_bytes, current_tenant()) as upload:
            for message in request_iterator:
                if message.WhichOneof("part") != "chunk":
                    raise InvalidArgument("metadata may only be sent once, in the first message")
                upload.write(message.chunk)
            return recording_message(upload.commit())

    def GetRecording(self, request, context):
        return recording_message(self.store.get_recording(current_tenant(), request.id))

    def ListRecordings(self, request, context):
        found, token = self.store.list_recordings(
            current_tenant(), subject=request.subject, modality=request.modality, task=request.task,
            page_size=request.page.page_size, page_token=request.page.page_token,
            max_bytes=self.config.max_message_bytes // 2)
        return recordings_pb2.ListRecordingsResponse(
            recordings=[recording_message(r) for r in found], next_page_token=token)

    def DeleteRecording(self, request, context):
        self.store.delete_recording(current_tenant(), request.id)
        return recordings_pb2.DeleteRecordingResponse(deleted=True)

    def SetEvents(self, request, context):
        events = [{"onset": e.onset, "duration": e.duration, "stimulus_id": e.stimulus_id} for e in request.events]
        return recording_message(set_recording_events(self.store, current_tenant(), request.id, events))

    def StreamData(self, request, context):
        result = load_array(self.store, current_tenant(), request.id,
                            json_object(request.preprocessing_json, "preprocessing_json"), selection=selection(request))
        if not isinstance(result, BrainResponses):
            yield from tensor_chunks(result, request.chunk_bytes, self.config, context)
            return
        yield from tensor_chunks(result.data, request.chunk_bytes, self.config, context)
        if context.is_active():
            yield common_pb2.TensorChunk(offset=result.data.nbytes, labels=response_labels(result))
