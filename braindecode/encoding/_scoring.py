"""Per-target scores of predictions, batched over candidate models.

Every score takes ``y_true`` of shape (n_samples, n_targets) and one array of
shape (n_models, n_samples, n_targets) for the candidate models, and returns
(n_models, n_targets). Scores of the squared error take the residuals
``y_pred - y_true``, which the solvers form in the same product as the
predictions; scale-free scores (Pearson) take the predictions themselves, whose
relative precision a subtraction of ``y_true`` would lose where they are small.
The batched form scores all the alphas of a cross-validation fold at once; it may
overwrite its input to avoid a copy of the largest array of the fit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch

from braindecode.encoding._validation import as_2d_tensor, check_same_samples
from braindecode.errors import InvalidArgument


def _r2(y_true: torch.Tensor, residuals: torch.Tensor) -> torch.Tensor:
    # Coefficient of determination; 0 for a constant target (as himalaya).
    total = (y_true - y_true.mean(0)).square_().sum(0)
    residual = residuals.square_().sum(1)
    return torch.where(total > 0, 1 - residual / torch.where(total > 0, total, 1), 0)


def _pearson(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    # Pearson correlation; 0 where either side is constant.
    y_centered = y_true - y_true.mean(0)
    y_pred = y_pred.sub_(y_pred.mean(1, keepdim=True))
    covariance = (y_pred * y_centered).sum(1)
    scale = (y_pred.square_().sum(1) * y_centered.square().sum(0)).sqrt_()
    return torch.where(scale > 0, covariance / torch.where(scale > 0, scale, 1), 0)


def _neg_mse(y_true: torch.Tensor, residuals: torch.Tensor) -> torch.Tensor:
    # Negative mean squared error (the default of scikit-learn's leave-one-out RidgeCV).
    return residuals.square_().sum(1).div_(-y_true.shape[0])


class Score(NamedTuple):
    """A batched per-target score.

    function : callable
        ``function(y_true, values)`` with ``y_true`` of shape (n_samples, n_targets) and
        ``values`` of shape (n_models, n_samples, n_targets) (overwritten); returns
        (n_models, n_targets).
    of_residuals : bool
        True when ``values`` are the residuals ``y_pred - y_true``, False when they are
        the predictions.
    """

    function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    of_residuals: bool


SCORES = {"r2": Score(_r2, True), "pearson": Score(_pearson, False), "neg_mse": Score(_neg_mse, True)}


def check_score(score: str) -> Score:
    """The batched score named ``score``."""
    try:
        return SCORES[score]
    except (KeyError, TypeError):
        raise InvalidArgument(f"unknown score {score!r}; use one of {sorted(SCORES)}") from None


def _per_target(score: str, y_true, y_pred) -> np.ndarray:
    dtype = torch.float64
    y_true = as_2d_tensor(y_true, "y_true", dtype)
    y_pred = as_2d_tensor(y_pred, "y_pred", dtype)
    check_same_samples(y_true.shape[0], y_pred.shape[0])
    if y_true.shape != y_pred.shape:
        raise InvalidArgument(f"y_true has shape {tuple(y_true.shape)} but y_pred {tuple(y_pred.shape)}")
    function, of_residuals = SCORES[score]
    return function(y_true, (y_pred - y_true if of_residuals else y_pred.clone())[None])[0].numpy()


def r2_score(y_true, y_pred) -> np.ndarray:
    """Coefficient of determination per target.

    Parameters
    ----------
    y_true, y_pred : array of shape (n_samples, n_targets)

    Returns
    -------
    r2 : array of shape (n_targets,)
        ``1 - SSE / SST``; 0 for a constant target.
    """
    return _per_target("r2", y_true, y_pred)


def pearson_r(y_true, y_pred) -> np.ndarray:
    """Pearson correlation per target.

    Parameters
    ----------
    y_true, y_pred : array of shape (n_samples, n_targets)

    Returns
    -------
    r : array of shape (n_targets,)
        0 where either side is constant.
    """
    return _per_target("pearson", y_true, y_pred)
