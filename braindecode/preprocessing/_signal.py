"""Cleaning of fMRI time series: detrending, high-pass filtering and z-scoring."""

from __future__ import annotations

import numpy as np
from scipy import linalg, signal

from braindecode.errors import InvalidArgument
from braindecode.preprocessing._checks import check_positive

FILTERS = ("cosine", "butterworth")


def polynomial_drift(n_scans, order) -> np.ndarray:
    """Legendre polynomials of degree 0..order over the scans.

    Returns
    -------
    drift : array of shape (n_scans, order + 1)
    """
    x = np.linspace(-1.0, 1.0, n_scans)
    return np.polynomial.legendre.legvander(x, order)


def cosine_drift(n_scans, t_r, high_pass) -> np.ndarray:
    """DCT-II basis of all frequencies up to ``high_pass`` (the constant excluded).

    ``nilearn.signal.create_cosine_drift`` without its constant column (equal to 1e-12 in
    ``tests/preprocessing/test_fmri_signal.py``), kept because it is vectorised: about twice as
    fast as nilearn's column loop in ``benchmarks/bench_nilearn_skimage.py`` (RESULTS.md).

    Parameters
    ----------
    n_scans : int
        Number of volumes.
    t_r : float
        Repetition time in seconds.
    high_pass : float
        Cut-off frequency in Hz.

    Returns
    -------
    drift : array of shape (n_scans, n_cosines)
    """
    n_cosines = min(n_scans - 1, int(np.floor(2 * n_scans * high_pass * t_r)))
    k = np.arange(1, n_cosines + 1)
    scans = np.arange(n_scans)[:, None] + 0.5
    return np.sqrt(2.0 / n_scans) * np.cos(np.pi / n_scans * scans * k)


def _detrend_order(detrend) -> int | None:
    if detrend is False or detrend is None:
        return None
    if detrend is True:
        return 1
    if isinstance(detrend, (int, np.integer)) and detrend >= 0:
        return int(detrend)
    raise InvalidArgument(f"detrend must be true, false or a polynomial order >= 0, got {detrend!r}")


def _check_high_pass(high_pass, t_r, filter) -> float:
    if filter not in FILTERS:
        raise InvalidArgument(f"filter must be one of {FILTERS}, got {filter!r}")
    high_pass = check_positive(high_pass, "high_pass")
    if t_r is None:
        raise InvalidArgument("high_pass needs the repetition time t_r")
    nyquist = 0.5 / check_positive(t_r, "t_r")
    if high_pass >= nyquist:
        raise InvalidArgument(f"high_pass ({high_pass} Hz) must be below Nyquist ({nyquist:.4g} Hz)")
    return high_pass


def _nuisance(n_scans, t_r, order, high_pass, filter) -> list:
    parts = [] if order is None else [polynomial_drift(n_scans, order)]
    if high_pass is not None and filter == "cosine":
        parts.append(cosine_drift(n_scans, t_r, high_pass))
    return parts


def drift_regressors(n_scans, t_r, *, detrend=True, high_pass=None, filter="cosine") -> np.ndarray:
    """Slow-drift confounds: polynomials (with the constant) and, for a cosine high-pass, the DCT basis.

    Parameters
    ----------
    n_scans : int
        Number of volumes.
    t_r : float
        Repetition time in seconds.
    detrend : bool or int
        Polynomial order (True is linear); False keeps only the constant.
    high_pass : float, optional
        Cosine cut-off in Hz; ignored for a Butterworth filter.
    filter : {"cosine", "butterworth"}

    Returns
    -------
    confounds : array of shape (n_scans, n_confounds)
    """
    order = _detrend_order(detrend)
    if high_pass is not None:
        high_pass = _check_high_pass(high_pass, t_r, filter)
    return np.hstack(_nuisance(n_scans, t_r, 0 if order is None else order, high_pass, filter))


def clean(signals, *, t_r=None, detrend=False, high_pass=None, filter="cosine", zscore=False,
          butterworth_order=5) -> np.ndarray:
    """Detrend, high-pass and z-score time series, in that order (as ``nilearn.signal.clean``).

    Equal to ``nilearn.signal.clean`` (``tests/preprocessing/test_fmri_signal.py``, to 1e-6 of
    the signal's scale) where nilearn computes the same thing (linear detrend); kept, with its
    polynomial detrend of any order, because it is faster: one projection on the drift basis;
    in ``benchmarks/bench_nilearn_skimage.py`` (RESULTS.md) at least twice nilearn's speed with
    the cosine basis and at least 8 times with the Butterworth filter.

    Parameters
    ----------
    signals : array of shape (n_scans, n_features)
        Time along the first axis.
    t_r : float, optional
        Repetition time in seconds; needed for a high-pass.
    detrend : bool or int
        Remove a polynomial of this order (True is linear, 0 the mean).
    high_pass : float, optional
        Cut-off in Hz.
    filter : {"cosine", "butterworth"}
        Cosine: regress out the DCT basis below ``high_pass``; Butterworth: zero-phase
        IIR of order ``butterworth_order``.
    zscore : bool
        Standardise each feature to zero mean and unit variance (ddof=1).

    Returns
    -------
    cleaned : array of shape (n_scans, n_features), float32
    """
    signals = np.array(signals, dtype=np.float64)
    if signals.ndim != 2 or signals.shape[0] < 2:
        raise InvalidArgument(f"signals must have shape (n_scans >= 2, n_features), got {signals.shape}")
    n_scans = signals.shape[0]
    order = _detrend_order(detrend)
    if high_pass is not None:
        high_pass = _check_high_pass(high_pass, t_r, filter)
    nuisance = _nuisance(n_scans, t_r, order, high_pass, filter)
    if nuisance:
        q, _ = linalg.qr(np.hstack(nuisance), mode="economic")
        signals -= q @ (q.T @ signals)
    if high_pass is not None and filter == "butterworth":
        sos = signal.butter(butterworth_order, high_pass, btype="high", output="sos", fs=1.0 / t_r)
        if n_scans <= 3 * (2 * len(sos) + 1):
            raise InvalidArgument(f"{n_scans} scans are too few for a Butterworth filter of order {butterworth_order}")
        signals = signal.sosfiltfilt(sos, signals, axis=0)
    if zscore:
        signals -= signals.mean(axis=0)
        std = signals.std(axis=0, ddof=1)
        std[std < np.finfo(np.float64).eps] = 1.0
        signals /= std
    return signals.astype(np.float32)
