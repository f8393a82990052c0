"""ReconstructionService over a real server on a loopback port: Reconstruct from embeddings or decoded
recordings, streamed progress and PNGs, batching of concurrent calls, the memory bound, bad input."""

import json
import threading
import time

import grpc
import nibabel
import numpy as np
import pytest
import torch
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from PIL import Image

from braindecode.client import Client
from braindecode.config import Config, ReconstructionSettings
from braindecode.containers import ActivationSet
from braindecode.decoding import RidgeDecoder, load_decoder
from braindecode.errors import InvalidArgument
from braindecode.reconstruction import (
    DEFAULT_SAMPLING,
    ConditionProjector,
    ReconstructionPipeline,
    estimate_memory_bytes,
    reconstruct,
)
from braindecode.store import (
    RECONSTRUCTION_ARTIFACT,
    load_responses,
    save_activation_set,
    save_decoder_artifact,
)
from services.reconstruction import ReconstructionServicer
from services.server import BraindecodeServer
from service_checks import artifact_ids, assert_nothing_stored, expect_error
from torch_threads import single_torch_thread

D = 1280  # EfficientNet-Lite0 ``pool``, the shipped model's conditioning space
SHAPE, TRIALS_PER_RUN, N_RUNS, N_STIMULI = (3, 3, 3), 8, 2, 6
FMRI_SPEC = {"modality": "fmri", "mask": None, "trials": {"method": "window", "window": [0, 0.5]}}


