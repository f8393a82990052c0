from braindecode.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Lags(_message.Message):
    __slots__ = ("tmin", "tmax", "sfreq")
    TMIN_FIELD_NUMBER: _ClassVar[int]
    TMAX_FIELD_NUMBER: _ClassVar[int]
    SFREQ_FIELD_NUMBER: _ClassVar[int]
    tmin: float
    tmax: float
    sfreq: float
    def __init__(self, tmin: _Optional[float] = ..., tmax: _Optional[float] = ..., sfreq: _Optional[float] = ...) -> None: ...

class FitEncoderRequest(_message.Message):
    __slots__ = ("recording_ids", "preprocessing_json", "activation_set_id", "layers", "alphas", "delays", "lags", "cv_folds", "n_ratios", "seed", "device", "selection")
    RECORDING_IDS_FIELD_NUMBER: _ClassVar[int]
    PREPROCESSING_JSON_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_SET_ID_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    ALPHAS_FIELD_NUMBER: _ClassVar[int]
    DELAYS_FIELD_NUMBER: _ClassVar[int]
    LAGS_FIELD_NUMBER: _ClassVar[int]
    CV_FOLDS_FIELD_NUMBER: _ClassVar[int]
    N_RATIOS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    recording_ids: _containers.RepeatedScalarFieldContainer[str]
    preprocessing_json: str
    activation_set_id: str
    layers: _containers.RepeatedScalarFieldContainer[str]
    alphas: _containers.RepeatedScalarFieldContainer[float]
    delays: _containers.RepeatedScalarFieldContainer[int]
    lags: Lags
    cv_folds: int
    n_ratios: int
    seed: int
    device: str
    selection: _common_pb2.Selection
    def __init__(self, recording_ids: _Optional[_Iterable[str]] = ..., preprocessing_json: _Optional[str] = ..., activation_set_id: _Optional[str] = ..., layers: _Optional[_Iterable[str]] = ..., alphas: _Optional[_Iterable[float]] = ..., delays: _Optional[_Iterable[int]] = ..., lags: _Optional[_Union[Lags, _Mapping]] = ..., cv_folds: _Optional[int] = ..., n_ratios: _Optional[int] = ..., seed: _Optional[int] = ..., device: _Optional[str] = ..., selection: _Optional[_Union[_common_pb2.Selection, _Mapping]] = ...) -> None: ...

class EncoderFoldScores(_message.Message):
    __slots__ = ("test_runs", "n_test_trials", "scores")
    class ScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TEST_RUNS_FIELD_NUMBER: _ClassVar[int]
    N_TEST_TRIALS_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    test_runs: _containers.RepeatedScalarFieldContainer[str]
    n_test_trials: int
    scores: _containers.ScalarMap[str, float]
    def __init__(self, test_runs: _Optional[_Iterable[str]] = ..., n_test_trials: _Optional[int] = ..., scores: _Optional[_Mapping[str, float]] = ...) -> None: ...

class FitEncoderResult(_message.Message):
    __slots__ = ("encoder_id", "modality", "response_shape", "n_features", "n_trials", "cv_scores", "folds", "score_names", "target_scores")
    class CvScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ENCODER_ID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_SHAPE_FIELD_NUMBER: _ClassVar[int]
    N_FEATURES_FIELD_NUMBER: _ClassVar[int]
    N_TRIALS_FIELD_NUMBER: _ClassVar[int]
    CV_SCORES_FIELD_NUMBER: _ClassVar[int]
    FOLDS_FIELD_NUMBER: _ClassVar[int]
    SCORE_NAMES_FIELD_NUMBER: _ClassVar[int]
    TARGET_SCORES_FIELD_NUMBER: _ClassVar[int]
    encoder_id: str
    modality: str
    response_shape: _containers.RepeatedScalarFieldContainer[int]
    n_features: int
    n_trials: int
    cv_scores: _containers.ScalarMap[str, float]
    folds: _containers.RepeatedCompositeFieldContainer[EncoderFoldScores]
    score_names: _containers.RepeatedScalarFieldContainer[str]
    target_scores: _common_pb2.Tensor
    def __init__(self, encoder_id: _Optional[str] = ..., modality: _Optional[str] = ..., response_shape: _Optional[_Iterable[int]] = ..., n_features: _Optional[int] = ..., n_trials: _Optional[int] = ..., cv_scores: _Optional[_Mapping[str, float]] = ..., folds: _Optional[_Iterable[_Union[EncoderFoldScores, _Mapping]]] = ..., score_names: _Optional[_Iterable[str]] = ..., target_scores: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ...) -> None: ...

class FitEncoderEvent(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: _common_pb2.Progress
    result: FitEncoderResult
    def __init__(self, progress: _Optional[_Union[_common_pb2.Progress, _Mapping]] = ..., result: _Optional[_Union[FitEncoderResult, _Mapping]] = ...) -> None: ...

class PredictRequest(_message.Message):
    __slots__ = ("encoder_id", "features", "activation_set_id", "stimulus_ids")
    ENCODER_ID_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_SET_ID_FIELD_NUMBER: _ClassVar[int]
    STIMULUS_IDS_FIELD_NUMBER: _ClassVar[int]
    encoder_id: str
    features: _common_pb2.Tensor
    activation_set_id: str
    stimulus_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, encoder_id: _Optional[str] = ..., features: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ..., activation_set_id: _Optional[str] = ..., stimulus_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ScoreRequest(_message.Message):
    __slots__ = ("encoder_id", "recording_ids", "preprocessing_json", "activation_set_id", "selection")
    ENCODER_ID_FIELD_NUMBER: _ClassVar[int]
    RECORDING_IDS_FIELD_NUMBER: _ClassVar[int]
    PREPROCESSING_JSON_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_SET_ID_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    encoder_id: str
    recording_ids: _containers.RepeatedScalarFieldContainer[str]
    preprocessing_json: str
    activation_set_id: str
    selection: _common_pb2.Selection
    def __init__(self, encoder_id: _Optional[str] = ..., recording_ids: _Optional[_Iterable[str]] = ..., preprocessing_json: _Optional[str] = ..., activation_set_id: _Optional[str] = ..., selection: _Optional[_Union[_common_pb2.Selection, _Mapping]] = ...) -> None: ...

class ScoreResponse(_message.Message):
    __slots__ = ("score_names", "scores", "summary", "response_shape", "n_trials", "score_map_nifti", "score_map_id")
    class SummaryEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    SCORE_NAMES_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_SHAPE_FIELD_NUMBER: _ClassVar[int]
    N_TRIALS_FIELD_NUMBER: _ClassVar[int]
    SCORE_MAP_NIFTI_FIELD_NUMBER: _ClassVar[int]
    SCORE_MAP_ID_FIELD_NUMBER: _ClassVar[int]
    score_names: _containers.RepeatedScalarFieldContainer[str]
    scores: _common_pb2.Tensor
    summary: _containers.ScalarMap[str, float]
    response_shape: _containers.RepeatedScalarFieldContainer[int]
    n_trials: int
    score_map_nifti: bytes
    score_map_id: str
    def __init__(self, score_names: _Optional[_Iterable[str]] = ..., scores: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ..., summary: _Optional[_Mapping[str, float]] = ..., response_shape: _Optional[_Iterable[int]] = ..., n_trials: _Optional[int] = ..., score_map_nifti: _Optional[bytes] = ..., score_map_id: _Optional[str] = ...) -> None: ...
