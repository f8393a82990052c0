"""EncodingService over a real server on a loopback port: FitEncoder, Predict, Score."""

import gzip
import json

import grpc
import mne
import nibabel
import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge
from sklearn.model_selection import LeaveOneGroupOut

from braindecode.client import Client
from braindecode.containers import ActivationSet
from braindecode.encoding import load_encoder
from braindecode.store import save_activation_set
from braindecode.v1 import encoding_pb2
from service_checks import artifact_ids, assert_nothing_stored, assert_thread_ends, expect_error, trial_events, write_trial_run
from torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)

GRID = (8, 8, 8)
AFFINE = np.array([[2.0, 0, 0, -8], [0, 2.0, 0, -10], [0, 0, 2.5, 4], [0, 0, 0, 1]])
N_POOL, N_EXTRA, TRIALS_PER_RUN, N_RUNS, N_REPEATED = 6, 3, 40, 3, 20
NOISE = 0.6
# One trial per scan (TR 1 s): the mean of the scan at each onset. The mean-EPI mask of the
# bright 6x6x6 block, eroded twice, is 56 voxels in the middle of the grid.
SPEC = {"modality": "fmri", "mask": "auto", "trials": {"method": "window", "window": [0, 0.5]}}
ALPHAS = [0.1, 1.0, 10.0, 100.0]
EEG_SPEC = {"modality": "eeg", "epochs": {"tmin": 0.0, "tmax": 0.2, "baseline": None}}


@pytest.fixture(scope="module")
def world():
    """Stimuli with two layers, and a brain whose even voxels follow ``pool @ weights`` plus noise."""
    rng = np.random.default_rng(0)
    n_stimuli = TRIALS_PER_RUN * N_RUNS + N_REPEATED
    ids = np.array([f"stim-{i:03d}" for i in range(n_stimuli)])
    layers = {"pool": rng.standard_normal((n_stimuli, N_POOL)).astype(np.float32),
              "extra": rng.standard_normal((n_stimuli, N_EXTRA)).astype(np.float32)}
    weights = rng.standard_normal((N_POOL, *GRID))
    weights /= np.linalg.norm(weights, axis=0)  # signal variance 1 in every driven voxel
    driven = np.zeros(GRID, bool)
    driven.reshape(-1)[::2] = True
    weights[:, ~driven] = 0
    return ids, layers, weights, driven


def _write_run(path, rows, world, seed):
    """A run with baseline 1000 in a block, scan k + 1 the response to trial k."""
    _, layers, weights, _ = world
    block = np.zeros(GRID)
    block[1:7, 1:7, 1:7] = 1000.0
    return write_trial_run(path, layers["pool"][rows] @ weights.reshape(len(weights), -1), GRID, seed, NOISE,
                           AFFINE, zooms=(2.0, 2.0, 2.5), baseline=block)


def _upload_run(client, tmp_path, world, name, rows, seed, subject="01"):
    path = _write_run(tmp_path / f"{name}.nii.gz", rows, world, seed)
    return client.upload(path, subject=subject, run=name, events=trial_events(world[0][rows])).id


@pytest.fixture
def lab(server, client, tmp_path, world):
    """lab-a's store: N_RUNS training runs, a held-out run showing N_REPEATED stimuli twice, the activations."""
    runs = [_upload_run(client, tmp_path, world, f"run-{r}", np.arange(r * TRIALS_PER_RUN, (r + 1) * TRIALS_PER_RUN),
                        seed=100 + r) for r in range(N_RUNS)]
    repeated = N_RUNS * TRIALS_PER_RUN + np.random.default_rng(1).permutation(np.tile(np.arange(N_REPEATED), 2))
    held_out = _upload_run(client, tmp_path, world, "held-out", repeated, seed=200)
    ids, layers = world[0], world[1]
    activations = save_activation_set(server.store, "lab-a", ActivationSet(ids, dict(layers), model="simulated")).id
    return {"runs": runs, "held_out": held_out, "held_out_rows": repeated, "activations": activations}


