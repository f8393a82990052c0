"""Kandinsky 2.2 and Stable unCLIP directories written by diffusers load behind the common interface, agree with
diffusers' own pipelines, and every service-facing call works with them."""

import json
import shutil

import numpy as np
import pytest
import torch
from diffusers import KandinskyV22Img2ImgPipeline, KandinskyV22Pipeline, StableUnCLIPImg2ImgPipeline

from braindecode.errors import InvalidArgument, NotFound
from braindecode.reconstruction import (
    FAMILIES,
    KandinskyV22Family,
    ReconstructionRequest,
    StableUnCLIPFamily,
    check_reconstruction,
    describe_model,
    estimate_memory_bytes,
    load_model_directory,
    load_pipeline,
    make_scheduler,
    reconstruct,
    reconstruct_requests,
    seed_generators,
)
from reconstruction.peak_memory import PeakTensorBytes, module_bytes
from reconstruction.tiny_models import save_tiny_kandinsky, save_tiny_stable_unclip

# Pixels in [0, 1]: our torch backend against diffusers' pipeline, same weights, noise and scheduler.
PARITY_ATOL = 1e-4
KANDINSKY_DIM, UNCLIP_DIM, SIZE = 24, 20, 32


@pytest.fixture(scope="module")
def kandinsky_dir(tmp_path_factory):
    return save_tiny_kandinsky(tmp_path_factory.mktemp("kandinsky"), embedding_dim=KANDINSKY_DIM, image_size=SIZE,
                               seed=3)


@pytest.fixture(scope="module")
def unclip_dir(tmp_path_factory):
    return save_tiny_stable_unclip(tmp_path_factory.mktemp("unclip"), embedding_dim=UNCLIP_DIM, image_size=SIZE,
                                   seed=4)


@pytest.fixture(scope="module")
def kandinsky(kandinsky_dir):
    return load_model_directory(kandinsky_dir)


@pytest.fixture(scope="module")
def unclip(unclip_dir):
    return load_model_directory(unclip_dir)


def embeddings_of(dim, n=3, seed=0):
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def reference(pipeline_class, directory, scheduler_name, ours):
    """diffusers' own pipeline on the directory, with the sampler our backend builds for ``scheduler_name``."""
    pipe = pipeline_class.from_pretrained(directory)
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = make_scheduler(scheduler_name, ours.scheduler.config)
    return pipe


def test_the_loader_picks_the_family_and_describes_it(kandinsky, unclip, unclip_dir):
    assert isinstance(kandinsky, KandinskyV22Family) and isinstance(unclip, StableUnCLIPFamily)
    described = describe_model(unclip_dir)
    assert described.family == "StableUnCLIPImg2ImgPipeline" and described.embedding_dim == UNCLIP_DIM
    assert described.encoder == str(unclip_dir / "image_encoder") and described.encoder_output == "image_embeds"
    assert described.image_size == (SIZE, SIZE) and described.sampling["noise_level"] == 0
    k = kandinsky.describe()
    assert (k.family, k.embedding_dim, k.image_size) == ("KandinskyV22Pipeline", KANDINSKY_DIM, (SIZE, SIZE))
    assert "ViT-bigG/14" in k.encoder and k.encoder_output == "image_embeds"
    assert json.loads(json.dumps(k.to_dict()))["sampling"] == k.sampling
    assert set(FAMILIES) == {"ReconstructionPipeline", "KandinskyV22Pipeline", "StableUnCLIPImg2ImgPipeline"}


@pytest.mark.parametrize("scheduler", ["ddim", "lcm"])  # diffusers' Kandinsky pipelines skip scale_model_input,
@pytest.mark.parametrize("guidance", [1.0, 4.0])        # which Euler needs
def test_kandinsky_matches_diffusers(kandinsky, kandinsky_dir, scheduler, guidance):
    emb = embeddings_of(KANDINSKY_DIM)
    ours = kandinsky(emb, 3, scheduler, guidance_scale=guidance, generator=seed_generators(5, 3), output_type="float")
    pipe = reference(KandinskyV22Pipeline, kandinsky_dir, scheduler, kandinsky)
    theirs = pipe(image_embeds=torch.from_numpy(emb), negative_image_embeds=torch.zeros(3, KANDINSKY_DIM),
                  height=SIZE, width=SIZE, num_inference_steps=3, guidance_scale=guidance,
                  generator=seed_generators(5, 3), output_type="np").images
    np.testing.assert_allclose(ours, theirs, atol=PARITY_ATOL)


