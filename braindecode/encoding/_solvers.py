"""Ridge regression solvers on torch tensors, with cross-validation over many alphas.

The ridge weights for one alpha are ``W = (X^T X + alpha I)^-1 X^T Y``. Every ridge
solution lies in the row space of ``X``, so the cross-validated solver works in the
coordinates of that space on the eigenvectors of the Gram matrix (:class:`EigenBasis`):
``Z = X V`` of shape (n_samples, rank), where ``X^T X = V diag(lam) V^T``
(from ``X X^T`` when features outnumber samples). There

- the targets enter once per target batch, as ``z = Z^T Y`` (``X^T Y`` rotated);
- the training Gram matrix of a fold is ``diag(lam)`` minus the contribution of the
  samples the fold leaves out, a low-rank downdate. By the Woodbury identity the
  operator that maps the fold's ``Z_train^T y_train = z - Z_out^T y_out`` to its test
  predictions needs one Cholesky factorization of an (n_out, n_out) matrix per alpha,
  not one of (rank, rank): when the left-out samples are the test set,
  ``M_a = (I - Z_out D_a Z_out^T)^-1 Z_out D_a`` with ``D_a = (diag(lam) + alpha_a I)^-1``.
  Where the downdate would cost more than a direct factorization (few training
  samples) or is not defined (a sample drawn twice for training), the fold's own
  Gram matrix in these coordinates is factorized (:class:`RegularizedGram`);
- the test predictions of all alphas are one matrix product ``[M_1; ...; M_A] @ v``
  per fold and target batch, with fewer rows: the operators of all alphas are first
  compressed to their numerical rank at the precision of ``dtype``
  (:func:`compress_operators`); the components' products are mixed into each alpha's
  values, with the test targets subtracted for squared-error scores, and only their
  sums over the test samples are kept (:func:`_fold_sums`; on the CPU one compiled
  pass that never writes the values out);
- the refit is ``W = V D_a z`` for the alpha each target selected: one product, no
  factorization.

The eigendecomposition, the fold operators and their compression are computed in
float64 whatever ``dtype``; the products over targets, which dominate the cost, run
in ``dtype``.

An intercept is fitted by centering with the training means of each fold (and of
the whole data for the refit), which is the exact unpenalized-intercept ridge; in
the downdate the centering is one more rank-one term.
"""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np
import torch

from braindecode._devices import resolve_device, resolve_dtype
from braindecode._products import gram, matmul
from braindecode.encoding._cv import check_cv
from braindecode.encoding._scoring import SampleSums, Score, check_score, sample_sums
from braindecode.encoding._validation import (
    as_2d_tensor,
    check_alphas,
    check_same_samples,
    target_batches,
)
from braindecode.errors import InvalidArgument


class RidgeCVResult(NamedTuple):
    """What :func:`solve_ridge_cv` returns (CPU tensors).

    coef : tensor of shape (n_features, n_targets)
    intercept : tensor of shape (n_targets,)
        Zeros when ``fit_intercept`` is False.
    best_alphas : tensor of shape (n_targets,)
    cv_scores : tensor of shape (n_alphas, n_targets)
        Score of each alpha, averaged over folds (float64).
    """

    coef: torch.Tensor
    intercept: torch.Tensor
    best_alphas: torch.Tensor
    cv_scores: torch.Tensor



EIGH_MIN_ALPHAS = 20  # from this many alphas one eigendecomposition beats a Cholesky per alpha


