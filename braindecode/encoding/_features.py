"""Delayed copies of stimulus features: FIR models for fMRI, temporal response functions for EEG."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from braindecode.errors import InvalidArgument


def _check_series(X) -> np.ndarray:
    try:
        X = np.asarray(X)
        X = X.astype(X.dtype if np.issubdtype(X.dtype, np.floating) else np.float32, copy=False)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"X is not a numeric array: {exc}") from None
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] == 0:
        raise InvalidArgument(f"X must be a non-empty (n_samples, n_features) array, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise InvalidArgument("X contains NaN or infinite values")
    return X


def _run_indices(runs, n_samples: int) -> list:
    if runs is None:
        return [np.arange(n_samples)]
    runs = np.asarray(runs)
    if runs.shape != (n_samples,):
        raise InvalidArgument(f"runs needs one label per sample: shape {runs.shape} for {n_samples} samples")
    _, first = np.unique(runs, return_index=True)
    return [np.flatnonzero(runs == runs[i]) for i in np.sort(first)]


def _check_delays(delays) -> np.ndarray:
    values = np.atleast_1d(np.asarray(delays))
    if values.ndim != 1 or values.size == 0 or not np.issubdtype(values.dtype, np.integer):
        raise InvalidArgument(f"delays must be a non-empty sequence of integers (samples), got {delays!r}")
    return values.astype(np.int64)


def make_delays(X, delays=(1, 2, 3, 4), runs=None) -> np.ndarray:
    """Delayed copies of each feature, zero-padded, for finite impulse response models.

    Column block ``k`` holds ``X`` shifted by ``delays[k]`` samples: row ``t`` is
    ``X[t - delays[k]]`` (a positive delay lets past stimuli explain the present
    response), and zeros where that sample lies outside the run.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    delays : sequence of int
        Delays in samples (TRs for fMRI); negative values look ahead.
    runs : array of shape (n_samples,), optional
        Run of each sample; shifts never cross from one run into another.

    Returns
    -------
    X_delayed : array of shape (n_samples, n_delays * n_features)
    """
    X = _check_series(X)
    delays = _check_delays(delays)
    n_samples, n_features = X.shape
    out = np.zeros((n_samples, len(delays) * n_features), dtype=X.dtype)
    for index in _run_indices(runs, n_samples):
        segment, length = X[index], len(index)
        for k, delay in enumerate(delays):
            if abs(delay) >= length:
                continue
            columns = slice(k * n_features, (k + 1) * n_features)
            if delay >= 0:
                out[index[delay:], columns] = segment[:length - delay]
            else:
                out[index[:delay], columns] = segment[-delay:]
    return out


def times_to_lags(tmin: float, tmax: float, sfreq: float) -> np.ndarray:
    """Lags in samples from ``round(tmin * sfreq)`` to ``round(tmax * sfreq)`` inclusive."""
    if not (np.isfinite(sfreq) and sfreq > 0):
        raise InvalidArgument(f"sfreq must be positive, got {sfreq!r}")
    if not (np.isfinite(tmin) and np.isfinite(tmax)) or tmin > tmax:
        raise InvalidArgument(f"need finite tmin <= tmax, got tmin={tmin!r}, tmax={tmax!r}")
    return np.arange(int(np.round(tmin * sfreq)), int(np.round(tmax * sfreq)) + 1)


def lag_features(X, tmin: float, tmax: float, sfreq: float, runs=None) -> np.ndarray:
    """Time-lagged features for temporal response functions (stimulus -> EEG/MEG).

    The lags are those of MNE's ``ReceptiveField``: the response at ``t`` is
    modelled from the stimulus at ``t - lag`` for lags between ``tmin`` and
    ``tmax`` seconds.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    tmin, tmax : float
        First and last lag in seconds (``tmin <= tmax``; negative looks ahead).
    sfreq : float
        Sampling frequency in Hz.
    runs : array of shape (n_samples,), optional
        Segment (run, trial) of each sample; lags never cross segments.

    Returns
    -------
    X_lagged : array of shape (n_samples, n_lags * n_features)
        Lag-major blocks, as :func:`make_delays`.
    """
    return make_delays(X, times_to_lags(tmin, tmax, sfreq), runs)


class _DelayTransformer(ABC, TransformerMixin, BaseEstimator):
    @abstractmethod
    def _delays(self) -> np.ndarray:
        """The delays in samples."""

    def fit(self, X, y=None, runs=None):
        """Check parameters and remember the number of features."""
        self._delays()
        self.n_features_in_ = _check_series(X).shape[1]
        return self

    def transform(self, X, runs=None) -> np.ndarray:
        """Delayed features of shape (n_samples, n_delays * n_features).

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
        runs : array of shape (n_samples,), optional
            Run of each sample; by default ``X`` is one continuous run.
        """
        check_is_fitted(self, "n_features_in_")
        X = _check_series(X)
        if X.shape[1] != self.n_features_in_:
            raise InvalidArgument(
                f"X has {X.shape[1]} features, but the transformer was fitted with {self.n_features_in_}")
        return make_delays(X, self._delays(), runs)

    def fit_transform(self, X, y=None, runs=None) -> np.ndarray:
        return self.fit(X, y).transform(X, runs)


class Delayer(_DelayTransformer):
    """Transformer form of :func:`make_delays`.

    Parameters
    ----------
    delays : sequence of int
        Delays in samples.
    """

    def __init__(self, delays=(1, 2, 3, 4)):
        self.delays = delays

    def _delays(self) -> np.ndarray:
        return _check_delays(self.delays)


class LagFeatures(_DelayTransformer):
    """Transformer form of :func:`lag_features`.

    Parameters
    ----------
    tmin, tmax : float
        First and last lag in seconds.
    sfreq : float
        Sampling frequency in Hz.
    """

    def __init__(self, tmin=0.0, tmax=0.4, sfreq=100.0):
        self.tmin = tmin
        self.tmax = tmax
        self.sfreq = sfreq

    def _delays(self) -> np.ndarray:
        return times_to_lags(self.tmin, self.tmax, self.sfreq)