def test_kandinsky_guidance_against_a_given_negative_embedding(kandinsky_dir, tmp_path):
    shutil.copytree(kandinsky_dir, tmp_path / "model")
    negative = embeddings_of(KANDINSKY_DIM, n=1, seed=9)[0]
    np.save(tmp_path / "model" / "negative_image_embeds.npy", negative)
    pipeline = load_model_directory(tmp_path / "model")
    emb = embeddings_of(KANDINSKY_DIM)
    ours = pipeline(emb, 2, "ddim", guidance_scale=3.0, generator=seed_generators(1, 3), output_type="float")
    pipe = reference(KandinskyV22Pipeline, kandinsky_dir, "ddim", pipeline)
    theirs = pipe(image_embeds=torch.from_numpy(emb), negative_image_embeds=torch.from_numpy(negative).expand(3, -1),
                  height=SIZE, width=SIZE, num_inference_steps=2, guidance_scale=3.0,
                  generator=seed_generators(1, 3), output_type="np").images
    np.testing.assert_allclose(ours, theirs, atol=PARITY_ATOL)
    zero = load_model_directory(kandinsky_dir)(emb, 2, "ddim", guidance_scale=3.0, generator=seed_generators(1, 3),
                                               output_type="float")
    assert np.abs(zero - ours).max() > 1e-3


@pytest.mark.parametrize("scheduler", ["ddim", "lcm"])
def test_kandinsky_img2img_matches_diffusers(kandinsky, kandinsky_dir, scheduler):
    emb = embeddings_of(KANDINSKY_DIM)
    init = np.random.default_rng(2).random((3, SIZE, SIZE, 3)).astype(np.float32)
    # Our 2 steps at strength 0.5 are the last 2 of a 4-step schedule: diffusers' 4 steps at strength 0.5.
    ours = kandinsky(emb, 2, scheduler, guidance_scale=2.0, init_images=init, strength=0.5,
                     generator=seed_generators(3, 3), output_type="float")
    pipe = reference(KandinskyV22Img2ImgPipeline, kandinsky_dir, scheduler, kandinsky)
    theirs = pipe(image=torch.from_numpy(init).permute(0, 3, 1, 2), image_embeds=torch.from_numpy(emb),
                  negative_image_embeds=torch.zeros(3, KANDINSKY_DIM), height=SIZE, width=SIZE,
                  num_inference_steps=4, strength=0.5, guidance_scale=2.0, generator=seed_generators(3, 3),
                  output_type="np").images
    np.testing.assert_allclose(ours, theirs, atol=PARITY_ATOL)


@pytest.mark.parametrize("scheduler, guidance, noise_level", [
    ("ddim", 1.0, 0), ("ddim", 3.0, 250), ("lcm", 3.0, 0), ("euler", 3.0, 0), ("euler", 1.0, 500)])
def test_stable_unclip_matches_diffusers(unclip, unclip_dir, scheduler, guidance, noise_level):
    pipeline = StableUnCLIPFamily(unclip.unet, unclip.scheduler, unclip.vae, unclip.image_normalizer,
                                  unclip.image_noising_scheduler, unclip.prompt_embeds,
                                  sampling={"noise_level": noise_level})
    emb = embeddings_of(UNCLIP_DIM)
    ours = pipeline(emb, 3, scheduler, guidance_scale=guidance, generator=seed_generators(7, 3), output_type="float")
    pipe = reference(StableUnCLIPImg2ImgPipeline, unclip_dir, scheduler, pipeline)
    theirs = pipe(image_embeds=torch.from_numpy(emb), prompt=[""] * 3, num_inference_steps=3, guidance_scale=guidance,
                  noise_level=noise_level, generator=seed_generators(7, 3), output_type="np").images
    np.testing.assert_allclose(ours, theirs, atol=PARITY_ATOL)


def test_stable_unclip_encodes_the_empty_prompt_once(unclip, unclip_dir):
    pipe = StableUnCLIPImg2ImgPipeline.from_pretrained(unclip_dir)
    expected, _ = pipe.encode_prompt("", "cpu", 1, False)
    torch.testing.assert_close(unclip.prompt_embeds, expected)
    assert not hasattr(unclip, "text_encoder") and set(unclip.modules()) == {"unet", "vae"}


