"""Per-target scores of predictions, batched over candidate models.

Every score takes ``y_true`` of shape (n_samples, n_targets) and the sums over the
samples of the candidate models' values (:class:`SampleSums`, each of shape
(n_models, n_targets)), and returns (n_models, n_targets). Scores of the squared error
take the residuals ``y_pred - y_true``, which the solvers form in the same product as
the predictions, and need only their sums of squares; scale-free scores (Pearson) take
the predictions themselves, whose relative precision a subtraction of ``y_true`` would
lose where they are small, and need their sums and their products with the centred
``y_true`` too. The cross-validation forms these sums without writing out the values
of all alphas of a fold (``braindecode.encoding._solvers``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch

from braindecode.encoding._validation import as_2d_tensor, check_same_samples
from braindecode.errors import InvalidArgument


class SampleSums(NamedTuple):
    """Sums over the samples of the values of candidate models, each (n_models, n_targets), float64.

    squares : sum of the squared values
    totals : sum of the values (None unless the score needs moments)
    products : sum of the values times the centred ``y_true`` (None unless moments)
    """

    squares: torch.Tensor
    totals: torch.Tensor | None = None
    products: torch.Tensor | None = None


def sample_sums(values: torch.Tensor, y_centred: torch.Tensor | None) -> SampleSums:
    """:class:`SampleSums` of ``values`` (n_models, n_samples, n_targets); with ``y_centred``
    (n_samples, n_targets) the moments too."""
    squares = values.square().sum(1).double()
    if y_centred is None:
        return SampleSums(squares)
    return SampleSums(squares, values.sum(1).double(), (values * y_centred).sum(1).double())


def _r2(y_true: torch.Tensor, sums: SampleSums) -> torch.Tensor:
    # Coefficient of determination; 0 for a constant target (as himalaya).
    total = (y_true - y_true.mean(0)).square_().sum(0).double()
    return torch.where(total > 0, 1 - sums.squares / torch.where(total > 0, total, 1), 0)


def _pearson(y_true: torch.Tensor, sums: SampleSums) -> torch.Tensor:
    # Pearson correlation; 0 where either side is constant.
    y_squares = (y_true - y_true.mean(0)).square_().sum(0).double()
    spread = (sums.squares - sums.totals.square() / y_true.shape[0]).clamp_(min=0)
    scale = (spread * y_squares).sqrt_()
    return torch.where(scale > 0, sums.products / torch.where(scale > 0, scale, 1), 0)


def _neg_mse(y_true: torch.Tensor, sums: SampleSums) -> torch.Tensor:
    # Negative mean squared error (the default of scikit-learn's leave-one-out RidgeCV).
    return sums.squares / -y_true.shape[0]


class Score(NamedTuple):
    """A batched per-target score.

    function : callable
        ``function(y_true, sums)`` with ``y_true`` of shape (n_samples, n_targets) and the
        :class:`SampleSums` of the candidates' values; returns (n_models, n_targets), float64.
    of_residuals : bool
        True when the values are the residuals ``y_pred - y_true``, False when they are
        the predictions.
    moments : bool
        Whether ``sums`` must hold the totals and the products with the centred ``y_true``.
    """

    function: Callable[[torch.Tensor, SampleSums], torch.Tensor]
    of_residuals: bool
    moments: bool = False


SCORES = {"r2": Score(_r2, True), "pearson": Score(_pearson, False, moments=True), "neg_mse": Score(_neg_mse, True)}


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
    function, of_residuals, moments = SCORES[score]
    # Pearson's r is blind to a shift of the predictions: centred, their sums lose nothing to cancellation
    values = (y_pred - y_true if of_residuals else y_pred - y_pred.mean(0))[None]
    return function(y_true, sample_sums(values, y_true - y_true.mean(0) if moments else None))[0].numpy()


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
