"""ONNX Runtime per family: the denoiser with its conditioning inputs and the image decoder (VAE or MoVQ) are
exported with a dynamic batch, cached by weights hash, and agree with torch per component and per sample."""

import logging

import numpy as np
import onnx
import pytest
import torch

from braindecode.reconstruction import export_pipeline_onnx, load_model_directory, seed_generators
from reconstruction.tiny_models import save_tiny_kandinsky, save_tiny_stable_unclip

COMPONENT_ATOL = 1e-4  # float32 graphs; onnxruntime fuses and reorders some kernels
SAMPLE_ATOL = 2e-4
SIZE = 32
INPUTS = {"kandinsky": ["sample", "timestep", "image_embeds"],
          "unclip": ["sample", "timestep", "encoder_hidden_states", "class_labels"]}


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory):
    # v-prediction keeps a random Kandinsky UNet's latents in the range a trained one keeps (see save_tiny_kandinsky).
    kandinsky = save_tiny_kandinsky(tmp_path_factory.mktemp("kandinsky"), embedding_dim=16, image_size=SIZE, seed=5,
                                    prediction_type="v_prediction")
    unclip = save_tiny_stable_unclip(tmp_path_factory.mktemp("unclip"), embedding_dim=12, image_size=SIZE, seed=6)
    return {"kandinsky": load_model_directory(kandinsky), "unclip": load_model_directory(unclip)}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def runtimes(pipelines, cache):
    return {name: pipeline.runtime("onnx", cache_dir=cache) for name, pipeline in pipelines.items()}


@pytest.mark.parametrize("family", ["kandinsky", "unclip"])
def test_denoiser_and_decoder_are_exported_with_their_conditions(runtimes, family):
    runtime = runtimes[family]
    assert sorted(runtime.paths) == ["unet", "vae_decoder", "vae_encoder"]
    assert runtime.provider == "CPUExecutionProvider"
    inputs = {i.name: i.shape for i in runtime.sessions["unet"].get_inputs()}
    assert list(inputs) == INPUTS[family]
    assert all(isinstance(shape[0], str) for shape in inputs.values())
    for path in runtime.paths.values():
        opsets = onnx.load(path, load_external_data=False).opset_import
        assert max(o.version for o in opsets if o.domain in ("", "ai.onnx")) >= 17


@pytest.mark.parametrize("family", ["kandinsky", "unclip"])
@pytest.mark.parametrize("name", ["unet", "vae_decoder", "vae_encoder"])
@pytest.mark.parametrize("batch", [1, 3])
def test_component_parity(pipelines, runtimes, family, name, batch):
    pipeline = pipelines[family]
    inputs = pipeline.example_inputs(name, batch=batch)
    expected = pipeline.runtime("torch").run(name, *inputs)
    got = runtimes[family].run(name, *inputs)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=COMPONENT_ATOL, rtol=1e-4)


@pytest.mark.parametrize("family", ["kandinsky", "unclip"])
@pytest.mark.parametrize("scheduler, n_steps", [("ddim", 1), ("lcm", 4), ("euler", 2)])
def test_full_sample_parity(pipelines, runtimes, cache, family, scheduler, n_steps):
    pipeline = pipelines[family]
    emb = np.random.default_rng(1).normal(size=(3, pipeline.embedding_dim)).astype(np.float32)
    kwargs = dict(n_steps=n_steps, scheduler=scheduler, guidance_scale=3.0, output_type="float")
    expected = pipeline(emb, generator=seed_generators(4, 3), **kwargs)
    got = pipeline(emb, generator=seed_generators(4, 3), backend="onnx", cache_dir=cache, **kwargs)
    np.testing.assert_allclose(got, expected, atol=SAMPLE_ATOL)


@pytest.mark.parametrize("family", ["kandinsky", "unclip"])
def test_img2img_parity(pipelines, runtimes, cache, family):
    pipeline = pipelines[family]
    emb = np.random.default_rng(2).normal(size=(2, pipeline.embedding_dim)).astype(np.float32)
    init = (np.random.default_rng(3).random((2, SIZE, SIZE, 3)) * 255).astype(np.uint8)
    kwargs = dict(n_steps=2, scheduler="ddim", init_images=init, strength=0.5, output_type="float")
    expected = pipeline(emb, generator=seed_generators(1, 2), **kwargs)
    got = pipeline(emb, generator=seed_generators(1, 2), backend="onnx", cache_dir=cache, **kwargs)
    np.testing.assert_allclose(got, expected, atol=SAMPLE_ATOL)


def test_exports_are_cached_by_weights_hash(pipelines, runtimes, cache, caplog):
    pipeline = pipelines["kandinsky"]
    stamps = {name: path.stat().st_mtime_ns for name, path in runtimes["kandinsky"].paths.items()}
    with caplog.at_level(logging.INFO, logger="braindecode.onnxrt"):
        again = pipeline.runtime("onnx", cache_dir=cache, threads=1)
    assert "running on CPUExecutionProvider" in caplog.text
    assert {name: path.stat().st_mtime_ns for name, path in again.paths.items()} == stamps
    with torch.no_grad():
        pipeline.movq.post_quant_conv.bias.add_(0.5)
    try:
        changed = export_pipeline_onnx(pipeline, cache)
        assert changed["vae_decoder"] != again.paths["vae_decoder"] and changed["unet"] == again.paths["unet"]
    finally:
        with torch.no_grad():
            pipeline.movq.post_quant_conv.bias.sub_(0.5)
