"""Stimulus-driven signals: random linear readouts of PCA-reduced layer activations."""

from __future__ import annotations

import numpy as np

from braindecode.errors import InvalidArgument


def layer_components(activations, n_components: int = 16) -> np.ndarray:
    """Leading principal-component scores of a layer's activations.

    Parameters
    ----------
    activations : array of shape (n_stimuli, n_features)
    n_components : int
        Kept components; at most ``min(n_stimuli - 1, n_features)``.

    Returns
    -------
    scores : array of shape (n_stimuli, n_kept)
        float64 scores on the components, scaled so their summed variance is one
        (components keep their relative variance).
    """
    x = np.asarray(activations, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise InvalidArgument(f"activations must be 2-D with at least 2 stimuli, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise InvalidArgument("activations contain NaN or infinite values")
    x = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    k = min(n_components, x.shape[0] - 1, x.shape[1])
    scores = u[:, :k] * s[:k]
    signs = np.sign(scores[np.abs(scores).argmax(axis=0), np.arange(k)])  # deterministic SVD signs
    total = np.sqrt(np.sum(scores.var(axis=0)))
    if total == 0:
        raise InvalidArgument("activations are constant across stimuli")
    return scores * signs / total


def random_readout(components, n_units: int, rng) -> np.ndarray:
    """Random linear mixtures of components, one per unit, each z-scored across stimuli.

    Parameters
    ----------
    components : array of shape (n_stimuli, n_components)
    n_units : int
        Number of readouts (voxels or sources).
    rng : numpy.random.Generator

    Returns
    -------
    signals : array of shape (n_stimuli, n_units)
        Zero mean and unit variance across stimuli.
    """
    weights = rng.standard_normal((components.shape[1], n_units))
    signals = components @ weights
    signals -= signals.mean(axis=0)
    return signals / signals.std(axis=0)


def noise_ceiling_from_snr(snr: float, n_repeats: int) -> dict:
    """Theoretical noise ceiling of the mean of ``n_repeats`` noisy responses.

    With response = signal + noise and ``snr = var(signal) / var(noise)`` per trial,
    the mean of n repeats has ``snr * n``; the best possible model explains the fraction
    ``r2 = snr * n / (snr * n + 1)`` of its variance across stimuli, i.e. correlates
    ``r = sqrt(r2)`` with it.

    Returns
    -------
    ceiling : dict
        ``{"n_repeats": n, "r": float, "r2": float}``.
    """
    r2 = snr * n_repeats / (snr * n_repeats + 1.0)
    return {"n_repeats": int(n_repeats), "r": float(np.sqrt(r2)), "r2": float(r2)}
