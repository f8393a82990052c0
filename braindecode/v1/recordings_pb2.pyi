from braindecode.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RecordingMetadata(_message.Message):
    __slots__ = ("subject", "session", "task", "run", "modality", "format", "file_name", "events", "sha256", "tr")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    TR_FIELD_NUMBER: _ClassVar[int]
    subject: str
    session: str
    task: str
    run: str
    modality: str
    format: str
    file_name: str
    events: _containers.RepeatedCompositeFieldContainer[_common_pb2.Event]
    sha256: str
    tr: float
    def __init__(self, subject: _Optional[str] = ..., session: _Optional[str] = ..., task: _Optional[str] = ..., run: _Optional[str] = ..., modality: _Optional[str] = ..., format: _Optional[str] = ..., file_name: _Optional[str] = ..., events: _Optional[_Iterable[_Union[_common_pb2.Event, _Mapping]]] = ..., sha256: _Optional[str] = ..., tr: _Optional[float] = ...) -> None: ...

class UploadRecordingRequest(_message.Message):
    __slots__ = ("metadata", "chunk")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    metadata: RecordingMetadata
    chunk: bytes
    def __init__(self, metadata: _Optional[_Union[RecordingMetadata, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class Channel(_message.Message):
    __slots__ = ("name", "type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ...) -> None: ...

class Recording(_message.Message):
    __slots__ = ("id", "subject", "session", "task", "run", "modality", "format", "file_name", "shape", "sampling_rate", "tr", "channels", "voxel_size", "affine", "duration", "sha256", "events", "size_bytes", "created", "already_stored")
    ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_RATE_FIELD_NUMBER: _ClassVar[int]
    TR_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    VOXEL_SIZE_FIELD_NUMBER: _ClassVar[int]
    AFFINE_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    ALREADY_STORED_FIELD_NUMBER: _ClassVar[int]
    id: str
    subject: str
    session: str
    task: str
    run: str
    modality: str
    format: str
    file_name: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    sampling_rate: float
    tr: float
    channels: _containers.RepeatedCompositeFieldContainer[Channel]
    voxel_size: _containers.RepeatedScalarFieldContainer[float]
    affine: _containers.RepeatedScalarFieldContainer[float]
    duration: float
    sha256: str
    events: _containers.RepeatedCompositeFieldContainer[_common_pb2.Event]
    size_bytes: int
    created: str
    already_stored: bool
    def __init__(self, id: _Optional[str] = ..., subject: _Optional[str] = ..., session: _Optional[str] = ..., task: _Optional[str] = ..., run: _Optional[str] = ..., modality: _Optional[str] = ..., format: _Optional[str] = ..., file_name: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., sampling_rate: _Optional[float] = ..., tr: _Optional[float] = ..., channels: _Optional[_Iterable[_Union[Channel, _Mapping]]] = ..., voxel_size: _Optional[_Iterable[float]] = ..., affine: _Optional[_Iterable[float]] = ..., duration: _Optional[float] = ..., sha256: _Optional[str] = ..., events: _Optional[_Iterable[_Union[_common_pb2.Event, _Mapping]]] = ..., size_bytes: _Optional[int] = ..., created: _Optional[str] = ..., already_stored: _Optional[bool] = ...) -> None: ...

class GetRecordingRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListRecordingsRequest(_message.Message):
    __slots__ = ("subject", "modality", "task", "page")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    subject: str
    modality: str
    task: str
    page: _common_pb2.PageRequest
    def __init__(self, subject: _Optional[str] = ..., modality: _Optional[str] = ..., task: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListRecordingsResponse(_message.Message):
    __slots__ = ("recordings", "next_page_token")
    RECORDINGS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    recordings: _containers.RepeatedCompositeFieldContainer[Recording]
    next_page_token: str
    def __init__(self, recordings: _Optional[_Iterable[_Union[Recording, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteRecordingRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteRecordingResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    def __init__(self, deleted: _Optional[bool] = ...) -> None: ...

class SetEventsRequest(_message.Message):
    __slots__ = ("id", "events")
    ID_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    id: str
    events: _containers.RepeatedCompositeFieldContainer[_common_pb2.Event]
    def __init__(self, id: _Optional[str] = ..., events: _Optional[_Iterable[_Union[_common_pb2.Event, _Mapping]]] = ...) -> None: ...

class StreamDataRequest(_message.Message):
    __slots__ = ("id", "preprocessing_json", "chunk_bytes", "selection")
    ID_FIELD_NUMBER: _ClassVar[int]
    PREPROCESSING_JSON_FIELD_NUMBER: _ClassVar[int]
    CHUNK_BYTES_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    preprocessing_json: str
    chunk_bytes: int
    selection: _common_pb2.Selection
    def __init__(self, id: _Optional[str] = ..., preprocessing_json: _Optional[str] = ..., chunk_bytes: _Optional[int] = ..., selection: _Optional[_Union[_common_pb2.Selection, _Mapping]] = ...) -> None: ...
