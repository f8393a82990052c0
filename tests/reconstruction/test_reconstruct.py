import io
import json

import numpy as np
import pytest
from PIL import Image

from braindecode.errors import InvalidArgument, ResourceExhausted
from braindecode.reconstruction import (
    DEFAULT_SAMPLING,
    ReconstructionPipeline,
    ReconstructionRequest,
    check_memory,
    check_reconstruction,
    encode_png,
    estimate_memory_bytes,
    reconstruct,
    reconstruct_requests,
)


def test_reconstruct_from_a_model_directory(tiny_dir, embeddings):
    calls = []
    images = reconstruct(embeddings, tiny_dir, n_steps=3, seed=5, guidance=2.0,
                         progress=lambda done, total: calls.append((done, total)))
    assert images.shape == (3, 16, 16, 3) and images.dtype == np.uint8
    assert np.array_equal(images, reconstruct(embeddings, tiny_dir, n_steps=3, seed=5, guidance=2.0))
    assert not np.array_equal(images, reconstruct(embeddings, tiny_dir, n_steps=3, seed=6, guidance=2.0))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_a_model_directory_recommends_the_sampling_settings(make_tiny, tmp_path, embeddings):
    pipe = make_tiny(prior=True)
    recommended = {"n_steps": 2, "scheduler": "ddim", "guidance_scale": 2.0, "strength": 0.5}
    ReconstructionPipeline(pipe.unet, pipe.scheduler, pipe.projector, pipe.vae, pipe.prior,
                           sampling=recommended).save_pretrained(tmp_path)
    loaded = ReconstructionPipeline.from_pretrained(tmp_path)
    assert loaded.sampling == recommended
    calls = []
    images = reconstruct(embeddings, tmp_path, seed=1, progress=lambda done, total: calls.append(total))
    explicit = reconstruct(embeddings, tmp_path, seed=1, n_steps=2, scheduler="ddim", guidance=2.0, strength=0.5)
    assert np.array_equal(images, explicit) and set(calls) == {2}
    assert not np.array_equal(images, reconstruct(embeddings, tmp_path, seed=1, strength=1.0))
    request = ReconstructionRequest(embeddings)
    assert check_reconstruction(loaded, request) == estimate_memory_bytes(loaded, 3, guidance_scale=2.0)


def test_sampling_settings_default_and_checks(make_tiny, tmp_path):
    pipe = make_tiny()
    assert pipe.sampling == DEFAULT_SAMPLING
    pipe.save_pretrained(tmp_path)
    index = json.loads((tmp_path / "model_index.json").read_text())
    (tmp_path / "model_index.json").write_text(json.dumps({k: v for k, v in index.items() if k != "sampling"}))
    assert ReconstructionPipeline.from_pretrained(tmp_path).sampling == DEFAULT_SAMPLING
    assert pipe.sampling_settings(strength=0.25) == DEFAULT_SAMPLING | {"strength": 0.25}
    with pytest.raises(InvalidArgument, match="unknown sampling settings"):
        ReconstructionPipeline(pipe.unet, pipe.scheduler, pipe.projector, pipe.vae, sampling={"steps": 2})
    with pytest.raises(InvalidArgument, match="strength"):
        ReconstructionPipeline(pipe.unet, pipe.scheduler, pipe.projector, pipe.vae, sampling={"strength": 2.0})


def test_requests_batched_together_match_requests_alone(pipeline, embeddings):
    init = (np.random.default_rng(0).random((1, 16, 16, 3)) * 255).astype(np.uint8)
    requests = [ReconstructionRequest(embeddings[:2], seed=3), ReconstructionRequest(embeddings[2:], seed=4, init_images=init),
                ReconstructionRequest(embeddings[1:], seed=5)]
    calls = []
    together = reconstruct_requests(requests, pipeline, n_steps=2, strength=0.5, max_batch=4,
                                    progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]  # one batch with the init, one with the rest
    for request, images in zip(requests, together):
        alone = reconstruct(request.embeddings, pipeline, n_steps=2, seed=request.seed,
                            init_images=request.init_images, strength=0.5)
        assert images.shape == alone.shape
        assert np.abs(images.astype(int) - alone).max() <= 1


def test_batches_split_under_the_bounds(pipeline, embeddings):
    requests = [ReconstructionRequest(embeddings, seed=s) for s in range(3)]
    calls = []
    reconstruct_requests(requests, pipeline, n_steps=1, max_batch=6, progress=lambda d, t: calls.append(t))
    assert set(calls) == {2}
    one_batch = estimate_memory_bytes(pipeline, 3)
    calls.clear()
    reconstruct_requests(requests, pipeline, n_steps=1, max_bytes=one_batch, progress=lambda d, t: calls.append(t))
    assert set(calls) == {3}


def test_memory_bounds_raise_resource_exhausted(pipeline, embeddings):
    with pytest.raises(ResourceExhausted, match="exceed the limit of 2"):
        reconstruct(embeddings, pipeline, max_batch=2)
    need = estimate_memory_bytes(pipeline, 3, guidance_scale=2.0)
    with pytest.raises(ResourceExhausted, match="MiB"):
        reconstruct(embeddings, pipeline, guidance=2.0, max_bytes=need - 1)
    assert check_memory(pipeline, 3, 2.0, max_bytes=need) == need
    with pytest.raises(InvalidArgument, match="max_batch"):
        check_memory(pipeline, 3, max_batch=0)


def test_memory_estimate_grows_with_batch_and_guidance(pipeline):
    one, two = estimate_memory_bytes(pipeline, 1), estimate_memory_bytes(pipeline, 2)
    weights = one - (two - one)
    assert weights == sum(t.numel() * 4 for m in (pipeline.unet, pipeline.vae, pipeline.projector)
                          for t in [*m.parameters(), *m.buffers()])
    assert estimate_memory_bytes(pipeline, 2, guidance_scale=3.0) == estimate_memory_bytes(pipeline, 4)


@pytest.mark.parametrize("kwargs, message", [
    (dict(embeddings=np.ones((2, 7))), r"shape \(n, 12\).*12-dimensional.*got 7-dimensional"),
    (dict(embeddings=np.zeros((2, 12))), "all zeros"),
    (dict(embeddings=np.zeros(12)), r"shape \(n, d\)"),
    (dict(n_steps=0), "n_steps"),
    (dict(n_steps=9), "n_steps"),
    (dict(strength=1.1, init_images=np.zeros((2, 16, 16, 3), np.uint8)), "strength"),
    (dict(seed=-1), "seed"),
    (dict(guidance=0), "guidance"),
    (dict(device="tpu"), "unknown device 'tpu'"),
])
def test_bad_input(pipeline, kwargs, message):
    args = dict(embeddings=np.ones((2, 12), np.float32)) | kwargs
    with pytest.raises(InvalidArgument, match=message):
        reconstruct(model=pipeline, **args)


def test_png_round_trip(pipeline, embeddings):
    images = reconstruct(embeddings, pipeline, n_steps=1)
    data = encode_png(images[0])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), images[0])
    with pytest.raises(InvalidArgument, match="uint8"):
        encode_png(images[0].astype(np.float32))
