"""ComparisonService over a real server on a loopback port: ComputeRDM, GetRDM, StreamRDM, Compare, ScoreMatrix."""

import io

import grpc
import mne
import nibabel
import numpy as np
import pytest
import torch
from nilearn.image import resample_img

from braindecode.client import Client
from braindecode.compare import compare, compute_rdm, crossnobis_rdm, score_matrix, time_score_matrix
from braindecode.containers import ActivationSet
from braindecode.store import MAX_RESAMPLES, load_responses, save_activation_set
from braindecode.v1 import comparison_pb2
from service_checks import artifact_ids, assert_nothing_stored, assert_thread_ends, expect_error, trial_events, write_trial_run
from torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)

N_STIMULI, SHAPE, AFFINE = 12, (4, 4, 4), np.diag([2.0, 2.0, 2.0, 1.0])
N_VOXELS = int(np.prod(SHAPE))
IDS = np.array([f"s{i:02d}" for i in range(N_STIMULI)])
FMRI_SPEC = {"modality": "fmri", "mask": None, "trials": {"method": "window", "window": [0, 0.5]}}
EEG_SPEC = {"modality": "eeg", "epochs": {"tmin": 0.0, "tmax": 0.3, "baseline": None}}
SUBJECTS, RUNS = ("01", "02"), (0, 1)
# The ROI: voxels with x < 2, the first half in C order. It encodes layer "late", the rest "early".
ROI_MASK = np.zeros(SHAPE, dtype=np.uint8)
ROI_MASK[:2] = 1
ROI_INDICES = np.flatnonzero(ROI_MASK.reshape(-1))
INVALID, NOT_FOUND = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND


@pytest.fixture(scope="module")
def layers():
    rng = np.random.default_rng(0)
    return {"early": rng.standard_normal((N_STIMULI, 16)).astype(np.float32),
            "late": rng.standard_normal((N_STIMULI, 24)).astype(np.float32)}