@pytest.fixture
def encoder(client, lab):
    return client.fit_encoder(lab["runs"], SPEC, lab["activations"], "pool", alphas=ALPHAS)


def _mask():
    """The voxels the preprocessing keeps (the eroded mean-EPI mask of the block)."""
    mask = np.zeros(GRID, bool)
    mask[2:6, 2:6, 2:6] = True
    for corner in np.ndindex(2, 2, 2):
        mask[tuple(2 + 3 * np.array(corner))] = False
    return mask


def test_fit_then_score_recovers_the_driven_voxels(server, client, lab, world):
    _, _, _, driven = world
    mask = _mask()
    progress = []
    result = client.fit_encoder(lab["runs"], SPEC, lab["activations"], "pool", alphas=ALPHAS,
                                on_progress=progress.append)
    n_voxels = int(mask.sum())
    assert (result.modality, list(result.response_shape), result.n_features) == ("fmri", [n_voxels], N_POOL)
    assert result.n_trials == N_RUNS * TRIALS_PER_RUN and len(result.folds) == N_RUNS
    assert sorted(r for f in result.folds for r in f.test_runs) == sorted(lab["runs"])
    stages = [p.stage for p in progress]
    assert stages[0] == "responses" and stages[-1] == "store" and "fit" in stages
    assert stages.count("cross-validation") == N_RUNS + 1 and all(0 <= p.fraction <= 1 for p in progress)
    assert list(result.score_names) == ["pearson", "r2"]  # no stimulus repeats in the training runs
    cv = result.target_scores
    in_mask_driven = driven[mask]
    assert cv.shape == (2, n_voxels)
    assert cv[0, in_mask_driven].min() > 0.6 and abs(cv[0, ~in_mask_driven].mean()) < 0.1
    assert result.cv_scores["pearson"] == pytest.approx(cv[0].mean(), abs=1e-5)

    info = server.store.get_artifact("lab-a", result.encoder_id, kind="encoder")
    assert set(info.files) == {"weights.safetensors", "config.json", "mask.nii.gz"}
    assert info.meta["class"] == "RidgeCV" and info.meta["layers"] == {"pool": N_POOL}
    recordings = {r["id"]: r["sha256"] for r in info.provenance["recordings"]}
    assert recordings == {rid: client.get(rid).sha256 for rid in lab["runs"]}
    assert info.provenance["activation_set_id"] == lab["activations"] and info.provenance["layers"] == ["pool"]
    assert info.provenance["alphas"] == ALPHAS and info.provenance["preprocessing"] == SPEC
    assert sum(info.provenance["selected_alphas"].values()) == n_voxels
    assert info.provenance["cross_validation"]["scheme"] == "leave-one-run-out"
    assert info.provenance["cross_validation"]["scores"] == pytest.approx(dict(result.cv_scores))

    before = artifact_ids(server)
    scored = client.score_encoder(result.encoder_id, [lab["held_out"]])
    names = list(scored.score_names)
    assert names == ["pearson", "r2", "noise_ceiling", "pearson_normalized", "r2_normalized"]
    scores = dict(zip(names, scored.scores))
    assert scored.n_trials == 2 * N_REPEATED and list(scored.response_shape) == [n_voxels]
    # Driven voxels: r at the simulated single-trial ceiling sqrt(1 / (1 + NOISE^2)) ~ 0.86, as estimated
    # from the repeats; undriven voxels: r and ceiling near 0.
    r, ceiling = scores["pearson"], scores["noise_ceiling"]
    assert r[in_mask_driven].mean() == pytest.approx(1 / np.sqrt(1 + NOISE**2), abs=0.06)
    assert r[in_mask_driven].mean() == pytest.approx(ceiling[in_mask_driven].mean(), abs=0.06)
    assert scored.summary["pearson_normalized"] == pytest.approx(r.mean() / ceiling.mean(), rel=1e-5)
    assert r[in_mask_driven].min() > 0.6 and abs(r[~in_mask_driven].mean()) < 0.1
    assert np.abs(r[~in_mask_driven]).max() < 0.5

    # The per-voxel scores equal numpy's correlations of Predict's output with the held-out responses.
    truth = client.stream_data(lab["held_out"], SPEC)
    predicted = client.predict(result.encoder_id, activation_set_id=lab["activations"],
                               stimulus_ids=world[0][lab["held_out_rows"]])
    expected_r = [np.corrcoef(truth[:, v], predicted[:, v])[0, 1] for v in range(n_voxels)]
    np.testing.assert_allclose(r, expected_r, atol=1e-5)

    # The map: the recording's affine, each score volume holding the voxel scores at their voxels.
    image = nibabel.Nifti1Image.from_bytes(gzip.decompress(scored.score_map_nifti))
    np.testing.assert_allclose(image.affine, AFFINE)
    volumes = np.asarray(image.dataobj)
    assert volumes.shape == GRID + (len(names),)
    for k, name in enumerate(names):
        np.testing.assert_array_equal(volumes[..., k][mask], scores[name])
        assert not volumes[..., k][~mask].any()
    stored = server.store.get_artifact("lab-a", scored.score_map_id, kind="score-map")
    assert [a for a in artifact_ids(server) if a not in before] == [scored.score_map_id]
    assert stored.meta["score_names"] == names and stored.provenance["encoder_id"] == result.encoder_id
    folder = server.store.artifact_dir("lab-a", scored.score_map_id)
    assert (folder / "score_map.nii.gz").read_bytes() == scored.score_map_nifti
    np.testing.assert_array_equal(np.load(folder / "scores.npy"), scored.scores)


