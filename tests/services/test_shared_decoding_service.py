"""A shared decoder served over a real server: FitDecoder over the runs of several subjects (each its own
voxel count), fine-tuning a new subject from a stored decoder, Decode and Retrieve by subject, bad input."""

import grpc
import numpy as np
import pytest

from braindecode.client import Client, SubjectInput
from braindecode.config import Config
from braindecode.containers import ActivationSet
from braindecode.decoding import EEGDecoder, RidgeDecoder, SharedDecoder, TrainingConfig, load_decoder, retrieve
from braindecode.store import load_responses, save_activation_set, save_decoder_artifact
from braindecode.tensors import from_tensor, to_tensor
from braindecode.v1 import decoding_pb2
from services.server import BraindecodeServer
from service_checks import artifact_ids, assert_nothing_stored, expect_error, trial_events, write_trial_run
from torch_threads import one_torch_thread_per_module  # noqa: F401 (autouse fixture, for the module-scoped fits)

N_DIMS, TRIALS_PER_RUN, N_RUNS = 8, 24, 3
#: Each subject's own voxel grid, hence its own voxel count (64, 80, 48; the new subject 60).
GRIDS = {"01": (4, 4, 4), "02": (5, 4, 4), "03": (4, 4, 3), "04": (3, 4, 5)}
FMRI_SPEC = {"modality": "fmri", "mask": None, "trials": {"method": "window", "window": [0, 0.5]}}
SHARED = {"latent_dim": 8, "hidden_dim": 32, "n_blocks": 1, "input_dropout": 0.1,
          "training": {"max_epochs": 40, "batch_size": 24, "patience": 40, "mixco_fraction": 0.0}}
INVALID, NOT_FOUND = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND


def _voxels(subject: str) -> int:
    return int(np.prod(GRIDS[subject]))


@pytest.fixture(scope="module")
def world():
    """Stimulus embeddings (layer "pool", and a 4-d layer "small"); each subject reads "pool" out linearly
    with its own weights."""
    rng = np.random.default_rng(0)
    ids = np.array([f"stim-{i:03d}" for i in range(TRIALS_PER_RUN * N_RUNS)])
    layers = {"pool": rng.standard_normal((len(ids), N_DIMS)).astype(np.float32),
              "small": rng.standard_normal((len(ids), 4)).astype(np.float32)}
    weights = {s: rng.standard_normal((N_DIMS, _voxels(s))).astype(np.float32) for s in GRIDS}
    return ids, layers, weights


def _upload_runs(client, folder, world, subject: str) -> list:
    """The subject's N_RUNS runs; every subject sees every stimulus, in its own order."""
    ids, layers, weights = world
    order = np.random.default_rng(int(subject)).permutation(len(ids))
    uploaded = []
    for run in range(N_RUNS):
        rows = order[run * TRIALS_PER_RUN:(run + 1) * TRIALS_PER_RUN]
        path = write_trial_run(folder / f"sub-{subject}_run-{run}.nii.gz", layers["pool"][rows] @ weights[subject],
                               GRIDS[subject], seed=10 * int(subject) + run)
        uploaded.append(client.upload(path, subject=subject, run=str(run), events=trial_events(ids[rows])).id)
    return uploaded


@pytest.fixture(scope="module")
def lab(tmp_path_factory, world):
    """A server whose lab-a holds the runs of four subjects, the activation set and a shared decoder of
    subjects 01-03 (subject 04 is new)."""
    folder = tmp_path_factory.mktemp("shared-decoding")
    config = Config.load(data_dir=str(folder / "store"), port=0, max_upload_bytes=5 * 1024 * 1024)
    server = BraindecodeServer(config).start()
    key, _ = server.keys.create("lab-a")
    # A generous deadline: the fits below share the CPU with whatever else runs.
    with Client(f"127.0.0.1:{server.port}", api_key=key, timeout=900) as client:
        runs = {s: _upload_runs(client, folder, world, s) for s in GRIDS}
        ids, layers, _ = world
        activations = save_activation_set(server.store, "lab-a",
                                          ActivationSet(ids, dict(layers), model="simulated")).id
        trained = [rid for s in ("01", "02", "03") for rid in runs[s]]
        fit = client.fit_decoder(trained, FMRI_SPEC, activations, "pool", decoder="shared", params=SHARED, seed=1)
        yield {"server": server, "client": client, "runs": runs, "activations": activations, "fit": fit}
    server.stop(grace=0)


