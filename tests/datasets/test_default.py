"""The small default data set: files, formats, and the ground truth the data carry."""

import hashlib
import json
import os

import mne
import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import torch
from nilearn.datasets import load_mni152_brain_mask
from nilearn.glm.first_level import make_first_level_design_matrix

from braindecode.containers import Events
from braindecode.datasets import (
    CHANNELS,
    LAYERS,
    MONTAGE,
    layer_components,
    make_default_dataset,
    noise_ceiling_from_snr,
)
from braindecode.datasets._default import _reporter
from braindecode.errors import InvalidArgument


def _digests(root):
    out = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def _correlations(prediction, data):
    """Column-wise Pearson correlation of two arrays of shape (n_samples, n_columns)."""
    p, d = prediction - prediction.mean(axis=0), data - data.mean(axis=0)
    return (p * d).sum(axis=0) / np.sqrt((p**2).sum(axis=0) * (d**2).sum(axis=0))


def _encoding_scores(features, trial_ids, responses, train, test_ids, index):
    """Least-squares encoding: fit on train trials, correlate with repeat-averaged test responses."""
    design = np.column_stack([features[[index[s] for s in trial_ids[train]]], np.ones(train.sum())])
    weights = np.linalg.pinv(design) @ responses[train]
    prediction = np.column_stack([features[[index[s] for s in test_ids]], np.ones(len(test_ids))]) @ weights
    observed = np.stack([responses[trial_ids == s].mean(axis=0) for s in test_ids])
    return _correlations(prediction, observed)


def _lsa_betas(info, subject="sub-01"):
    """Single-trial betas of every brain voxel: nilearn's SPM-HRF design, one regressor per trial."""
    inside = np.asarray(nib.load(info.files["masks"]["brain"]).dataobj) > 0
    betas, shown = [], []
    for run in info.files["fmri"]:
        if run["subject"] != subject:
            continue
        img, events = nib.load(run["bold"]), Events.from_tsv(run["events"])
        y = np.asarray(img.dataobj)[inside].T.astype(float)
        frames = np.arange(y.shape[0]) * img.header.get_zooms()[3]
        trials = pd.DataFrame({"onset": events.onset, "duration": events.duration,
                               "trial_type": [f"trial{i:03d}" for i in range(len(events))]})
        design = make_first_level_design_matrix(frames, trials, hrf_model="spm", drift_model=None, oversampling=10)
        fit = np.linalg.pinv(design.to_numpy()) @ y
        betas.append(fit[:len(events)] / fit[-1])
        shown += list(events.stimulus_id)
    return inside, np.concatenate(betas), np.array(shown)


def _eeg_epochs(info, subject="sub-01"):
    """Band-passed epochs read back from the FIF files, blink trials rejected."""
    data, shown = [], []
    for run in info.files["eeg"]:
        if run["subject"] != subject:
            continue
        raw = mne.io.read_raw_fif(run["fif"], preload=True, verbose=False).filter(0.5, 30.0, verbose=False)
        events, event_id = mne.events_from_annotations(raw, verbose=False)
        names = {code: name for name, code in event_id.items()}
        epochs = mne.Epochs(raw, events, event_id, tmin=-0.1, tmax=0.5, baseline=(None, 0),
                            reject={"eeg": 150e-6}, preload=True, verbose=False)
        data.append(epochs.get_data())
        shown += [names[code] for code in epochs.events[:, 2]]
    return np.concatenate(data), np.array(shown), epochs.times


def _roi_scores(info, layers, n_components, subject="sub-01"):
    """Encoding score (mean over voxels) of each layer for each ROI: {layer: {roi: r}}."""
    inside, betas, shown = _lsa_betas(info, subject)
    stimuli = info.stimuli
    index = {sid: i for i, sid in enumerate(stimuli.ids)}
    train = ~np.isin(shown, stimuli.test_ids)
    rois = {name: (np.asarray(nib.load(path).dataobj) > 0)[inside]
            for name, path in info.files["masks"].items() if name != "brain"}
    return {
        layer: {name: _encoding_scores(layer_components(info.activations[layer], n_components), shown,
                                       betas[:, cols], train, stimuli.test_ids, index).mean()
                for name, cols in rois.items()}
        for layer in layers
    }


@pytest.fixture(scope="module")
def eeg_epochs(small_dataset):
    return _eeg_epochs(small_dataset)


def test_info_lists_every_file_written(small_dataset, small_config):
    info = small_dataset
    listed = {info.files["ground_truth"], info.files["description"], info.files["stimulus_table"]}
    listed |= set(info.files["stimulus_images"].values()) | set(info.files["masks"].values())
    for run in info.files["fmri"] + info.files["eeg"]:
        listed |= {v for k, v in run.items() if k not in ("subject", "run")}
    assert all(os.path.isfile(p) for p in listed)
    assert len(info.files["fmri"]) == len(info.files["eeg"]) == small_config["n_runs"]
    assert len(info.stimuli) == small_config["n_stimuli"]
    np.testing.assert_array_equal(info.activations.stimulus_ids, info.stimuli.ids)
    assert info.activations.layer_names[0] == "stem" and set(LAYERS.values()) <= set(info.activations.layer_names)
    assert not [p for p in os.listdir(os.path.dirname(info.root)) if ".partial-" in p]
    with open(info.files["ground_truth"]) as f:
        assert json.load(f) == info.ground_truth


