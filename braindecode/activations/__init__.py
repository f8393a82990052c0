"""Layer activations of neural networks: the model registry, loading, and extraction.

>>> from braindecode.activations import load_model, extract_activations
>>> model = load_model("efficientnet-lite0")
>>> acts = extract_activations(model, images, layers=["stage4", "pool"], pooling="avg")
"""

from braindecode.activations._builtin import (
    EFFICIENTNET_LITE0_PREPROCESSOR,
    SentenceNetwork,
    load_efficientnet_lite0,
    load_minilm_l6_v2,
)
from braindecode.activations._extract import extract_activations, read_activations
from braindecode.activations._loading import load_model, wrap_module
from braindecode.activations._network import LayerSpec, NetworkModel, TorchNetwork
from braindecode.activations._onnx import OnnxNetwork, load_onnx
from braindecode.activations._pooling import POOLINGS, pool_layer
from braindecode.activations._registry import ModelCard, get_model_card, list_models
from braindecode.activations._stimuli import ImagePreprocessor
from braindecode.activations._stimulus_sets import (
    StimulusSet,
    StimulusSetBuilder,
    decode_image,
    layer_shapes,
    model_provenance,
)
from braindecode.activations._torchscript import TorchScriptNetwork, load_torchscript
from braindecode.activations._transformers import load_transformers

__all__ = [
    "EFFICIENTNET_LITE0_PREPROCESSOR",
    "POOLINGS",
    "ImagePreprocessor",
    "LayerSpec",
    "ModelCard",
    "NetworkModel",
    "OnnxNetwork",
    "SentenceNetwork",
    "StimulusSet",
    "StimulusSetBuilder",
    "TorchNetwork",
    "TorchScriptNetwork",
    "decode_image",
    "extract_activations",
    "get_model_card",
    "layer_shapes",
    "list_models",
    "load_efficientnet_lite0",
    "load_minilm_l6_v2",
    "load_model",
    "load_onnx",
    "load_torchscript",
    "load_transformers",
    "model_provenance",
    "pool_layer",
    "read_activations",
    "wrap_module",
]
