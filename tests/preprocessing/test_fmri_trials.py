import os

import nitime
import numpy as np
import pytest
from nilearn.glm.first_level import compute_regressor

from braindecode.containers import Events
from braindecode.errors import InvalidArgument
from braindecode.preprocessing import (
    clean,
    drift_regressors,
    event_regressors,
    lss_betas,
    trial_responses,
    window_means,
)


def _slow_event_design(n_trials, t_r, seed):
    """Onsets 8-12 s apart from 6 s, 1-s events, and the number of scans that covers them."""
    rng = np.random.default_rng(seed)
    onsets = 6.0 + np.cumsum(rng.uniform(8.0, 12.0, n_trials)) - 8.0
    events = Events(onsets, np.ones(n_trials), [f"stim{i % 10}" for i in range(n_trials)])
    return events, int(np.ceil((onsets[-1] + 30.0) / t_r))


def test_event_regressors_match_nilearn_compute_regressor():
    t_r, n_scans = 1.5, 80
    events = Events([3.0, 31.7, 60.2, 90.0], [0.0, 2.0, 6.0, 0.5], ["a", "b", "c", "d"])
    ours = event_regressors(events, n_scans, t_r)
    assert ours.shape == (n_scans, 4)
    frame_times = np.arange(n_scans) * t_r
    for j in range(4):
        condition = np.array([[events.onset[j]], [events.duration[j]], [1.0]])
        ref = compute_regressor(condition, "spm", frame_times)[0][:, 0]
        assert np.corrcoef(ours[:, j], ref)[0, 1] > 0.9999
        np.testing.assert_allclose(ours[:, j] / ours[:, j].max(), ref / ref.max(), atol=0.02)
        assert 0.9 < ours[:, j].max() <= 1.0
        np.testing.assert_array_equal(ours[frame_times < events.onset[j], j], 0.0)


def test_lss_equals_per_trial_lstsq():
    t_r = 2.0
    events, n_scans = _slow_event_design(20, t_r, seed=0)
    regressors = event_regressors(events, n_scans, t_r)
    confounds = drift_regressors(n_scans, t_r, detrend=2, high_pass=0.01)
    signals = np.random.default_rng(1).normal(size=(n_scans, 30))
    ours = lss_betas(signals, regressors, confounds)
    ref = np.empty_like(ours)
    for i in range(len(events)):
        design = np.column_stack([regressors[:, i], regressors.sum(axis=1) - regressors[:, i],
                                  np.ones(n_scans), confounds])
        ref[i] = np.linalg.lstsq(design, signals, rcond=None)[0][0]
    assert ours.shape == (20, 30) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)
    single = lss_betas(signals, regressors[:, :1])
    design = np.column_stack([regressors[:, 0], np.ones(n_scans)])
    np.testing.assert_allclose(single[0], np.linalg.lstsq(design, signals, rcond=None)[0][0], rtol=1e-4, atol=1e-5)


def test_lss_recovers_planted_amplitudes():
    t_r = 1.5
    events, n_scans = _slow_event_design(40, t_r, seed=2)
    rng = np.random.default_rng(3)
    amplitudes = rng.normal(1.0, 0.7, size=(40, 25))
    times = np.arange(n_scans) * t_r
    drift = 5.0 + 2.0 * np.cos(2 * np.pi * times / times[-1])[:, None]
    bold = event_regressors(events, n_scans, t_r) @ amplitudes + drift + rng.normal(0, 0.3, (n_scans, 25))
    signals = clean(bold, t_r=t_r, detrend=True, high_pass=0.008)
    confounds = drift_regressors(n_scans, t_r, detrend=True, high_pass=0.008)
    betas = trial_responses(signals, events, t_r, confounds=confounds).data
    assert np.corrcoef(betas.ravel(), amplitudes.ravel())[0, 1] > 0.9
    np.testing.assert_allclose(betas.mean(), amplitudes.mean(), atol=0.1)
    means = trial_responses(signals, events, t_r, method="window").data
    assert np.corrcoef(means.ravel(), amplitudes.ravel())[0, 1] > 0.7


