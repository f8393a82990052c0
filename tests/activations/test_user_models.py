"""User models (import path, TorchScript, ONNX) give the activations of the torch module they came from."""

import inspect
import warnings

import numpy as np
import pytest
import torch

from braindecode.activations import (
    ImagePreprocessor,
    OnnxNetwork,
    TorchScriptNetwork,
    extract_activations,
    load_model,
    wrap_module,
)

PREPROCESS = ImagePreprocessor(size=32)
SHARED = ["conv", "block.0", "block.1", "block.2", "block", "down", "fc"]


def export_onnx(net, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.zeros(1, 3, 32, 32),), str(path), dynamo=False, opset_version=17,
                          input_names=["pixels"], output_names=["scores"],
                          dynamic_axes={"pixels": {0: "n"}, "scores": {0: "n"}})
    return path


@pytest.fixture
def reference(small_net, small_images):
    return extract_activations(wrap_module(small_net, "small", preprocess=PREPROCESS), small_images,
                               layers=SHARED, pooling="none", batch_size=2)


def test_import_path_factory(tmp_path, monkeypatch, small_net, small_images, reference):
    weights = tmp_path / "small.pth"
    torch.save(small_net.state_dict(), weights)
    factory = f"def small():\n    net = SmallNet()\n    net.load_state_dict(torch.load({str(weights)!r}))\n    return net\n"
    (tmp_path / "lab_models.py").write_text("import torch\n\n" + inspect.getsource(type(small_net)) + "\n\n" + factory)
    monkeypatch.syspath_prepend(str(tmp_path))
    model = load_model("lab_models:small", preprocess=PREPROCESS)
    assert model.modality == "image" and model.name == "lab_models:small"
    assert model.layers[:3] == ["conv", "block", "block.0"]
    acts = extract_activations(model, small_images, layers=SHARED, pooling="none", batch_size=2)
    for layer in SHARED:
        np.testing.assert_array_equal(acts[layer], reference[layer])


def test_wrapped_module_hooks_equal_manual_forward(small_net, small_images):
    model = wrap_module(small_net, "small", preprocess=PREPROCESS)
    x = model.preprocess(small_images)["pixel_values"]
    with torch.inference_mode():
        conv = small_net.conv(x)
        block = small_net.block(torch.relu(conv))
        out = model.capture({"pixel_values": x}, ["conv", "block", "fc"])
        torch.testing.assert_close(out["conv"], conv)
        torch.testing.assert_close(out["block"], block)
        torch.testing.assert_close(out["fc"], small_net(x))


@pytest.mark.parametrize("how", ["trace", "script"])
def test_torchscript_equals_torch_module(how, small_net, small_images, reference, tmp_path):
    example = torch.zeros(2, 3, 32, 32)
    scripted = torch.jit.trace(small_net, example) if how == "trace" else torch.jit.script(small_net)
    torch.jit.save(scripted, tmp_path / "small.pt")
    model = load_model(tmp_path / "small.pt", preprocess=PREPROCESS)
    assert isinstance(model, TorchScriptNetwork)
    # call order, a submodule before the parent that returns its output
    assert model.layers == ["conv", "block.0", "block.1", "block.2", "block", "down", "fc"]
    acts = extract_activations(model, small_images, layers=SHARED, pooling="none", batch_size=2)
    for layer in SHARED:
        np.testing.assert_allclose(acts[layer], reference[layer], rtol=1e-5, atol=1e-6, err_msg=layer)
    x = model.preprocess(small_images)["pixel_values"]
    torch.testing.assert_close(model.run(small_images), small_net(x).detach())


def test_onnx_intermediates_equal_torch_module(small_net, small_images, reference, tmp_path):
    model = load_model(export_onnx(small_net, tmp_path / "small.onnx"), preprocess=PREPROCESS)
    assert isinstance(model, OnnxNetwork)
    assert model.layers[-1] == "scores"
    names = {
        "conv": "/conv/Conv_output_0",
        "block": "/block/block.2/Relu_output_0",
        "down": "/down/Conv_output_0",
        "fc": "scores",
    }
    assert set(names.values()) <= set(model.layers)
    acts = extract_activations(model, small_images, layers=list(names.values()), pooling="none", batch_size=2)
    for layer, onnx_name in names.items():
        np.testing.assert_allclose(acts[onnx_name], reference[layer], rtol=1e-4, atol=1e-5, err_msg=layer)
    assert acts.info["preprocessing"]["size"] == 32


def test_onnx_static_input_size_sets_default_preprocessing(small_net, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(small_net, (torch.zeros(1, 3, 48, 48),), str(tmp_path / "fixed.onnx"), dynamo=False,
                          opset_version=17)
    model = load_model(tmp_path / "fixed.onnx")
    assert model.preprocessing["size"] == 48
    assert model.run([np.zeros((60, 80, 3), np.uint8)]).shape == (1, 5)