def test_fit_over_subjects_then_decode_and_retrieve_by_subject(lab):
    server, client, fit = lab["server"], lab["client"], lab["fit"]
    assert fit.subjects == tuple(SubjectInput(s, (_voxels(s),)) for s in ("01", "02", "03"))
    assert (fit.modality, fit.input_shape, fit.n_dims, fit.n_trials) == ("fmri", (), N_DIMS, 3 * 3 * TRIALS_PER_RUN)
    assert sorted((f.subject, f.test_runs) for f in fit.folds) == sorted(
        (s, (rid,)) for s in ("01", "02", "03") for rid in lab["runs"][s])  # each run of each subject held out
    assert fit.cv_scores["top_1"] > 5 / TRIALS_PER_RUN  # chance 1 / 24

    info = server.store.get_artifact("lab-a", fit.decoder_id, kind="decoder")
    assert set(info.files) == {"weights.safetensors", "config.json", "subject-000.onnx", "subject-001.onnx",
                               "subject-002.onnx"}
    assert info.meta["subjects"] == {s: {"input_shape": [_voxels(s)], "onnx": f"subject-{i:03d}.onnx"}
                                     for i, s in enumerate(("01", "02", "03"))}
    provenance = info.provenance
    assert [(r["id"], r["subject"]) for r in provenance["recordings"]] == [
        (rid, s) for s in ("01", "02", "03") for rid in lab["runs"][s]]
    assert {s: v["runs"] for s, v in provenance["subjects"].items()} == {
        s: sorted(lab["runs"][s]) for s in ("01", "02", "03")}
    assert (provenance["decoder"], provenance["activation_set_id"], provenance["seed"]) == (
        "shared", lab["activations"], 1)

    torch_decoder = load_decoder(server.store.artifact_dir("lab-a", fit.decoder_id))
    for subject in ("01", "02", "03"):
        samples = load_responses(server.store, "lab-a", lab["runs"][subject][:1], FMRI_SPEC).data
        expected = torch_decoder.predict(samples, subject)
        np.testing.assert_allclose(client.decode(fit.decoder_id, samples, subject=subject), expected,
                                   rtol=1e-4, atol=1e-4)
        ids, scores = client.retrieve(samples, k=3, activation_set_id=lab["activations"], layer="pool",
                                      decoder_id=fit.decoder_id, subject=subject)
        ids_from_embeddings, _ = client.retrieve(expected, k=3, activation_set_id=lab["activations"], layer="pool")
        np.testing.assert_array_equal(ids, ids_from_embeddings)

    # One stream: subject 01, then a message naming subject 02 alone (same decoder), then 02 again.
    first = load_responses(server.store, "lab-a", lab["runs"]["01"][:1], FMRI_SPEC).data[:2]
    second = load_responses(server.store, "lab-a", lab["runs"]["02"][:1], FMRI_SPEC).data[:3]
    requests = [decoding_pb2.DecodeRequest(decoder_id=fit.decoder_id, subject="01", samples=to_tensor(first)),
                decoding_pb2.DecodeRequest(subject="02", samples=to_tensor(second)),
                decoding_pb2.DecodeRequest(samples=to_tensor(second[:1]))]
    replies = [from_tensor(r.embeddings) for r in client.decoding.stub.Decode(iter(requests), metadata=client.metadata)]
    np.testing.assert_allclose(replies[0], torch_decoder.predict(first, "01"), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(replies[1], torch_decoder.predict(second, "02"), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(replies[2], replies[1][:1], rtol=1e-5, atol=1e-6)


def test_fine_tune_a_new_subject_from_the_stored_decoder(lab, world):
    server, client, base = lab["server"], lab["client"], lab["fit"]
    tuned = client.fit_decoder(lab["runs"]["04"][:2], FMRI_SPEC, lab["activations"], "pool", decoder="shared",
                               params={"head_lr_scale": 0.1, "training": {"max_epochs": 30}}, seed=2,
                               base_decoder_id=base.decoder_id)
    assert tuned.decoder_id != base.decoder_id
    assert [s.subject for s in tuned.subjects] == ["01", "02", "03", "04"]
    assert tuned.subjects[-1].input_shape == (_voxels("04"),)
    assert {f.subject for f in tuned.folds} == {"04"} and len(tuned.folds) == 2  # its two runs, one at a time
    provenance = server.store.get_artifact("lab-a", tuned.decoder_id).provenance
    assert [(r["id"], r["subject"]) for r in provenance["recordings"]] == [(rid, "04") for rid in lab["runs"]["04"][:2]]
    assert provenance["fine_tuning"]["subject"] == "04" and provenance["fine_tuning"]["head_lr_scale"] == 0.1
    assert provenance["fine_tuning"]["training"]["max_epochs"] == 30 and provenance["seed"] == 2
    based = provenance["base_decoder"]
    assert (based["id"], based["subjects"], based["activation_set_id"]) == (
        base.decoder_id, ["01", "02", "03"], lab["activations"])
    assert [r["id"] for r in based["recordings"]] == [rid for s in ("01", "02", "03") for rid in lab["runs"][s]]

    held_out = load_responses(server.store, "lab-a", lab["runs"]["04"][2:], FMRI_SPEC)
    decoded = client.decode(tuned.decoder_id, held_out.data, subject="04")
    torch_decoder = load_decoder(server.store.artifact_dir("lab-a", tuned.decoder_id))
    np.testing.assert_allclose(decoded, torch_decoder.predict(held_out.data, "04"), rtol=1e-4, atol=1e-4)
    trained = load_responses(server.store, "lab-a", lab["runs"]["04"][:2], FMRI_SPEC)  # stimuli the others saw too
    assert torch_decoder.fine_tuned_["04"]["template_samples"] == trained.n_trials  # its adapter's ridge start
    ids, _ = retrieve(decoded, world[1]["pool"], world[0], k=1)
    assert np.mean(ids[:, 0] == held_out.stimulus_ids) > 4 / len(world[0])  # its third run, never trained on
    # the base decoder is left as it was
    assert list(server.store.get_artifact("lab-a", base.decoder_id).meta["subjects"]) == ["01", "02", "03"]
    expect_error(lambda: client.decode(base.decoder_id, held_out.data, subject="04"), INVALID, "'04'")


def _stored_decoders(server, world):
    """Decoders that a fine-tuning cannot start from, stored for lab-a: an EEG decoder, a shared decoder
    of another layer ("small", 4 dims) and one of another network's 8-dim "pool", and a ridge decoder."""
    rng = np.random.default_rng(5)
    quick = TrainingConfig(max_epochs=2, batch_size=8, val_fraction=0.0)
    targets = {"pool": rng.standard_normal((16, N_DIMS)), "small": rng.standard_normal((16, 4))}
    eeg = EEGDecoder(n_filters=2, temporal_kernel=3, pool_size=4, training=quick).fit(
        rng.standard_normal((16, 3, 8)), targets["pool"])

    def shared(layer, model):
        fitted = SharedDecoder(latent_dim=4, hidden_dim=8, training=quick).fit(
            {"01": rng.standard_normal((16, _voxels("01")))}, {"01": targets[layer]})
        return save_decoder_artifact(server.store, "lab-a", fitted, {"activation_model": model, "layer": layer}).id

    ridge = RidgeDecoder(alphas=[1.0], cv=2).fit(rng.standard_normal((16, _voxels("04"))), targets["pool"])
    return {"eeg": save_decoder_artifact(server.store, "lab-a", eeg).id, "small": shared("small", "simulated"),
            "other_model": shared("pool", "another-network"),
            "ridge": save_decoder_artifact(server.store, "lab-a", ridge).id}


def test_bad_input_names_both_sides(lab, world):
    server, client, base = lab["server"], lab["client"], lab["fit"]
    stored = _stored_decoders(server, world)
    before = artifact_ids(server)
    runs, activations = lab["runs"], lab["activations"]
    new_runs = runs["04"][:1]
    samples = load_responses(server.store, "lab-a", runs["01"][:1], FMRI_SPEC).data[:2]

    def fine_tune(recordings=new_runs, layer="pool", **kwargs):
        return lambda: client.fit_decoder(recordings, FMRI_SPEC, activations, layer, **{"decoder": "shared", **kwargs})

    bad_fits = [
        (fine_tune(base_decoder_id=stored["eeg"]), f"base decoder {stored['eeg']!r} decodes eeg data but the "
                                                   "recordings are fmri"),
        (fine_tune(base_decoder_id=stored["small"]), f"base decoder {stored['small']!r} maps to another embedding "
                                                     f"space: 4 dims of layer 'small' of model 'simulated', but "
                                                     f"activation set {activations!r} gives 8 dims of layer 'pool' "
                                                     "of model 'simulated'"),
        (fine_tune(base_decoder_id=stored["other_model"]), "8 dims of layer 'pool' of model 'another-network'"),
        (fine_tune(layer="small", base_decoder_id=base.decoder_id), "8 dims of layer 'pool' of model 'simulated', "
                                                                   "but activation set"),
        (fine_tune(base_decoder_id=stored["ridge"]), "is a RidgeDecoder of one subject"),
        (fine_tune(decoder="ridge", base_decoder_id=base.decoder_id), "set decoder to 'shared' (got 'ridge')"),
        (fine_tune(runs["03"][:1] + new_runs, base_decoder_id=base.decoder_id), "one subject; these are of "
                                                                               "subjects '03', '04'"),
        (fine_tune(base_decoder_id=base.decoder_id, params={"latent_dim": 4}),
         "unknown fine-tuning parameter 'latent_dim'"),
        (fine_tune(base_decoder_id=base.decoder_id, params={"head_lr_scale": 2.0}),
         "fine_tune head_lr_scale=2.0 is out of range: it must be a number in [0, 1]"),
        (fine_tune(params={"latent_dim": 0}), "SharedDecoder latent_dim=0 is out of range"),
    ]
    for call, fragment in bad_fits:
        expect_error(call, INVALID, fragment)
    expect_error(fine_tune(base_decoder_id="art_missing"), NOT_FOUND, "art_missing")

    other_subject = load_responses(server.store, "lab-a", runs["02"][:1], FMRI_SPEC).data[:2]
    bad_calls = [
        (lambda: client.decode(base.decoder_id, samples, subject="07"),
         f"decoder {base.decoder_id!r} has no adapter for subject '07'; its subjects are '01', '02', '03'"),
        (lambda: client.decode(base.decoder_id, other_subject, subject="01"),
         "subject '01' has an adapter for 64 voxels, got samples of 80 voxels"),
        (lambda: client.decode(base.decoder_id, samples), f"decoder {base.decoder_id!r} is a shared decoder: name "
                                                          "the subject, one of '01', '02', '03'"),
        (lambda: client.decode(stored["ridge"], samples, subject="01"),
         f"decoder {stored['ridge']!r} decodes one subject's data and takes no subject (got subject '01')"),
        (lambda: client.retrieve(samples, activation_set_id=activations, layer="pool", decoder_id=base.decoder_id,
                                 subject="07"), "has no adapter for subject '07'"),
        (lambda: client.retrieve(samples, activation_set_id=activations, layer="pool", decoder_id=base.decoder_id,
                                 subject="02"), "subject '02' has an adapter for 80 voxels, got samples of 64"),
        (lambda: client.retrieve(np.ones((2, N_DIMS)), activation_set_id=activations, layer="pool", subject="01"),
         "give the decoder_id too"),
    ]
    for call, fragment in bad_calls:
        expect_error(call, INVALID, fragment)
    first_alone = decoding_pb2.DecodeRequest(subject="01", samples=to_tensor(samples))
    expect_error(lambda: list(client.decoding.stub.Decode(iter([first_alone]), metadata=client.metadata)), INVALID,
                 "the first Decode message must name a decoder_id")
    assert_nothing_stored(server, client, before)


def test_other_tenants_shared_decoder_is_not_found(lab):
    server, base = lab["server"], lab["fit"]
    key, _ = server.keys.create("lab-b")
    with Client(f"127.0.0.1:{server.port}", api_key=key, timeout=60) as other:
        samples = np.ones((1, _voxels("01")), np.float32)
        expect_error(lambda: other.decode(base.decoder_id, samples, subject="01"), NOT_FOUND, base.decoder_id)
        expect_error(lambda: other.fit_decoder(lab["runs"]["04"], FMRI_SPEC, lab["activations"], "pool",
                                               decoder="shared", base_decoder_id=base.decoder_id), NOT_FOUND)
        assert other.health() == "SERVING"
    assert artifact_ids(server, "lab-b") == []