def test_bold_runs_are_mni_nifti_with_voxels_only_inside_the_mask(small_dataset):
    reference = load_mni152_brain_mask(resolution=6)
    inside = reference.get_fdata() > 0
    for run in small_dataset.files["fmri"]:
        img = nib.load(run["bold"])
        assert img.ndim == 4 and img.get_data_dtype() == np.int16
        np.testing.assert_array_equal(img.affine, reference.affine)
        assert img.header.get_zooms()[3] == small_dataset.ground_truth["design"]["fmri"]["t_r"]
        data = np.asarray(img.dataobj)
        assert (data[~inside] == 0).all() and (data[inside] > 0).all()
    masks = {name: np.asarray(nib.load(path).dataobj) > 0 for name, path in small_dataset.files["masks"].items()}
    np.testing.assert_array_equal(masks["brain"], inside)
    for name, roi in small_dataset.ground_truth["rois"].items():
        assert masks[name].sum() == roi["n_voxels"] and not (masks[name] & ~inside).any()


def test_events_tsv_are_valid_and_follow_the_design(small_dataset, small_config):
    stimuli = small_dataset.stimuli
    for modality in ("fmri", "eeg"):
        shown = []
        for run in small_dataset.files[modality]:
            events = Events.from_tsv(run["events"])
            assert len(events) > 0 and (np.diff(events.onset) > 0).all() and (events.duration > 0).all()
            shown += list(events.stimulus_id)
        ids, counts = np.unique(shown, return_counts=True)
        np.testing.assert_array_equal(ids, np.sort(stimuli.ids))
        expected = {sid: small_config["n_repeats"] if split == "test" else 1
                    for sid, split in zip(stimuli.ids, stimuli.split)}
        assert dict(zip(ids, counts)) == expected
    bold = nib.load(small_dataset.files["fmri"][0]["bold"])
    last = Events.from_tsv(small_dataset.files["fmri"][0]["events"])
    assert last.onset[-1] + 16 <= bold.shape[3] * bold.header.get_zooms()[3]


def test_eeg_reads_back_from_fif_and_brainvision_with_montage_and_annotations(small_dataset):
    montage = mne.create_info(list(CHANNELS), 250.0, "eeg").set_montage(MONTAGE)
    expected = np.array([ch["loc"][:3] for ch in montage["chs"]])
    for run in small_dataset.files["eeg"]:
        fif = mne.io.read_raw_fif(run["fif"], preload=True, verbose=False)
        vhdr = mne.io.read_raw_brainvision(run["vhdr"], preload=True, verbose=False)
        events = Events.from_tsv(run["events"])
        assert fif.ch_names == vhdr.ch_names == list(CHANNELS) and fif.info["sfreq"] == 250.0
        np.testing.assert_allclose([ch["loc"][:3] for ch in fif.info["chs"]], expected)
        vhdr.set_montage(MONTAGE)  # BrainVision headers carry no positions
        np.testing.assert_allclose([ch["loc"][:3] for ch in vhdr.info["chs"]], expected)
        np.testing.assert_allclose(vhdr.get_data(), fif.get_data(), atol=1e-10)
        np.testing.assert_array_equal(fif.annotations.description, events.stimulus_id)
        np.testing.assert_array_equal(vhdr.annotations.description, np.char.add("Comment/", events.stimulus_id))
        np.testing.assert_allclose(fif.annotations.onset, events.onset, atol=1e-6)
        np.testing.assert_allclose(vhdr.annotations.onset, events.onset, atol=1e-6)


def test_ground_truth_names_layers_windows_snrs_and_ceilings(small_dataset, small_config):
    truth = small_dataset.ground_truth
    assert {name: roi["layer"] for name, roi in truth["rois"].items()} == {**LAYERS, "control": None}
    assert {name: w["layer"] for name, w in truth["latency_windows"].items()} == {
        "early": LAYERS["early"], "late": LAYERS["late"]}
    windows = truth["latency_windows"]
    assert windows["early"]["window_s"][1] < windows["late"]["window_s"][0]
    assert truth["rois"]["early"]["noise_ceiling"] == noise_ceiling_from_snr(0.5, small_config["n_repeats"])
    assert truth["rois"]["control"]["noise_ceiling"]["r"] == 0.0
    assert windows["late"]["noise_ceiling"] == noise_ceiling_from_snr(windows["late"]["snr"], small_config["n_repeats"])
    assert truth["seed"] == 0 and set(truth["seeds"]) == {"stimuli", "sub-01"}
    for name, roi in truth["rois"].items():
        assert os.path.join(small_dataset.root, roi["mask"]) == small_dataset.files["masks"][name]


