import shutil

import numpy as np
import pytest
import torch

from braindecode.errors import InvalidArgument, NotFound
from braindecode.reconstruction import ConditionProjector, ReconstructionPipeline, seed_generators


def generators(n, seed=0):
    return seed_generators(seed, n)


@pytest.mark.parametrize("scheduler", ["lcm", "ddim", "euler"])
@pytest.mark.parametrize("n_steps", [1, 4])
def test_torch_pipeline_runs_and_seeds_reproduce(pipeline, embeddings, scheduler, n_steps):
    calls = []
    first = pipeline(embeddings, n_steps, scheduler, guidance_scale=2.0, generator=generators(3),
                     progress=lambda done, total: calls.append((done, total)))
    again = pipeline(embeddings, n_steps, scheduler, guidance_scale=2.0, generator=generators(3))
    other = pipeline(embeddings, n_steps, scheduler, guidance_scale=2.0, generator=generators(3, seed=1))
    assert first.shape == (3, 16, 16, 3) and first.dtype == np.uint8
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.std() > 0
    assert calls == [(i, n_steps) for i in range(1, n_steps + 1)]


def test_each_image_is_independent_of_its_batch(pipeline, embeddings):
    gens = generators(3)
    together = pipeline(embeddings, 4, "lcm", guidance_scale=3.0, generator=gens, output_type="float")
    alone = pipeline(embeddings[1:2], 4, "lcm", guidance_scale=3.0, generator=generators(3)[1:2], output_type="float")
    np.testing.assert_allclose(together[1:2], alone, atol=1e-5)


def test_guidance_uses_the_condition(pipeline, embeddings):
    plain = pipeline(embeddings, 2, "ddim", generator=generators(3), output_type="float")
    guided = pipeline(embeddings, 2, "ddim", guidance_scale=4.0, generator=generators(3), output_type="float")
    other = pipeline(embeddings[::-1].copy(), 2, "ddim", generator=generators(3), output_type="float")
    assert np.abs(plain - guided).max() > 1e-4
    assert np.abs(plain - other).max() > 1e-4


@pytest.mark.parametrize("scheduler", ["lcm", "ddim", "euler"])
def test_img2img_strength_moves_from_the_init(make_tiny, scheduler, embeddings):
    pipe = make_tiny(vae=None)  # pixel space: strength 0 gives back the init exactly
    init = (np.random.default_rng(1).random((3, 16, 16, 3)) * 255).astype(np.uint8)
    unchanged = pipe(embeddings, 4, scheduler, init_images=init, strength=0.0, generator=generators(3))
    assert np.array_equal(unchanged, init)
    errors = []
    for strength in (0.2, 0.6, 1.0):
        out = pipe(embeddings, 4, scheduler, init_images=init, strength=strength, generator=generators(3),
                   output_type="float")
        errors.append(np.abs(out - init / 255.0).mean())
    assert errors[0] < errors[1] < errors[2]


def test_init_latents_match_init_images_in_pixel_space(make_tiny, embeddings):
    pipe = make_tiny(vae=None)
    init = np.random.default_rng(2).random((3, 16, 16, 3)).astype(np.float32)
    from_images = pipe(embeddings, 2, "euler", init_images=init, strength=0.5, generator=generators(3))
    latents = init.transpose(0, 3, 1, 2) * 2 - 1
    from_latents = pipe(embeddings, 2, "euler", init_latents=latents, strength=0.5, generator=generators(3))
    assert np.array_equal(from_images, from_latents)


def test_latent_img2img_runs(pipeline, embeddings):
    init = (np.random.default_rng(1).random((3, 16, 16, 3)) * 255).astype(np.uint8)
    out = pipeline(embeddings, 3, "lcm", init_images=init, strength=0.5, generator=generators(3))
    assert out.shape == init.shape


@pytest.mark.parametrize("kwargs", [dict(vae=None, cross_attention=False), dict(vae=None, class_conditioning=False)])
def test_either_conditioning_path_alone(make_tiny, kwargs, embeddings):
    pipe = make_tiny(**kwargs)
    a = pipe(embeddings, 1, "ddim", generator=generators(3), output_type="float")
    b = pipe(embeddings[::-1].copy(), 1, "ddim", generator=generators(3), output_type="float")
    assert a.shape == (3, 16, 16, 3) and np.abs(a - b).max() > 1e-5


