"""Intermediate tensors of an ONNX export of EfficientNet-Lite0 equal the torch forward hooks."""

import warnings

import numpy as np
import onnx
import pytest
import torch

from braindecode.activations import EFFICIENTNET_LITE0_PREPROCESSOR, extract_activations, load_model
from braindecode.onnxrt import active_provider

# ONNX tensor names of the legacy exporter (module scopes) for registry layers
ONNX_NAMES = {
    "stem": "/_swish/Clip_output_0",
    "stage4": "/_blocks.7/Add_output_0",
    "stage7": "/_blocks.15/_project_conv/Conv_output_0",  # its batch norm is folded into the conv
    "head": "/_swish_1/Clip_output_0",
    "logits": "logits",
}


@pytest.fixture(scope="module")
def onnx_path(lite0, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "efficientnet-lite0.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(lite0.module, (torch.zeros(1, 3, 224, 224),), str(path), dynamo=False,
                          opset_version=17, input_names=["pixels"], output_names=["logits"],
                          dynamic_axes={"pixels": {0: "n"}, "logits": {0: "n"}})
    return path


@pytest.fixture(scope="module")
def onnx_model(onnx_path):
    return load_model(onnx_path, preprocess=EFFICIENTNET_LITE0_PREPROCESSOR)


def test_layers_are_the_float_tensors_in_node_order(onnx_model, onnx_path):
    graph = onnx.load(str(onnx_path)).graph
    produced = [name for node in graph.node for name in node.output]
    positions = [produced.index(name) for name in ONNX_NAMES.values()]
    assert set(ONNX_NAMES.values()) <= set(onnx_model.layers)
    assert positions == sorted(positions)
    assert [onnx_model.layers.index(n) for n in ONNX_NAMES.values()] == sorted(
        onnx_model.layers.index(n) for n in ONNX_NAMES.values())
    constants = {name for node in graph.node if node.op_type in ("Constant", "Shape") for name in node.output}
    assert not constants & set(onnx_model.layers)
    assert onnx_model.preprocessing["mean"] == [127.0, 127.0, 127.0]


@pytest.mark.parametrize("pooling", ["avg", "none"])
def test_onnx_intermediates_equal_torch_hooks(lite0, onnx_model, photos, pooling):
    images = [photos["chelsea"], photos["rocket"], photos["coffee"]]
    layers = list(ONNX_NAMES) if pooling == "avg" else ["stage4", "logits"]
    torch_acts = extract_activations(lite0, images, layers=layers, pooling=pooling, batch_size=2)
    onnx_acts = extract_activations(onnx_model, images, layers=[ONNX_NAMES[k] for k in layers],
                                    pooling=pooling, batch_size=2)
    for layer in layers:
        np.testing.assert_allclose(onnx_acts[ONNX_NAMES[layer]], torch_acts[layer], rtol=1e-3, atol=2e-4,
                                   err_msg=layer)


def test_sessions_use_the_requested_provider(onnx_model, photos):
    onnx_model.capture(onnx_model.preprocess([photos["coffee"]]), ["logits"])
    sessions = list(onnx_model._sessions.values())
    assert sessions and all(active_provider(s) == "CPUExecutionProvider" for s in sessions)
    assert np.argmax(onnx_model.run([photos["coffee"]]).numpy()) == 967  # espresso