@pytest.mark.parametrize("family", ["kandinsky", "unclip"])
def test_img2img_starts_from_the_init_images(request, family):
    pipeline = request.getfixturevalue(family)
    emb = embeddings_of(pipeline.embedding_dim)
    rng = np.random.default_rng(1)
    init_a, init_b = ((rng.random((3, SIZE, SIZE, 3)) * 255).astype(np.uint8) for _ in range(2))

    def run(init, strength, rows=slice(None)):
        return pipeline(emb[rows], 2, "ddim", init_images=init[rows], strength=strength,
                        generator=seed_generators(0, 3)[rows], output_type="float")

    runtime = pipeline.runtime("torch")
    images = torch.from_numpy(init_a).permute(0, 3, 1, 2).float() / 127.5 - 1
    roundtrip = pipeline.decode_latents(runtime, pipeline.encode_images(runtime, images))
    np.testing.assert_allclose(run(init_a, 0.0), roundtrip, atol=1e-6)
    assert np.abs(run(init_a, 0.3) - run(init_b, 0.3)).mean() > np.abs(run(init_a, 1.0) - run(init_b, 1.0)).mean()
    np.testing.assert_allclose(run(init_a, 0.3)[1:2], run(init_a, 0.3, slice(1, 2)), atol=PARITY_ATOL)


@pytest.mark.parametrize("family", ["kandinsky", "unclip"])
def test_every_service_call_takes_any_family(request, family):
    pipeline = request.getfixturevalue(family)
    emb = embeddings_of(pipeline.embedding_dim)
    init = np.zeros((1, SIZE, SIZE, 3), np.uint8)
    requests = [ReconstructionRequest(emb[:2], seed=1), ReconstructionRequest(emb[2:], seed=2, init_images=init)]
    need = check_reconstruction(pipeline, requests[0], n_steps=2, guidance=2.0)
    assert need == estimate_memory_bytes(pipeline, 2, guidance_scale=2.0)
    together = reconstruct_requests(requests, pipeline, n_steps=2, guidance=2.0)
    alone = reconstruct(emb[:2], pipeline, n_steps=2, seed=1, guidance=2.0)
    assert together[0].shape == (2, SIZE, SIZE, 3) and together[1].shape == (1, SIZE, SIZE, 3)
    assert np.abs(together[0].astype(int) - alone).max() <= 1


@pytest.mark.parametrize("family", ["kandinsky", "unclip"])
@pytest.mark.parametrize("bad, message", [
    (lambda d: dict(embeddings=np.ones((2, 7), np.float32)), r"shape \(n, {d}\).*{d}-dimensional.*got 7-dimensional"),
    (lambda d: dict(embeddings=np.full((2, d), np.nan)), "finite"),
    (lambda d: dict(embeddings=np.full((2, d), -np.inf)), "finite"),
    (lambda d: dict(embeddings=np.zeros((2, d))), "embedding 0 is all zeros"),
    (lambda d: dict(init_images=np.zeros((2, 16, 16, 3), np.uint8)), "init_images must have shape"),
    (lambda d: dict(init_images=np.zeros((3, SIZE, SIZE, 3), np.uint8)), "init_images must have shape"),
    (lambda d: dict(n_steps=101), "n_steps"),
    (lambda d: dict(scheduler="pndm"), "unknown scheduler"),
])
def test_bad_input(request, family, bad, message):
    pipeline = request.getfixturevalue(family)
    d = pipeline.embedding_dim
    args = {"embeddings": np.ones((2, d), np.float32), "n_steps": 1} | bad(d)
    with pytest.raises(InvalidArgument, match=message.format(d=d)):
        reconstruct(model=pipeline, **args)


def _copy_with_index(source, target, **changes):
    """A copy of a model directory whose model_index.json has ``changes`` (None deletes an entry)."""
    shutil.copytree(source, target)
    index = json.loads((target / "model_index.json").read_text())
    index.update(changes)
    index = {key: value for key, value in index.items() if value is not None}
    (target / "model_index.json").write_text(json.dumps(index))
    return target


