import numpy as np
import pytest
import torch

from braindecode.errors import InvalidArgument, NotFound
from braindecode.reconstruction import LatentPrior, ReconstructionPipeline, seed_generators


@pytest.fixture
def references():
    g = torch.Generator().manual_seed(0)
    return torch.randn(6, 12, generator=g), torch.randn(6, 3, 4, 4, generator=g)


def test_temperature_goes_from_retrieval_to_the_mean(references):
    embeddings, latents = references
    sharp = LatentPrior(embeddings, latents, temperature=1e-3)
    torch.testing.assert_close(sharp(embeddings), latents)
    flat = LatentPrior(embeddings, latents, temperature=1e3)
    torch.testing.assert_close(flat(embeddings[:2]), latents.mean(0, keepdim=True).expand(2, -1, -1, -1), atol=1e-2,
                               rtol=0)


def test_matches_a_numpy_kernel_regression(references):
    embeddings, latents = references
    prior = LatentPrior(embeddings, latents, temperature=0.3)
    x = np.random.default_rng(1).normal(size=(3, 12))
    mean, std = embeddings.numpy().mean(0), embeddings.numpy().std(0, ddof=1) + 1e-6

    def normalize(a):
        a = (a - mean) / std
        a = a - a.mean(1, keepdims=True)
        return a / np.linalg.norm(a, axis=1, keepdims=True)

    logits = normalize(x) @ normalize(embeddings.numpy()).T / 0.3
    weights = np.exp(logits - logits.max(1, keepdims=True))
    weights /= weights.sum(1, keepdims=True)
    expected = (weights @ latents.numpy().reshape(6, -1)).reshape(3, 3, 4, 4)
    np.testing.assert_allclose(prior(torch.as_tensor(x, dtype=torch.float32)).numpy(), expected, atol=1e-5)


def test_round_trip(tmp_path, references):
    prior = LatentPrior(*references, temperature=0.1)
    prior.save_pretrained(tmp_path)
    loaded = LatentPrior.from_pretrained(tmp_path)
    assert loaded.config == prior.config
    x = torch.randn(4, 12)
    torch.testing.assert_close(loaded(x), prior(x))
    with pytest.raises(NotFound, match="latent prior"):
        LatentPrior.from_pretrained(tmp_path / "missing")


def test_bad_references(references):
    embeddings, latents = references
    with pytest.raises(InvalidArgument, match="prior needs"):
        LatentPrior(embeddings[:5], latents)
    with pytest.raises(InvalidArgument, match="temperature"):
        LatentPrior(embeddings, latents, temperature=0)


def test_pipeline_starts_from_the_prior(make_tiny, tmp_path):
    pipe = make_tiny(vae=None, prior=True)
    embeddings = np.random.default_rng(0).normal(size=(3, 12)).astype(np.float32)
    coarse = pipe.prior(torch.as_tensor(embeddings))
    expected = ((coarse / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    assert np.array_equal(pipe(embeddings, 2, "ddim", strength=0.0), expected)
    pure = make_tiny(vae=None)
    kwargs = dict(n_steps=2, scheduler="ddim", strength=1.0, output_type="float")
    from_noise = pure(embeddings, generator=seed_generators(0, 3), **kwargs)
    np.testing.assert_array_equal(pipe(embeddings, generator=seed_generators(0, 3), **kwargs), from_noise)
    near = pipe(embeddings, generator=seed_generators(0, 3), **(kwargs | dict(strength=0.3)))
    assert np.abs(near - expected / 255.0).mean() < np.abs(from_noise - expected / 255.0).mean()
    pipe.save_pretrained(tmp_path)
    assert isinstance(ReconstructionPipeline.from_pretrained(tmp_path).prior, LatentPrior)


def test_pipeline_rejects_a_mismatched_prior(make_tiny):
    pipe = make_tiny(vae=None)
    with pytest.raises(InvalidArgument, match="prior maps"):
        ReconstructionPipeline(pipe.unet, pipe.scheduler, pipe.projector, None,
                               LatentPrior(torch.randn(4, 12), torch.randn(4, 4, 16, 16)))


def test_overlapping_crops_share_pixels_of_one_photograph():
    from braindecode.reconstruction.train_default import overlapping_crops

    boxes = [(0, 0, 10, 10), (5, 5, 15, 15), (10, 0, 20, 10), (0, 0, 10, 10)]  # (top, left, bottom, right)
    expected = [[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1]]  # edges touching do not overlap
    np.testing.assert_array_equal(overlapping_crops(["a", "a", "a", "b"], boxes), np.array(expected, bool))


def test_fit_prior_chooses_the_temperature_that_identifies_left_out_latents():
    from braindecode.reconstruction.train_default import fit_prior

    g = torch.Generator().manual_seed(0)
    centres, patterns = torch.randn(4, 12, generator=g), torch.randn(4, 3, 4, 4, generator=g)
    cluster = torch.arange(16) % 4
    embeddings = centres[cluster] + 0.1 * torch.randn(16, 12, generator=g)
    latents = patterns[cluster] + 0.1 * torch.randn(16, 3, 4, 4, generator=g)
    messages = []
    prior = fit_prior(embeddings, latents, np.eye(16, dtype=bool), temperatures=(1e3, 0.05), progress=messages.append)
    assert prior.temperature == 0.05 and "using 0.05" in messages[0]  # the mean of all latents identifies none
