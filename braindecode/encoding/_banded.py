"""Banded ridge: one regularization strength per feature space.

The banded ridge problem::

    min_b ||Y - sum_i X_i b_i||^2 + sum_i alpha_i ||b_i||^2

is a plain ridge with alpha on the rescaled features ``Z_i = sqrt(g_i) X_i`` when
``alpha_i = alpha / g_i`` (the weights map back as ``b_i = sqrt(g_i) c_i``). The
search therefore runs the cross-validated ridge solver of ``_solvers`` once per
candidate ratio vector ``g`` (over all alphas at once) and keeps, for each
target, the (g, alpha) pair with the best cross-validation score. Candidates are
either given (a deterministic grid) or drawn from a Dirichlet distribution on the
simplex, the random search of himalaya's ``solve_group_ridge_random_search``.
The refit factorizes the scaled design once per (candidate, alpha) pair that some
target selected.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from braindecode.encoding._cv import check_cv
from braindecode.encoding._scoring import check_score
from braindecode.encoding._solvers import (
    CrossValidation,
    EigenBasis,
    RefitSolver,
    auto_targets_batch,
    center,
    load_batch,
    prepare,
    select_best,
)
from braindecode.encoding._validation import target_batches
from braindecode.errors import InvalidArgument


class BandedRidgeCVResult(NamedTuple):
    """What :func:`solve_banded_ridge_cv` returns (CPU tensors).

    coef : tensor of shape (n_features, n_targets)
    intercept : tensor of shape (n_targets,)
    band_alphas : tensor of shape (n_bands, n_targets)
        ``best_alphas / best_ratios``: the regularization of each band.
    best_ratios : tensor of shape (n_bands, n_targets)
    best_alphas : tensor of shape (n_targets,)
    ratios : tensor of shape (n_candidates, n_bands)
    cv_scores : tensor of shape (n_candidates, n_alphas, n_targets)
    band_labels : array of shape (n_bands,)
        Band labels in order of first appearance (the row order above).
    """

    coef: torch.Tensor
    intercept: torch.Tensor
    band_alphas: torch.Tensor
    best_ratios: torch.Tensor
    best_alphas: torch.Tensor
    ratios: torch.Tensor
    cv_scores: torch.Tensor
    band_labels: np.ndarray


def band_ratio_candidates(n_bands: int, n_candidates: int, concentration=(0.1, 1.0), random_state=None) -> np.ndarray:
    """Candidate band ratios drawn on the simplex; the first is equal weights.

    Parameters
    ----------
    n_bands, n_candidates : int
    concentration : float or sequence of float
        Dirichlet concentrations, cycled over consecutive blocks of candidates
        (small values favour one dominant band, 1 is uniform on the simplex).
    random_state : int, optional

    Returns
    -------
    ratios : array of shape (n_candidates, n_bands)
        Rows are non-negative and sum to 1.
    """
    if n_candidates < 1 or n_bands < 1:
        raise InvalidArgument(f"need at least one candidate and one band, got {n_candidates} and {n_bands}")
    concentrations = np.atleast_1d(np.asarray(concentration, dtype=np.float64))
    if not np.all(concentrations > 0):
        raise InvalidArgument("Dirichlet concentrations must be positive")
    rng = np.random.default_rng(random_state)
    per_block = int(np.ceil(n_candidates / len(concentrations)))
    draws = np.concatenate([rng.dirichlet(np.full(n_bands, c), per_block) for c in concentrations])[:n_candidates]
    draws[0] = 1.0 / n_bands
    return draws


def _band_index(bands, n_features: int):
    labels = np.asarray(bands)
    if labels.shape != (n_features,):
        raise InvalidArgument(f"bands needs one label per feature: shape {labels.shape} for {n_features} features")
    unique, first, index = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return unique[order], torch.as_tensor(rank[index])


def _check_ratios(ratios, n_bands, concentration, random_state) -> np.ndarray:
    if isinstance(ratios, (int, np.integer)):
        return band_ratio_candidates(n_bands, int(ratios), concentration, random_state)
    ratios = np.asarray(ratios, dtype=np.float64)
    if ratios.ndim != 2 or ratios.shape[1] != n_bands:
        raise InvalidArgument(f"ratios must have shape (n_candidates, {n_bands}), got {ratios.shape}")
    if not np.all(np.isfinite(ratios)) or np.any(ratios < 0) or np.any(ratios.sum(1) <= 0):
        raise InvalidArgument("ratios must be finite, non-negative, with a positive sum per candidate")
    return ratios


def solve_banded_ridge_cv(X, Y, bands, alphas, ratios=20, concentration=(0.1, 1.0), cv=5, groups=None,
                          fit_intercept=True, scoring="r2", n_targets_batch=None, random_state=None,
                          device="cpu", dtype="float32") -> BandedRidgeCVResult:
    """Banded ridge with band ratios and alpha chosen per target by cross-validation.

    Parameters
    ----------
    X : array or tensor of shape (n_samples, n_features)
    Y : array or tensor of shape (n_samples, n_targets)
    bands : array of shape (n_features,)
        Band (feature space) label of each feature.
    alphas : array of shape (n_alphas,)
    ratios : int or array of shape (n_candidates, n_bands)
        Number of Dirichlet candidates, or the candidates themselves.
    concentration : float or sequence of float
        Dirichlet concentrations when ``ratios`` is an int.
    cv, groups, fit_intercept, scoring, n_targets_batch, device, dtype
        As in :func:`solve_ridge_cv`.
    random_state : int, optional
        Seed of the Dirichlet draws.

    Returns
    -------
    BandedRidgeCVResult
    """
    X, Y, alphas, device, dtype = prepare(X, Y, alphas, device, dtype)
    score = check_score(scoring)
    band_labels, band_index = _band_index(bands, X.shape[1])
    ratios = torch.as_tensor(_check_ratios(ratios, len(band_labels), concentration, random_state))
    splits = check_cv(cv, X.shape[0], groups)
    X, x_mean = center(X, fit_intercept)
    scales = ratios.sqrt()[:, band_index].to(device=device, dtype=dtype)  # (n_candidates, n_features)
    n_targets = Y.shape[1]
    cv_scores = torch.empty((len(ratios), len(alphas), n_targets), dtype=torch.float64)
    for candidate, scale in enumerate(scales):
        validation = CrossValidation(EigenBasis(X * scale, dtype), splits, alphas, fit_intercept, score, dtype)
        batch_size = n_targets_batch
        if batch_size is None:
            batch_size = auto_targets_batch(validation.batch_bytes_per_target(dtype), device)
        for columns in target_batches(n_targets, batch_size, 0):
            batch, _ = load_batch(Y, columns, device, fit_intercept)
            cv_scores[candidate, :, columns] = validation.scores(batch)[0].cpu()
        del validation

    alpha_index = torch.stack([select_best(scores, alphas) for scores in cv_scores])  # (n_candidates, n_targets)
    candidate_best = cv_scores.gather(1, alpha_index[:, None, :])[:, 0]
    best_candidate = candidate_best.argmax(0)  # first candidate on ties
    targets = torch.arange(n_targets)
    best_alphas = alphas[alpha_index[best_candidate, targets]]

    coef = torch.empty((X.shape[1], n_targets), dtype=dtype)
    intercept = torch.zeros(n_targets, dtype=dtype)
    for candidate in torch.unique(best_candidate).tolist():
        chosen = torch.nonzero(best_candidate == candidate)[:, 0]
        scaled = X * scales[candidate]
        refit = RefitSolver(scaled, alphas.tolist())
        refit_batch = n_targets_batch
        if refit_batch is None:
            refit_batch = auto_targets_batch(Y.element_size() * (X.shape[0] + 2 * X.shape[1]), device)
        for part in target_batches(len(chosen), refit_batch, 0):
            columns = chosen[part]
            batch, y_mean = load_batch(Y, columns, device, fit_intercept)
            XtY = scaled.T @ batch if refit.primal else None
            weights = refit.coef(batch, XtY, best_alphas[columns].to(device)) * scales[candidate][:, None]
            coef[:, columns] = weights.cpu()
            intercept[columns] = (y_mean - x_mean @ weights).cpu()

    best_ratios = ratios[best_candidate].T
    band_alphas = best_alphas[None, :] / best_ratios
    return BandedRidgeCVResult(coef, intercept, band_alphas, best_ratios, best_alphas, ratios, cv_scores, band_labels)