class RegularizedGram:
    """``(gram + alpha I)^-1`` for a set of alphas and a symmetric positive semi-definite ``gram``.

    Below ``EIGH_MIN_ALPHAS`` alphas, each alpha gets a float64 Cholesky factorization
    when first needed (matrix-product speed: on a 2-core CPU one eigendecomposition of
    a 1280 x 1280 matrix took as long as 12 Cholesky factorizations and solves with
    one thread, 47 with two threads on busy cores). From that many alphas on, one
    eigendecomposition serves them all. A shifted matrix that is not
    positive definite in float64 (alpha below the rounding of ``gram``) also uses
    the eigendecomposition, with negative eigenvalues set to zero.

    Parameters
    ----------
    gram : tensor of shape (n, n), float64
    alphas : sequence of float
    """

    def __init__(self, gram: torch.Tensor, alphas):
        self.gram = gram
        self.alphas = [float(alpha) for alpha in alphas]
        self._factors = {}
        self._eigen = None
        self.eigen_for_all = len(self.alphas) >= EIGH_MIN_ALPHAS
        if self.eigen_for_all:
            self._eigendecomposition()

    def _eigendecomposition(self):
        if self._eigen is None:
            eigenvalues, eigenvectors = torch.linalg.eigh(self.gram)
            self._eigen = eigenvalues.clamp_(min=0), eigenvectors
        return self._eigen

    def _factor(self, alpha: float):
        """Cholesky factor of ``gram + alpha I``, or None where it is not positive definite."""
        if alpha not in self._factors:
            shifted = self.gram.clone()
            shifted.diagonal().add_(alpha)
            factor, info = torch.linalg.cholesky_ex(shifted)
            self._factors[alpha] = factor if int(info) == 0 else None
        return self._factors[alpha]

    def uses_eigen(self, alpha: float) -> bool:
        return self.eigen_for_all or self._factor(alpha) is None

    def right_products(self, left: torch.Tensor, dtype) -> torch.Tensor:
        """``left @ (gram + alpha I)^-1`` for every alpha.

        left : tensor of shape (n_rows, n), float64

        Returns
        -------
        products : tensor of shape (n_alphas, n_rows, n) in ``dtype``
        """
        products = torch.empty((len(self.alphas), left.shape[0], left.shape[1]), dtype=dtype, device=left.device)
        right = left.T.contiguous()
        projected = None
        for index, alpha in enumerate(self.alphas):
            if self.uses_eigen(alpha):
                eigenvalues, eigenvectors = self._eigendecomposition()
                projected = left @ eigenvectors if projected is None else projected
                products[index] = (projected / (eigenvalues + alpha)) @ eigenvectors.T
            else:
                products[index] = torch.cholesky_solve(right, self._factor(alpha)).T
        return products

    def solve(self, rhs: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
        """``(gram + alphas[t] I)^-1 @ rhs[:, t]`` for every column, in the dtype of ``rhs``.

        rhs : tensor of shape (n, n_targets)
        alphas : tensor of shape (n_targets,), values among ``self.alphas``
        """
        solution = torch.empty_like(rhs)
        values = alphas.cpu()
        eigen_columns = []
        for alpha in torch.unique(values).tolist():
            columns = torch.nonzero(values == alpha)[:, 0]
            if self.uses_eigen(alpha):
                eigen_columns.append(columns)
                continue
            columns = columns.to(rhs.device)
            solution[:, columns] = torch.cholesky_solve(rhs[:, columns], self._factor(alpha).to(rhs.dtype))
        if eigen_columns:
            columns = torch.cat(eigen_columns)
            eigenvalues, eigenvectors = self._eigendecomposition()
            shrink = (1.0 / (eigenvalues[:, None] + values[columns].to(eigenvalues)[None, :])).to(rhs.dtype)
            columns = columns.to(rhs.device)
            eigenvectors = eigenvectors.to(rhs.dtype)
            solution[:, columns] = eigenvectors @ (eigenvectors.T @ rhs[:, columns]).mul_(shrink)
        return solution


_GRAM_RESOLUTION = torch.finfo(torch.float64).eps ** 0.5


def compress_operators(operators: torch.Tensor, dtype, each: bool = True):
    """Low-rank form of the operators of all alphas, exact to the rounding of ``dtype``.

    The operators of neighbouring alphas are nearly linearly dependent (they are
    ``left @ diag(1 / (lam + alpha)) V^T``, a Cauchy-like family in alpha), so the
    predictions of all alphas need fewer products over the targets: the operators are
    expanded on their singular vectors (from their float64 Gram matrix), and the
    components whose singular value is below ``eps(dtype)`` times the largest are
    dropped. With ``each``, the operators are first scaled to unit norm, so every
    alpha's predictions keep their own precision (as scale-free scores such as Pearson's
    r need: a strongly regularized alpha predicts small values); otherwise they are
    taken as they are, so every alpha's predictions are exact to the rounding of the
    largest, the least regularized (as squared-error scores need: their residuals carry
    that rounding anyway), which takes fewer components. The Gram matrix resolves
    singular values down to ``sqrt(eps(float64))``, so float64 operators are kept whole.

    Parameters
    ----------
    operators : tensor of shape (n_alphas, n_rows, width), float64
    dtype : torch.dtype
    each : bool

    Returns
    -------
    basis : tensor of shape (rank, n_rows, width) in ``dtype``
    mixing : tensor of shape (n_alphas, rank) in ``dtype``
        ``operators[a] ~= sum_j mixing[a, j] * basis[j]``.
    """
    n_alphas = operators.shape[0]
    tolerance = torch.finfo(dtype).eps
    if tolerance < _GRAM_RESOLUTION:
        return operators.to(dtype), torch.eye(n_alphas, dtype=dtype, device=operators.device)
    flat = operators.reshape(n_alphas, -1)
    gram_matrix = gram(flat)
    norms = gram_matrix.diagonal().sqrt().clamp_(min=torch.finfo(torch.float64).tiny)
    scale = norms if each else norms.max().expand_as(norms)
    eigenvalues, eigenvectors = torch.linalg.eigh(gram_matrix / scale[:, None] / scale[None, :])
    components = eigenvectors[:, eigenvalues > tolerance**2 * eigenvalues[-1]]
    basis = matmul((components / scale[:, None]).T, flat).reshape((components.shape[1],) + operators.shape[1:])
    return basis.to(dtype), (scale[:, None] * components).to(dtype)


class EigenBasis:
    """The row space of a design matrix, on the eigenvectors of its Gram matrix.

    ``X = Z V^T`` where the columns of ``V`` are the orthonormal eigenvectors of
    ``X^T X`` whose eigenvalues ``lam`` lie above the rounding of the largest (no
    ridge solution has a component along the others) and ``Z = X V``, whose squared
    column norms are ``lam``. Computed in float64 from ``X^T X``, or, when features
    outnumber samples, from ``X X^T = U diag(lam) U^T`` with ``Z = U diag(lam)^1/2``
    and ``V = X^T U diag(lam)^-1/2``.

    Parameters
    ----------
    X : tensor of shape (n_samples, n_features)
    dtype : torch.dtype
        Of the products over targets (:meth:`project`, :meth:`coef`).

    Attributes
    ----------
    coordinates : tensor of shape (n_samples, rank), float64
        ``Z``.
    eigenvalues : tensor of shape (rank,), float64
    """

    def __init__(self, X: torch.Tensor, dtype):
        x64 = X.double()
        n_samples, n_features = x64.shape
        primal = n_features <= n_samples
        eigenvalues, vectors = torch.linalg.eigh(gram(x64.T.contiguous() if primal else x64))
        rounding = max(n_samples, n_features) * torch.finfo(torch.float64).eps * float(eigenvalues[-1])
        keep = eigenvalues > rounding
        eigenvalues, vectors = eigenvalues[keep], vectors[:, keep]
        if primal:
            coordinates, directions = matmul(x64, vectors), vectors
        else:
            root = eigenvalues.sqrt()
            coordinates, directions = vectors * root, matmul(x64.T, vectors) / root
        self.coordinates, self.eigenvalues = coordinates, eigenvalues
        self._projection = coordinates.T.to(dtype).contiguous()
        self._directions = directions.to(dtype)

    @property
    def rank(self) -> int:
        return len(self.eigenvalues)

    def project(self, Y: torch.Tensor) -> torch.Tensor:
        """``Z^T Y`` of shape (rank, n_targets) for ``Y`` of shape (n_samples, n_targets)."""
        return matmul(self._projection, Y)

    def coef(self, projected: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
        """Ridge weights ``V (diag(lam) + alpha_t I)^-1 z_t``, shape (n_features, n_targets).

        projected : tensor of shape (rank, n_targets)
            ``Z^T Y`` (:meth:`project`).
        alphas : tensor of shape (n_targets,)
        """
        shrink = 1.0 / (self.eigenvalues[:, None] + alphas.to(self.eigenvalues)[None, :])
        return matmul(self._directions, projected * shrink.to(projected.dtype))


@dataclass
class _Fold:
    """Target-independent parts of one cross-validation fold, in the coordinates ``Z`` of an :class:`EigenBasis`.

    The fold's ``Z_train^T y_train`` is ``z - Z_rows^T y_rows`` when ``downdate`` (the rows
    are the samples left out of training) and ``Z_rows^T y_rows`` otherwise (the rows are
    the training samples).
    """

    test: torch.Tensor  # (n_test,) sample indices
    rows: torch.Tensor  # (n_rows,) sample indices
    rows_transposed: torch.Tensor  # (rank, n_rows): Z[rows].T
    downdate: bool
    n_train: int
    rows_sum: torch.Tensor | None  # (rank,): column sums of Z[rows], with an intercept
    basis: torch.Tensor  # (n_components, n_test, rank)
    mixing: torch.Tensor  # (n_alphas, n_components + 1): operator a is sum_j mixing[a, j] basis[j]; last column ones


def _downdate_is_cheaper(n_out: int, n_test: int, out_is_test: bool, rank: int) -> bool:
    """Whether the Woodbury downdate costs fewer operations per alpha than a factorization of the fold's Gram."""
    downdate = 2 * n_out**2 * rank + (0 if out_is_test else 2 * n_test * n_out * rank)
    direct = rank**3 / 3 + n_test * rank**2
    return downdate <= direct


def _downdated_operators(Z, eigenvalues, left_out, test, alphas, fit_intercept):
    """Test operators (n_alphas, n_test, rank) of a fold that trains on all samples but ``left_out``.

    The fold's (centered) training Gram matrix is ``diag(lam) - Z_out^T P Z_out`` with
    ``P = I`` (``I + 1 1^T / n_train`` with an intercept), so by the Woodbury identity
    ``(Gram + alpha I)^-1 = D + D Z_out^T W^-1 Z_out D`` with ``D = (diag(lam) + alpha I)^-1``
    and ``W = P^-1 - Z_out D Z_out^T`` (``P^-1 = I - 1 1^T / n_samples``). The test rows,
    centered with the training mean, are ``Z_test + 1 1^T Z_out / n_train``; when they
    are the left-out rows (``test`` None) the operator reduces to ``W^-1 Z_out D``.
    None where some ``W`` is not positive definite in float64 (alpha below the rounding
    of the Gram matrix).
    """
    n_samples, n_train = Z.shape[0], Z.shape[0] - len(left_out)
    z_out = Z[left_out]
    z_test = None if test is None else Z[test] + (z_out.sum(0) / n_train if fit_intercept else 0)
    operators = Z.new_empty((len(alphas), len(left_out) if test is None else len(test), Z.shape[1]))
    for operator, alpha in zip(operators, alphas.tolist()):  # one alpha at a time: a fifth of the memory
        shrink = 1.0 / (eigenvalues + alpha)
        root = z_out * shrink.sqrt()
        woodbury = gram(root).neg_()  # Z_out D Z_out^T, a symmetric product
        scaled = z_out * shrink
        woodbury.diagonal().add_(1)
        if fit_intercept:
            woodbury.sub_(1.0 / n_samples)
        factor, info = torch.linalg.cholesky_ex(woodbury)
        if int(info) != 0:
            return None
        inverse = torch.cholesky_inverse(factor)  # then one product: faster than triangular solves
        if test is None:
            matmul(inverse, scaled, out=operator)
        else:
            scaled_test = z_test * shrink
            matmul(matmul(scaled_test, z_out.T), matmul(inverse, scaled), out=operator).add_(scaled_test)
    return operators


def _direct_operators(Z, train, test, alphas, fit_intercept):
    """Test operators (n_alphas, n_test, rank) from a factorization of the fold's own Gram matrix."""
    z_train, z_test = Z[train], Z[test]
    if fit_intercept:
        mean = z_train.mean(0)
        z_train, z_test = z_train - mean, z_test - mean
    return RegularizedGram(z_train.T @ z_train, alphas.tolist()).right_products(z_test, torch.float64)


def _plan_fold(basis: EigenBasis, train, test, alphas, fit_intercept, dtype, each: bool) -> _Fold:
    Z = basis.coordinates
    in_train = torch.zeros(Z.shape[0], dtype=torch.bool, device=Z.device)
    in_train[train] = True
    left_out = torch.nonzero(~in_train)[:, 0]
    distinct = int(in_train.sum()) == len(train)
    out_is_test = distinct and len(left_out) == len(test) and bool(torch.equal(torch.sort(test).values, left_out))
    if out_is_test:
        left_out = test  # the operators' rows then follow the test order
    operators = None
    if distinct and _downdate_is_cheaper(len(left_out), len(test), out_is_test, basis.rank):
        operators = _downdated_operators(Z, basis.eigenvalues, left_out, None if out_is_test else test, alphas,
                                         fit_intercept)
    downdate = operators is not None
    if not downdate:
        operators = _direct_operators(Z, train, test, alphas, fit_intercept)
    components, mixing = compress_operators(operators, dtype, each)
    rows = Z[left_out if downdate else train]
    return _Fold(test, left_out if downdate else train, rows.T.to(dtype).contiguous(), downdate, len(train),
                 rows.sum(0).to(dtype) if fit_intercept else None, components.contiguous(),
                 torch.cat([mixing, mixing.new_ones(len(mixing), 1)], dim=1))


class CrossValidation:
    """Target-independent parts of a cross-validation over the coordinates of an :class:`EigenBasis`.

    Parameters
    ----------
    basis : EigenBasis
    splits : list of (tensor, tensor)
        Training and test sample indices of each fold.
    alphas : tensor of shape (n_alphas,), float64
    fit_intercept : bool
    score : Score
        The score the folds compute; squared-error scores take fewer components of the
        fold operators (:func:`compress_operators`).
    dtype : torch.dtype

    Attributes
    ----------
    folds : list of _Fold
    """

    def __init__(self, basis: EigenBasis, splits, alphas, fit_intercept, score: Score, dtype):
        device = basis.coordinates.device
        self.basis, self.fit_intercept, self.score = basis, fit_intercept, score
        self.folds = [_plan_fold(basis, train.to(device), test.to(device), alphas, fit_intercept, dtype,
                                 each=not score.of_residuals)
                      for train, test in splits]
        left_out = torch.cat([fold.rows for fold in self.folds])
        # when the left-out rows of the folds partition the samples, their parts of Z^T Y add up to it
        self.partition = (all(fold.downdate for fold in self.folds) and len(left_out) == len(basis.coordinates)
                          and bool(torch.equal(torch.sort(left_out).values, torch.arange(len(left_out), device=device))))
        # rows of the largest fold's blocks (its components' products and the offset block, see _fold_sums)
        self._block_rows = max((fold.basis.shape[0] + 1) * len(fold.test) for fold in self.folds)

    def batch_bytes_per_target(self, dtype) -> int:
        """Bytes per target of the arrays a target batch holds: the targets, their parts of
        ``Z^T Y`` and, for one fold at a time, the blocks of its product (:func:`_fold_sums`)."""
        rank, n_samples = self.basis.rank, len(self.basis.coordinates)
        return torch.finfo(dtype).bits // 8 * (n_samples + (len(self.folds) + 2) * rank + self._block_rows)

    def scores(self, Y: torch.Tensor) -> tuple:
        """Cross-validation scores of one target batch.

        Parameters
        ----------
        Y : tensor of shape (n_samples, n_targets)
            Centered on its mean when ``fit_intercept``.

        Returns
        -------
        scores : tensor of shape (n_alphas, n_targets), float64
            Averaged over folds.
        projected : tensor of shape (rank, n_targets)
            ``Z^T Y`` (:meth:`EigenBasis.project`).
        """
        parts = [matmul(fold.rows_transposed, Y[fold.rows]) for fold in self.folds]
        if self.partition:
            projected = parts[0].clone()
            for part in parts[1:]:
                projected.add_(part)
        else:
            projected = self.basis.project(Y)
        # one buffer holds the blocks of every fold in turn (see _fold_sums)
        buffer = Y.new_empty(self._block_rows * Y.shape[1])
        total = None
        for fold, part in zip(self.folds, parts):
            y_test = Y[fold.test]
            sums = _fold_sums(fold, Y, y_test, part.neg_().add_(projected) if fold.downdate else part,
                              self.fit_intercept, self.score, buffer)
            fold_scores = self.score.function(y_test, sums)
            total = fold_scores if total is None else total.add_(fold_scores)
        return total / len(self.folds), projected


def _fold_sums(fold: _Fold, Y, y_test, v, fit_intercept, score: Score, buffer: torch.Tensor) -> SampleSums:
    """Sums over the test samples of every alpha's predictions, or of their residuals
    ``prediction - y_test``, as ``score`` needs them (:class:`SampleSums`).

    ``v`` (rank, n_targets) is the fold's ``Z_train^T y_train`` before centering; ``buffer``
    holds at least (n_components + 1) * n_test * n_targets values of its dtype. The
    predictions are ``basis @ v`` mixed over components, plus the training mean of the
    targets; for residuals both the mean and ``-y_test`` ride along as one more block of
    the mixing (Pearson's r, on predictions, is blind to the mean: the block is zero). On the CPU the mixing and the sums
    are one compiled pass over the blocks, which never writes out the (n_alphas, n_test,
    n_targets) values.
    """
    n_targets = Y.shape[1]
    n_components, n_test, rank = fold.basis.shape
    blocks = buffer[:(n_components + 1) * n_test * n_targets].view(n_components + 1, n_test, n_targets)
    offset = blocks[-1]
    if fit_intercept:
        rows_total = Y[fold.rows].sum(0)
        v.addr_(fold.rows_sum, rows_total, alpha=-1.0 / fold.n_train)
    if fit_intercept and score.of_residuals:
        offset.copy_(rows_total.mul_((-1.0 if fold.downdate else 1.0) / fold.n_train).expand(n_test, -1))
    else:
        offset.zero_()
    if score.of_residuals:
        offset.sub_(y_test)
    matmul(fold.basis.view(n_components * n_test, rank), v, out=blocks[:-1].view(n_components * n_test, n_targets))
    y_centred = y_test - y_test.mean(0) if score.moments else None
    if blocks.device.type != "cpu":
        return sample_sums(matmul(fold.mixing, blocks.view(n_components + 1, -1)).view(-1, n_test, n_targets),
                           y_centred)
    squares = torch.zeros((len(fold.mixing), n_targets), dtype=torch.float64)
    totals, products = (torch.zeros_like(squares) for _ in range(2)) if score.moments else (squares, squares)
    _mixed_sums(fold.mixing.numpy(), blocks.numpy(), y_test.numpy() if y_centred is None else y_centred.numpy(),
                score.moments, squares.numpy(), totals.numpy(), products.numpy())
    return SampleSums(squares, totals, products) if score.moments else SampleSums(squares)


_TARGET_TILE = 256  # targets a tile of _mixed_sums holds its sums for (in the L2 cache)


@numba.njit(cache=True, nogil=True)
def _mixed_sums(mixing, blocks, y_centred, moments, squares, totals, products):
    """Add to ``squares`` (n_models, n_targets) the sums over samples of the squared values
    ``sum_c mixing[m, c] * blocks[c, sample]`` (``mixing`` (n_models, n_blocks), ``blocks``
    (n_blocks, n_samples, n_targets)); with ``moments``, their sums to ``totals`` and their
    products with ``y_centred`` (n_samples, n_targets) to ``products``. Sums in float64."""
    n_models, n_blocks = mixing.shape
    n_samples, n_targets = blocks.shape[1], blocks.shape[2]
    value = np.empty(_TARGET_TILE, dtype=blocks.dtype)
    for start in range(0, n_targets, _TARGET_TILE):
        stop = min(start + _TARGET_TILE, n_targets)
        width = stop - start
        for sample in range(n_samples):
            for model in range(n_models):
                value[:width] = 0
                for block in range(n_blocks):
                    weight = mixing[model, block]
                    row = blocks[block, sample, start:stop]
                    for target in range(width):
                        value[target] += weight * row[target]
                model_squares = squares[model, start:stop]
                for target in range(width):
                    model_squares[target] += np.float64(value[target]) * value[target]
                if moments:
                    model_totals, model_products = totals[model, start:stop], products[model, start:stop]
                    y_row = y_centred[sample, start:stop]
                    for target in range(width):
                        model_totals[target] += value[target]
                        model_products[target] += np.float64(value[target]) * y_row[target]


def select_best(cv_scores: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
    """Index of the best alpha per target; ties go to the largest alpha.

    cv_scores : tensor of shape (n_alphas, n_targets)
    """
    best = cv_scores.max(0).values
    order = alphas.to(cv_scores.device).argsort().argsort().to(cv_scores.dtype)
    ranked = torch.where(cv_scores == best, order[:, None], -1.0)
    return ranked.argmax(0)


class RefitSolver:
    """Ridge weights on the whole (centered) design for any alpha per target.

    Parameters
    ----------
    X : tensor of shape (n_samples, n_features)
        Centered already when an intercept is fitted.
    alphas : sequence of float
        The alphas targets may select.
    """

    def __init__(self, X: torch.Tensor, alphas):
        self.X = X
        self.primal = X.shape[1] <= X.shape[0]
        x64 = X.double()
        self.inverse = RegularizedGram(x64.T @ x64 if self.primal else x64 @ x64.T, alphas)

    def coef(self, Y, XtY, alphas: torch.Tensor) -> torch.Tensor:
        """Ridge weights of shape (n_features, n_targets), one alpha per target.

        Y : tensor of shape (n_samples, n_targets)
        XtY : tensor of shape (n_features, n_targets) or None
            ``X.T @ Y``, used by the primal form.
        alphas : tensor of shape (n_targets,)
        """
        if self.primal:
            return self.inverse.solve(XtY, alphas)
        return self.X.T @ self.inverse.solve(Y, alphas)


# Fewer targets than this per batch and each product spends a noticeable share of its time
# repacking the fold operators (the BLAS copies its left operand into blocks on every call).
AUTO_BATCH_MIN = 512
_DEFAULT_CACHE = (2 * 2**20, 1)


def _cpu_list_length(text: str) -> int:
    """Number of CPUs in a sysfs list such as ``0-3,8``."""
    total = 0
    for part in text.strip().split(","):
        first, _, last = part.partition("-")
        total += int(last or first) - int(first) + 1
    return total


def last_level_cache() -> tuple:
    """(bytes, number of CPUs sharing it) of the largest data cache level, as Linux reports
    it (``/sys/devices/system/cpu/cpu0/cache``); 2 MiB for one CPU where it does not."""
    largest = None
    for index in pathlib.Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            if (index / "type").read_text().strip() == "Instruction":
                continue
            level = int((index / "level").read_text())
            size = (index / "size").read_text().strip()
            multiplier = {"K": 2**10, "M": 2**20, "G": 2**30}.get(size[-1:], 1)
            cache = (int(size.rstrip("KMG")) * multiplier, _cpu_list_length((index / "shared_cpu_list").read_text()))
        except (OSError, ValueError):
            continue
        if largest is None or level > largest[0]:
            largest = (level, cache)
    return largest[1] if largest else _DEFAULT_CACHE


def _available_memory() -> int | None:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def auto_targets_batch(bytes_per_target: int, device) -> int:
    """Targets per batch when none is given, from the machine's cache and memory sizes.

    On the CPU, the arrays of one batch (``bytes_per_target`` per target: the products
    of a fold, the targets) stay within the share of the last-level
    cache of the threads torch runs, so each pass over them after a product reads the
    cache and not the main memory; at least ``AUTO_BATCH_MIN`` targets, and at most a
    quarter of the available memory. On CUDA, a quarter of the free device memory.

    Parameters
    ----------
    bytes_per_target : int
    device : torch.device
    """
    per_target = max(1, int(bytes_per_target))
    if device.type == "cuda":
        return max(1, torch.cuda.mem_get_info(device)[0] // (4 * per_target))
    size, sharing = last_level_cache()
    batch = max(AUTO_BATCH_MIN, size // max(1, min(torch.get_num_threads(), sharing)) // per_target)
    available = _available_memory()
    return batch if available is None else max(1, min(batch, available // (4 * per_target)))


def prepare(X, Y, alphas, device, dtype):
    """Checked tensors: X on ``device``, Y kept on the CPU, alphas in float64."""
    dtype = resolve_dtype(dtype)
    device = resolve_device(device)
    X = as_2d_tensor(X, "X", dtype, device)
    Y = as_2d_tensor(Y, "Y", dtype, torch.device("cpu"))
    check_same_samples(X.shape[0], Y.shape[0])
    return X, Y, check_alphas(alphas), device, dtype


def center(X: torch.Tensor, fit_intercept: bool):
    """X minus its column means (or X and zeros when no intercept)."""
    x_mean = X.mean(0) if fit_intercept else torch.zeros(X.shape[1], dtype=X.dtype, device=X.device)
    return X - x_mean, x_mean


def load_batch(Y, columns, device, fit_intercept):
    """A target batch on ``device``, centered when ``fit_intercept``, and its mean."""
    batch = Y[:, columns].to(device)
    y_mean = batch.mean(0) if fit_intercept else torch.zeros(batch.shape[1], dtype=batch.dtype, device=device)
    return batch - y_mean if fit_intercept else batch, y_mean


def solve_ridge(X, Y, alpha=1.0, fit_intercept=True, n_targets_batch=None, device="cpu", dtype="float32"):
    """Ridge regression with a fixed alpha (or one alpha per target).

    Parameters
    ----------
    X : array or tensor of shape (n_samples, n_features)
    Y : array or tensor of shape (n_samples, n_targets)
    alpha : float or array of shape (n_targets,)
    fit_intercept : bool
    n_targets_batch : int, optional
        Targets solved at once; bounds memory on ``device``. When None, see
        :func:`auto_targets_batch`.
    device : str or torch.device
    dtype : {"float32", "float64"}

    Returns
    -------
    coef : tensor of shape (n_features, n_targets)
    intercept : tensor of shape (n_targets,)
        Both on the CPU.
    """
    X, Y, alphas, device, dtype = prepare(X, Y, alpha, device, dtype)
    if len(alphas) not in (1, Y.shape[1]):
        raise InvalidArgument(f"alpha has {len(alphas)} values for {Y.shape[1]} targets")
    alphas = alphas.expand(Y.shape[1])
    X, x_mean = center(X, fit_intercept)
    refit = RefitSolver(X, torch.unique(alphas).tolist())
    coef = torch.empty((X.shape[1], Y.shape[1]), dtype=dtype)
    intercept = torch.zeros(Y.shape[1], dtype=dtype)
    if n_targets_batch is None:
        n_targets_batch = auto_targets_batch(Y.element_size() * (X.shape[0] + 2 * X.shape[1]), device)
    for columns in target_batches(Y.shape[1], n_targets_batch, 0):
        batch, y_mean = load_batch(Y, columns, device, fit_intercept)
        XtY = X.T @ batch if refit.primal else None
        weights = refit.coef(batch, XtY, alphas[columns].to(device))
        coef[:, columns] = weights.cpu()
        intercept[columns] = (y_mean - x_mean @ weights).cpu()
    return coef, intercept


def solve_ridge_cv(X, Y, alphas, cv=5, groups=None, fit_intercept=True, scoring="r2",
                   n_targets_batch=None, device="cpu", dtype="float32") -> RidgeCVResult:
    """Ridge regression with the best alpha of each target chosen by cross-validation.

    Parameters
    ----------
    X : array or tensor of shape (n_samples, n_features)
    Y : array or tensor of shape (n_samples, n_targets)
    alphas : array of shape (n_alphas,)
        Positive regularization strengths to try.
    cv : int, splitter or iterable of (train, test) index arrays
        An int means K contiguous folds (:class:`sklearn.model_selection.KFold`),
        or K folds of whole runs when ``groups`` is given.
    groups : array of shape (n_samples,), optional
        Run (or session) of each sample; no run is split across train and test.
    fit_intercept : bool
    scoring : {"r2", "pearson", "neg_mse"}
        Per-target score used to choose alpha, averaged over folds.
    n_targets_batch : int, optional
        Targets processed at once; bounds memory on ``device``. When None, see
        :func:`auto_targets_batch`.
    device : str or torch.device
    dtype : {"float32", "float64"}

    Returns
    -------
    RidgeCVResult
        coef (n_features, n_targets), intercept (n_targets,), best_alphas (n_targets,),
        cv_scores (n_alphas, n_targets), all on the CPU.

    Notes
    -----
    Besides ``X``, the device holds the eigenvectors (``n_features * rank`` values,
    ``rank <= min(n_samples, n_features)``), the sample coordinates and the compressed
    fold operators (at most ``n_alphas * n_samples * rank`` values of ``dtype``), and per
    target batch ``Y``, ``Z^T Y`` and one fold's products and predictions for all alphas.
    """
    X, Y, alphas, device, dtype = prepare(X, Y, alphas, device, dtype)
    score = check_score(scoring)
    splits = check_cv(cv, X.shape[0], groups)
    X, x_mean = center(X, fit_intercept)
    basis = EigenBasis(X, dtype)
    validation = CrossValidation(basis, splits, alphas, fit_intercept, score, dtype)
    n_features, n_targets = X.shape[1], Y.shape[1]
    coef = torch.empty((n_features, n_targets), dtype=dtype)
    intercept = torch.zeros(n_targets, dtype=dtype)
    best_alphas = torch.empty(n_targets, dtype=torch.float64)
    cv_scores = torch.empty((len(alphas), n_targets), dtype=torch.float64)
    alphas_device = alphas.to(device)
    if n_targets_batch is None:
        n_targets_batch = auto_targets_batch(validation.batch_bytes_per_target(dtype), device)
    for columns in target_batches(n_targets, n_targets_batch, 0):
        batch, y_mean = load_batch(Y, columns, device, fit_intercept)
        scores, projected = validation.scores(batch)
        chosen = alphas_device[select_best(scores, alphas_device)]
        weights = basis.coef(projected, chosen)
        coef[:, columns] = weights.cpu()
        intercept[columns] = (y_mean - x_mean @ weights).cpu()
        best_alphas[columns] = chosen.cpu()
        cv_scores[:, columns] = scores.cpu()
    return RidgeCVResult(coef, intercept, best_alphas, cv_scores)
