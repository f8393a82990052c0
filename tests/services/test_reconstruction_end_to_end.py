"""From brain to image in MindEye's shape, through a real server, for Kandinsky 2.2 and Stable unCLIP.

A tiny random-weight model directory of each family (real classes, saved by diffusers) is served by
name. The stimuli's ``image_embeds`` come from the model's own image encoder through ActivationService
(a separate CLIP directory for Kandinsky 2.2, which its ``model_index.json`` names; Stable unCLIP's
``image_encoder/``); simulated fMRI runs respond linearly to those embeddings; FitDecoder fits a ridge
decoder on the training runs; Reconstruct decodes the held-out runs and streams and stores one PNG per
stimulus; retrieval of the held-out stimuli from their decoded embeddings is far above chance.
"""

import io
import json

import numpy as np
import pytest
from PIL import Image
from reconstruction.tiny_models import save_tiny_clip_vision, save_tiny_kandinsky, save_tiny_stable_unclip

from braindecode.client import Client
from braindecode.config import Config
from braindecode.decoding import load_decoder
from braindecode.reconstruction import reconstruct
from braindecode.store import RECONSTRUCTION_ARTIFACT, load_responses
from services.server import BraindecodeServer
from service_checks import write_trial_run
from torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)

N_TRAIN, N_TEST, REPEATS = 32, 10, 2
SHAPE = (4, 4, 5)  # 80 voxels
FMRI_SPEC = {"modality": "fmri", "mask": None, "trials": {"method": "window", "window": [0, 0.5]}}


def save_kandinsky_with_encoder(root, dim: int) -> str:
    """A Kandinsky 2.2 decoder directory whose model_index.json names a CLIP image encoder beside it."""
    save_tiny_clip_vision(root / "clip-vision", projection_dim=dim, image_size=32, seed=21)
    decoder = save_tiny_kandinsky(root / "kandinsky-decoder", embedding_dim=dim, image_size=32, seed=22,
                                  prediction_type="v_prediction")
    index = json.loads((decoder / "model_index.json").read_text())
    index["encoder"] = {"model": "../clip-vision", "output": "image_embeds"}  # relative to the decoder directory
    (decoder / "model_index.json").write_text(json.dumps(index))
    return decoder


FAMILIES = {
    "kandinsky-2-2": lambda root: save_kandinsky_with_encoder(root, dim=28),
    "sd21-unclip": lambda root: save_tiny_stable_unclip(root / "unclip", embedding_dim=20, image_size=32, seed=23),
}


def stimulus_images(n: int, seed: int) -> list:
    """``n`` distinct 48 x 48 RGB images: coarse random colour fields, smoothly upsampled."""
    rng = np.random.default_rng(seed)
    return [np.asarray(Image.fromarray((rng.random((3, 3, 3)) * 255).astype(np.uint8)).resize(
        (48, 48), Image.Resampling.BICUBIC)) for _ in range(n)]


def upload_runs(client, tmp_path, embeddings, stimulus_ids, runs, seed: int) -> list:
    """fMRI runs (TR 1 s, one trial per scan) whose voxels respond linearly to the standardized embeddings."""
    rng = np.random.default_rng(seed)
    standardized = (embeddings - embeddings.mean(0)) / embeddings.std(0)
    weights = rng.standard_normal((embeddings.shape[1], int(np.prod(SHAPE)))) / np.sqrt(embeddings.shape[1])
    uploaded = []
    for run, rows in runs:
        path = write_trial_run(tmp_path / f"run-{run}.nii", standardized[rows] @ weights, SHAPE, seed=seed + run,
                               noise=0.3)
        events = [{"onset": k + 1.0, "duration": 0.5, "stimulus_id": stimulus_ids[row]} for k, row in enumerate(rows)]
        uploaded.append(client.upload(path, subject="01", run=str(run), events=events).id)
    return uploaded


