"""Per-trial fMRI responses: least-squares-separate betas and HRF-delayed window means."""

from __future__ import annotations

from numbers import Real

import numpy as np
from scipy import linalg

from braindecode.containers import BrainResponses
from braindecode.errors import InvalidArgument
from braindecode.preprocessing._checks import check_events, check_positive
from braindecode.preprocessing._hrf import event_regressors

METHODS = ("lss", "window")


def _check_signals(signals) -> np.ndarray:
    signals = np.asarray(signals, dtype=np.float32)
    if signals.ndim != 2 or signals.shape[0] < 2:
        raise InvalidArgument(f"signals must have shape (n_scans >= 2, n_features), got {signals.shape}")
    return signals


def lss_betas(signals, regressors, confounds=None) -> np.ndarray:
    """Least-squares-separate betas: one GLM per trial with that trial, all others, and confounds.

    For trial ``i`` the design is ``[r_i, sum_{j != i} r_j, 1, confounds]`` and the beta of
    ``r_i`` is kept (Mumford et al., 2012). The confounds are projected out of the regressors
    once (Frisch-Waugh-Lovell), which leaves a two-column problem per trial solved in closed
    form; all trials then share one product ``W @ signals``.

    Parameters
    ----------
    signals : array of shape (n_scans, n_features)
    regressors : array of shape (n_scans, n_trials)
        One HRF-convolved regressor per trial.
    confounds : array of shape (n_scans, n_confounds), optional
        Nuisance regressors (drifts, motion); a constant is always included.

    Returns
    -------
    betas : array of shape (n_trials, n_features), float32
    """
    signals = _check_signals(signals)
    regressors = np.asarray(regressors, dtype=np.float64)
    n_scans = signals.shape[0]
    if regressors.ndim != 2 or regressors.shape[0] != n_scans:
        raise InvalidArgument(f"regressors must have shape ({n_scans}, n_trials), got {regressors.shape}")
    nuisance = [np.ones((n_scans, 1))]
    if confounds is not None:
        nuisance.append(np.asarray(confounds, dtype=np.float64).reshape(n_scans, -1))
    q, r, _ = linalg.qr(np.hstack(nuisance), mode="economic", pivoting=True)
    q = q[:, np.abs(np.diag(r)) > 1e-10 * np.abs(r[0, 0])]
    own = regressors - q @ (q.T @ regressors)
    others = own.sum(axis=1, keepdims=True) - own
    aa, bb, ab = (own * own).sum(0), (others * others).sum(0), (own * others).sum(0)
    det = aa * bb - ab**2
    alone = bb <= 1e-12 * aa
    if (aa <= 1e-12).any() or (det <= 1e-10 * aa * bb)[~alone].any():
        raise InvalidArgument("trial regressors are collinear with each other or with the confounds")
    weights = np.where(alone, own / aa, (bb * own - ab * others) / np.where(alone, 1.0, det))
    return weights.T.astype(np.float32) @ signals


def _check_window(window) -> tuple:
    numbers = isinstance(window, (list, tuple)) and len(window) == 2 and all(
        isinstance(w, Real) and not isinstance(w, bool) for w in window)
    if not numbers or not window[0] < window[1]:
        raise InvalidArgument(f"window must be [start, end] seconds after onset with start < end, got {window!r}")
    return float(window[0]), float(window[1])


def window_means(signals, events, t_r, window=(4.0, 8.0)) -> np.ndarray:
    """Mean signal over the scans acquired within ``window`` seconds after each onset.

    Parameters
    ----------
    signals : array of shape (n_scans, n_features)
        Scan ``k`` is acquired at ``k * t_r`` seconds.
    events : Events
    t_r : float
        Repetition time in seconds.
    window : (float, float)
        Start and end of the averaging window after onset, in seconds (inclusive).

    Returns
    -------
    means : array of shape (n_trials, n_features), float32
    """
    signals = _check_signals(signals)
    start, end = _check_window(window)
    times = np.arange(signals.shape[0]) * check_positive(t_r, "t_r")
    check_events(events, 0.0, times[-1], what=f"run ({len(times)} scans of {t_r} s)")
    lags = times[None, :] - events.onset[:, None]
    selected = (lags >= start - 1e-9) & (lags <= end + 1e-9)
    counts = selected.sum(axis=1)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        trial = empty[0]
        raise InvalidArgument(
            f"{empty.size} trials have no scan in the window [{start}, {end}] s after onset, e.g. trial "
            f"{trial} at {events.onset[trial]:.3f} s (the run ends at {times[-1]:.3f} s)"
        )
    return (selected.astype(np.float32) @ signals) / counts[:, None].astype(np.float32)


def trial_responses(signals, events, t_r, *, method="lss", window=(4.0, 8.0), confounds=None,
                    feature_names=None, subject=None, run=None, oversampling=50) -> BrainResponses:
    """Per-trial responses of one run, by LSS betas or HRF-delayed window means.

    Parameters
    ----------
    signals : array of shape (n_scans, n_features)
        Cleaned time series; scan ``k`` is acquired at ``k * t_r`` seconds.
    events : Events
        Trials; onsets in seconds from the first scan.
    t_r : float
        Repetition time in seconds.
    method : {"lss", "window"}
        LSS GLM with the SPM canonical HRF (:func:`lss_betas`), or :func:`window_means`.
        With LSS every trial's response must reach a tenth of its peak before the run ends.
    window : (float, float)
        Averaging window after onset for ``method="window"``, in seconds.
    confounds : array of shape (n_scans, n_confounds), optional
        Nuisance regressors of the LSS designs (e.g. :func:`drift_regressors`).
    feature_names : list of str, optional
        One name per feature.
    subject, run : str, optional
        Group labels copied to every trial.
    oversampling : int
        Steps per TR of the HRF convolution grid.

    Returns
    -------
    responses : BrainResponses
        ``data`` of shape (n_trials, n_features), one row per event in order (``info["trials"]``,
        the event of each row, as :func:`~braindecode.preprocessing.epoch_responses` gives it).
    """
    signals = _check_signals(signals)
    t_r = check_positive(t_r, "t_r")
    if method not in METHODS:
        raise InvalidArgument(f"method must be one of {METHODS}, got {method!r}")
    n_scans, n_features = signals.shape
    if feature_names is not None and len(feature_names) != n_features:
        raise InvalidArgument(f"{len(feature_names)} feature names for {n_features} features")
    check_events(events, 0.0, (n_scans - 1) * t_r, what=f"run ({n_scans} scans of {t_r} s)")
    info = {"modality": "fmri", "method": method, "t_r": t_r, "n_scans": n_scans, "trials": list(range(len(events)))}
    if method == "lss":
        regressors = event_regressors(events, n_scans, t_r, oversampling=oversampling)
        unsampled = np.flatnonzero(np.abs(regressors).max(axis=0) < 0.1)
        if unsampled.size:
            raise InvalidArgument(
                f"{unsampled.size} trials start too close to the end of the run for their response to be "
                f"sampled, e.g. trial {unsampled[0]} at {events.onset[unsampled[0]]:.3f} s"
            )
        data = lss_betas(signals, regressors, confounds)
        info["hrf"] = "spm"
    else:
        data = window_means(signals, events, t_r, window)
        info["window"] = list(_check_window(window))
    n = len(events)
    return BrainResponses(
        data, events.stimulus_id,
        subjects=None if subject is None else np.full(n, str(subject)),
        runs=None if run is None else np.full(n, str(run)),
        feature_names=None if feature_names is None else list(feature_names), info=info,
    )
