"""extract_activations on EfficientNet-Lite0: hooks, pooling, batching, streaming to disk."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from braindecode.activations import extract_activations, pool_layer, read_activations
from braindecode.containers import ActivationSet


def manual_forward(net, x):
    """EfficientNet-Lite0 written out by hand, keeping the registry's layers."""
    out = {}
    x = net._swish(net._bn0(net._conv_stem(x)))
    out["stem"] = x
    ends = {0: "stage1", 2: "stage2", 4: "stage3", 7: "stage4", 10: "stage5", 14: "stage6", 15: "stage7"}
    for i, block in enumerate(net._blocks):
        x = block(x)
        if i in ends:
            out[ends[i]] = x
    x = net._swish(net._bn1(net._conv_head(x)))
    out["head"] = x
    out["pool"] = x.mean(dim=(2, 3))
    out["logits"] = net._fc(out["pool"])
    return out


@pytest.fixture(scope="module")
def images(photos):
    return [photos[name] for name in ("astronaut", "coffee", "chelsea", "rocket", "camera")]


@pytest.fixture(scope="module")
def avg(lite0, images):
    return extract_activations(lite0, images, pooling="avg", batch_size=2)


def test_hooks_equal_a_manual_forward(lite0, images, avg):
    x = lite0.preprocess(images)["pixel_values"]
    with torch.inference_mode():
        expected = manual_forward(lite0.module, x)
    assert avg.layer_names == lite0.layers == list(expected)
    for layer, value in expected.items():
        dims = tuple(range(2, value.ndim))
        reference = value.mean(dim=dims) if dims else value
        np.testing.assert_allclose(avg[layer], reference.numpy(), rtol=1e-4, atol=1e-5, err_msg=layer)


def test_extraction_leaves_the_model_untouched(lite0, images):
    before = {k: v.clone() for k, v in lite0.module.state_dict().items()}
    extract_activations(lite0, images[:2], layers=["stage2"], pooling="avg")
    assert not lite0.module.training
    for module in lite0.module.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks
    for key, value in lite0.module.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_result_is_an_activation_set_with_provenance(avg):
    assert isinstance(avg, ActivationSet)
    assert list(avg.stimulus_ids) == ["0", "1", "2", "3", "4"]
    assert avg.model == "efficientnet-lite0"
    assert avg.info["pooling"] == "avg" and avg.info["precision"] == "float32"
    assert avg.info["layer_shapes"]["stage4"] == [80, 14, 14]
    assert all(a.dtype == np.float32 for a in avg.layers.values())


EXPECTED_FEATURES = {
    "none": {"stem": 32 * 112 * 112, "stage4": 80 * 14 * 14, "head": 1280 * 7 * 7, "pool": 1280, "logits": 1000},
    "avg": {"stem": 32, "stage4": 80, "head": 1280, "pool": 1280, "logits": 1000},
    "grid": {"stem": 32 * 4, "stage4": 80 * 4, "head": 1280 * 4, "pool": 1280, "logits": 1000},
}


@pytest.mark.parametrize("pooling", sorted(EXPECTED_FEATURES))
def test_pooling_shapes(lite0, images, pooling):
    acts = extract_activations(lite0, images[:2], layers=list(EXPECTED_FEATURES[pooling]), pooling=pooling)
    assert {k: v.shape for k, v in acts.layers.items()} == {
        k: (2, n) for k, n in EXPECTED_FEATURES[pooling].items()}


