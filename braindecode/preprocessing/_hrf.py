"""Canonical (SPM double-gamma) haemodynamic response and per-event regressors."""

from __future__ import annotations

import numpy as np
from scipy.stats import gamma

from braindecode.preprocessing._checks import check_positive


def spm_hrf(t_r, oversampling=50, time_length=32.0, onset=0.0) -> np.ndarray:
    """The SPM canonical HRF: a peak gamma (6 s) minus 1/6 of an undershoot gamma (16 s).

    Parameters
    ----------
    t_r : float
        Repetition time in seconds.
    oversampling : int
        Samples per TR.
    time_length : float
        Kernel length in seconds.
    onset : float
        Shift of the response in seconds.

    Returns
    -------
    hrf : array of shape (round(time_length * oversampling / t_r),)
        The kernel on the oversampled grid, normalised to sum to one.
    """
    dt = check_positive(t_r, "t_r") / oversampling
    times = np.linspace(0, time_length, np.rint(float(time_length) / dt).astype(int)) - onset
    peak = gamma.pdf(times, 6.0, loc=dt, scale=1.0)
    undershoot = gamma.pdf(times, 16.0, loc=dt, scale=1.0)
    hrf = peak - 0.167 * undershoot
    return hrf / hrf.sum()


def event_regressors(events, n_scans, t_r, *, oversampling=50) -> np.ndarray:
    """One HRF-convolved boxcar per event, sampled at the scan times ``k * t_r``.

    Each event is a boxcar from its onset over its duration (at least one oversampled
    step) convolved with :func:`spm_hrf`; every regressor is scaled so that its full
    (untruncated) response peaks at one, so a beta is the peak response amplitude.

    Parameters
    ----------
    events : Events
        Onsets and durations in seconds.
    n_scans : int
        Number of volumes.
    t_r : float
        Repetition time in seconds.
    oversampling : int
        Steps per TR of the grid the convolution runs on.

    Returns
    -------
    regressors : array of shape (n_scans, n_events)
    """
    dt = t_r / oversampling
    cumulative = np.cumsum(spm_hrf(t_r, oversampling))
    n_kernel = len(cumulative)
    starts = np.rint(events.onset / dt).astype(np.int64)
    widths = np.maximum(np.rint(events.duration / dt).astype(np.int64), 1)

    def response(lag: np.ndarray) -> np.ndarray:
        """Convolution of a unit step starting at lag 0 with the kernel."""
        return np.where(lag < 0, 0.0, cumulative[np.clip(lag, 0, n_kernel - 1)])

    scan_steps = np.arange(n_scans, dtype=np.int64)[:, None] * oversampling
    regressors = response(scan_steps - starts) - response(scan_steps - starts - widths)
    for width in np.unique(widths):
        lags = np.arange(n_kernel + width)
        regressors[:, widths == width] /= np.abs(response(lags) - response(lags - width)).max()
    return regressors