def test_predict_equals_the_stored_library_encoder(server, client, encoder, lab, world):
    library = load_encoder(server.store.artifact_dir("lab-a", encoder.encoder_id))
    features = world[1]["pool"][:7]
    expected = library.predict(features)
    np.testing.assert_array_equal(client.predict(encoder.encoder_id, features), expected)
    via_set = client.predict(encoder.encoder_id, activation_set_id=lab["activations"], stimulus_ids=world[0][:7])
    np.testing.assert_array_equal(via_set, expected)
    assert expected.dtype == np.float32 and expected.shape == (7, int(_mask().sum()))


def test_cv_scores_equal_scikit_learn_on_the_same_folds(client, lab, world):
    """One alpha: the held-out r of each voxel against scikit-learn's Ridge under LeaveOneGroupOut."""
    result = client.fit_encoder(lab["runs"], SPEC, lab["activations"], "pool", alphas=[10.0])
    Y = np.concatenate([client.stream_data(r, SPEC) for r in lab["runs"]])
    X = world[1]["pool"][: N_RUNS * TRIALS_PER_RUN]
    groups = np.repeat(lab["runs"], TRIALS_PER_RUN)
    per_run = []
    for train, test in LeaveOneGroupOut().split(X, groups=groups):
        predicted = Ridge(alpha=10.0).fit(X[train], Y[train]).predict(X[test])
        per_run.append([np.corrcoef(Y[test][:, v], predicted[:, v])[0, 1] for v in range(Y.shape[1])])
    np.testing.assert_allclose(result.target_scores[0], np.mean(per_run, axis=0), atol=1e-4)


