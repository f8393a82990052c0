"""Noise ceilings of encoding models from repeated presentations.

The ceiling follows the noise-ceiling signal-to-noise ratio (NCSNR) of the
Natural Scenes Dataset (Allen et al., 2022, Nat. Neurosci.). For each target:

- noise variance ``sigma_n^2``: the variance over repeats of one stimulus
  (ddof=1), averaged over stimuli;
- signal variance ``sigma_s^2 = max(Var(all single trials) - sigma_n^2, 0)``
  (NSD z-scores its responses so that the total variance is 1; here it is measured);
- ``ncsnr = sigma_s / sigma_n``;
- ceiling for responses averaged over ``n`` trials: ``ncsnr^2 / (ncsnr^2 + 1 / n)``,
  the fraction of their variance that is signal, i.e. the largest R^2 a model can
  reach; its square root bounds the Pearson r.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from braindecode.errors import InvalidArgument


class NoiseCeiling(NamedTuple):
    """Per-target noise ceiling.

    ncsnr : array of shape (n_targets,)
    r2 : array of shape (n_targets,)
        Largest explainable fraction of variance (R^2 scale).
    r : array of shape (n_targets,)
        ``sqrt(r2)``: the largest expected Pearson r.
    """

    ncsnr: np.ndarray
    r2: np.ndarray
    r: np.ndarray


def noise_ceiling(responses, n_average=None) -> NoiseCeiling:
    """NCSNR noise ceiling (NSD) of each target from repeated presentations.

    Parameters
    ----------
    responses : array of shape (n_repeats, n_stimuli, n_targets)
        Single-trial responses; every stimulus shown ``n_repeats`` times.
    n_average : int, optional
        Trials averaged in the data the model is scored on; ``n_repeats`` by default
        (use 1 when scoring single trials).

    Returns
    -------
    NoiseCeiling
    """
    data = np.asarray(responses, dtype=np.float64)
    if data.ndim == 2:
        data = data[:, :, None]
    if data.ndim != 3:
        raise InvalidArgument(f"responses must have shape (n_repeats, n_stimuli, n_targets), got {data.shape}")
    n_repeats, n_stimuli, _ = data.shape
    if n_repeats < 2 or n_stimuli < 2:
        raise InvalidArgument(f"a noise ceiling needs >= 2 repeats of >= 2 stimuli, got {n_repeats} x {n_stimuli}")
    if not np.all(np.isfinite(data)):
        raise InvalidArgument("responses contain NaN or infinite values")
    n_average = n_repeats if n_average is None else int(n_average)
    if n_average < 1:
        raise InvalidArgument(f"n_average must be >= 1, got {n_average}")
    noise_var = data.var(axis=0, ddof=1).mean(axis=0)
    total_var = data.reshape(n_repeats * n_stimuli, -1).var(axis=0, ddof=1)
    signal_var = np.maximum(total_var - noise_var, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ncsnr = np.where(noise_var > 0, np.sqrt(signal_var / np.where(noise_var > 0, noise_var, 1)), np.inf)
        r2 = np.where(np.isinf(ncsnr), 1.0, ncsnr**2 / (ncsnr**2 + 1.0 / n_average))
    return NoiseCeiling(ncsnr, r2, np.sqrt(r2))


def normalize_by_ceiling(scores, ceiling) -> np.ndarray:
    """Scores divided by their ceiling; NaN where the ceiling is 0.

    Parameters
    ----------
    scores : array of shape (n_targets,)
        R^2 (divide by ``NoiseCeiling.r2``) or Pearson r (divide by ``NoiseCeiling.r``).
    ceiling : array of shape (n_targets,)

    Returns
    -------
    normalized : array of shape (n_targets,)
    """
    scores = np.asarray(scores, dtype=np.float64)
    ceiling = np.asarray(ceiling, dtype=np.float64)
    if scores.shape != ceiling.shape:
        raise InvalidArgument(f"scores have shape {scores.shape} but the ceiling {ceiling.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ceiling > 0, scores / np.where(ceiling > 0, ceiling, 1), np.nan)
