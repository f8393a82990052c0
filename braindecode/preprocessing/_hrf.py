"""Per-event regressors: boxcars convolved with the SPM canonical haemodynamic response."""

from __future__ import annotations

import numpy as np

from braindecode.preprocessing._checks import check_positive


def event_regressors(events, n_scans, t_r, *, oversampling=50) -> np.ndarray:
    """One HRF-convolved boxcar per event, sampled at the scan times ``k * t_r``.

    Each event is a boxcar from its onset over its duration (at least one oversampled
    step) convolved with the SPM canonical HRF (``nilearn.glm.first_level.spm_hrf``,
    normalised to sum to one); every regressor is scaled so that its full
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
    from nilearn.glm.first_level import spm_hrf  # a second to import: only per-trial fMRI models need it

    t_r = check_positive(t_r, "t_r")
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