def test_roi_responses_recover_their_driving_layer_and_the_control_roi_none(small_dataset):
    scores = _roi_scores(small_dataset, LAYERS.values(), n_components=8)
    for name, roi in small_dataset.ground_truth["rois"].items():
        if roi["layer"] is None:
            assert max(abs(scores[layer][name]) for layer in scores) < 0.1
        else:
            best = max(scores, key=lambda layer: scores[layer][name])
            assert best == roi["layer"], (name, scores)
            assert 0.3 < scores[best][name] <= roi["noise_ceiling"]["r"]


def test_eeg_evoked_peaks_sit_at_the_ground_truth_latencies(small_dataset, eeg_epochs):
    data, _, times = eeg_epochs
    assert len(data) >= 0.7 * sum(len(Events.from_tsv(r["events"])) for r in small_dataset.files["eeg"])
    gfp = data.mean(axis=0).std(axis=0)
    for name, window in small_dataset.ground_truth["latency_windows"].items():
        inside = (times >= window["window_s"][0]) & (times <= window["window_s"][1])
        assert abs(times[inside][np.argmax(gfp[inside])] - window["latency_s"]) <= 0.02, name
        assert gfp[inside].max() > 3 * gfp[times < 0].max(), name


def test_same_arguments_give_the_same_bytes(small_dataset, small_config, tmp_path):
    again = make_default_dataset(tmp_path / "again", **small_config)
    assert _digests(again.root) == _digests(small_dataset.root)


def test_progress_reports_every_stage_to_completion(small_dataset, small_progress):
    last = {stage: (done, total) for stage, done, total in small_progress}
    assert set(last) == {"activations", "fmri sub-01", "eeg sub-01"}
    assert all(done == total > 0 for done, total in last.values())


def test_a_used_directory_is_refused(small_dataset):
    with pytest.raises(InvalidArgument, match="not an empty directory"):
        make_default_dataset(small_dataset.root, n_stimuli=24, n_test=6, n_subjects=1)


def test_bad_arguments_leave_nothing_behind(tmp_path):
    with pytest.raises(InvalidArgument, match="n_test"):
        make_default_dataset(tmp_path / "bad", n_stimuli=20, n_test=20, n_subjects=1)
    with pytest.raises(InvalidArgument, match="n_runs"):
        make_default_dataset(tmp_path / "bad", n_stimuli=20, n_test=5, n_runs=0)
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_default_size_carries_its_ground_truth_for_every_subject(tmp_path):
    info = make_default_dataset(tmp_path / "default")
    assert len(info.stimuli) == 500 and len(info.stimuli.test_ids) == 100
    windows = info.ground_truth["latency_windows"]
    index = {sid: i for i, sid in enumerate(info.stimuli.ids)}
    for subject in ("sub-01", "sub-02"):
        scores = _roi_scores(info, info.activations.layer_names, n_components=16, subject=subject)
        for name, roi in info.ground_truth["rois"].items():
            if roi["layer"] is None:
                assert max(abs(scores[layer][name]) for layer in scores) < 0.05
            else:  # the driving layer wins among all layers of the network
                best = max(scores, key=lambda layer: scores[layer][name])
                assert best == roi["layer"], (subject, name, scores)
                assert 0.5 < scores[best][name] <= roi["noise_ceiling"]["r"]
        data, shown, times = _eeg_epochs(info, subject)
        train = ~np.isin(shown, info.stimuli.test_ids)
        kept_test = np.intersect1d(info.stimuli.test_ids, shown)
        for name, window in windows.items():
            features = layer_components(info.activations[window["layer"]], 8)
            course = np.array([
                _encoding_scores(features, shown, data[:, :, t], train, kept_test, index).mean()
                for t in range(len(times))
            ])
            peak = times[np.argmax(course)]
            assert abs(peak - window["latency_s"]) <= 2 * window["width_s"], (subject, name, peak)


def test_progress_true_draws_tqdm_bars_and_other_values_are_refused(tmp_path, capsys):
    update = _reporter(True)("stage")
    update(1, 2)
    update(2, 2)
    assert "stage" in capsys.readouterr().err
    with pytest.raises(InvalidArgument, match="progress"):
        make_default_dataset(tmp_path / "bad", n_stimuli=20, n_test=5, progress="yes")
    assert os.listdir(tmp_path) == []


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_activations_match_the_cpu_data_set(small_dataset, small_config, tmp_path):
    info = make_default_dataset(tmp_path / "cuda", **small_config, device="cuda")
    for layer in info.activations.layer_names:
        np.testing.assert_allclose(info.activations[layer], small_dataset.activations[layer], rtol=1e-3, atol=1e-3)
    assert info.ground_truth["rois"] == small_dataset.ground_truth["rois"]
