import json

import numpy as np
import pytest

from braindecode.reconstruction import (
    DEFAULT_MODEL_DIR,
    feature_identification,
    load_pipeline,
    reconstruct,
    seed_generators,
)

MAX_BYTES = 30 * 2**20


def test_default_model_ships_small_with_its_card_and_record():
    files = [p for p in DEFAULT_MODEL_DIR.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= MAX_BYTES
    names = {p.relative_to(DEFAULT_MODEL_DIR).as_posix() for p in files}
    assert {"MODEL_CARD.md", "training.json", "model_index.json", "unet/config.json",
            "vae/config.json", "projector/config.json", "scheduler/scheduler_config.json"} <= names
    record = json.loads((DEFAULT_MODEL_DIR / "training.json").read_text())
    assert record["embedding"] == "efficientnet-lite0/pool" and record["n_test"] == 100


def test_default_model_recommends_the_settings_it_was_evaluated_with():
    from braindecode.reconstruction.train_default import SAMPLING

    pipeline = load_pipeline()
    assert pipeline.sampling == SAMPLING and pipeline.prior is not None
    assert not pipeline.scheduler.config.clip_sample  # latents are not bounded to [-1, 1]


def test_default_model_reconstructs_64_pixel_images():
    pipeline = load_pipeline()
    assert pipeline.embedding_dim == 1280 and pipeline.image_size == (64, 64)
    embeddings = np.random.default_rng(0).random((2, 1280)).astype(np.float32)
    images = reconstruct(embeddings, n_steps=2, seed=0)
    assert images.shape == (2, 64, 64, 3) and images.dtype == np.uint8 and images.std() > 0


@pytest.fixture(scope="module")
def held_out():
    from braindecode.activations import extract_activations, load_model
    from braindecode.datasets import load_stimuli
    from braindecode.reconstruction.train_default import _resize

    stimuli = load_stimuli(n_stimuli=500, n_test=100, size=224, seed=0)
    test = stimuli.images[stimuli.split == "test"]
    network = load_model("efficientnet-lite0")
    embeddings = extract_activations(network, list(test), layers=["pool"], pooling="avg")["pool"]
    return _resize(test, 64), np.asarray(embeddings, dtype=np.float32), network


def test_held_out_identification_beats_chance(held_out):
    images, embeddings, network = held_out
    recon = reconstruct(embeddings, seed=0, max_batch=len(embeddings))
    shuffled = reconstruct(embeddings[np.random.default_rng(0).permutation(len(embeddings))], seed=0,
                           max_batch=len(embeddings))
    layers = {"stage2": "none", "stage4": "none", "pool": "avg"}
    scores = {k: v.mean() for k, v in feature_identification(recon, images, model=network, layers=layers).items()}
    baseline = {k: v.mean() for k, v in feature_identification(shuffled, images, model=network, layers=layers).items()}
    assert scores["pool"] >= 0.7 and scores["stage4"] >= 0.6 and scores["stage2"] >= 0.58
    assert all(scores[k] >= baseline[k] + 0.05 and baseline[k] < 0.56 for k in layers)


@pytest.mark.slow
def test_default_model_onnx_matches_torch(held_out, tmp_path):
    _, embeddings, _ = held_out
    pipeline = load_pipeline()
    kwargs = dict(n_steps=4, scheduler="lcm", guidance_scale=2.0, strength=0.5, output_type="float")
    expected = pipeline(embeddings[:8], generator=seed_generators(0, 8), **kwargs)
    got = pipeline(embeddings[:8], generator=seed_generators(0, 8), backend="onnx", cache_dir=tmp_path, **kwargs)
    np.testing.assert_allclose(got, expected, atol=1e-3)
