import numpy as np
import pytest
import torch

from braindecode.reconstruction import (
    ReconstructionPipeline,
    estimate_memory_bytes,
    load_model_directory,
    seed_generators,
)
from reconstruction.tiny_models import save_tiny_kandinsky, save_tiny_stable_unclip

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (torch.cuda.is_available() is False)"),
]


@pytest.fixture(scope="module")
def cuda_pipeline(tiny_dir):
    return ReconstructionPipeline.from_pretrained(tiny_dir, device="cuda")


def test_torch_on_cuda_matches_cpu(pipeline, cuda_pipeline, embeddings):
    kwargs = dict(n_steps=4, scheduler="lcm", guidance_scale=2.0, output_type="float")
    cpu = pipeline(embeddings, generator=seed_generators(0, 3), **kwargs)
    cuda = cuda_pipeline(embeddings, generator=seed_generators(0, 3), **kwargs)
    np.testing.assert_allclose(cuda, cpu, atol=1e-3)


def test_onnx_cuda_fp16_uses_the_gpu_and_matches_torch(cuda_pipeline, embeddings, onnx_cache):
    runtime = cuda_pipeline.runtime("onnx", cache_dir=onnx_cache)
    assert runtime.fp16 and runtime.provider in ("CUDAExecutionProvider", "TensorrtExecutionProvider")
    inputs = [x.cuda() for x in cuda_pipeline.example_inputs("unet", batch=3)]
    got = runtime.run("unet", *inputs)
    assert got.device.type == "cuda" and got.dtype == torch.float32
    torch.testing.assert_close(got, cuda_pipeline.runtime("torch").run("unet", *inputs), atol=2e-2, rtol=2e-2)
    kwargs = dict(n_steps=4, scheduler="euler", guidance_scale=2.0, output_type="float")
    expected = cuda_pipeline(embeddings, generator=seed_generators(0, 3), **kwargs)
    got = cuda_pipeline(embeddings, generator=seed_generators(0, 3), backend="onnx", cache_dir=onnx_cache, **kwargs)
    np.testing.assert_allclose(got, expected, atol=2e-2)


def test_cuda_memory_bound_uses_free_device_memory(cuda_pipeline, embeddings):
    from braindecode.errors import ResourceExhausted
    from braindecode.reconstruction import reconstruct

    free = torch.cuda.mem_get_info()[0]
    with pytest.raises(ResourceExhausted):
        reconstruct(np.ones((2, 12), np.float32), cuda_pipeline, max_bytes=1024)
    assert reconstruct(embeddings, cuda_pipeline, device="cuda", max_bytes=free).shape == (3, 16, 16, 3)


@pytest.fixture(scope="module")
def family_dirs(tmp_path_factory):
    """Tiny Kandinsky 2.2 (v-prediction: latents stay in range, see save_tiny_kandinsky) and Stable unCLIP."""
    return {"kandinsky": save_tiny_kandinsky(tmp_path_factory.mktemp("kandinsky"), embedding_dim=16, image_size=32,
                                             prediction_type="v_prediction"),
            "unclip": save_tiny_stable_unclip(tmp_path_factory.mktemp("unclip"), embedding_dim=16, image_size=32)}


@pytest.mark.parametrize("family", ["kandinsky", "unclip"])
def test_family_on_cuda_matches_cpu_and_onnx_fp16(family_dirs, family, onnx_cache):
    cpu = load_model_directory(family_dirs[family])
    cuda = load_model_directory(family_dirs[family], device="cuda")
    emb = np.random.default_rng(0).normal(size=(3, 16)).astype(np.float32)
    kwargs = dict(n_steps=4, scheduler="ddim", guidance_scale=3.0, output_type="float")
    expected = cpu(emb, generator=seed_generators(0, 3), **kwargs)
    np.testing.assert_allclose(cuda(emb, generator=seed_generators(0, 3), **kwargs), expected, atol=1e-3)
    runtime = cuda.runtime("onnx", cache_dir=onnx_cache)
    assert runtime.fp16 and runtime.provider in ("CUDAExecutionProvider", "TensorrtExecutionProvider")
    for name in ("unet", "vae_decoder", "vae_encoder"):
        inputs = [x.cuda() for x in cuda.example_inputs(name, batch=3)]
        got = runtime.run(name, *inputs)
        assert got.device.type == "cuda" and got.dtype == torch.float32
        torch.testing.assert_close(got, cuda.runtime("torch").run(name, *inputs), atol=2e-2, rtol=2e-2)
    got = cuda(emb, generator=seed_generators(0, 3), backend="onnx", cache_dir=onnx_cache, **kwargs)
    np.testing.assert_allclose(got, expected, atol=2e-2)


@pytest.mark.parametrize("family", ["kandinsky", "unclip"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_memory_estimate_bounds_the_cuda_peak(family_dirs, family, dtype):
    pipeline = load_model_directory(family_dirs[family], device="cuda", dtype=dtype)
    emb = np.random.default_rng(0).normal(size=(4, 16)).astype(np.float32)
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    pipeline(emb, 2, "ddim", guidance_scale=3.0, generator=seed_generators(0, 4))
    weights = sum(t.numel() * t.element_size() for m in pipeline.modules().values()
                  for t in [*m.parameters(), *m.buffers()])
    measured = torch.cuda.max_memory_allocated() - base + weights
    assert measured <= estimate_memory_bytes(pipeline, 4, 3.0)
