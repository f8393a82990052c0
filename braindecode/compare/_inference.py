"""Inference on RDM comparisons: bootstrap, permutation tests, pairwise model tests, FDR.

All resampling is drawn up front from a seeded generator (on the CPU, so results do
not depend on the device) and evaluated in vectorised chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from braindecode._devices import resolve_device, resolve_dtype
from braindecode.compare._checks import (
    check_choice,
    check_count,
    check_seed,
)
from braindecode.compare._comparison import (
    _CHUNK_ELEMENTS,
    COMPARISON_METHODS,
    check_same_conditions,
    make_comparer,
    rdm_vectors,
)
from braindecode.compare._ranks import TieGroups
from braindecode.compare._rdm import pair_indices
from braindecode.errors import InvalidArgument

RESAMPLING = ("conditions", "subjects", "both")


def bootstrap_counts(n_items: int, n_samples: int, generator: torch.Generator) -> torch.Tensor:
    """How often each item is drawn in each bootstrap sample: int64 (n_samples, n_items)."""
    drawn = torch.randint(0, n_items, (n_samples, n_items), generator=generator)
    return torch.zeros((n_samples, n_items), dtype=torch.int64).scatter_add_(1, drawn, torch.ones_like(drawn))


def random_permutations(n_items: int, n_samples: int, generator: torch.Generator) -> torch.Tensor:
    """Independent uniform permutations of ``n_items``: int64 (n_samples, n_items)."""
    return torch.argsort(torch.rand((n_samples, n_items), generator=generator), dim=1)


def _chunks(n_samples: int, cost_per_sample: int):
    size = max(1, _CHUNK_ELEMENTS // max(1, cost_per_sample))
    return [(start, min(start + size, n_samples)) for start in range(0, n_samples, size)]


class _Progress:
    """Reports the fraction of ``total`` work units done to an optional callback."""

    def __init__(self, callback, total: int):
        if callback is not None and not callable(callback):
            raise InvalidArgument("progress must be a callable taking the fraction done")
        self.callback, self.total, self.done = callback, max(total, 1), 0

    def advance(self, units: int) -> None:
        self.done += units
        if self.callback is not None:
            self.callback(min(self.done / self.total, 1.0))

    def finish(self) -> None:
        if self.callback is not None:
            self.callback(1.0)


def resampled_scores(comparer, condition_counts, subject_counts, progress: _Progress) -> torch.Tensor:
    """Mean-over-subjects scores (n_samples, n_models) on bootstrap samples.

    ``comparer`` scores data RDMs (n_subjects) against models; ``condition_counts``
    (n_samples, n_conditions) or None resamples conditions, ``subject_counts``
    (n_samples, n_subjects) or None resamples subjects. Samples with fewer than
    3 distinct conditions are NaN.
    """
    n_samples = len(condition_counts if condition_counts is not None else subject_counts)
    if condition_counts is None:
        per_subject = comparer()[None].expand(n_samples, -1, -1)
        progress.advance(n_samples)
    else:
        device = comparer.a.device
        parts = []
        for start, stop in _chunks(n_samples, comparer.sample_cost()):
            parts.append(comparer(condition_counts[start:stop].to(device)))
            progress.advance(stop - start)
        per_subject = torch.cat(parts)
    if subject_counts is None:
        return per_subject.mean(dim=1)
    weights = subject_counts.to(per_subject.device, per_subject.dtype)
    return (weights[:, :, None] * per_subject).sum(dim=1) / weights.sum(dim=1, keepdim=True)


def _permuted_pair_index(permutations: torch.Tensor, n_conditions: int) -> torch.Tensor:
    """Index into upper-triangle vectors that reorders conditions: (n_permutations, n_pairs)."""
    rows, cols = pair_indices(n_conditions, permutations.device)
    i, j = permutations[:, rows], permutations[:, cols]
    low, high = torch.minimum(i, j), torch.maximum(i, j)
    return low * n_conditions - low * (low + 1) // 2 + high - low - 1


def permuted_null(data, models, method, permutations, progress: _Progress) -> torch.Tensor:
    """Mean-over-subjects scores (n_permutations, n_models) with model conditions permuted."""
    if method == "spearman":
        ranks = TieGroups(torch.cat([data, models])).ranks(data.dtype)
        data, models, method = ranks[: len(data)], ranks[len(data):], "pearson"
    n_conditions = int(permutations.shape[1])
    n_models, n_pairs = models.shape
    parts = []
    for start, stop in _chunks(len(permutations), n_models * n_pairs * 4):
        index = _permuted_pair_index(permutations[start:stop].to(models.device), n_conditions)
        permuted = models[:, index].transpose(0, 1).reshape(-1, n_pairs)
        scores = make_comparer(method, data, permuted)().mean(dim=0)
        parts.append(scores.reshape(stop - start, n_models))
        progress.advance(stop - start)
    return torch.cat(parts)


def permutation_p_values(observed: torch.Tensor, null: torch.Tensor) -> torch.Tensor:
    """One-sided p-values (n_models,): (1 + #{null >= observed}) / (1 + n_permutations)."""
    tolerance = 64 * torch.finfo(null.dtype).eps * observed.abs().clamp_min(1)
    exceed = (null >= observed - tolerance).sum(dim=0)
    return (1 + exceed).to(torch.float64) / (1 + len(null))


def _inputs(data_rdms, model_rdms, method, device, dtype):
    check_choice(method, COMPARISON_METHODS, "comparison method")
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    data = rdm_vectors(data_rdms, "data_rdms", dtype, device)
    models = rdm_vectors(model_rdms, "model_rdms", dtype, device)
    check_same_conditions(data, models, "data_rdms", "model_rdms")
    return data, models


@dataclass
class PermutationResult:
    """Permutation test of RDM comparisons.

    Attributes
    ----------
    scores : array of shape (n_models,)
        Observed mean-over-subjects scores.
    null : array of shape (n_permutations, n_models)
        Scores with the model's condition labels permuted.
    p_values : array of shape (n_models,)
        One-sided: (1 + #{null >= score}) / (1 + n_permutations).
    """

    scores: np.ndarray
    null: np.ndarray
    p_values: np.ndarray


def permutation_test(
    data_rdms, model_rdms, method: str = "pearson", n_permutations: int = 1000, seed: int = 0,
    progress=None, device="cpu", dtype="float32",
) -> PermutationResult:
    """Test each model RDM against the data by permuting the model's condition labels.

    Parameters
    ----------
    data_rdms : array of shape (n_subjects, n_pairs) or (n_pairs,)
        Upper-triangle data RDM vectors; scores are averaged over subjects.
    model_rdms : array of shape (n_models, n_pairs) or (n_pairs,)
    method : str
        One of ``COMPARISON_METHODS``.
    n_permutations : int
    seed : int
    progress : callable, optional
        Called with the fraction done after each chunk.
    device : str or torch.device
    dtype : {"float32", "float64"}

    Returns
    -------
    PermutationResult
    """
    n_permutations = check_count(n_permutations, "n_permutations", 1)
    generator = torch.Generator().manual_seed(check_seed(seed))
    data, models = _inputs(data_rdms, model_rdms, method, device, dtype)
    comparer = make_comparer(method, data, models)
    observed = comparer().mean(dim=0)
    permutations = random_permutations(comparer.n_conditions, n_permutations, generator)
    null = permuted_null(data, models, method, permutations, _Progress(progress, n_permutations))
    return PermutationResult(
        observed.cpu().numpy(), null.cpu().numpy(), permutation_p_values(observed, null).cpu().numpy()
    )


def draw_bootstrap(n_conditions: int, n_subjects: int, n_bootstrap: int, resample: str, generator):
    """Condition and subject counts (each (n_bootstrap, n) or None) for a resampling scheme."""
    check_choice(resample, RESAMPLING, "bootstrap resampling")
    if resample in ("subjects", "both") and n_subjects < 2:
        raise InvalidArgument(f"bootstrapping subjects needs at least 2 subject RDMs, got {n_subjects}")
    conditions = bootstrap_counts(n_conditions, n_bootstrap, generator) if resample != "subjects" else None
    subjects = bootstrap_counts(n_subjects, n_bootstrap, generator) if resample != "conditions" else None
    return conditions, subjects


def bootstrap_scores(
    data_rdms, model_rdms, method: str = "pearson", n_bootstrap: int = 1000, resample: str = "conditions",
    seed: int = 0, progress=None, device="cpu", dtype="float32",
) -> np.ndarray:
    """Bootstrap distribution of the mean-over-subjects score of each model.

    Resampling conditions keeps every pair of drawn copies of different conditions
    and drops pairs of copies of the same condition (as rsatoolbox's
    ``bootstrap_sample_pattern`` followed by ``compare``). Samples with fewer than 3
    distinct conditions cannot be scored and are left out (as rsatoolbox does).

    Parameters
    ----------
    data_rdms : array of shape (n_subjects, n_pairs) or (n_pairs,)
    model_rdms : array of shape (n_models, n_pairs) or (n_pairs,)
    method : str
        One of ``COMPARISON_METHODS``.
    n_bootstrap : int
    resample : {"conditions", "subjects", "both"}
    seed : int
    progress : callable, optional
        Called with the fraction done after each chunk.
    device : str or torch.device
    dtype : {"float32", "float64"}

    Returns
    -------
    samples : array of shape (n_valid_samples, n_models)
    """
    n_bootstrap = check_count(n_bootstrap, "n_bootstrap", 1)
    generator = torch.Generator().manual_seed(check_seed(seed))
    data, models = _inputs(data_rdms, model_rdms, method, device, dtype)
    comparer = make_comparer(method, data, models)
    conditions, subjects = draw_bootstrap(comparer.n_conditions, len(data), n_bootstrap, resample, generator)
    samples = resampled_scores(comparer, conditions, subjects, _Progress(progress, n_bootstrap))
    return valid_samples(samples).cpu().numpy()


def valid_samples(samples: torch.Tensor) -> torch.Tensor:
    """Bootstrap samples (rows) that could be scored; an error if none could."""
    valid = samples[~torch.isnan(samples).any(dim=1)]
    if len(valid) == 0:
        raise InvalidArgument("no bootstrap sample had 3 or more distinct conditions; use more conditions")
    return valid


def check_ci(ci) -> float:
    if isinstance(ci, bool) or not isinstance(ci, (int, float)) or not 0 < ci < 1:
        raise InvalidArgument(f"ci must be a number in (0, 1), got {ci!r}")
    return float(ci)


def percentile_ci(samples, ci: float = 0.95) -> tuple:
    """Percentile confidence intervals of bootstrap samples.

    Parameters
    ----------
    samples : array of shape (n_samples, ...)
    ci : float
        Coverage, in (0, 1).

    Returns
    -------
    lower, upper : arrays of shape samples.shape[1:]
        The (1 - ci) / 2 and (1 + ci) / 2 quantiles (linear interpolation).
    """
    ci = check_ci(ci)
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim < 1 or len(samples) == 0 or not np.all(np.isfinite(samples)):
        raise InvalidArgument("samples must be a non-empty array of finite values")
    lower, upper = np.quantile(samples, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
    return lower, upper


def pairwise_bootstrap_test(samples) -> np.ndarray:
    """Two-sided bootstrap p-values for differences between models' scores.

    Same as ``rsatoolbox.util.inference_util.bootstrap_pair_tests``: twice the
    smaller proportion of samples in which one model beats the other (ties left
    out), shrunk towards 1 by one sample: (n - 1) / n * p + 1 / n. Two models tied in
    every sample get p = 1.

    Parameters
    ----------
    samples : array of shape (n_samples, n_models)

    Returns
    -------
    p_values : array of shape (n_models, n_models)
        Symmetric, ones on the diagonal.
    """
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 2 or len(samples) == 0 or not np.all(np.isfinite(samples)):
        raise InvalidArgument("samples must be a finite array of shape (n_samples, n_models)")
    n = len(samples)
    less = (samples[:, :, None] < samples[:, None, :]).sum(axis=0)
    ties = (samples[:, :, None] == samples[:, None, :]).sum(axis=0)
    untied = n - ties
    proportion = np.divide(less, untied, out=np.full(less.shape, 0.5), where=untied > 0)
    proportion = np.triu(proportion, 1)
    proportion = proportion + proportion.T
    p_values = 2 * np.minimum(proportion, 1 - proportion)
    p_values = (n - 1) / n * p_values + 1 / n
    np.fill_diagonal(p_values, 1)
    return p_values


def fdr_correction(p_values) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values over all entries of ``p_values`` (same shape)."""
    p_values = np.asarray(p_values, dtype=np.float64)
    if p_values.size == 0 or not np.all(np.isfinite(p_values)) or np.any((p_values < 0) | (p_values > 1)):
        raise InvalidArgument("p-values must be a non-empty array of numbers in [0, 1]")
    flat = p_values.reshape(-1)
    order = np.argsort(flat)
    ranked = flat[order] * flat.size / np.arange(1, flat.size + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1)
    out = np.empty_like(flat)
    out[order] = adjusted
    return out.reshape(p_values.shape)
