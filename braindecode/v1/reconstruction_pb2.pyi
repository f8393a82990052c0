from braindecode.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReconstructRequest(_message.Message):
    __slots__ = ("embeddings", "ids", "recording_ids", "preprocessing_json", "decoder_id", "average_repeats", "n_steps", "seed", "guidance", "scheduler", "backend", "init_images", "strength", "model", "selection", "subject")
    EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    RECORDING_IDS_FIELD_NUMBER: _ClassVar[int]
    PREPROCESSING_JSON_FIELD_NUMBER: _ClassVar[int]
    DECODER_ID_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_REPEATS_FIELD_NUMBER: _ClassVar[int]
    N_STEPS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    GUIDANCE_FIELD_NUMBER: _ClassVar[int]
    SCHEDULER_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    INIT_IMAGES_FIELD_NUMBER: _ClassVar[int]
    STRENGTH_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    embeddings: _common_pb2.Tensor
    ids: _containers.RepeatedScalarFieldContainer[str]
    recording_ids: _containers.RepeatedScalarFieldContainer[str]
    preprocessing_json: str
    decoder_id: str
    average_repeats: bool
    n_steps: int
    seed: int
    guidance: float
    scheduler: str
    backend: str
    init_images: _common_pb2.Tensor
    strength: float
    model: str
    selection: _common_pb2.Selection
    subject: str
    def __init__(self, embeddings: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ..., ids: _Optional[_Iterable[str]] = ..., recording_ids: _Optional[_Iterable[str]] = ..., preprocessing_json: _Optional[str] = ..., decoder_id: _Optional[str] = ..., average_repeats: _Optional[bool] = ..., n_steps: _Optional[int] = ..., seed: _Optional[int] = ..., guidance: _Optional[float] = ..., scheduler: _Optional[str] = ..., backend: _Optional[str] = ..., init_images: _Optional[_Union[_common_pb2.Tensor, _Mapping]] = ..., strength: _Optional[float] = ..., model: _Optional[str] = ..., selection: _Optional[_Union[_common_pb2.Selection, _Mapping]] = ..., subject: _Optional[str] = ...) -> None: ...

class ReconstructedImage(_message.Message):
    __slots__ = ("stimulus_id", "index", "png")
    STIMULUS_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    PNG_FIELD_NUMBER: _ClassVar[int]
    stimulus_id: str
    index: int
    png: bytes
    def __init__(self, stimulus_id: _Optional[str] = ..., index: _Optional[int] = ..., png: _Optional[bytes] = ...) -> None: ...

class ReconstructResult(_message.Message):
    __slots__ = ("reconstruction_id", "stimulus_ids", "height", "width")
    RECONSTRUCTION_ID_FIELD_NUMBER: _ClassVar[int]
    STIMULUS_IDS_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    reconstruction_id: str
    stimulus_ids: _containers.RepeatedScalarFieldContainer[str]
    height: int
    width: int
    def __init__(self, reconstruction_id: _Optional[str] = ..., stimulus_ids: _Optional[_Iterable[str]] = ..., height: _Optional[int] = ..., width: _Optional[int] = ...) -> None: ...

class ReconstructEvent(_message.Message):
    __slots__ = ("progress", "image", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: _common_pb2.Progress
    image: ReconstructedImage
    result: ReconstructResult
    def __init__(self, progress: _Optional[_Union[_common_pb2.Progress, _Mapping]] = ..., image: _Optional[_Union[ReconstructedImage, _Mapping]] = ..., result: _Optional[_Union[ReconstructResult, _Mapping]] = ...) -> None: ...

class ListReconstructionModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListReconstructionModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ReconstructionModel]
    def __init__(self, models: _Optional[_Iterable[_Union[ReconstructionModel, _Mapping]]] = ...) -> None: ...

class RecommendedSampling(_message.Message):
    __slots__ = ("n_steps", "scheduler", "guidance", "strength", "family_settings")
    class FamilySettingsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    N_STEPS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULER_FIELD_NUMBER: _ClassVar[int]
    GUIDANCE_FIELD_NUMBER: _ClassVar[int]
    STRENGTH_FIELD_NUMBER: _ClassVar[int]
    FAMILY_SETTINGS_FIELD_NUMBER: _ClassVar[int]
    n_steps: int
    scheduler: str
    guidance: float
    strength: float
    family_settings: _containers.ScalarMap[str, float]
    def __init__(self, n_steps: _Optional[int] = ..., scheduler: _Optional[str] = ..., guidance: _Optional[float] = ..., strength: _Optional[float] = ..., family_settings: _Optional[_Mapping[str, float]] = ...) -> None: ...

class ReconstructionModel(_message.Message):
    __slots__ = ("name", "family", "embedding_dim", "encoder", "encoder_output", "encoder_served", "image_height", "image_width", "sampling", "max_steps", "error")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_DIM_FIELD_NUMBER: _ClassVar[int]
    ENCODER_FIELD_NUMBER: _ClassVar[int]
    ENCODER_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ENCODER_SERVED_FIELD_NUMBER: _ClassVar[int]
    IMAGE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_WIDTH_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    MAX_STEPS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    name: str
    family: str
    embedding_dim: int
    encoder: str
    encoder_output: str
    encoder_served: bool
    image_height: int
    image_width: int
    sampling: RecommendedSampling
    max_steps: int
    error: str
    def __init__(self, name: _Optional[str] = ..., family: _Optional[str] = ..., embedding_dim: _Optional[int] = ..., encoder: _Optional[str] = ..., encoder_output: _Optional[str] = ..., encoder_served: _Optional[bool] = ..., image_height: _Optional[int] = ..., image_width: _Optional[int] = ..., sampling: _Optional[_Union[RecommendedSampling, _Mapping]] = ..., max_steps: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...