def test_grid_and_none_pooling_agree_with_avg(lite0, images, avg):
    layers = ["stage3", "stage6"]
    none = extract_activations(lite0, images, layers=layers, pooling="none", batch_size=3)
    grid = extract_activations(lite0, images, layers=layers, pooling="grid", grid=2, batch_size=3)
    for layer, (c, h, w) in {"stage3": (40, 28, 28), "stage6": (192, 7, 7)}.items():
        maps = torch.from_numpy(np.asarray(none[layer])).reshape(-1, c, h, w)
        np.testing.assert_allclose(grid[layer], F.adaptive_avg_pool2d(maps, 2).reshape(len(images), -1),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(maps.mean(dim=(2, 3)), avg[layer], rtol=1e-4, atol=1e-5)
    # 28 x 28 maps split evenly: each cell is the mean of a 14 x 14 quadrant, channel-major
    maps = torch.from_numpy(np.asarray(none["stage3"])).reshape(-1, 40, 28, 28)
    np.testing.assert_allclose(grid["stage3"][:, 1], maps[:, 0, :14, 14:].mean(dim=(1, 2)), rtol=1e-5)


def test_pool_layer_known_values():
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    assert torch.equal(pool_layer(x, "none"), x.reshape(2, -1))
    assert torch.equal(pool_layer(x, "avg"), x.mean(dim=(2, 3)))
    cells = pool_layer(x, "grid", grid=2).reshape(2, 3, 2, 2)
    assert cells[1, 2, 1, 0] == x[1, 2, 2:, :2].mean()
    tokens = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.equal(pool_layer(tokens, "avg", mask=mask), torch.tensor([[2.0, 3.0]]))
    assert torch.equal(pool_layer(tokens, "none", mask=mask, n_tokens=4),
                       torch.tensor([[1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0]]))
    line = torch.arange(12.0).reshape(1, 2, 6)
    assert torch.equal(pool_layer(line, "grid", grid=3), torch.tensor([[0.5, 2.5, 4.5, 6.5, 8.5, 10.5]]))


def test_batch_size_does_not_change_results(lite0, images, avg):
    one = extract_activations(lite0, images, layers=["stage5", "logits"], batch_size=1)
    for layer in one.layer_names:
        np.testing.assert_allclose(one[layer], avg[layer], rtol=1e-4, atol=1e-5)


def test_progress_is_reported_per_batch(lite0, images):
    calls = []
    extract_activations(lite0, images, layers=["stem"], batch_size=2, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(2, 5), (4, 5), (5, 5)]


def test_streaming_to_disk_equals_in_memory(lite0, images, tmp_path):
    layers = ["stage2", "stage7", "pool"]
    memory = extract_activations(lite0, images, layers=layers, pooling="grid", grid=3, batch_size=2)
    disk = extract_activations(lite0, images, layers=layers, pooling="grid", grid=3, batch_size=2,
                               out_dir=tmp_path, stimulus_ids=list("abcde"))
    assert list(disk.stimulus_ids) == list("abcde")
    for layer in layers:
        assert isinstance(disk[layer], np.memmap) and not disk[layer].flags.writeable
        np.testing.assert_array_equal(disk[layer], memory[layer])
    index = json.loads((tmp_path / "activations.json").read_text())
    assert index["layers"] == {"stage2": "000_stage2.npy", "stage7": "001_stage7.npy", "pool": "002_pool.npy"}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["activations.json", *index["layers"].values()])
    again = read_activations(tmp_path)
    assert again.layer_names == layers and again.info["grid"] == 3
    np.testing.assert_array_equal(again["stage7"], memory["stage7"])


def test_failed_streaming_leaves_no_files(lite0, images, tmp_path):
    def stop(done, total):
        if done >= 4:
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        extract_activations(lite0, images, layers=["stage1", "pool"], batch_size=2, out_dir=tmp_path, progress=stop)
    assert list(tmp_path.iterdir()) == []


def test_image_paths_get_file_stem_ids(lite0, images, tmp_path):
    from PIL import Image

    paths = []
    for name, image in zip("xyz", images):
        paths.append(tmp_path / f"{name}.png")
        Image.fromarray(image).save(paths[-1])
    acts = extract_activations(lite0, paths, layers=["logits"])
    assert list(acts.stimulus_ids) == ["x", "y", "z"]


def test_fp16_on_cpu_runs_in_float32_with_a_note(lite0, images, avg, caplog):
    acts = extract_activations(lite0, images[:2], layers=["stage4"], fp16=True)
    assert acts.info["precision"].startswith("float32 (fp16 requested")
    assert "float16 runs only on CUDA" in caplog.text
    np.testing.assert_allclose(acts["stage4"], avg["stage4"][:2], rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fp16_close_to_cpu(lite0, images, avg):
    try:
        acts = extract_activations(lite0, images, layers=["stage4", "pool"], device="cuda", fp16=True)
        exact = extract_activations(lite0, images, layers=["stage4", "pool"], device="cuda")
    finally:
        lite0.to("cpu")
    assert acts.info["precision"].startswith("float16 autocast")
    for layer in ("stage4", "pool"):
        np.testing.assert_allclose(exact[layer], avg[layer], rtol=1e-3, atol=1e-3)
        assert np.corrcoef(acts[layer].ravel(), avg[layer].ravel())[0, 1] > 0.999