def test_directories_that_do_not_load(kandinsky_dir, unclip_dir, tmp_path):
    with pytest.raises(NotFound, match="no model_index.json"):
        load_pipeline(tmp_path)
    unsupported = _copy_with_index(kandinsky_dir, tmp_path / "sd", _class_name="StableDiffusionPipeline")
    with pytest.raises(InvalidArgument, match="'StableDiffusionPipeline'.*supported families: ReconstructionPipeline, "
                                              "KandinskyV22Pipeline, StableUnCLIPImg2ImgPipeline"):
        load_pipeline(unsupported)
    no_movq = _copy_with_index(kandinsky_dir, tmp_path / "no-movq", movq=None)
    with pytest.raises(InvalidArgument, match="no 'movq' part.*VQModel"):
        load_pipeline(no_movq)
    wrong_class = _copy_with_index(kandinsky_dir, tmp_path / "kl-movq", movq=["diffusers", "AutoencoderKL"])
    with pytest.raises(InvalidArgument, match="part 'movq' .*'AutoencoderKL'.*needs VQModel"):
        load_pipeline(wrong_class)
    missing_folder = _copy_with_index(unclip_dir, tmp_path / "no-text-encoder")
    shutil.rmtree(missing_folder / "text_encoder")
    with pytest.raises(InvalidArgument, match="part 'text_encoder' .* no text_encoder/ folder"):
        load_pipeline(missing_folder)
    swapped = _copy_with_index(kandinsky_dir, tmp_path / "unclip-unet")
    shutil.rmtree(swapped / "unet")
    shutil.copytree(unclip_dir / "unet", swapped / "unet")
    with pytest.raises(InvalidArgument, match="part 'unet' is not a Kandinsky 2.2 decoder UNet"):
        load_pipeline(swapped)
    other_encoder = _copy_with_index(unclip_dir, tmp_path / "encoder-size")
    config = json.loads((other_encoder / "image_encoder" / "config.json").read_text())
    (other_encoder / "image_encoder" / "config.json").write_text(json.dumps(config | {"projection_dim": 7}))
    with pytest.raises(InvalidArgument, match="part 'image_encoder' .* 7-d image embeds.* {}-d".format(UNCLIP_DIM)):
        load_pipeline(other_encoder)
    broken = _copy_with_index(kandinsky_dir, tmp_path / "broken")
    (broken / "model_index.json").write_text("{not json")
    with pytest.raises(InvalidArgument, match="not valid JSON"):
        load_pipeline(broken)


def test_stable_unclip_without_its_image_encoder(unclip_dir, tmp_path):
    # what diffusers writes for a pipeline saved with image_encoder=None and feature_extractor=None
    directory = _copy_with_index(unclip_dir, tmp_path / "model", image_encoder=[None, None],
                                 feature_extractor=[None, None])
    shutil.rmtree(directory / "image_encoder")
    shutil.rmtree(directory / "feature_extractor")
    described = describe_model(directory)
    assert described.encoder == StableUnCLIPFamily.default_encoder["model"] and described.embedding_dim == UNCLIP_DIM


def test_a_directory_recommends_sampling_and_states_its_encoder(kandinsky_dir, tmp_path):
    recommended = {"n_steps": 2, "scheduler": "lcm", "guidance_scale": 2.5, "strength": 0.6}
    encoder = {"model": "/labs/encoders/clip-bigg", "output": "image_embeds"}
    directory = _copy_with_index(kandinsky_dir, tmp_path / "model", sampling=recommended, encoder=encoder)
    pipeline = load_model_directory(directory)
    assert pipeline.sampling == recommended and pipeline.describe().encoder == encoder["model"]
    emb = embeddings_of(KANDINSKY_DIM)
    calls = []
    images = reconstruct(emb, pipeline, seed=2, progress=lambda done, total: calls.append(total))
    assert set(calls) == {2}
    assert np.array_equal(images, reconstruct(emb, pipeline, seed=2, n_steps=2, scheduler="lcm", guidance=2.5))
    with pytest.raises(InvalidArgument, match="unknown sampling settings"):
        load_model_directory(_copy_with_index(kandinsky_dir, tmp_path / "bad", sampling={"noise_level": 3}))


def test_an_encoder_path_relative_to_the_model_directory_moves_with_it(kandinsky_dir, tmp_path):
    (tmp_path / "prior" / "image_encoder").mkdir(parents=True)
    relative = {"model": "../prior/image_encoder", "output": "image_embeds"}
    directory = _copy_with_index(kandinsky_dir, tmp_path / "decoder", encoder=relative)
    assert describe_model(directory).encoder == str(tmp_path.resolve() / "prior" / "image_encoder")
    registry = {"model": "efficientnet-lite0", "output": "pool"}  # not a path there: kept as written
    directory = _copy_with_index(kandinsky_dir, tmp_path / "decoder-2", encoder=registry)
    assert describe_model(directory).encoder == "efficientnet-lite0"


@pytest.mark.parametrize("family", ["kandinsky", "unclip"])
@pytest.mark.parametrize("batch, guidance", [(1, 1.0), (3, 1.0), (3, 4.0)])
def test_memory_estimate_bounds_a_measurement(request, family, batch, guidance):
    pipeline = request.getfixturevalue(family)
    emb = embeddings_of(pipeline.embedding_dim, n=batch)
    with PeakTensorBytes() as peak:
        pipeline(emb, 2, "ddim", guidance_scale=guidance, generator=seed_generators(0, batch))
    measured = module_bytes(pipeline.modules().values()) + peak.peak
    estimate = estimate_memory_bytes(pipeline, batch, guidance)
    assert measured <= estimate <= 6 * measured
