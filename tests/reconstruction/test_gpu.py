import numpy as np
import pytest
import torch

from braindecode.reconstruction import ReconstructionPipeline, seed_generators

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