@pytest.mark.parametrize("name", list(FAMILIES))
def test_brain_to_image_through_the_server(tmp_path, name):
    directory = FAMILIES[name](tmp_path / "models")
    config = Config.load(data_dir=str(tmp_path / "store"), port=0, reconstruction={"models": {name: str(directory)}})
    server = BraindecodeServer(config).start()
    try:
        key, _ = server.keys.create("lab-a")
        with Client(f"127.0.0.1:{server.port}", api_key=key, timeout=120) as client:
            run_pipeline(server, client, tmp_path, name, directory)
    finally:
        server.stop(grace=0)


def run_pipeline(server, client, tmp_path, name, directory):
    (model,) = [m for m in client.reconstruction.models() if m.name == name]
    assert model.encoder == f"reconstruction/{name}" and model.encoder_served and model.encoder_output == "image_embeds"

    # 1. the stimuli's embeddings, by the model's own image encoder
    ids = [f"stim-{i:02d}" for i in range(N_TRAIN + N_TEST)]
    activations = client.activations.extract(model.encoder, images=stimulus_images(len(ids), seed=1), ids=ids,
                                             layers=[model.encoder_output])
    embeddings = client.activations.get_layer(activations.id, model.encoder_output)
    assert embeddings.shape == (len(ids), model.embedding_dim)

    # 2. simulated fMRI: two runs of the training stimuli, two of the held-out ones
    rng = np.random.default_rng(2)
    train, test = np.arange(N_TRAIN), np.arange(N_TRAIN, N_TRAIN + N_TEST)
    runs = [(r, rng.permutation(train)) for r in range(REPEATS)] + [(REPEATS + r, rng.permutation(test))
                                                                   for r in range(REPEATS)]
    recordings = upload_runs(client, tmp_path, embeddings, ids, runs, seed=3)
    train_runs, test_runs = recordings[:REPEATS], recordings[REPEATS:]

    # 3. a ridge decoder from the training runs to the model's conditioning space
    decoder_id = client.fit_decoder(train_runs, FMRI_SPEC, activations.id, model.encoder_output,
                                    params={"alphas": [0.1, 1.0, 10.0, 100.0]}).decoder_id

    # 4. the held-out stimuli retrieved from their decoded embeddings (repeats averaged), among the held out
    trials = np.stack([client.stream_data(rec, preprocessing=FMRI_SPEC).data for rec in test_runs])  # (runs, trials, v)
    order = [np.argsort(rows) for _, rows in runs[REPEATS:]]
    averaged = np.mean([run_trials[o] for run_trials, o in zip(trials, order)], axis=0)  # test stimuli in order
    retrieved, _ = client.retrieve(averaged, k=1, decoder_id=decoder_id, candidates=embeddings[test],
                                   candidate_ids=[ids[i] for i in test])
    top1 = np.mean(retrieved[:, 0] == np.array([ids[i] for i in test]))
    assert top1 >= 0.6, top1  # chance: 1 / N_TEST

    # 5. reconstructions of the held-out runs by the model's name, streamed and stored
    images, reconstruction_id = client.reconstruct(recording_ids=test_runs, preprocessing=FMRI_SPEC,
                                                   decoder_id=decoder_id, model=name, n_steps=2, seed=4)
    assert [i for i, _ in images] == [ids[i] for i in test]
    streamed = np.stack([image for _, image in images])
    assert streamed.shape == (N_TEST, model.image_height, model.image_width, 3)
    responses = load_responses(server.store, "lab-a", test_runs, FMRI_SPEC).average_repeats()
    decoded = load_decoder(server.store.artifact_dir("lab-a", decoder_id)).predict(responses.data)
    assert np.abs(streamed.astype(int) - reconstruct(decoded, directory, n_steps=2, seed=4)).max() <= 1
    info = server.store.get_artifact("lab-a", reconstruction_id, RECONSTRUCTION_ARTIFACT)
    assert (info.provenance["model"], info.provenance["decoder_id"]) == (name, decoder_id)
    folder = server.store.artifact_dir("lab-a", reconstruction_id)
    stored = np.stack([np.asarray(Image.open(io.BytesIO((folder / f"{k:06d}.png").read_bytes())))
                       for k in range(N_TEST)])
    assert np.array_equal(stored, streamed)
    assert json.loads((folder / "ids.json").read_text()) == [ids[i] for i in test]
