from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Tensor(_message.Message):
    __slots__ = ("dtype", "shape", "data")
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    dtype: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    data: bytes
    def __init__(self, dtype: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., data: _Optional[bytes] = ...) -> None: ...

class TensorChunk(_message.Message):
    __slots__ = ("dtype", "shape", "offset", "data", "total_bytes", "labels")
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    dtype: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    offset: int
    data: bytes
    total_bytes: int
    labels: ResponseLabels
    def __init__(self, dtype: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ..., total_bytes: _Optional[int] = ..., labels: _Optional[_Union[ResponseLabels, _Mapping]] = ...) -> None: ...

class ResponseLabels(_message.Message):
    __slots__ = ("stimulus_ids", "subjects", "runs", "trials", "n_events", "feature_names", "times", "mask", "affine", "info_json")
    STIMULUS_IDS_FIELD_NUMBER: _ClassVar[int]
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    TRIALS_FIELD_NUMBER: _ClassVar[int]
    N_EVENTS_FIELD_NUMBER: _ClassVar[int]
    FEATURE_NAMES_FIELD_NUMBER: _ClassVar[int]
    TIMES_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    AFFINE_FIELD_NUMBER: _ClassVar[int]
    INFO_JSON_FIELD_NUMBER: _ClassVar[int]
    stimulus_ids: _containers.RepeatedScalarFieldContainer[str]
    subjects: _containers.RepeatedScalarFieldContainer[str]
    runs: _containers.RepeatedScalarFieldContainer[str]
    trials: _containers.RepeatedScalarFieldContainer[int]
    n_events: int
    feature_names: _containers.RepeatedScalarFieldContainer[str]
    times: _containers.RepeatedScalarFieldContainer[float]
    mask: Tensor
    affine: _containers.RepeatedScalarFieldContainer[float]
    info_json: str
    def __init__(self, stimulus_ids: _Optional[_Iterable[str]] = ..., subjects: _Optional[_Iterable[str]] = ..., runs: _Optional[_Iterable[str]] = ..., trials: _Optional[_Iterable[int]] = ..., n_events: _Optional[int] = ..., feature_names: _Optional[_Iterable[str]] = ..., times: _Optional[_Iterable[float]] = ..., mask: _Optional[_Union[Tensor, _Mapping]] = ..., affine: _Optional[_Iterable[float]] = ..., info_json: _Optional[str] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("stage", "fraction", "message")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    stage: str
    fraction: float
    message: str
    def __init__(self, stage: _Optional[str] = ..., fraction: _Optional[float] = ..., message: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("onset", "duration", "stimulus_id", "columns")
    class ColumnsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ONSET_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    STIMULUS_ID_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    onset: float
    duration: float
    stimulus_id: str
    columns: _containers.ScalarMap[str, str]
    def __init__(self, onset: _Optional[float] = ..., duration: _Optional[float] = ..., stimulus_id: _Optional[str] = ..., columns: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Selection(_message.Message):
    __slots__ = ("voxels", "trials")
    VOXELS_FIELD_NUMBER: _ClassVar[int]
    TRIALS_FIELD_NUMBER: _ClassVar[int]
    voxels: VoxelSelection
    trials: TrialSelection
    def __init__(self, voxels: _Optional[_Union[VoxelSelection, _Mapping]] = ..., trials: _Optional[_Union[TrialSelection, _Mapping]] = ...) -> None: ...

class VoxelSelection(_message.Message):
    __slots__ = ("mask_id", "atlas_id", "labels")
    MASK_ID_FIELD_NUMBER: _ClassVar[int]
    ATLAS_ID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    mask_id: str
    atlas_id: str
    labels: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, mask_id: _Optional[str] = ..., atlas_id: _Optional[str] = ..., labels: _Optional[_Iterable[int]] = ...) -> None: ...

class TrialSelection(_message.Message):
    __slots__ = ("stimulus_ids", "where", "model_events")
    STIMULUS_IDS_FIELD_NUMBER: _ClassVar[int]
    WHERE_FIELD_NUMBER: _ClassVar[int]
    MODEL_EVENTS_FIELD_NUMBER: _ClassVar[int]
    stimulus_ids: _containers.RepeatedScalarFieldContainer[str]
    where: str
    model_events: str
    def __init__(self, stimulus_ids: _Optional[_Iterable[str]] = ..., where: _Optional[str] = ..., model_events: _Optional[str] = ...) -> None: ...

class PageRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...
