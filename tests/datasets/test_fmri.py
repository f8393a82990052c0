import nibabel as nib
import numpy as np
import pytest
from nilearn.datasets import load_mni152_brain_mask

from braindecode.containers import Events
from braindecode.datasets import (
    ROI_BOXES,
    brain_mask,
    fixed_soa_events,
    layer_components,
    presentation_runs,
    roi_masks,
    simulate_fmri,
)
from braindecode.datasets._fmri import ar1_noise, lsa_variance
from braindecode.errors import InvalidArgument
from braindecode.preprocessing import event_regressors


def _design(n_stimuli=40, n_test=8, n_repeats=2, n_runs=2, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.array([f"s{i:02d}" for i in range(n_stimuli)])
    split = np.where(np.arange(n_stimuli) < n_stimuli - n_test, "train", "test")
    runs = [fixed_soa_events(r, 4.0, 3.0, 10.0) for r in presentation_runs(ids, split, n_repeats, n_runs, rng)]
    features = {name: rng.standard_normal((n_stimuli, 30)) for name in ("a", "b", "c")}
    return ids, split, runs, features


def _drives(features):
    return {
        "early": ("a", layer_components(features["a"], 8)),
        "mid": ("b", layer_components(features["b"], 8)),
        "late": ("c", layer_components(features["c"], 8)),
        "control": None,
    }


def test_mask_is_nilearns_mni152_mask_at_the_resolution():
    mask = brain_mask(6)
    reference = load_mni152_brain_mask(resolution=6)
    np.testing.assert_array_equal(mask.affine, reference.affine)
    np.testing.assert_array_equal(np.asarray(mask.dataobj) > 0, reference.get_fdata() > 0)
    assert mask.header.get_sform(coded=True)[1] == 4  # NIFTI_XFORM_MNI_152


def test_rois_are_disjoint_inside_the_mask_and_where_their_boxes_say():
    mask = brain_mask(6)
    rois = roi_masks(mask)
    assert list(rois) == list(ROI_BOXES)
    inside = np.asarray(mask.dataobj) > 0
    stacked = np.stack(list(rois.values()))
    assert (stacked.sum(axis=0) <= 1).all() and not (stacked.any(axis=0) & ~inside).any()
    for name, roi in rois.items():
        xyz = nib.affines.apply_affine(mask.affine, np.argwhere(roi))
        box = ROI_BOXES[name]
        assert roi.sum() >= 50
        assert (np.abs(xyz[:, 0]) >= box["abs_x"][0]).all() and (np.abs(xyz[:, 0]) < box["abs_x"][1]).all()
        assert (xyz[:, 1] >= box["y"][0]).all() and (xyz[:, 1] < box["y"][1]).all()
    # the early ROI is occipital, the control ROI frontal
    assert nib.affines.apply_affine(mask.affine, np.argwhere(rois["early"]))[:, 1].max() < -70
    assert nib.affines.apply_affine(mask.affine, np.argwhere(rois["control"]))[:, 1].min() > 30


def test_ar1_noise_has_unit_variance_and_the_lag_one_correlation():
    noise = ar1_noise(4000, 50, 0.5, np.random.default_rng(0))
    assert abs(noise.var() - 1) < 0.05
    lag1 = np.mean([np.corrcoef(noise[:-1, v], noise[1:, v])[0, 1] for v in range(50)])
    assert abs(lag1 - 0.5) < 0.03


def test_lsa_variance_matches_monte_carlo_least_squares():
    _, _, runs, _ = _design()
    design = event_regressors(runs[0], 60, 2.0)
    full = np.column_stack([design, np.ones(60)])
    rng = np.random.default_rng(0)
    noise = ar1_noise(60, 20000, 0.4, rng)
    betas = (np.linalg.pinv(full) @ noise)[:-1]
    np.testing.assert_allclose(betas.var(axis=1), lsa_variance(design, 0.4), rtol=0.06)


def test_simulated_runs_hold_the_ground_truth_snr_and_nothing_outside_the_mask():
    ids, split, runs, features = _design(n_test=16, n_repeats=4)
    sim = simulate_fmri(ids, _drives(features), runs, snr=0.5, seed=1)
    inside = np.asarray(sim.mask.dataobj) > 0
    betas, shown = [], []
    for img, events in zip(sim.runs, runs):
        data = np.asarray(img.dataobj)
        assert data.dtype == np.int16 and img.header.get_zooms() == (6.0, 6.0, 6.0, 2.0)
        assert (data[~inside] == 0).all() and (data[inside] > 0).all()
        y = data[inside].T.astype(float)
        design = np.column_stack([event_regressors(events, y.shape[0], 2.0), np.ones(y.shape[0])])
        fit = np.linalg.pinv(design) @ y
        betas.append(100 * fit[:-1] / fit[-1])  # percent of the voxel baseline
        shown += list(events.stimulus_id)
    betas, shown = np.concatenate(betas), np.array(shown)
    test_ids = ids[split == "test"]
    for name, roi in sim.rois.items():
        cols = (np.asarray(roi.dataobj) > 0)[inside]
        repeats = np.stack([betas[shown == s][:, cols] for s in test_ids])
        noise = repeats.var(axis=1, ddof=1).mean()
        signal = betas[:, cols].var(axis=0, ddof=1).mean() - noise
        # single-trial noise variance = signal variance / snr, by construction of the noise level
        np.testing.assert_allclose(noise, sim.ground_truth["signal_sd_percent"] ** 2 / 0.5, rtol=0.1)
        expected = sim.ground_truth["rois"][name]["snr"]
        assert abs(signal / noise - expected) < 0.2, name
        if name != "control":
            assert abs(betas[:, cols].mean() - sim.ground_truth["mean_response_percent"]) < 0.3


def test_same_seed_same_volumes():
    ids, _, runs, features = _design()
    a = simulate_fmri(ids, _drives(features), runs, seed=5)
    b = simulate_fmri(ids, _drives(features), runs, seed=5)
    c = simulate_fmri(ids, _drives(features), runs, seed=6)
    for x, y in zip(a.runs, b.runs):
        np.testing.assert_array_equal(np.asarray(x.dataobj), np.asarray(y.dataobj))
    assert not np.array_equal(np.asarray(a.runs[0].dataobj), np.asarray(c.runs[0].dataobj))
    assert a.ground_truth == b.ground_truth


def test_bad_input_names_the_problem():
    ids, _, runs, features = _design()
    drives = _drives(features)
    with pytest.raises(InvalidArgument, match="every ROI"):
        simulate_fmri(ids, {k: v for k, v in drives.items() if k != "control"}, runs)
    with pytest.raises(InvalidArgument, match="snr"):
        simulate_fmri(ids, drives, runs, snr=0)
    with pytest.raises(InvalidArgument, match="rows"):
        simulate_fmri(ids[:-1], drives, runs)
    unknown = [Events([10.0], [3.0], ["nope"])]
    with pytest.raises(InvalidArgument, match="unknown stimuli"):
        simulate_fmri(ids, drives, unknown)
    with pytest.raises(InvalidArgument, match="non-empty"):
        simulate_fmri(ids, drives, [])
    with pytest.raises(InvalidArgument, match="resolution"):
        brain_mask(0)