def _tiny_pipeline() -> ReconstructionPipeline:
    """A random latent pipeline conditioned on D-dimensional embeddings: 16 x 16 images."""
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(8, 16),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16, attention_head_dim=4, norm_num_groups=4, class_embed_type="projection",
        projection_class_embeddings_input_dim=D)
    vae = AutoencoderKL(block_out_channels=(8, 16), down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, norm_num_groups=4, sample_size=16)
    scheduler = DDPMScheduler(beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction")
    return ReconstructionPipeline(unet, scheduler, ConditionProjector(D, n_tokens=3, cross_attention_dim=16), vae)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("reconstruction-model")
    _tiny_pipeline().save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(autouse=True)
def reconstruction_env(monkeypatch, model_dir, onnx_cache):
    """Servers started in a test reconstruct with the tiny model and export ONNX graphs to a temporary cache."""
    monkeypatch.setenv("BRAINDECODE_RECONSTRUCTION_MODEL", str(model_dir))
    monkeypatch.setenv("BRAINDECODE_ONNX_CACHE", str(onnx_cache))
    with single_torch_thread():
        yield


@pytest.fixture
def start_server(tmp_path, monkeypatch):
    """An extra in-process server with ``BRAINDECODE_RECONSTRUCTION_*`` settings: (server, lab-a client)."""
    started = []

    def start(**settings):
        for name, value in settings.items():
            monkeypatch.setenv(f"BRAINDECODE_RECONSTRUCTION_{name.upper()}", str(value))
        config = Config.load(data_dir=str(tmp_path / f"store-{len(started)}"), port=0)
        srv = BraindecodeServer(config).start()
        key, _ = srv.keys.create("lab-a")
        started.append((srv, Client(f"127.0.0.1:{srv.port}", api_key=key, timeout=60)))
        return started[-1]

    yield start
    for srv, client in started:
        client.close()
        srv.stop(grace=0)


def _servicer(server) -> ReconstructionServicer:
    return next(s for s in server._servicers if isinstance(s, ReconstructionServicer))


def _embeddings(n, seed=0):
    return np.random.default_rng(seed).standard_normal((n, D)).astype(np.float32)


@pytest.fixture(scope="module")
def world():
    """Stimulus embeddings (1280-d "pool" and 4-d "small") and a linear brain X = pool @ W."""
    rng = np.random.default_rng(1)
    ids = np.array([f"stim-{i}" for i in range(N_STIMULI)])
    layers = {"pool": rng.standard_normal((N_STIMULI, D)).astype(np.float32),
              "small": rng.standard_normal((N_STIMULI, 4)).astype(np.float32)}
    weights = rng.standard_normal((D, int(np.prod(SHAPE)))).astype(np.float32) / np.sqrt(D)
    return ids, layers, weights


def _upload_run(client, tmp_path, world, run: int):
    """A 4-D NIfTI (TR 1 s) whose scan k + 1 responds to trial k; every stimulus shown at least once."""
    ids, layers, weights = world
    rng = np.random.default_rng(10 + run)
    rows = rng.permutation(np.arange(TRIALS_PER_RUN) % N_STIMULI)
    scans = np.concatenate([np.zeros((1, weights.shape[1])), layers["pool"][rows] @ weights])
    scans += 0.1 * rng.standard_normal(scans.shape)
    image = nibabel.Nifti1Image(scans.T.reshape(*SHAPE, -1).astype(np.float32), np.eye(4))
    image.header.set_zooms((2.0, 2.0, 2.0, 1.0))
    image.header.set_xyzt_units("mm", "sec")
    path = tmp_path / f"run-{run}.nii.gz"
    nibabel.save(image, path)
    events = [{"onset": k + 1.0, "duration": 0.5, "stimulus_id": ids[row]} for k, row in enumerate(rows)]
    return client.upload(path, subject="01", run=str(run), events=events).id


@pytest.fixture
def lab(server, client, tmp_path, world):
    """lab-a's store: fMRI runs, the activation set and ridge decoders to "pool" and to "small"."""
    ids, layers, _ = world
    runs = [_upload_run(client, tmp_path, world, r) for r in range(N_RUNS)]
    activations = save_activation_set(server.store, "lab-a", ActivationSet(ids, dict(layers), model="simulated")).id
    params = {"alphas": [0.1, 1.0, 10.0]}
    pool = client.fit_decoder(runs, FMRI_SPEC, activations, "pool", params=params).decoder_id
    small = client.fit_decoder(runs, FMRI_SPEC, activations, "small", params=params).decoder_id
    return {"runs": runs, "activations": activations, "decoder": pool, "small_decoder": small}


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_embeddings_in_equal_the_library_and_are_stored(server, client, model_dir, backend):
    embeddings, ids = _embeddings(3), ["a", "b", "c"]
    progress = []
    images, artifact_id = client.reconstruct(embeddings, ids=ids, n_steps=2, seed=7, guidance=1.5,
                                             backend=backend, on_progress=progress.append)
    expected = reconstruct(embeddings, model_dir, n_steps=2, seed=7, guidance=1.5, backend=backend)
    assert [i for i, _ in images] == ids
    assert np.array_equal(np.stack([img for _, img in images]), expected)
    stages = [p.stage for p in progress]
    assert stages[0] == "reconstruct" and stages[-1] == "store"
    assert [p.fraction for p in progress if p.stage == "reconstruct"] == [0.0, 0.5, 1.0]

    info = server.store.get_artifact("lab-a", artifact_id, RECONSTRUCTION_ARTIFACT)
    assert info.meta == {"n_images": 3, "height": 16, "width": 16}
    assert {k: info.provenance[k] for k in ("source", "model", "n_steps", "seed", "backend", "guidance")} == {
        "source": "embeddings", "model": model_dir.name, "n_steps": 2, "seed": 7, "backend": backend,
        "guidance": 1.5}
    folder = server.store.artifact_dir("lab-a", artifact_id)
    assert json.loads((folder / "ids.json").read_text()) == ids
    stored = np.stack([np.asarray(Image.open(folder / f"{k:06d}.png")) for k in range(3)])
    assert np.array_equal(stored, expected)


def test_img2img_and_default_ids(client, model_dir):
    embeddings = _embeddings(2, seed=3)
    init = (np.random.default_rng(4).random((2, 16, 16, 3)) * 255).astype(np.uint8)
    images, _ = client.reconstruct(embeddings, n_steps=2, seed=1, scheduler="ddim", init_images=init, strength=0.5)
    expected = reconstruct(embeddings, model_dir, n_steps=2, seed=1, scheduler="ddim", init_images=init, strength=0.5)
    assert [i for i, _ in images] == ["0", "1"]
    assert np.array_equal(np.stack([img for _, img in images]), expected)


def test_reconstruct_a_decoded_recording(server, client, lab, model_dir):
    progress = []
    images, artifact_id = client.reconstruct(recording_ids=lab["runs"], preprocessing=FMRI_SPEC,
                                             decoder_id=lab["decoder"], n_steps=1, seed=2,
                                             on_progress=progress.append)
    responses = load_responses(server.store, "lab-a", lab["runs"], FMRI_SPEC).average_repeats()
    decoder = load_decoder(server.store.artifact_dir("lab-a", lab["decoder"]))
    expected = reconstruct(decoder.predict(responses.data), model_dir, n_steps=1, seed=2)
    assert [i for i, _ in images] == list(responses.stimulus_ids) == [f"stim-{i}" for i in range(N_STIMULI)]
    assert np.abs(np.stack([img for _, img in images]).astype(int) - expected).max() <= 1
    assert [p.stage for p in progress][:2] == ["decode", "decode"]
    provenance = server.store.get_artifact("lab-a", artifact_id, RECONSTRUCTION_ARTIFACT).provenance
    assert (provenance["decoder_id"], provenance["recordings"], provenance["seed"]) == (lab["decoder"], lab["runs"], 2)
    # settings left unset are the model's recommendation (this model recommends none: the defaults)
    assert {k: provenance[k] for k in ("n_steps", "scheduler", "guidance", "strength")} == {
        "n_steps": 1, "scheduler": DEFAULT_SAMPLING["scheduler"], "guidance": DEFAULT_SAMPLING["guidance_scale"],
        "strength": DEFAULT_SAMPLING["strength"]}

    every_trial, _ = client.reconstruct(recording_ids=lab["runs"], preprocessing=FMRI_SPEC,
                                        decoder_id=lab["decoder"], average_repeats=False, n_steps=1)
    assert len(every_trial) == N_RUNS * TRIALS_PER_RUN


def test_concurrent_calls_share_one_batch(start_server, model_dir):
    server, client = start_server(batch_window_ms=1000)
    requests = [(_embeddings(2, seed=5), 11), (_embeddings(1, seed=6), 12)]
    results, progress = [None, None], [[], []]

    def call(k):
        embeddings, seed = requests[k]
        results[k] = client.reconstruct(embeddings, n_steps=2, seed=seed, on_progress=progress[k].append)

    threads = [threading.Thread(target=call, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _servicer(server).batcher.batch_sizes == [2]
    for (embeddings, seed), (images, artifact_id), events in zip(requests, results, progress):
        alone = reconstruct(embeddings, model_dir, n_steps=2, seed=seed)
        assert np.abs(np.stack([img for _, img in images]).astype(int) - alone).max() <= 1
        assert [p.fraction for p in events if p.stage == "reconstruct"][-1] == 1.0
        assert server.store.get_artifact("lab-a", artifact_id).meta["n_images"] == len(embeddings)
    assert len({artifact_id for _, artifact_id in results}) == 2


def test_memory_bound_is_resource_exhausted(start_server, model_dir):
    pipeline = ReconstructionPipeline.from_pretrained(model_dir)
    need = estimate_memory_bytes(pipeline, 2)
    server, client = start_server(max_bytes=need - 1)
    expect_error(lambda: client.reconstruct(_embeddings(2), n_steps=1), grpc.StatusCode.RESOURCE_EXHAUSTED,
                  "MiB", "bound")
    images, _ = client.reconstruct(_embeddings(1), n_steps=1)  # one image fits
    assert len(images) == 1
    assert len(artifact_ids(server)) == 1 and client.health() == "SERVING"

    server, client = start_server(max_batch=2)
    expect_error(lambda: client.reconstruct(_embeddings(3), n_steps=1), grpc.StatusCode.RESOURCE_EXHAUSTED,
                  "limit of 2")
    assert artifact_ids(server) == [] and client.health() == "SERVING"


def test_bad_input(server, client, lab):
    before = artifact_ids(server)
    nan = _embeddings(2)
    nan[1, 3] = np.nan
    source = {"recording_ids": lab["runs"], "preprocessing": FMRI_SPEC}
    bad = [
        (dict(embeddings=_embeddings(2)[:, :12]), "shape (n, 1280)"),
        (dict(embeddings=_embeddings(2), n_steps=-1), "n_steps"),
        (dict(embeddings=_embeddings(2), n_steps=9), "n_steps"),
        (dict(embeddings=_embeddings(2), strength=1.5), "strength"),
        (dict(embeddings=_embeddings(2), strength=-0.1), "strength"),
        (dict(embeddings=nan), "finite"),
        (dict(embeddings=_embeddings(2), guidance=0.5), "guidance"),
        (dict(embeddings=_embeddings(2), scheduler="pndm"), "scheduler"),
        (dict(embeddings=_embeddings(2), backend="tensorflow"), "backend"),
        (dict(embeddings=_embeddings(2), ids=["a"]), "1 ids for 2 embeddings"),
        (dict(embeddings=_embeddings(2), init_images=np.zeros((2, 8, 8, 3), np.uint8)), "init_images"),
        (dict(embeddings=_embeddings(2), seed=-1), "seed"),
        (dict(), "either embeddings or recording_ids"),
        (dict(embeddings=_embeddings(2), decoder_id=lab["decoder"]), "go with recording_ids"),
        (dict(**source, decoder_id=lab["small_decoder"]), "maps to 4 dimensions"),
        (dict(recording_ids=lab["runs"], decoder_id=lab["decoder"]), "preprocessing_json is required"),
        (dict(**source), "decoder_id is required"),
        (dict(recording_ids=lab["runs"], preprocessing={"modality": "fmri", "mask": None}, decoder_id=lab["decoder"]),
         "'epochs' or 'trials'"),
    ]
    for kwargs, fragment in bad:
        expect_error(lambda: client.reconstruct(**{"n_steps": 1, **kwargs}), grpc.StatusCode.INVALID_ARGUMENT,
                      fragment)
    expect_error(lambda: client.reconstruct(**source, decoder_id="art_missing"), grpc.StatusCode.NOT_FOUND,
                  "art_missing")
    expect_error(lambda: client.reconstruct(**source, decoder_id=lab["activations"]), grpc.StatusCode.NOT_FOUND,
                  "decoder")
    expect_error(lambda: client.reconstruct(recording_ids=["rec_missing"], preprocessing=FMRI_SPEC,
                                             decoder_id=lab["decoder"]), grpc.StatusCode.NOT_FOUND, "rec_missing")
    assert_nothing_stored(server, client, before)


def test_other_tenant_gets_not_found(server, client, lab):
    key, _ = server.keys.create("lab-b")
    n_voxels = int(np.prod(SHAPE))
    rng = np.random.default_rng(2)
    own_decoder = RidgeDecoder(alphas=[1.0]).fit(rng.standard_normal((10, n_voxels)).astype(np.float32),
                                                 _embeddings(10))
    own_decoder_id = save_decoder_artifact(server.store, "lab-b", own_decoder).id
    with Client(f"127.0.0.1:{server.port}", api_key=key, timeout=60) as other:
        expect_error(lambda: other.reconstruct(recording_ids=lab["runs"], preprocessing=FMRI_SPEC,
                                                decoder_id=lab["decoder"], n_steps=1), grpc.StatusCode.NOT_FOUND,
                      lab["decoder"])
        expect_error(lambda: other.reconstruct(recording_ids=lab["runs"], preprocessing=FMRI_SPEC,
                                                decoder_id=own_decoder_id, n_steps=1), grpc.StatusCode.NOT_FOUND,
                      lab["runs"][0])
        assert other.health() == "SERVING"
    assert artifact_ids(server, "lab-b") == [own_decoder_id]


def test_a_call_ended_while_queued_stops_its_batch_and_stores_nothing(start_server):
    server, client = start_server(batch_window_ms=3000)
    _servicer(server).settings.pipeline()  # loaded before the call, so that only the batch window outlasts it
    with Client(f"127.0.0.1:{server.port}", api_key=server.keys.create("lab-a")[0], timeout=1.0) as hasty:
        expect_error(lambda: hasty.reconstruct(_embeddings(1), n_steps=1), grpc.StatusCode.DEADLINE_EXCEEDED)
    batcher = _servicer(server).batcher
    deadline = time.monotonic() + 30
    while not batcher.batch_sizes and time.monotonic() < deadline:
        time.sleep(0.05)
    assert batcher.batch_sizes == [1]
    assert artifact_ids(server) == [] and client.health() == "SERVING"


def test_missing_model_is_failed_precondition(start_server, tmp_path):
    server, client = start_server(model=tmp_path / "no-model")
    expect_error(lambda: client.reconstruct(_embeddings(1), n_steps=1), grpc.StatusCode.FAILED_PRECONDITION,
                  "reconstruction model", "no-model")
    assert artifact_ids(server) == [] and client.health() == "SERVING"


def test_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("BRAINDECODE_RECONSTRUCTION_MAX_BATCH", "3")
    monkeypatch.setenv("BRAINDECODE_RECONSTRUCTION_BATCH_WINDOW_MS", "5.5")
    settings = Config.load(reconstruction={"device": "cuda"}).reconstruction
    assert (settings.max_batch, settings.batch_window_ms, settings.device) == (3, 5.5, "cuda")
    monkeypatch.setenv("BRAINDECODE_RECONSTRUCTION_MAX_BYTES", "lots")
    with pytest.raises(InvalidArgument, match="MAX_BYTES='lots'"):
        Config.load()
    with pytest.raises(InvalidArgument, match="max_batch"):
        ReconstructionSettings(max_batch=0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_cuda_server_equals_the_library_on_cuda(start_server, model_dir, backend):
    server, client = start_server(device="cuda")
    embeddings = _embeddings(3)
    images, _ = client.reconstruct(embeddings, n_steps=2, seed=4, backend=backend)
    expected = reconstruct(embeddings, model_dir, n_steps=2, seed=4, backend=backend, device="cuda")
    assert np.array_equal(np.stack([img for _, img in images]), expected)