def test_banded_encoder_with_lags(server, client, lab, world):
    result = client.fit_encoder(lab["runs"], SPEC, lab["activations"], ["pool", "extra"], alphas=ALPHAS,
                                lags=(0.0, 1.0, 1.0), n_ratios=4, seed=3)
    assert result.n_features == N_POOL + N_EXTRA
    info = server.store.get_artifact("lab-a", result.encoder_id)
    assert info.meta["class"] == "BandedRidgeCV" and info.meta["delays"] == [0, 1]
    assert info.meta["layers"] == {"pool": N_POOL, "extra": N_EXTRA} and info.provenance["n_ratios"] == 4
    library = load_encoder(server.store.artifact_dir("lab-a", result.encoder_id))
    assert library.estimator.band_labels_.tolist() == ["pool", "extra"]
    # The driven voxels load on "pool" at delay 0: its band keeps the smaller regularization.
    driven = world[3][_mask()]
    band_alphas = library.estimator.band_alphas_[:, driven]
    assert np.median(band_alphas[0] / band_alphas[1]) < 1
    X = np.concatenate([world[1]["pool"][:9], world[1]["extra"][:9]], axis=1)
    np.testing.assert_array_equal(client.predict(result.encoder_id, X), library.predict(X))
    assert result.target_scores[0, driven].mean() > 0.6


def _upload_eeg(client, tmp_path, world, run=0, n_trials=12):
    """An EEG run (3 channels, 100 Hz): each trial evokes ``pool @ patterns`` over 0.2 s from its onset."""
    ids, layers, _, _ = world
    rng = np.random.default_rng(10 + run)
    sfreq, rows = 100.0, np.arange(run * n_trials, (run + 1) * n_trials)
    data = 0.3 * rng.standard_normal((3, int(sfreq * 0.5 * (n_trials + 2))))
    patterns = np.random.default_rng(9).standard_normal((N_POOL, 3, 21))
    for k, row in enumerate(rows):
        start = int((k + 1) * 0.5 * sfreq)
        data[:, start:start + 21] += np.einsum("d,dct->ct", layers["pool"][row], patterns)
    raw = mne.io.RawArray(data * 1e-6, mne.create_info(["C3", "Cz", "C4"], sfreq, "eeg"), verbose="error")
    path = tmp_path / f"eeg-{run}_raw.fif"
    raw.save(path, verbose="error")
    events = [{"onset": (k + 1) * 0.5, "duration": 0.1, "stimulus_id": ids[row]} for k, row in enumerate(rows)]
    return client.upload(path, subject="01", run=f"eeg-{run}", events=events).id


def test_eeg_encoder_predicts_and_scores_epochs(server, client, tmp_path, lab, world):
    runs = [_upload_eeg(client, tmp_path, world, run, n_trials=20) for run in range(3)]
    result = client.fit_encoder(runs, EEG_SPEC, lab["activations"], "pool", alphas=ALPHAS, cv_folds=3)
    assert (result.modality, list(result.response_shape)) == ("eeg", [3, 21])
    assert result.cv_scores["pearson"] > 0.9
    library = load_encoder(server.store.artifact_dir("lab-a", result.encoder_id))
    assert library.space.feature_names == ["C3", "Cz", "C4"] and library.space.mask is None
    predicted = client.predict(result.encoder_id, world[1]["pool"][:4])
    assert predicted.shape == (4, 3, 21)
    np.testing.assert_array_equal(predicted, library.predict(world[1]["pool"][:4]))
    scored = client.score_encoder(result.encoder_id, runs[:1])
    assert list(scored.response_shape) == [3, 21] and scored.scores.shape == (2, 63)
    assert scored.score_map_nifti == b""
    stored = server.store.get_artifact("lab-a", scored.score_map_id, kind="score-map")
    assert set(stored.files) == {"scores.npy"} and stored.meta["modality"] == "eeg"