def test_window_means_average_the_scans_in_the_window():
    signals = np.arange(40, dtype=np.float64)[:, None] * [1.0, -2.0]
    events = Events([0.0, 10.0, 21.0], [1.0, 1.0, 1.0], ["a", "b", "c"])
    means = window_means(signals, events, 2.0, window=(4.0, 8.0))
    np.testing.assert_allclose(means[:, 0], [np.mean([2, 3, 4]), np.mean([7, 8, 9]), np.mean([13, 14])])
    np.testing.assert_allclose(means[:, 1], -2 * means[:, 0])


def test_trial_responses_on_real_event_related_bold():
    """nitime's real event-related BOLD (TR 2 s): LSS betas agree with window means and are positive."""
    table = np.genfromtxt(os.path.join(os.path.dirname(nitime.__file__), "data", "event_related_fmri.csv"),
                          delimiter=",", names=True)[:1200]
    scans = np.flatnonzero(table["events"])
    events = Events(scans * 2.0, np.zeros(len(scans)), table["events"][scans].astype(int))
    signals = clean(table["bold"][:, None], t_r=2.0, detrend=True, high_pass=0.01, zscore=True)
    confounds = drift_regressors(len(signals), 2.0, detrend=True, high_pass=0.01)
    lss = trial_responses(signals, events, 2.0, confounds=confounds, feature_names=["bold"], subject="s", run="1")
    window = trial_responses(signals, events, 2.0, method="window")
    assert lss.n_trials == len(scans) and lss.feature_names == ["bold"]
    assert lss.info == {"modality": "fmri", "method": "lss", "t_r": 2.0, "n_scans": 1200, "hrf": "spm"}
    assert window.info["window"] == [4.0, 8.0]
    assert np.corrcoef(lss.data[:, 0], window.data[:, 0])[0, 1] > 0.9
    for condition in np.unique(lss.stimulus_ids):
        assert lss.data[lss.stimulus_ids == condition].mean() > 0.3
    assert set(lss.subjects) == {"s"} and set(lss.runs) == {"1"}


@pytest.mark.parametrize("events, kwargs, match", [
    (None, {}, "no events"),
    (Events([], [], []), {}, "no events"),
    (Events([10.0, 100.0], [0, 0], ["a", "b"]), {}, "outside the run"),
    (Events([-1.0], [0], ["a"]), {}, "outside the run"),
    (Events([77.0], [0], ["a"]), {}, "too close to the end"),
    (Events([75.0], [0], ["a"]), {"method": "window"}, "no scan in the window"),
    (Events([10.0], [0], ["a"]), {"method": "window", "window": (8.0, 4.0)}, "window"),
    (Events([10.0], [0], ["a"]), {"method": "glm"}, "method"),
    (Events([10.0], [0], ["a"]), {"feature_names": ["x"]}, "feature names"),
])
def test_trial_responses_reject_bad_input(events, kwargs, match):
    signals = np.random.default_rng(0).normal(size=(40, 3))
    with pytest.raises(InvalidArgument, match=match):
        trial_responses(signals, events, 2.0, **kwargs)


def test_collinear_trials_and_bad_shapes_are_rejected():
    events = Events([10.0, 10.0], [1.0, 1.0], ["a", "b"])
    regressors = event_regressors(events, 40, 2.0)
    with pytest.raises(InvalidArgument, match="collinear"):
        lss_betas(np.ones((40, 2)), regressors)
    with pytest.raises(InvalidArgument, match="regressors must have shape"):
        lss_betas(np.ones((40, 2)), regressors[:30])
    with pytest.raises(InvalidArgument, match="t_r"):
        trial_responses(np.ones((40, 2)), events, 0.0)
    with pytest.raises(InvalidArgument, match="t_r"):
        event_regressors(events, 40, -2.0)
