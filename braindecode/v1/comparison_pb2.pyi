from braindecode.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ROI(_message.Message):
    __slots__ = ("feature_indices", "mask", "mask_nifti", "name")
    FEATURE_INDICES_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    MASK_NIFTI_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    feature_indices: _containers.RepeatedScalarFieldContainer[int]
    mask: _common_pb2.Tensor
    mask_nifti: bytes
    name: str
    def __init__(self, feature_indices: _Optional[_Iterable[int]] = ..., mask: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ..., mask_nifti: _Optional[bytes] = ..., name: _Optional[str] = ...) -> None: ...

class TimeWindow(_message.Message):
    __slots__ = ("start", "stop")
    START_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    start: float
    stop: float
    def __init__(self, start: _Optional[float] = ..., stop: _Optional[float] = ...) -> None: ...

class ComputeRDMRequest(_message.Message):
    __slots__ = ("recording_ids", "preprocessing_json", "roi", "time_window", "activation_set_id", "layer", "method", "condition_ids", "device", "selection")
    RECORDING_IDS_FIELD_NUMBER: _ClassVar[int]
    PREPROCESSING_JSON_FIELD_NUMBER: _ClassVar[int]
    ROI_FIELD_NUMBER: _ClassVar[int]
    TIME_WINDOW_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_SET_ID_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    CONDITION_IDS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    recording_ids: _containers.RepeatedScalarFieldContainer[str]
    preprocessing_json: str
    roi: ROI
    time_window: TimeWindow
    activation_set_id: str
    layer: str
    method: str
    condition_ids: _containers.RepeatedScalarFieldContainer[str]
    device: str
    selection: _common_pb2.Selection
    def __init__(self, recording_ids: _Optional[_Iterable[str]] = ..., preprocessing_json: _Optional[str] = ..., roi: _Optional[_Union[ROI, _Mapping]] = ..., time_window: _Optional[_Union[TimeWindow, _Mapping]] = ..., activation_set_id: _Optional[str] = ..., layer: _Optional[str] = ..., method: _Optional[str] = ..., condition_ids: _Optional[_Iterable[str]] = ..., device: _Optional[str] = ..., selection: _Optional[_Union[_common_pb2.Selection, _Mapping]] = ...) -> None: ...

class RDM(_message.Message):
    __slots__ = ("id", "subject", "method", "condition_ids", "rdm", "source", "layer", "provenance_json", "created")
    ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    CONDITION_IDS_FIELD_NUMBER: _ClassVar[int]
    RDM_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_JSON_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    id: str
    subject: str
    method: str
    condition_ids: _containers.RepeatedScalarFieldContainer[str]
    rdm: _common_pb2.Tensor
    source: str
    layer: str
    provenance_json: str
    created: str
    def __init__(self, id: _Optional[str] = ..., subject: _Optional[str] = ..., method: _Optional[str] = ..., condition_ids: _Optional[_Iterable[str]] = ..., rdm: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ..., source: _Optional[str] = ..., layer: _Optional[str] = ..., provenance_json: _Optional[str] = ..., created: _Optional[str] = ...) -> None: ...

class ComputeRDMResponse(_message.Message):
    __slots__ = ("rdms",)
    RDMS_FIELD_NUMBER: _ClassVar[int]
    rdms: _containers.RepeatedCompositeFieldContainer[RDM]
    def __init__(self, rdms: _Optional[_Iterable[_Union[RDM, _Mapping]]] = ...) -> None: ...

class GetRDMRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class StreamRDMRequest(_message.Message):
    __slots__ = ("id", "chunk_bytes")
    ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_BYTES_FIELD_NUMBER: _ClassVar[int]
    id: str
    chunk_bytes: int
    def __init__(self, id: _Optional[str] = ..., chunk_bytes: _Optional[int] = ...) -> None: ...

