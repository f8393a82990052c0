import logging

import numpy as np
import pytest
import torch

from braindecode.reconstruction import (
    OnnxRuntime,
    ReconstructionPipeline,
    export_pipeline_onnx,
    seed_generators,
    weights_hash,
)

# float32 graphs; onnxruntime fuses and reorders some kernels (LayerNorm, attention, GroupNorm).
COMPONENT_ATOL = 1e-4
SAMPLE_ATOL = 2e-4


@pytest.fixture(scope="session")
def onnx_runtime(pipeline, onnx_cache):
    return pipeline.runtime("onnx", cache_dir=onnx_cache)


def test_every_component_is_exported_with_a_dynamic_batch(onnx_runtime):
    assert sorted(onnx_runtime.paths) == ["projector", "unet", "vae_decoder", "vae_encoder"]
    assert onnx_runtime.provider == "CPUExecutionProvider"
    inputs = {i.name: i.shape for i in onnx_runtime.sessions["unet"].get_inputs()}
    assert list(inputs) == ["sample", "timestep", "encoder_hidden_states", "class_labels"]
    assert all(isinstance(shape[0], str) for shape in inputs.values())


@pytest.mark.parametrize("name", ["projector", "unet", "vae_decoder", "vae_encoder"])
@pytest.mark.parametrize("batch", [1, 5])
def test_component_parity(pipeline, onnx_runtime, name, batch):
    inputs = pipeline.example_inputs(name, batch=batch)
    expected = pipeline.runtime("torch").run(name, *inputs)
    got = onnx_runtime.run(name, *inputs)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=COMPONENT_ATOL, rtol=1e-4)


@pytest.mark.parametrize("scheduler", ["lcm", "ddim", "euler"])
@pytest.mark.parametrize("n_steps", [1, 4])
def test_full_sample_parity(pipeline, onnx_runtime, embeddings, scheduler, n_steps, onnx_cache):
    kwargs = dict(n_steps=n_steps, scheduler=scheduler, guidance_scale=2.0, output_type="float")
    expected = pipeline(embeddings, generator=seed_generators(7, 3), **kwargs)
    got = pipeline(embeddings, generator=seed_generators(7, 3), backend="onnx", cache_dir=onnx_cache, **kwargs)
    np.testing.assert_allclose(got, expected, atol=SAMPLE_ATOL)


def test_img2img_parity(pipeline, onnx_runtime, embeddings, onnx_cache):
    init = (np.random.default_rng(3).random((3, 16, 16, 3)) * 255).astype(np.uint8)
    kwargs = dict(n_steps=2, scheduler="euler", init_images=init, strength=0.6, output_type="float")
    expected = pipeline(embeddings, generator=seed_generators(1, 3), **kwargs)
    got = pipeline(embeddings, generator=seed_generators(1, 3), backend="onnx", cache_dir=onnx_cache, **kwargs)
    np.testing.assert_allclose(got, expected, atol=SAMPLE_ATOL)


def test_tiny_autoencoder_and_prior_parity(make_tiny, onnx_cache):
    pipe = make_tiny(vae="tiny", cross_attention=False, prior=True)
    runtime = pipe.runtime("onnx", cache_dir=onnx_cache)
    assert sorted(runtime.paths) == ["prior", "unet", "vae_decoder", "vae_encoder"]
    for name in ("vae_encoder", "vae_decoder", "unet", "prior"):
        inputs = pipe.example_inputs(name, batch=3)
        torch.testing.assert_close(runtime.run(name, *inputs), pipe.runtime("torch").run(name, *inputs),
                                   atol=COMPONENT_ATOL, rtol=1e-4)


def test_exports_are_cached_by_weights_hash(pipeline, onnx_runtime, onnx_cache, tiny_dir):
    stamps = {name: path.stat().st_mtime_ns for name, path in onnx_runtime.paths.items()}
    reloaded = ReconstructionPipeline.from_pretrained(tiny_dir)
    again = export_pipeline_onnx(reloaded, onnx_cache)
    assert again == onnx_runtime.paths
    assert {name: path.stat().st_mtime_ns for name, path in again.items()} == stamps
    with torch.no_grad():
        reloaded.projector.proj.bias.add_(1.0)
    changed = export_pipeline_onnx(reloaded, onnx_cache)
    assert changed["projector"] != again["projector"]
    assert {k: v for k, v in changed.items() if k != "projector"} == {k: v for k, v in again.items() if k != "projector"}
    session = OnnxRuntime(reloaded, cache_dir=onnx_cache)
    x = reloaded.example_inputs("projector", batch=2)
    torch.testing.assert_close(session.run("projector", *x), reloaded.runtime("torch").run("projector", *x),
                               atol=COMPONENT_ATOL, rtol=1e-4)


def test_hash_depends_on_weights_and_settings(make_tiny):
    graphs_a = make_tiny(seed=0).component_graphs()
    graphs_b = make_tiny(seed=1).component_graphs()
    assert weights_hash(graphs_a["unet"]) == weights_hash(make_tiny(seed=0).component_graphs()["unet"])
    assert weights_hash(graphs_a["unet"]) != weights_hash(graphs_b["unet"])
    assert weights_hash(graphs_a["unet"]) != weights_hash(graphs_a["unet"], fp16=True)


def test_session_logs_its_provider(pipeline, onnx_cache, caplog):
    with caplog.at_level(logging.INFO, logger="braindecode.onnxrt"):
        OnnxRuntime(pipeline, cache_dir=onnx_cache)
    assert "running on CPUExecutionProvider" in caplog.text