def _write_run(path, order, layers, seed):
    """A run whose scan k + 1 is the response to stimulus ``order[k]``: half the voxels read the late layer."""
    weights = np.random.default_rng(1)
    inside = layers["late"] @ weights.standard_normal((24, N_VOXELS // 2))
    outside = layers["early"] @ weights.standard_normal((16, N_VOXELS // 2))
    return write_trial_run(path, np.concatenate([inside, outside], axis=1)[order], SHAPE, seed, affine=AFFINE)


@pytest.fixture
def lab(server, client, tmp_path, layers):
    """lab-a's store: two subjects with two fMRI runs each (every stimulus once per run) and the activations."""
    recordings = []
    for s, subject in enumerate(SUBJECTS):
        for run in RUNS:
            order = np.random.default_rng(10 * s + run).permutation(N_STIMULI)
            path = _write_run(tmp_path / f"sub-{subject}_run-{run}.nii.gz", order, layers, seed=100 + 10 * s + run)
            recordings.append(client.upload(path, subject=subject, run=str(run), events=trial_events(IDS[order])).id)
    activations = save_activation_set(server.store, "lab-a", ActivationSet(IDS, dict(layers), model="simulated")).id
    return {"recordings": recordings, "activations": activations}


def _subject_patterns(server, recordings, subject, features=slice(None)):
    """Each stimulus's mean response of one subject, (N_STIMULI, n_features), rows in IDS order."""
    responses = load_responses(server.store, "lab-a", recordings, FMRI_SPEC)
    own = responses.subjects == subject
    return np.stack([responses.data[own & (responses.stimulus_ids == s)].mean(axis=0) for s in IDS])[:, features]


def test_activation_rdm_equals_compute_rdm(server, client, lab, layers):
    chosen = ["s07", "s02", "s11", "s00"]
    rows = [list(IDS).index(c) for c in chosen]
    for method in ("correlation", "cosine", "euclidean", "sqeuclidean"):
        (reply,) = client.compute_rdm(activation_set_id=lab["activations"], layer="late", method=method)
        np.testing.assert_allclose(reply.rdm, compute_rdm(layers["late"], method), rtol=1e-6, atol=1e-6)
        assert list(reply.condition_ids) == list(IDS) and reply.method == method
        assert (reply.subject, reply.source, reply.layer) == ("", "activations", "late")
        info = server.store.get_artifact("lab-a", reply.id, kind="rdm")
        assert info.provenance["activation_set_id"] == lab["activations"] and info.provenance["method"] == method
        assert client.get_rdm(reply.id) == reply
        np.testing.assert_array_equal(client.get_rdm_matrix(reply.id), reply.rdm)

        # condition_ids pick and order the conditions
        (subset,) = client.compute_rdm(activation_set_id=lab["activations"], layer="late", method=method,
                                       condition_ids=chosen)
        assert list(subset.condition_ids) == chosen
        np.testing.assert_allclose(subset.rdm, compute_rdm(layers["late"][rows], method),
                                   rtol=1e-6, atol=1e-6)


def test_large_rdms_are_streamed(server, client, layers):
    """An RDM past the server's chunk size (2 MiB: 800 x 800 float32 is 2.4 MiB) travels by StreamRDM."""
    values = np.random.default_rng(4).standard_normal((800, 6)).astype(np.float32)
    activations = save_activation_set(server.store, "lab-a", ActivationSet([f"c{i}" for i in range(800)],
                                                                           {"wide": values})).id
    (reply,) = client.compute_rdm(activation_set_id=activations, layer="wide")
    assert reply.rdm is None and client.get_rdm(reply.id).rdm is None
    assert len(reply.condition_ids) == 800
    np.testing.assert_allclose(client.get_rdm_matrix(reply.id), compute_rdm(values), rtol=1e-6, atol=1e-6)


def test_recording_rdms_per_subject_with_an_roi(server, client, lab, tmp_path):
    by_mask = client.compute_rdm(lab["recordings"], FMRI_SPEC, roi=ROI_MASK)
    assert [r.subject for r in by_mask] == list(SUBJECTS)
    for reply in by_mask:
        assert list(reply.condition_ids) == list(IDS) and reply.source == "recordings"
        expected = compute_rdm(_subject_patterns(server, lab["recordings"], reply.subject, ROI_INDICES))
        np.testing.assert_allclose(reply.rdm, expected, rtol=1e-5, atol=1e-6)
        provenance = server.store.get_artifact("lab-a", reply.id, kind="rdm").provenance
        assert provenance["roi"] == {"name": "", "kind": "mask", "n_features": len(ROI_INDICES)}
        assert provenance["preprocessing"] == FMRI_SPEC and provenance["n_trials"] == N_STIMULI * len(RUNS)
        assert {r["subject"] for r in provenance["recordings"]} == {reply.subject}

    # The same ROI as feature indices, and as a NIfTI mask on a 1 mm grid that the server resamples.
    by_indices = client.compute_rdm(lab["recordings"], FMRI_SPEC, roi=ROI_INDICES)
    fine = nibabel.Nifti1Image(np.kron(ROI_MASK, np.ones((2, 2, 2), np.uint8)), np.eye(4))
    nibabel.save(fine, tmp_path / "roi.nii.gz")
    by_nifti = client.compute_rdm(lab["recordings"], FMRI_SPEC, roi=tmp_path / "roi.nii.gz")
    # nilearn, resampling the same mask onto the recordings' grid, finds the same voxels
    target = nibabel.load(tmp_path / "sub-01_run-0.nii.gz")
    resampled = resample_img(fine, target_affine=target.affine, target_shape=SHAPE, interpolation="nearest")
    np.testing.assert_array_equal(np.asarray(resampled.dataobj) != 0, ROI_MASK != 0)
    for a, b, c in zip(by_mask, by_indices, by_nifti):
        np.testing.assert_array_equal(a.rdm, b.rdm)
        np.testing.assert_array_equal(a.rdm, c.rdm)


def test_crossnobis_uses_the_runs(server, client, lab):
    replies = client.compute_rdm(lab["recordings"], FMRI_SPEC, roi=ROI_INDICES, method="crossnobis")
    responses = load_responses(server.store, "lab-a", lab["recordings"], FMRI_SPEC)
    for reply in replies:
        runs = [rid for rid in lab["recordings"] if client.get(rid).subject == reply.subject]
        patterns = np.stack([
            np.stack([responses.data[(responses.runs == run) & (responses.stimulus_ids == s)][0] for s in IDS])
            for run in runs])[:, :, ROI_INDICES]
        np.testing.assert_allclose(reply.rdm, crossnobis_rdm(patterns), rtol=1e-4, atol=1e-5)


def test_compare_equals_the_library_with_progress(server, client, lab, layers):
    brain = client.compute_rdm(lab["recordings"], FMRI_SPEC, roi=ROI_MASK)
    models = {name: client.compute_rdm(activation_set_id=lab["activations"], layer=name)[0] for name in layers}
    # a model RDM in another condition order is aligned by id
    reordered = client.compute_rdm(activation_set_id=lab["activations"], layer="early", condition_ids=IDS[::-1])[0]
    progress = []
    result = client.compare([b.id for b in brain], {"late": models["late"].id, "early": reordered.id},
                            method="spearman", n_bootstrap=60, bootstrap="both", n_permutations=40, seed=7,
                            ci=0.9, on_progress=progress.append)
    expected = compare(np.stack([b.rdm for b in brain]),
                       {"late": models["late"].rdm, "early": models["early"].rdm},
                       method="spearman", n_bootstrap=60, bootstrap="both", n_permutations=40, ci=0.9, seed=7)

    assert [m.name for m in result.models] == ["late", "early"]
    assert [m.rdm_id for m in result.models] == [models["late"].id, reordered.id]
    assert list(result.condition_ids) == list(IDS)
    for k, model in enumerate(result.models):
        assert model.score == pytest.approx(expected.scores[k], abs=1e-6)
        np.testing.assert_allclose(model.subject_scores, expected.subject_scores[:, k], atol=1e-6)
        assert (model.ci_lower, model.ci_upper) == pytest.approx((expected.ci_lower[k], expected.ci_upper[k]),
                                                                 abs=1e-6)
        assert model.p_value == pytest.approx(expected.p_values[k], abs=1e-9)
        assert model.p_value_fdr == pytest.approx(expected.p_values_fdr[k], abs=1e-9)
    np.testing.assert_allclose(result.pairwise_p_values, expected.pairwise_p_values, atol=1e-9)
    np.testing.assert_allclose(result.pairwise_p_values_fdr, expected.pairwise_p_values_fdr, atol=1e-9)
    assert (result.noise_ceiling.lower, result.noise_ceiling.upper) == pytest.approx(
        (expected.noise_ceiling.lower, expected.noise_ceiling.upper), abs=1e-6)
    assert (result.bootstrap, result.n_bootstrap, result.n_permutations, result.seed, result.ci) == (
        "both", 60, 40, 7, pytest.approx(0.9))
    assert result.n_valid_bootstrap == len(expected.bootstrap_scores)
    # the ROI encodes the late layer
    assert result.models[0].score > result.models[1].score

    stages = [p.stage for p in progress]
    assert "resampling" in stages and stages[-1] == "store"
    assert [p.fraction for p in progress if p.stage == "resampling"][-1] == 1.0
    info = server.store.get_artifact("lab-a", result.comparison_id, kind="comparison")
    assert info.meta["scores"] == pytest.approx(expected.scores.tolist(), abs=1e-6)
    assert info.provenance["brain_rdm_ids"] == [b.id for b in brain]


def test_compare_without_resampling_or_ceiling(client, lab, layers):
    (brain,) = client.compute_rdm(lab["recordings"][:2], FMRI_SPEC)
    (model,) = client.compute_rdm(activation_set_id=lab["activations"], layer="early")
    result = client.compare([brain.id], {"early": model.id}, method="kendall_tau_a", n_bootstrap=0,
                            n_permutations=0)
    expected = compare(brain.rdm, {"early": model.rdm}, method="kendall_tau_a",
                       n_bootstrap=0, n_permutations=0)
    assert result.models[0].score == pytest.approx(expected.scores[0], abs=1e-6)
    model_score = result.models[0]
    assert all(getattr(model_score, f) is None for f in ("ci_lower", "ci_upper", "p_value", "p_value_fdr"))
    assert result.noise_ceiling is None and result.pairwise_p_values is None
    assert (result.bootstrap, result.n_valid_bootstrap) == ("", 0)


def test_score_matrix_layers_by_rois(server, client, lab, layers):
    rois = {"inside": ROI_MASK, "outside": np.flatnonzero(ROI_MASK.reshape(-1) == 0)}
    reply = client.score_matrix(lab["activations"], lab["recordings"], FMRI_SPEC, rois=rois)
    assert (list(reply.rows), list(reply.columns), list(reply.subjects)) == (
        ["early", "late"], ["inside", "outside"], list(SUBJECTS))
    subject_scores = reply.subject_scores
    for s, subject in enumerate(SUBJECTS):
        patterns = _subject_patterns(server, lab["recordings"], subject)
        expected = score_matrix(layers, {"inside": patterns[:, ROI_INDICES], "outside": patterns[:, rois["outside"]]})
        np.testing.assert_allclose(subject_scores[s], expected.scores, atol=1e-6)
    scores = reply.scores
    np.testing.assert_allclose(scores, subject_scores.mean(axis=0))
    assert scores[1, 0] > scores[0, 0] and scores[0, 1] > scores[1, 1]  # late inside, early outside
    assert reply.method == "rsa:correlation:spearman"
    info = server.store.get_artifact("lab-a", reply.score_matrix_id, kind="score_matrix")
    assert info.meta["columns"] == ["inside", "outside"] and len(info.provenance["rois"]) == 2


def test_eeg_time_window_channels_and_layer_by_time(server, client, tmp_path, layers):
    rng = np.random.default_rng(3)
    sfreq, n_channels = 100.0, 4
    recordings = []
    for run in RUNS:
        order = rng.permutation(N_STIMULI)
        data = rng.standard_normal((n_channels, int(sfreq * 0.5 * (N_STIMULI + 1)) + 50))
        for k, row in enumerate(order):
            start = int((k + 1) * 0.5 * sfreq)
            data[:, start:start + 31] += 3 * layers["early"][row, :n_channels, None]
        raw = mne.io.RawArray(data * 1e-6, mne.create_info([f"EEG{c}" for c in range(n_channels)], sfreq, "eeg"),
                              verbose="error")
        raw.save(tmp_path / f"run-{run}_raw.fif", verbose="error")
        events = [{"onset": (k + 1) * 0.5, "duration": 0.1, "stimulus_id": IDS[row]} for k, row in enumerate(order)]
        recordings.append(client.upload(tmp_path / f"run-{run}_raw.fif", subject="e1", events=events).id)
    activations = save_activation_set(server.store, "lab-a", ActivationSet(IDS, dict(layers))).id

    (reply,) = client.compute_rdm(recordings, EEG_SPEC, roi=[0, 2], time_window=(0.1, 0.2), method="euclidean")
    responses = load_responses(server.store, "lab-a", recordings, EEG_SPEC)
    window = (responses.times >= 0.1 - 1e-9) & (responses.times <= 0.2 + 1e-9)
    means = np.stack([responses.data[responses.stimulus_ids == s].mean(axis=0) for s in IDS])
    expected = compute_rdm(means[:, [0, 2]][:, :, window].reshape(N_STIMULI, -1), "euclidean")
    np.testing.assert_allclose(reply.rdm, expected, rtol=1e-5, atol=1e-6)
    assert window.sum() == 11 and reply.subject == "e1"

    matrix = client.score_matrix(activations, recordings, EEG_SPEC, layers=["late", "early"])
    assert list(matrix.rows) == ["late", "early"] and list(matrix.columns) == []
    np.testing.assert_allclose(matrix.times, responses.times)
    expected = time_score_matrix({"late": layers["late"], "early": layers["early"]}, means, responses.times)
    np.testing.assert_allclose(matrix.scores, expected.scores, atol=1e-6)

    expect_error(lambda: client.compute_rdm(recordings, EEG_SPEC, roi=np.ones((2, 2, 2))), INVALID,
                  "an ROI mask selects fMRI voxels")
    expect_error(lambda: client.compute_rdm(recordings, EEG_SPEC, time_window=(0.5, 0.6)), INVALID,
                  "holds no sample of the epochs")


def _compute(**kwargs):
    return lambda client, lab: client.compute_rdm(**{
        key: lab[value[1:]] if isinstance(value, str) and value.startswith("@") else value
        for key, value in kwargs.items()})


def _nifti_bytes(volumes: int = 1, singular: bool = False) -> bytes:
    """A NIfTI mask file's bytes: 1 or more volumes, optionally with a singular sform affine."""
    shape = SHAPE if volumes == 1 else SHAPE + (volumes,)
    raw = bytearray(nibabel.Nifti1Image(np.ones(shape, np.uint8), AFFINE).to_bytes())
    if singular:
        header = nibabel.Nifti1Header.from_fileobj(io.BytesIO(bytes(raw)))
        header["srow_z"], header["sform_code"], header["qform_code"] = [0, 0, 0, 0], 2, 0
        raw[:348] = header.binaryblock
    return bytes(raw)


def _nan_mask():
    mask = ROI_MASK.astype(np.float32)
    mask[0, 0, 0] = np.nan
    return mask


COMPUTE_ERRORS = [
    (_compute(activation_set_id="@activations", layer="late", method="manhattan"), "unknown RDM method 'manhattan'"),
    (_compute(activation_set_id="@activations", layer="fc9"), "unknown layer 'fc9'; available: early, late"),
    (_compute(activation_set_id="@activations", layer="late", condition_ids=["s00", "s01"]),
     "have 2 conditions; an RDM needs at least 3"),
    (_compute(activation_set_id="@activations", layer="late", condition_ids=["s00", "s01", "x"]),
     "no pattern for 1 of the requested conditions, e.g. ['x']"),
    (_compute(activation_set_id="@activations", layer="late", condition_ids=["s00", "s01", "s00"]),
     "condition_ids name a condition more than once"),
    (_compute(activation_set_id="@activations", layer="late", method="crossnobis"), "crossnobis needs per-run"),
    (_compute(activation_set_id="@activations", layer="late", roi=[0, 1]), "roi, time_window, preprocessing and selection apply"),
    (_compute(activation_set_id="@activations", layer="late", preprocessing=FMRI_SPEC),
     "roi, time_window, preprocessing and selection apply to recordings, not to an activation set"),
    (_compute(recording_ids="@recordings", preprocessing=FMRI_SPEC, layer="late"),
     "layer applies to an activation set, not to recordings"),
    (_compute(), "give either recording_ids"),
    (_compute(recording_ids="@recordings", activation_set_id="@activations", layer="late",
              preprocessing=FMRI_SPEC), "give either recording_ids"),
    (lambda client, lab: client.comparison.stub.ComputeRDM(comparison_pb2.ComputeRDMRequest(
        recording_ids=lab["recordings"]), metadata=client.metadata), "preprocessing_json is required"),
    (lambda client, lab: client.comparison.stub.ComputeRDM(comparison_pb2.ComputeRDMRequest(
        recording_ids=lab["recordings"], preprocessing_json="{modality"), metadata=client.metadata),
     "preprocessing_json is not valid JSON"),
    (_compute(recording_ids="@recordings", preprocessing={"modality": "eeg"}), "modality 'fmri'"),
    (_compute(recording_ids="@recordings", preprocessing={"modality": "fmri", "mask": None}),
     "'epochs' or 'trials' step"),
    (_compute(recording_ids="@recordings", preprocessing=FMRI_SPEC, roi=[0, N_VOXELS]),
     f"ROI feature index {N_VOXELS} is out of range for {N_VOXELS} features"),
    (_compute(recording_ids="@recordings", preprocessing=FMRI_SPEC, roi=[3, 3, 4]), "ROI indices repeat a feature"),
    (_compute(recording_ids="@recordings", preprocessing=FMRI_SPEC, roi=np.ones((4, 4, 5))),
     "the ROI mask has shape (4, 4, 5) but the recordings' volumes are (4, 4, 4)"),
    (_compute(recording_ids="@recordings", preprocessing=FMRI_SPEC, roi=np.zeros(SHAPE)), "selects no voxel"),
    (_compute(recording_ids="@recordings", preprocessing=FMRI_SPEC, roi=_nan_mask()),
     "the ROI mask contains NaN or infinite values"),
    (_compute(recording_ids="@recordings", preprocessing=FMRI_SPEC, roi=b"not a nifti file"),
     "the ROI mask image"),
    (_compute(recording_ids="@recordings", preprocessing=FMRI_SPEC, roi=_nifti_bytes(volumes=2)),
     "the ROI mask image holds 2 volumes; a mask is one 3-D volume"),
    (_compute(recording_ids="@recordings", preprocessing=FMRI_SPEC, roi=_nifti_bytes(singular=True)),
     "the ROI mask image cannot be put on the recordings' voxel grid"),
    (lambda client, lab: client.comparison.stub.ComputeRDM(comparison_pb2.ComputeRDMRequest(
        recording_ids=lab["recordings"], preprocessing_json='{"modality": "fmri", "mask": null, "trials": '
        '{"method": "window", "window": [0, 0.5]}}', roi=comparison_pb2.ROI(feature_indices=[1], mask_nifti=b"x")),
        metadata=client.metadata), "an ROI is one of feature_indices, mask or mask_nifti"),
    (_compute(recording_ids="@recordings", preprocessing=FMRI_SPEC, time_window=(0, 1)),
     "time_window applies to EEG/MEG epochs"),
    (_compute(recording_ids="@recordings", preprocessing=FMRI_SPEC, method="crossnobis",
              condition_ids=["s00", "s01", "s02", "zz"]), "no pattern for 1 of the requested conditions"),
    (lambda client, lab: client.compute_rdm(lab["recordings"][:1], FMRI_SPEC, method="crossnobis"),
     "crossnobis needs at least 2 runs; the responses of subject '01' come from 1"),
]


DEGENERATE_LAYERS = [
    (np.full((N_STIMULI, 5), np.inf, np.float32), "the activations of layer 'bad' contain NaN or infinite values"),
    (np.tile(np.arange(5, dtype=np.float32), (N_STIMULI, 1)),
     "every feature has the same value in all 12 conditions (zero variance)"),
    (np.vstack([np.full((1, 5), 2.0), np.random.default_rng(0).standard_normal((N_STIMULI - 1, 5))]).astype(
        np.float32), "condition 's00' has zero variance across features, so its correlation distance is undefined"),
]


def test_compute_rdm_bad_input(server, client, lab):
    degenerate = [save_activation_set(server.store, "lab-a", ActivationSet(IDS, {"bad": values})).id
                  for values, _ in DEGENERATE_LAYERS]
    before = artifact_ids(server)
    for call, message in COMPUTE_ERRORS:
        expect_error(lambda: call(client, lab), INVALID, message)
    for activations, (_, message) in zip(degenerate, DEGENERATE_LAYERS):
        expect_error(lambda: client.compute_rdm(activation_set_id=activations, layer="bad"), INVALID, message)
    assert artifact_ids(server) == before
    assert client.health() == "SERVING"


@pytest.fixture
def rdms(server, client, lab, layers):
    """Brain RDMs of both subjects and RDMs of both layers, plus odd ones for the error cases."""
    brain = [r.id for r in client.compute_rdm(lab["recordings"], FMRI_SPEC)]
    models = {name: client.compute_rdm(activation_set_id=lab["activations"], layer=name)[0].id for name in layers}
    fewer = client.compute_rdm(activation_set_id=lab["activations"], layer="late", condition_ids=IDS[:10])[0].id
    renamed = save_activation_set(server.store, "lab-a", ActivationSet(
        [f"x{i}" for i in range(N_STIMULI)], {"late": layers["late"]})).id
    other_ids = client.compute_rdm(activation_set_id=renamed, layer="late")[0].id
    one_hot = save_activation_set(server.store, "lab-a", ActivationSet(IDS, {"one_hot": np.eye(N_STIMULI)})).id
    constant = client.compute_rdm(activation_set_id=one_hot, layer="one_hot", method="euclidean")[0].id
    return {"brain": brain, "models": models, "fewer": fewer, "other_ids": other_ids, "constant": constant,
            "activations": lab["activations"]}


def _compare(brain="brain", models=None, **kwargs):
    def call(client, rdms):
        brain_ids = rdms[brain] if isinstance(brain, str) else brain
        model_ids = {name: rdms[key] if key in rdms else rdms["models"].get(key, key)
                     for name, key in ({"late": "late"} if models is None else models).items()}
        return client.compare(brain_ids, model_ids, **dict(dict(n_bootstrap=10, n_permutations=10), **kwargs))
    return call


COMPARE_ERRORS = [
    (_compare(models={"fewer": "fewer"}), INVALID, "condition counts differ: brain RDM"),
    (_compare(models={"renamed": "other_ids"}), INVALID, "condition ids differ: model RDM 'renamed'"),
    (_compare(models={"flat": "constant"}), INVALID, "model RDM 'flat': RDM 0 is constant"),
    (_compare(method="euclid"), INVALID, "unknown comparison method 'euclid'"),
    (_compare(bootstrap="runs"), INVALID, "unknown bootstrap resampling 'runs'"),
    (_compare(n_bootstrap=-1), INVALID, "n_bootstrap must be an integer >= 0"),
    (_compare(n_permutations=MAX_RESAMPLES + 1), grpc.StatusCode.RESOURCE_EXHAUSTED,
     f"n_permutations is {MAX_RESAMPLES + 1}; at most {MAX_RESAMPLES}"),
    (_compare(ci=1.5), INVALID, "ci must be a number in (0, 1)"),
    (_compare(seed=-3), INVALID, "seed must be a non-negative integer"),
    (_compare(brain=[]), INVALID, "no brain RDMs given"),
    (_compare(models={}), INVALID, "no model RDMs given"),
    (_compare(models={"": "late"}), INVALID, "every model RDM needs a name"),
    (lambda client, rdms: client.compare([rdms["brain"][0]] * 2, {"late": rdms["models"]["late"]}), INVALID,
     "brain RDM ids given more than once"),
    (lambda client, rdms: list(client.comparison.stub.Compare(comparison_pb2.CompareRequest(
        brain_rdm_ids=rdms["brain"], model_rdms=[comparison_pb2.ModelRDM(name="m", rdm_id=rdms["models"]["late"]),
                                                 comparison_pb2.ModelRDM(name="m", rdm_id=rdms["models"]["early"])]),
        metadata=client.metadata)), INVALID, "model names given more than once: m"),
    (lambda client, rdms: client.compare(rdms["brain"][:1], {"late": rdms["models"]["late"]}, bootstrap="subjects"),
     INVALID, "bootstrapping subjects needs at least 2 subject RDMs"),
    (_compare(models={"late": "art_0000"}), NOT_FOUND, "rdm 'art_0000' not found"),
    (_compare(brain=["art_0000"]), NOT_FOUND, "rdm 'art_0000' not found"),
    (_compare(models={"acts": "activations"}), NOT_FOUND, "not found"),  # an activation set is not an RDM
]


def test_compare_bad_input(server, client, rdms):
    before = artifact_ids(server)
    for call, code, message in COMPARE_ERRORS:
        expect_error(lambda: call(client, rdms), code, message)
    assert artifact_ids(server) == before
    assert client.health() == "SERVING"


def test_score_matrix_and_lookups_bad_input(server, client, lab):
    before = artifact_ids(server)
    recordings, activations = lab["recordings"], lab["activations"]
    cases = [
        (lambda: client.score_matrix(activations, recordings, FMRI_SPEC, layers=["fc9"]), INVALID,
         "unknown layer 'fc9'"),
        (lambda: client.score_matrix(activations, recordings, FMRI_SPEC, rois={"": [0, 1, 2]}), INVALID,
         "every ROI of a score matrix needs a name"),
        (lambda: client.score_matrix(activations, recordings, FMRI_SPEC, method="mds"), INVALID,
         "unknown score method 'mds'"),
        (lambda: client.score_matrix(activations, recordings, FMRI_SPEC, rdm_method="crossnobis"), INVALID,
         "crossnobis needs per-run patterns"),
        (lambda: client.score_matrix("art_0000", recordings, FMRI_SPEC), NOT_FOUND, "not found"),
        (lambda: client.score_matrix(activations, ["rec_0000"], FMRI_SPEC), NOT_FOUND, "not found"),
        (lambda: client.compute_rdm(["rec_0000"], FMRI_SPEC), NOT_FOUND, "not found"),
        (lambda: client.compute_rdm(activation_set_id="art_0000", layer="late"), NOT_FOUND, "not found"),
        (lambda: client.get_rdm("art_0000"), NOT_FOUND, "rdm 'art_0000' not found"),
        (lambda: client.get_rdm(activations), NOT_FOUND, "not found"),
        (lambda: client.get_rdm_matrix("art_0000"), NOT_FOUND, "rdm 'art_0000' not found"),
    ]
    for call, code, message in cases:
        expect_error(call, code, message)
    assert artifact_ids(server) == before
    assert client.health() == "SERVING"


def test_another_tenant_gets_not_found(server, client, lab, layers):
    brain = client.compute_rdm(lab["recordings"], FMRI_SPEC)
    (model,) = client.compute_rdm(activation_set_id=lab["activations"], layer="late")
    key, _ = server.keys.create("lab-b")
    with Client(f"127.0.0.1:{server.port}", api_key=key, timeout=60) as other:
        calls = [
            lambda: other.compute_rdm(lab["recordings"], FMRI_SPEC),
            lambda: other.compute_rdm(activation_set_id=lab["activations"], layer="late"),
            lambda: other.get_rdm(model.id),
            lambda: other.get_rdm_matrix(model.id),
            lambda: other.compare([b.id for b in brain], {"late": model.id}, n_bootstrap=5, n_permutations=5),
            lambda: other.score_matrix(lab["activations"], lab["recordings"], FMRI_SPEC),
        ]
        for call in calls:
            expect_error(call, NOT_FOUND, "not found")
        # lab-b's own model RDM against lab-a's brain RDMs: still not found
        mine = save_activation_set(server.store, "lab-b", ActivationSet(IDS, {"late": layers["late"]})).id
        (own,) = other.compute_rdm(activation_set_id=mine, layer="late")
        expect_error(lambda: other.compare([b.id for b in brain], {"late": own.id}), NOT_FOUND, "not found")
    assert [a.kind for a in server.store.list_artifacts("lab-b")] == ["activations", "rdm"]


def test_cancelled_compare_stores_nothing(server, client):
    """A Compare that would resample for about 20 s, cancelled after its first progress message."""
    rng = np.random.default_rng(5)
    ids = [f"c{i:03d}" for i in range(100)]
    activations = save_activation_set(server.store, "lab-a", ActivationSet(
        ids, {name: rng.standard_normal((100, 8)).astype(np.float32) for name in ("a", "b", "m")})).id
    brain, model = [[client.compute_rdm(activation_set_id=activations, layer=name)[0].id for name in names]
                    for names in (("a", "b"), ("m",))]
    before = artifact_ids(server)
    request = comparison_pb2.CompareRequest(
        brain_rdm_ids=brain, model_rdms=[comparison_pb2.ModelRDM(name="m", rdm_id=model[0])],
        method="spearman", n_bootstrap=20000)
    call = client.comparison.stub.Compare(request, metadata=client.metadata)
    assert next(call).WhichOneof("event") == "progress"
    call.cancel()
    assert_thread_ends("compare", 60)
    assert_nothing_stored(server, client, before)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(client, lab):
    rdms = {device: client.compute_rdm(lab["recordings"], FMRI_SPEC, roi=ROI_MASK, device=device)
            for device in ("cpu", "cuda")}
    for cpu, cuda in zip(rdms["cpu"], rdms["cuda"]):
        np.testing.assert_allclose(cuda.rdm, cpu.rdm, atol=1e-5)
    (model,) = client.compute_rdm(activation_set_id=lab["activations"], layer="late")
    results = {device: client.compare([b.id for b in rdms["cpu"]], {"late": model.id}, n_bootstrap=50,
                                      n_permutations=50, seed=1, device=device) for device in ("cpu", "cuda")}
    cpu, cuda = results["cpu"].models[0], results["cuda"].models[0]
    assert (cuda.score, cuda.ci_lower, cuda.ci_upper) == pytest.approx((cpu.score, cpu.ci_lower, cpu.ci_upper),
                                                                       abs=1e-5)
    assert cuda.p_value == pytest.approx(cpu.p_value, abs=1 / 51)  # the same permutations, drawn on the CPU
