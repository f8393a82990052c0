from braindecode.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ModelInfo(_message.Message):
    __slots__ = ("name", "modality", "layers", "summary", "card", "source", "training_data", "license", "preprocessing")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    CARD_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TRAINING_DATA_FIELD_NUMBER: _ClassVar[int]
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    PREPROCESSING_FIELD_NUMBER: _ClassVar[int]
    name: str
    modality: str
    layers: _containers.RepeatedScalarFieldContainer[str]
    summary: str
    card: str
    source: str
    training_data: str
    license: str
    preprocessing: str
    def __init__(self, name: _Optional[str] = ..., modality: _Optional[str] = ..., layers: _Optional[_Iterable[str]] = ..., summary: _Optional[str] = ..., card: _Optional[str] = ..., source: _Optional[str] = ..., training_data: _Optional[str] = ..., license: _Optional[str] = ..., preprocessing: _Optional[str] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ...) -> None: ...

class ListLayersRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    def __init__(self, model: _Optional[str] = ...) -> None: ...

class LayerShape(_message.Message):
    __slots__ = ("name", "shape")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ...) -> None: ...

class ListLayersResponse(_message.Message):
    __slots__ = ("model", "modality", "layers")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    model: str
    modality: str
    layers: _containers.RepeatedCompositeFieldContainer[LayerShape]
    def __init__(self, model: _Optional[str] = ..., modality: _Optional[str] = ..., layers: _Optional[_Iterable[_Union[LayerShape, _Mapping]]] = ...) -> None: ...

class Stimulus(_message.Message):
    __slots__ = ("id", "image", "text")
    ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    id: str
    image: bytes
    text: str
    def __init__(self, id: _Optional[str] = ..., image: _Optional[bytes] = ..., text: _Optional[str] = ...) -> None: ...

class UploadStimuliRequest(_message.Message):
    __slots__ = ("name", "stimuli")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STIMULI_FIELD_NUMBER: _ClassVar[int]
    name: str
    stimuli: _containers.RepeatedCompositeFieldContainer[Stimulus]
    def __init__(self, name: _Optional[str] = ..., stimuli: _Optional[_Iterable[_Union[Stimulus, _Mapping]]] = ...) -> None: ...

class StimulusSet(_message.Message):
    __slots__ = ("id", "name", "modality", "n_stimuli", "stimulus_ids", "created")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    N_STIMULI_FIELD_NUMBER: _ClassVar[int]
    STIMULUS_IDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    modality: str
    n_stimuli: int
    stimulus_ids: _containers.RepeatedScalarFieldContainer[str]
    created: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., modality: _Optional[str] = ..., n_stimuli: _Optional[int] = ..., stimulus_ids: _Optional[_Iterable[str]] = ..., created: _Optional[str] = ...) -> None: ...

class ListStimulusSetsRequest(_message.Message):
    __slots__ = ("page",)
    PAGE_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListStimulusSetsResponse(_message.Message):
    __slots__ = ("stimulus_sets", "next_page_token")
    STIMULUS_SETS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    stimulus_sets: _containers.RepeatedCompositeFieldContainer[StimulusSet]
    next_page_token: str
    def __init__(self, stimulus_sets: _Optional[_Iterable[_Union[StimulusSet, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetStimulusSetRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ExtractActivationsRequest(_message.Message):
    __slots__ = ("model", "layers", "pooling", "grid", "batch_size", "fp16", "device", "stimulus_set_id", "stimuli")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    POOLING_FIELD_NUMBER: _ClassVar[int]
    GRID_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    FP16_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    STIMULUS_SET_ID_FIELD_NUMBER: _ClassVar[int]
    STIMULI_FIELD_NUMBER: _ClassVar[int]
    model: str
    layers: _containers.RepeatedScalarFieldContainer[str]
    pooling: str
    grid: int
    batch_size: int
    fp16: bool
    device: str
    stimulus_set_id: str
    stimuli: _containers.RepeatedCompositeFieldContainer[Stimulus]
    def __init__(self, model: _Optional[str] = ..., layers: _Optional[_Iterable[str]] = ..., pooling: _Optional[str] = ..., grid: _Optional[int] = ..., batch_size: _Optional[int] = ..., fp16: _Optional[bool] = ..., device: _Optional[str] = ..., stimulus_set_id: _Optional[str] = ..., stimuli: _Optional[_Iterable[_Union[Stimulus, _Mapping]]] = ...) -> None: ...

class ActivationLayer(_message.Message):
    __slots__ = ("name", "shape", "output_shape")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SHAPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    output_shape: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., output_shape: _Optional[_Iterable[int]] = ...) -> None: ...

class ActivationSet(_message.Message):
    __slots__ = ("id", "model", "stimulus_set_id", "layers", "stimulus_ids", "pooling", "precision", "provenance_json", "created")
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    STIMULUS_SET_ID_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    STIMULUS_IDS_FIELD_NUMBER: _ClassVar[int]
    POOLING_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_JSON_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    id: str
    model: str
    stimulus_set_id: str
    layers: _containers.RepeatedCompositeFieldContainer[ActivationLayer]
    stimulus_ids: _containers.RepeatedScalarFieldContainer[str]
    pooling: str
    precision: str
    provenance_json: str
    created: str
    def __init__(self, id: _Optional[str] = ..., model: _Optional[str] = ..., stimulus_set_id: _Optional[str] = ..., layers: _Optional[_Iterable[_Union[ActivationLayer, _Mapping]]] = ..., stimulus_ids: _Optional[_Iterable[str]] = ..., pooling: _Optional[str] = ..., precision: _Optional[str] = ..., provenance_json: _Optional[str] = ..., created: _Optional[str] = ...) -> None: ...

class ExtractActivationsEvent(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: _common_pb2.Progress
    result: ActivationSet
    def __init__(self, progress: _Optional[_Union[_common_pb2.Progress, _Mapping]] = ..., result: _Optional[_Union[ActivationSet, _Mapping]] = ...) -> None: ...

class GetActivationSetRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class StreamActivationsRequest(_message.Message):
    __slots__ = ("id", "layer", "chunk_bytes")
    ID_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_BYTES_FIELD_NUMBER: _ClassVar[int]
    id: str
    layer: str
    chunk_bytes: int
    def __init__(self, id: _Optional[str] = ..., layer: _Optional[str] = ..., chunk_bytes: _Optional[int] = ...) -> None: ...