class ModelRDM(_message.Message):
    __slots__ = ("name", "rdm_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RDM_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    rdm_id: str
    def __init__(self, name: _Optional[str] = ..., rdm_id: _Optional[str] = ...) -> None: ...

class CompareRequest(_message.Message):
    __slots__ = ("brain_rdm_ids", "model_rdms", "method", "n_bootstrap", "bootstrap", "n_permutations", "seed", "ci", "device")
    BRAIN_RDM_IDS_FIELD_NUMBER: _ClassVar[int]
    MODEL_RDMS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    N_BOOTSTRAP_FIELD_NUMBER: _ClassVar[int]
    BOOTSTRAP_FIELD_NUMBER: _ClassVar[int]
    N_PERMUTATIONS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    CI_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    brain_rdm_ids: _containers.RepeatedScalarFieldContainer[str]
    model_rdms: _containers.RepeatedCompositeFieldContainer[ModelRDM]
    method: str
    n_bootstrap: int
    bootstrap: str
    n_permutations: int
    seed: int
    ci: float
    device: str
    def __init__(self, brain_rdm_ids: _Optional[_Iterable[str]] = ..., model_rdms: _Optional[_Iterable[_Union[ModelRDM, _Mapping]]] = ..., method: _Optional[str] = ..., n_bootstrap: _Optional[int] = ..., bootstrap: _Optional[str] = ..., n_permutations: _Optional[int] = ..., seed: _Optional[int] = ..., ci: _Optional[float] = ..., device: _Optional[str] = ...) -> None: ...

class ModelScore(_message.Message):
    __slots__ = ("name", "rdm_id", "score", "subject_scores", "ci_lower", "ci_upper", "p_value", "p_value_fdr")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RDM_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_SCORES_FIELD_NUMBER: _ClassVar[int]
    CI_LOWER_FIELD_NUMBER: _ClassVar[int]
    CI_UPPER_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FDR_FIELD_NUMBER: _ClassVar[int]
    name: str
    rdm_id: str
    score: float
    subject_scores: _containers.RepeatedScalarFieldContainer[float]
    ci_lower: float
    ci_upper: float
    p_value: float
    p_value_fdr: float
    def __init__(self, name: _Optional[str] = ..., rdm_id: _Optional[str] = ..., score: _Optional[float] = ..., subject_scores: _Optional[_Iterable[float]] = ..., ci_lower: _Optional[float] = ..., ci_upper: _Optional[float] = ..., p_value: _Optional[float] = ..., p_value_fdr: _Optional[float] = ...) -> None: ...

class NoiseCeiling(_message.Message):
    __slots__ = ("lower", "upper")
    LOWER_FIELD_NUMBER: _ClassVar[int]
    UPPER_FIELD_NUMBER: _ClassVar[int]
    lower: float
    upper: float
    def __init__(self, lower: _Optional[float] = ..., upper: _Optional[float] = ...) -> None: ...

class CompareResult(_message.Message):
    __slots__ = ("comparison_id", "method", "condition_ids", "models", "noise_ceiling", "pairwise_p_values", "pairwise_p_values_fdr", "bootstrap", "n_bootstrap", "n_valid_bootstrap", "n_permutations", "seed", "ci")
    COMPARISON_ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    CONDITION_IDS_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    NOISE_CEILING_FIELD_NUMBER: _ClassVar[int]
    PAIRWISE_P_VALUES_FIELD_NUMBER: _ClassVar[int]
    PAIRWISE_P_VALUES_FDR_FIELD_NUMBER: _ClassVar[int]
    BOOTSTRAP_FIELD_NUMBER: _ClassVar[int]
    N_BOOTSTRAP_FIELD_NUMBER: _ClassVar[int]
    N_VALID_BOOTSTRAP_FIELD_NUMBER: _ClassVar[int]
    N_PERMUTATIONS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    CI_FIELD_NUMBER: _ClassVar[int]
    comparison_id: str
    method: str
    condition_ids: _containers.RepeatedScalarFieldContainer[str]
    models: _containers.RepeatedCompositeFieldContainer[ModelScore]
    noise_ceiling: NoiseCeiling
    pairwise_p_values: _common_pb2.Tensor
    pairwise_p_values_fdr: _common_pb2.Tensor
    bootstrap: str
    n_bootstrap: int
    n_valid_bootstrap: int
    n_permutations: int
    seed: int
    ci: float
    def __init__(self, comparison_id: _Optional[str] = ..., method: _Optional[str] = ..., condition_ids: _Optional[_Iterable[str]] = ..., models: _Optional[_Iterable[_Union[ModelScore, _Mapping]]] = ..., noise_ceiling: _Optional[_Union[NoiseCeiling, _Mapping]] = ..., pairwise_p_values: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ..., pairwise_p_values_fdr: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ..., bootstrap: _Optional[str] = ..., n_bootstrap: _Optional[int] = ..., n_valid_bootstrap: _Optional[int] = ..., n_permutations: _Optional[int] = ..., seed: _Optional[int] = ..., ci: _Optional[float] = ...) -> None: ...

class CompareEvent(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: _common_pb2.Progress
    result: CompareResult
    def __init__(self, progress: _Optional[_Union[_common_pb2.Progress, _Mapping]] = ..., result: _Optional[_Union[CompareResult, _Mapping]] = ...) -> None: ...

class ScoreMatrixRequest(_message.Message):
    __slots__ = ("activation_set_id", "layers", "recording_ids", "preprocessing_json", "rois", "time_window", "method", "rdm_method", "comparison", "kernel", "debiased", "device", "selection")
    ACTIVATION_SET_ID_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    RECORDING_IDS_FIELD_NUMBER: _ClassVar[int]
    PREPROCESSING_JSON_FIELD_NUMBER: _ClassVar[int]
    ROIS_FIELD_NUMBER: _ClassVar[int]
    TIME_WINDOW_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    RDM_METHOD_FIELD_NUMBER: _ClassVar[int]
    COMPARISON_FIELD_NUMBER: _ClassVar[int]
    KERNEL_FIELD_NUMBER: _ClassVar[int]
    DEBIASED_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    activation_set_id: str
    layers: _containers.RepeatedScalarFieldContainer[str]
    recording_ids: _containers.RepeatedScalarFieldContainer[str]
    preprocessing_json: str
    rois: _containers.RepeatedCompositeFieldContainer[ROI]
    time_window: TimeWindow
    method: str
    rdm_method: str
    comparison: str
    kernel: str
    debiased: bool
    device: str
    selection: _common_pb2.Selection
    def __init__(self, activation_set_id: _Optional[str] = ..., layers: _Optional[_Iterable[str]] = ..., recording_ids: _Optional[_Iterable[str]] = ..., preprocessing_json: _Optional[str] = ..., rois: _Optional[_Iterable[_Union[ROI, _Mapping]]] = ..., time_window: _Optional[_Union[TimeWindow, _Mapping]] = ..., method: _Optional[str] = ..., rdm_method: _Optional[str] = ..., comparison: _Optional[str] = ..., kernel: _Optional[str] = ..., debiased: _Optional[bool] = ..., device: _Optional[str] = ..., selection: _Optional[_Union[_common_pb2.Selection, _Mapping]] = ...) -> None: ...

class ScoreMatrixResponse(_message.Message):
    __slots__ = ("score_matrix_id", "rows", "columns", "scores", "subjects", "subject_scores", "method", "times")
    SCORE_MATRIX_ID_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_SCORES_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    TIMES_FIELD_NUMBER: _ClassVar[int]
    score_matrix_id: str
    rows: _containers.RepeatedScalarFieldContainer[str]
    columns: _containers.RepeatedScalarFieldContainer[str]
    scores: _common_pb2.Tensor
    subjects: _containers.RepeatedScalarFieldContainer[str]
    subject_scores: _common_pb2.Tensor
    method: str
    times: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, score_matrix_id: _Optional[str] = ..., rows: _Optional[_Iterable[str]] = ..., columns: _Optional[_Iterable[str]] = ..., scores: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ..., subjects: _Optional[_Iterable[str]] = ..., subject_scores: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ..., method: _Optional[str] = ..., times: _Optional[_Iterable[float]] = ...) -> None: ...
