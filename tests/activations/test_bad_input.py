"""Bad input gets InvalidArgument / NotFound with a message that names the problem."""

import numpy as np
import pytest
from PIL import Image

from braindecode.activations import ImagePreprocessor, extract_activations, load_model, pool_layer, wrap_module
from braindecode.errors import InvalidArgument, NotFound

GOOD = [np.zeros((32, 32, 3), np.uint8)]


def test_unknown_layer_lists_the_available_layers(lite0):
    with pytest.raises(InvalidArgument, match="unknown layer.*'stage9'.*available: stem, stage1, stage2") as info:
        extract_activations(lite0, GOOD, layers=["stage2", "stage9"])
    assert "logits" in str(info.value)
    with pytest.raises(InvalidArgument, match="duplicates"):
        extract_activations(lite0, GOOD, layers=["stem", "stem"])
    with pytest.raises(InvalidArgument, match="layers is empty"):
        extract_activations(lite0, GOOD, layers=[])


@pytest.mark.parametrize("kwargs, message", [
    ({"pooling": "max"}, "unknown pooling 'max'; use one of none, avg, grid"),
    ({"pooling": "grid", "grid": 0}, "grid must be a positive int, got 0"),
    ({"pooling": "grid", "grid": 2.5}, "grid must be a positive int"),
    ({"batch_size": 0}, "batch_size must be a positive int, got 0"),
    ({"stimulus_ids": ["a", "b"]}, "2 stimulus_ids for 1 stimuli"),
    ({"device": "tpu"}, "device 'tpu'"),
])
def test_bad_options(lite0, kwargs, message):
    with pytest.raises(InvalidArgument, match=message):
        extract_activations(lite0, GOOD, layers=["stem"], **kwargs)


def test_duplicate_ids_and_grid_larger_than_maps(lite0):
    with pytest.raises(InvalidArgument, match="stimulus_ids must be unique"):
        extract_activations(lite0, GOOD * 2, layers=["stem"], stimulus_ids=["a", "a"])
    with pytest.raises(InvalidArgument, match=r"layer 'stage7' maps are \(7, 7\), smaller than a 8x8 grid"):
        extract_activations(lite0, GOOD, layers=["stage7"], pooling="grid", grid=8)


@pytest.mark.parametrize("stimulus, message", [
    (np.zeros((32, 32, 3), np.float32), "stimulus 1: image arrays must be uint8, got float32"),
    (np.zeros((3, 32, 32), np.uint8), r"stimulus 1: image array has shape \(3, 32, 32\), expected \(H, W, 3\)"),
    ("/no/such/picture.png", "stimulus 1: no image file at /no/such/picture.png"),
    (42, "stimulus 1: unsupported type int"),
    ("A sentence for a text model" * 40, "stimulus 1: no image file at A sentence"),
])
def test_bad_image_stimuli_are_named_before_any_work(lite0, stimulus, message):
    calls = []
    with pytest.raises(InvalidArgument, match=message):
        extract_activations(lite0, GOOD + [stimulus], layers=["stem"], progress=lambda d, t: calls.append(d))
    assert calls == []


def test_corrupt_image_file(lite0, tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(InvalidArgument, match="cannot read image .*broken.png"):
        extract_activations(lite0, [path], layers=["stem"])


def test_empty_or_non_list_stimuli(lite0):
    with pytest.raises(InvalidArgument, match="stimuli is empty"):
        extract_activations(lite0, [], layers=["stem"])
    with pytest.raises(InvalidArgument, match="stimuli must be a list"):
        extract_activations(lite0, "one.png", layers=["stem"])


def test_bad_model_sources(tmp_path):
    with pytest.raises(NotFound, match="not a registry name"):
        load_model(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torchscript archive")
    with pytest.raises(InvalidArgument, match="neither ONNX .* nor a TorchScript file"):
        load_model(tmp_path / "junk.pt")
    (tmp_path / "junk.onnx").write_bytes(b"\x00\x01garbage")
    with pytest.raises(InvalidArgument, match="cannot read ONNX model"):
        load_model(tmp_path / "junk.onnx")
    with pytest.raises(NotFound, match="no ONNX file"):
        load_model(tmp_path / "absent.onnx")
    with pytest.raises(NotFound, match="cannot import 'no_such_lab_package.models'"):
        load_model("no_such_lab_package.models:net")
    with pytest.raises(NotFound, match="has no 'nothing'"):
        load_model("json:nothing")
    with pytest.raises(InvalidArgument, match="returned str, expected an nn.Module"):
        load_model("os:getcwd")


def test_bad_preprocessing_and_devices():
    with pytest.raises(InvalidArgument, match="unknown resample 'lanczos9'"):
        ImagePreprocessor(resample="lanczos9")
    with pytest.raises(InvalidArgument, match="crop_fraction must be in"):
        ImagePreprocessor(crop_fraction=0)
    import torch

    with pytest.raises(InvalidArgument, match="'torch.nn:Identity' has no submodules"):
        load_model("torch.nn:Identity")
    with pytest.raises(InvalidArgument, match="registry model with its own training preprocessing"):
        load_model("efficientnet-lite0", preprocess=ImagePreprocessor())
    with pytest.raises(InvalidArgument, match="preprocess must be callable"):
        wrap_module(torch.nn.Sequential(torch.nn.ReLU()), "relu", preprocess="imagenet")

    if not torch.cuda.is_available():
        with pytest.raises(InvalidArgument, match="CUDA is not available"):
            load_model("efficientnet-lite0", device="cuda")


def test_pool_layer_rejects_volumes():
    import torch

    with pytest.raises(InvalidArgument, match="grid pooling needs 1-D or 2-D maps"):
        pool_layer(torch.zeros(1, 2, 3, 3, 3), "grid", grid=2, layer="conv3d")


def test_image_modes_are_converted(lite0):
    rgba = Image.new("RGBA", (40, 30), (10, 20, 30, 0))
    palette = Image.new("P", (40, 30))
    batch = lite0.preprocess([rgba, palette, np.zeros((30, 40, 4), np.uint8)])["pixel_values"]
    assert tuple(batch.shape) == (3, 3, 224, 224)
