from braindecode.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FitDecoderRequest(_message.Message):
    __slots__ = ("recording_ids", "preprocessing_json", "activation_set_id", "layer", "decoder", "params_json", "cv_folds", "val_fraction", "seed", "selection", "base_decoder_id")
    RECORDING_IDS_FIELD_NUMBER: _ClassVar[int]
    PREPROCESSING_JSON_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_SET_ID_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    DECODER_FIELD_NUMBER: _ClassVar[int]
    PARAMS_JSON_FIELD_NUMBER: _ClassVar[int]
    CV_FOLDS_FIELD_NUMBER: _ClassVar[int]
    VAL_FRACTION_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    BASE_DECODER_ID_FIELD_NUMBER: _ClassVar[int]
    recording_ids: _containers.RepeatedScalarFieldContainer[str]
    preprocessing_json: str
    activation_set_id: str
    layer: str
    decoder: str
    params_json: str
    cv_folds: int
    val_fraction: float
    seed: int
    selection: _common_pb2.Selection
    base_decoder_id: str
    def __init__(self, recording_ids: _Optional[_Iterable[str]] = ..., preprocessing_json: _Optional[str] = ..., activation_set_id: _Optional[str] = ..., layer: _Optional[str] = ..., decoder: _Optional[str] = ..., params_json: _Optional[str] = ..., cv_folds: _Optional[int] = ..., val_fraction: _Optional[float] = ..., seed: _Optional[int] = ..., selection: _Optional[_Union[_common_pb2.Selection, _Mapping]] = ..., base_decoder_id: _Optional[str] = ...) -> None: ...

class FoldScores(_message.Message):
    __slots__ = ("test_runs", "n_test_trials", "n_test_stimuli", "scores", "subject")
    class ScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TEST_RUNS_FIELD_NUMBER: _ClassVar[int]
    N_TEST_TRIALS_FIELD_NUMBER: _ClassVar[int]
    N_TEST_STIMULI_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    test_runs: _containers.RepeatedScalarFieldContainer[str]
    n_test_trials: int
    n_test_stimuli: int
    scores: _containers.ScalarMap[str, float]
    subject: str
    def __init__(self, test_runs: _Optional[_Iterable[str]] = ..., n_test_trials: _Optional[int] = ..., n_test_stimuli: _Optional[int] = ..., scores: _Optional[_Mapping[str, float]] = ..., subject: _Optional[str] = ...) -> None: ...

class SubjectInput(_message.Message):
    __slots__ = ("subject", "input_shape")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    INPUT_SHAPE_FIELD_NUMBER: _ClassVar[int]
    subject: str
    input_shape: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, subject: _Optional[str] = ..., input_shape: _Optional[_Iterable[int]] = ...) -> None: ...

class FitDecoderResult(_message.Message):
    __slots__ = ("decoder_id", "modality", "input_shape", "n_dims", "cv_scores", "folds", "n_trials", "subjects")
    class CvScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    DECODER_ID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    INPUT_SHAPE_FIELD_NUMBER: _ClassVar[int]
    N_DIMS_FIELD_NUMBER: _ClassVar[int]
    CV_SCORES_FIELD_NUMBER: _ClassVar[int]
    FOLDS_FIELD_NUMBER: _ClassVar[int]
    N_TRIALS_FIELD_NUMBER: _ClassVar[int]
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    decoder_id: str
    modality: str
    input_shape: _containers.RepeatedScalarFieldContainer[int]
    n_dims: int
    cv_scores: _containers.ScalarMap[str, float]
    folds: _containers.RepeatedCompositeFieldContainer[FoldScores]
    n_trials: int
    subjects: _containers.RepeatedCompositeFieldContainer[SubjectInput]
    def __init__(self, decoder_id: _Optional[str] = ..., modality: _Optional[str] = ..., input_shape: _Optional[_Iterable[int]] = ..., n_dims: _Optional[int] = ..., cv_scores: _Optional[_Mapping[str, float]] = ..., folds: _Optional[_Iterable[_Union[FoldScores, _Mapping]]] = ..., n_trials: _Optional[int] = ..., subjects: _Optional[_Iterable[_Union[SubjectInput, _Mapping]]] = ...) -> None: ...

class FitDecoderEvent(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: _common_pb2.Progress
    result: FitDecoderResult
    def __init__(self, progress: _Optional[_Union[_common_pb2.Progress, _Mapping]] = ..., result: _Optional[_Union[FitDecoderResult, _Mapping]] = ...) -> None: ...

class DecodeRequest(_message.Message):
    __slots__ = ("decoder_id", "samples", "subject")
    DECODER_ID_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    decoder_id: str
    samples: _common_pb2.Tensor
    subject: str
    def __init__(self, decoder_id: _Optional[str] = ..., samples: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ..., subject: _Optional[str] = ...) -> None: ...

class DecodeResponse(_message.Message):
    __slots__ = ("embeddings",)
    EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    embeddings: _common_pb2.Tensor
    def __init__(self, embeddings: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ...) -> None: ...

class RetrieveRequest(_message.Message):
    __slots__ = ("queries", "decoder_id", "activation_set_id", "layer", "candidates", "candidate_ids", "k", "recording_ids", "preprocessing_json", "selection", "average_repeats", "subject")
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    DECODER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_SET_ID_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_IDS_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    RECORDING_IDS_FIELD_NUMBER: _ClassVar[int]
    PREPROCESSING_JSON_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_REPEATS_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    queries: _common_pb2.Tensor
    decoder_id: str
    activation_set_id: str
    layer: str
    candidates: _common_pb2.Tensor
    candidate_ids: _containers.RepeatedScalarFieldContainer[str]
    k: int
    recording_ids: _containers.RepeatedScalarFieldContainer[str]
    preprocessing_json: str
    selection: _common_pb2.Selection
    average_repeats: bool
    subject: str
    def __init__(self, queries: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ..., decoder_id: _Optional[str] = ..., activation_set_id: _Optional[str] = ..., layer: _Optional[str] = ..., candidates: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ..., candidate_ids: _Optional[_Iterable[str]] = ..., k: _Optional[int] = ..., recording_ids: _Optional[_Iterable[str]] = ..., preprocessing_json: _Optional[str] = ..., selection: _Optional[_Union[_common_pb2.Selection, _Mapping]] = ..., average_repeats: _Optional[bool] = ..., subject: _Optional[str] = ...) -> None: ...

class RetrievalMatches(_message.Message):
    __slots__ = ("stimulus_ids", "scores")
    STIMULUS_IDS_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    stimulus_ids: _containers.RepeatedScalarFieldContainer[str]
    scores: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, stimulus_ids: _Optional[_Iterable[str]] = ..., scores: _Optional[_Iterable[float]] = ...) -> None: ...

class RetrieveResponse(_message.Message):
    __slots__ = ("matches", "query_ids", "query_embeddings")
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    QUERY_IDS_FIELD_NUMBER: _ClassVar[int]
    QUERY_EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    matches: _containers.RepeatedCompositeFieldContainer[RetrievalMatches]
    query_ids: _containers.RepeatedScalarFieldContainer[str]
    query_embeddings: _common_pb2.Tensor
    def __init__(self, matches: _Optional[_Iterable[_Union[RetrievalMatches, _Mapping]]] = ..., query_ids: _Optional[_Iterable[str]] = ..., query_embeddings: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ...) -> None: ...