def test_tiny_autoencoder_round_trip(tmp_path, make_tiny, embeddings):
    pipe = make_tiny(vae="tiny")
    assert pipe.vae_scale_factor == 2 and pipe.image_size == (16, 16)
    pipe.save_pretrained(tmp_path)
    loaded = ReconstructionPipeline.from_pretrained(tmp_path)
    assert type(loaded.vae).__name__ == "AutoencoderTiny"
    init = (np.random.default_rng(1).random((3, 16, 16, 3)) * 255).astype(np.uint8)
    a = pipe(embeddings, 2, "euler", generator=generators(3), init_images=init, strength=0.5)
    assert np.array_equal(a, loaded(embeddings, 2, "euler", generator=generators(3), init_images=init, strength=0.5))


def test_save_and_load_round_trip(tmp_path, pipeline, embeddings):
    pipeline.save_pretrained(tmp_path)
    loaded = ReconstructionPipeline.from_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model_index.json", "projector", "scheduler", "unet", "vae"]
    a = pipeline(embeddings, 2, "lcm", generator=generators(3))
    b = loaded(embeddings, 2, "lcm", generator=generators(3))
    assert np.array_equal(a, b)


def test_projector_round_trip(tmp_path):
    projector = ConditionProjector(12, n_tokens=3, cross_attention_dim=16)
    projector.save_pretrained(tmp_path)
    loaded = ConditionProjector.from_pretrained(tmp_path)
    x = torch.randn(5, 12)
    assert loaded(x).shape == (5, 3, 16)
    torch.testing.assert_close(projector(x), loaded(x))


def test_missing_model_parts(tmp_path, pipeline):
    with pytest.raises(NotFound, match="no model_index.json"):
        ReconstructionPipeline.from_pretrained(tmp_path)
    pipeline.save_pretrained(tmp_path)
    shutil.rmtree(tmp_path / "unet")
    with pytest.raises(InvalidArgument, match="part 'unet' .* no unet/ folder"):
        ReconstructionPipeline.from_pretrained(tmp_path)
    with pytest.raises(NotFound, match="condition projector"):
        ConditionProjector.from_pretrained(tmp_path)


def test_inconsistent_components(make_tiny):
    pipe = make_tiny()
    with pytest.raises(InvalidArgument, match="needs a ConditionProjector"):
        ReconstructionPipeline(pipe.unet, pipe.scheduler, None, pipe.vae)
    with pytest.raises(InvalidArgument, match="different embedding sizes"):
        ReconstructionPipeline(pipe.unet, pipe.scheduler, ConditionProjector(7, 3, 16), pipe.vae)
    with pytest.raises(InvalidArgument, match="tokens"):
        ReconstructionPipeline(pipe.unet, pipe.scheduler, ConditionProjector(12, 3, 8), pipe.vae)


@pytest.mark.parametrize("kwargs, message", [
    (dict(embeddings=np.zeros((2, 5))), r"shape \(n, 12\)"),
    (dict(embeddings=np.zeros(12)), r"shape \(n, 12\)"),
    (dict(embeddings=np.full((2, 12), np.nan)), "finite"),
    (dict(embeddings=np.full((2, 12), np.inf)), "finite"),
    (dict(embeddings=np.stack([np.ones(12), np.zeros(12)])), "embedding 1 is all zeros"),
    (dict(n_steps=0), "n_steps"),
    (dict(n_steps=9), "n_steps"),
    (dict(n_steps=2.5), "n_steps"),
    (dict(strength=1.5), "strength"),
    (dict(strength=-0.1), "strength"),
    (dict(guidance_scale=0.5), "guidance_scale"),
    (dict(scheduler="pndm"), "unknown scheduler"),
    (dict(backend="tensorflow"), "unknown backend"),
    (dict(init_images=np.zeros((2, 8, 8, 3), np.uint8)), "init_images must have shape"),
    (dict(init_images=np.full((2, 16, 16, 3), 2.0)), "uint8 or finite floats"),
    (dict(init_latents=np.zeros((2, 4, 4, 4))), "init_latents"),
    (dict(generator=[torch.Generator()]), "1 generators for 2"),
    (dict(output_type="pil"), "output_type"),
])
def test_bad_input(pipeline, kwargs, message):
    args = dict(embeddings=np.ones((2, 12), np.float32)) | kwargs
    with pytest.raises(InvalidArgument, match=message):
        pipeline(**args)


def test_strength_too_low_for_the_schedule(pipeline, embeddings):
    init = np.zeros((3, 16, 16, 3), np.uint8)
    with pytest.raises(InvalidArgument, match="too low|too few"):
        pipeline(embeddings, 8, "lcm", init_images=init, strength=0.05)
    with pytest.raises(InvalidArgument, match="too low"):
        pipeline(embeddings, 8, "ddim", init_images=init, strength=0.001)