def test_bad_input(server, client, tmp_path, encoder, lab, world):
    with_nan = {name: layer.copy() for name, layer in world[1].items()}
    with_nan["pool"][[5, N_RUNS * TRIALS_PER_RUN], 2] = np.nan  # a stimulus of run-0 and one shown twice later
    nan_set = save_activation_set(server.store, "lab-a", ActivationSet(world[0], with_nan)).id
    wide_set = save_activation_set(server.store, "lab-a", ActivationSet(world[0], {
        "pool": np.ones((len(world[0]), N_POOL + 1), np.float32)})).id
    eeg = _upload_eeg(client, tmp_path, world)
    before = artifact_ids(server)
    runs, acts, eid = lab["runs"], lab["activations"], encoder.encoder_id
    invalid, not_found = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND
    fit = dict(recording_ids=runs, preprocessing=SPEC, activation_set_id=acts, layers="pool", alphas=ALPHAS)
    fit_cases = [
        (dict(cv_folds=4), invalid, "4 folds need at least 4 runs, got 3"),
        (dict(recording_ids=runs[:1]), invalid, "leave-one-run-out needs at least 2 runs, got 1"),
        (dict(recording_ids=[runs[0], runs[0]]), invalid, "given more than once"),
        (dict(recording_ids=runs + [eeg]), invalid, "the recordings mix modalities eeg, fmri"),
        (dict(activation_set_id=nan_set), invalid, "layer 'pool' of the activations contains 1 NaN"),
        (dict(layers=["pool", "pool"]), invalid, "layers given more than once: pool"),
        (dict(layers=[]), invalid, "no layers given"),
        (dict(layers="logits"), invalid, "unknown layer 'logits'; available: pool, extra"),
        (dict(alphas=[1.0, -1.0]), invalid, "alphas must be positive"),
        (dict(delays=[0, 1], lags=(0.0, 1.0, 1.0)), invalid, "give delays (in trials) or lags"),
        (dict(preprocessing={**SPEC, "trials": None}), invalid, "'epochs' or 'trials' step"),
        (dict(preprocessing=EEG_SPEC), invalid, "modality 'fmri'"),
        (dict(device="tpu"), invalid, "unknown device 'tpu'"),
        (dict(recording_ids=runs + ["rec_nope"]), not_found, "recording 'rec_nope' not found"),
        (dict(activation_set_id="art_nope"), not_found, "activations 'art_nope' not found"),
    ]
    for override, code, fragment in fit_cases:
        kwargs = {**fit, **override}
        expect_error(lambda: client.fit_encoder(**kwargs), code, fragment)
    bad_json = encoding_pb2.FitEncoderRequest(recording_ids=runs, activation_set_id=acts, layers=["pool"],
                                              preprocessing_json="{mask")
    expect_error(lambda: list(client.encoding.stub.FitEncoder(bad_json, metadata=client.metadata)), invalid,
                  "preprocessing_json is not valid JSON")

    nan = np.zeros((2, N_POOL), np.float32)
    nan[1, 3] = np.nan
    predict_cases = [
        (dict(features=np.zeros((2, N_POOL + 1))), invalid, f"features must have shape (n, {N_POOL})", "(2, 7)"),
        (dict(features=nan), invalid, "features contain 1 NaN"),
        (dict(), invalid, "exactly one of the two"),
        (dict(features=nan, activation_set_id=acts), invalid, "exactly one of the two"),
        (dict(activation_set_id=acts), invalid, "stimulus_ids are required"),
        (dict(activation_set_id=acts, stimulus_ids=["stim-000", "nope"]), invalid, "have no activations"),
        (dict(activation_set_id=wide_set, stimulus_ids=["stim-000"]), invalid,
         f"'pool' has {N_POOL + 1} features, the encoder takes {N_POOL}"),
        (dict(activation_set_id="art_nope", stimulus_ids=["stim-000"]), not_found, "activations 'art_nope'"),
        (dict(encoder_id="art_nope", features=nan), not_found, "encoder 'art_nope' not found"),
        (dict(encoder_id=acts, features=nan), not_found, "encoder"),
    ]
    for kwargs, code, *fragments in predict_cases:
        kwargs = {"encoder_id": eid, **kwargs}
        expect_error(lambda: client.predict(**kwargs), code, *fragments)

    score_cases = [
        (dict(recording_ids=[eeg]), invalid, f"encoder {eid!r} predicts fmri responses but recording {eeg!r} is eeg"),
        (dict(recording_ids=[lab["held_out"]], preprocessing={**SPEC, "mask": None}), invalid,
         f"responses of shape ({np.prod(GRID)},) but encoder {eid!r} predicts ({int(_mask().sum())},)"),
        (dict(recording_ids=[lab["held_out"]], activation_set_id=wide_set), invalid,
         f"'pool' has {N_POOL + 1} features"),
        (dict(recording_ids=[lab["held_out"]], activation_set_id=nan_set), invalid,
         "layer 'pool' of the activations contains 2 NaN"),
        (dict(recording_ids=[]), invalid, "no recording ids given"),
        (dict(recording_ids=["rec_nope"]), not_found, "recording 'rec_nope' not found"),
        (dict(encoder_id="art_nope", recording_ids=[lab["held_out"]]), not_found, "encoder 'art_nope' not found"),
    ]
    for kwargs, code, fragment in score_cases:
        kwargs = {"encoder_id": eid, **kwargs}
        expect_error(lambda: client.score_encoder(**kwargs), code, fragment)
    assert_nothing_stored(server, client, before)


def test_other_tenants_ids_are_not_found(server, client, tmp_path, world, encoder, lab):
    key_b, _ = server.keys.create("lab-b")
    with Client(f"127.0.0.1:{server.port}", api_key=key_b, timeout=60) as lab_b:
        rows = [np.arange(r * TRIALS_PER_RUN, (r + 1) * TRIALS_PER_RUN) for r in range(2)]
        own_runs = [_upload_run(lab_b, tmp_path, world, f"b-{r}", rows[r], seed=300 + r, subject="b1")
                    for r in range(2)]
        before_a, acts, eid = artifact_ids(server), lab["activations"], encoder.encoder_id
        features = np.zeros((1, N_POOL), np.float32)
        cases = [
            (lambda: lab_b.fit_encoder(lab["runs"], SPEC, acts, "pool"), "recording"),
            (lambda: lab_b.fit_encoder(own_runs, SPEC, acts, "pool"), f"activations {acts!r} not found"),
            (lambda: lab_b.predict(eid, features), f"encoder {eid!r} not found"),
            (lambda: lab_b.predict(eid, activation_set_id=acts, stimulus_ids=["stim-000"]), "encoder"),
            (lambda: lab_b.score_encoder(eid, own_runs), f"encoder {eid!r} not found"),
        ]
        for call, fragment in cases:
            expect_error(call, grpc.StatusCode.NOT_FOUND, fragment, "not found")
        assert lab_b.health() == "SERVING"
    assert artifact_ids(server, "lab-b") == [] and artifact_ids(server) == before_a


def test_cancelled_fit_stores_nothing(server, client, lab):
    before = artifact_ids(server)
    request = encoding_pb2.FitEncoderRequest(
        recording_ids=lab["runs"], preprocessing_json=json.dumps(SPEC), activation_set_id=lab["activations"],
        layers=["pool", "extra"], alphas=ALPHAS, n_ratios=400)
    call = client.encoding.stub.FitEncoder(request, metadata=client.metadata)
    for event in call:
        if event.progress.stage == "cross-validation":
            break
    call.cancel()
    assert_thread_ends("encoding-fit", 60)
    assert_nothing_stored(server, client, before)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fit_matches_cpu(server, client, lab, world):
    fits = {device: client.fit_encoder(lab["runs"], SPEC, lab["activations"], ["pool", "extra"], alphas=ALPHAS,
                                       n_ratios=4, device=device) for device in ("cpu", "cuda")}
    np.testing.assert_allclose(fits["cuda"].target_scores, fits["cpu"].target_scores,
                               atol=1e-4)
    X = np.concatenate([world[1]["pool"][:5], world[1]["extra"][:5]], axis=1)
    np.testing.assert_allclose(client.predict(fits["cuda"].encoder_id, X), client.predict(fits["cpu"].encoder_id, X),
                               atol=1e-4)
    config = load_encoder(server.store.artifact_dir("lab-a", fits["cuda"].encoder_id)).estimator.get_params()
    assert config["device"] == "cuda"
