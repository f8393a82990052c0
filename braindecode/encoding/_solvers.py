"""Ridge regression solvers on torch tensors, with cross-validation over many alphas.

The ridge weights for one alpha are ``W = (X^T X + alpha I)^-1 X^T Y``. The work
that does not depend on the targets is done once per fold: the Gram matrix of the
fold's training set (float64), its regularized inverses (see below) and from them the
operator ``M_a = X_test (X_train^T X_train + alpha I)^-1`` of shape
(n_test, n_features). The test predictions of all alphas are then one matrix
product ``[M_1; ...; M_A] @ (X_train^T Y_train)`` per target batch (fewer rows:
the operators of all alphas are first compressed to their numerical rank at the
precision of ``dtype``, see :func:`compress_operators`), and
``X_train^T Y_train`` is ``X^T Y - X_test^T Y_test`` from one ``X^T Y`` per batch,
which the final refit reuses: one solve per target with the regularized Gram
matrix of the whole data at the alpha it selected.

Where a training set has fewer samples than features, the kernel
``X_train X_train^T`` replaces the Gram matrix (the dual form), the operators have
shape (n_test, n_train) and multiply ``Y_train``. The Gram / kernel matrices,
their factorizations and the fold operators are computed in float64 whatever
``dtype``; the products over targets, which dominate the cost, and the refit's
triangular solves run in ``dtype``. Cholesky factorizations run at matrix-product
speed, unlike an eigendecomposition, so below ``EIGH_MIN_ALPHAS`` alphas each alpha
gets its own factorization, and from there on one eigendecomposition per fold
serves all alphas. A matrix that is not positive definite in float64
(alpha below the rounding of the Gram matrix) falls back to its eigendecomposition
with negative eigenvalues set to zero.

An intercept is fitted by centering with the training means of each fold (and of
the whole data for the refit), which is the exact unpenalized-intercept ridge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from braindecode._devices import resolve_device, resolve_dtype
from braindecode.encoding._cv import check_cv
from braindecode.encoding._scoring import check_score
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


@dataclass
class _Fold:
    """Target-independent parts of one cross-validation fold."""

    train: torch.Tensor
    test: torch.Tensor
    basis: torch.Tensor  # (rank, n_test, width); width is n_features (primal) or n_train (dual)
    mixing: torch.Tensor  # (n_alphas, rank): the operator of alpha a is sum_j mixing[a, j] basis[j]
    primal: bool
    complement: bool  # train is exactly the samples outside test
    x_mean: torch.Tensor | None  # training mean of X, primal folds with an intercept


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


def compress_operators(operators: torch.Tensor, dtype):
    """Low-rank form of the operators of all alphas, exact to the rounding of ``dtype``.

    The operators of neighbouring alphas are nearly linearly dependent (they are
    ``left @ V diag(1 / (lam + alpha)) V^T``, a Cauchy-like family in alpha), so the
    predictions of all alphas need fewer products over the targets: the operators,
    each scaled to unit norm, are expanded on their singular vectors (from their
    float64 Gram matrix), and the components whose singular value is below
    ``eps(dtype)`` times the largest are dropped (a change smaller than the rounding
    of a product in ``dtype``). The Gram matrix resolves singular values down to
    ``sqrt(eps(float64))``, so float64 operators are kept whole.

    Parameters
    ----------
    operators : tensor of shape (n_alphas, n_rows, width), float64

    Returns
    -------
    basis : tensor of shape (rank, n_rows, width) in ``dtype``
    mixing : tensor of shape (n_alphas, rank) in ``dtype``
        ``operators[a] ~= sum_j mixing[a, j] * basis[j]``.
    """
    n_alphas = operators.shape[0]
    flat = operators.reshape(n_alphas, -1)
    norms = flat.norm(dim=1).clamp_(min=torch.finfo(torch.float64).tiny)
    unit = flat / norms[:, None]
    tolerance = torch.finfo(dtype).eps
    if tolerance < _GRAM_RESOLUTION:
        return operators.to(dtype), torch.eye(n_alphas, dtype=dtype, device=operators.device)
    eigenvalues, eigenvectors = torch.linalg.eigh(unit @ unit.T)
    components = eigenvectors[:, eigenvalues > tolerance**2 * eigenvalues[-1]]
    basis = (components.T @ unit).reshape((components.shape[1],) + operators.shape[1:])
    return basis.to(dtype), (norms[:, None] * components).to(dtype)


def _plan_fold(X, train, test, alphas, fit_intercept, dtype) -> _Fold:
    n_samples, n_features = X.shape
    x_train, x_test = X[train].double(), X[test].double()
    x_mean = None
    if fit_intercept:
        x_mean = x_train.mean(0)
        x_train -= x_mean
        x_test -= x_mean
    primal = n_features <= len(train)
    if primal:
        gram, left = x_train.T @ x_train, x_test
    else:
        gram, left = x_train @ x_train.T, x_test @ x_train.T
    operators = RegularizedGram(gram, alphas.tolist()).right_products(left, torch.float64)
    basis, mixing = compress_operators(operators, dtype)
    member = torch.zeros(n_samples, dtype=torch.bool, device=X.device)
    member[train] = True
    complement = (len(train) + len(test) == n_samples and int(member.sum()) == len(train)
                  and not bool(member[test].any()))
    return _Fold(train, test, basis, mixing, primal, complement,
                 x_mean.to(dtype) if (primal and fit_intercept) else None)


def plan_folds(X, splits, alphas, fit_intercept, dtype) -> list:
    """Per-fold operators for all alphas (target-independent)."""
    device = X.device
    return [_plan_fold(X, train.to(device), test.to(device), alphas, fit_intercept, dtype)
            for train, test in splits]


def _fold_predictions(fold: _Fold, X, Y, XtY, y_sum, fit_intercept) -> torch.Tensor:
    """Test predictions of every alpha, shape (n_alphas, n_test, n_targets)."""
    y_test = Y[fold.test]
    n_train = len(fold.train)
    if fold.complement:
        y_mean = (y_sum - y_test.sum(0)) / n_train if fit_intercept else None
    else:
        y_train = Y[fold.train]
        y_mean = y_train.mean(0) if fit_intercept else None
    if fold.primal:
        if fold.complement:
            rhs = torch.addmm(XtY, X[fold.test].T, y_test, alpha=-1)
        else:
            rhs = X[fold.train].T @ y_train
        if fold.x_mean is not None:
            rhs.addr_(fold.x_mean, y_mean, alpha=-n_train)
    else:
        rhs = Y[fold.train] if fold.complement else y_train
    rank, n_test, width = fold.basis.shape
    products = fold.basis.view(rank * n_test, width) @ rhs
    predictions = (fold.mixing @ products.view(rank, -1)).view(len(fold.mixing), n_test, -1)
    if fit_intercept:
        predictions += y_mean
    return predictions


def cv_scores_batch(folds, X, Y, XtY, fit_intercept, score_fn) -> torch.Tensor:
    """Scores of shape (n_alphas, n_targets) averaged over folds, for one target batch.

    ``Y`` is the target batch (centered on its mean when ``fit_intercept``), ``XtY``
    is ``X.T @ Y`` (needed only by primal folds that use the complement trick).
    """
    y_sum = Y.sum(0) if fit_intercept else None
    total = None
    for fold in folds:
        predictions = _fold_predictions(fold, X, Y, XtY, y_sum, fit_intercept)
        scores = score_fn(Y[fold.test], predictions).double()
        total = scores if total is None else total.add_(scores)
    return total / len(folds)


def needs_xty(folds) -> bool:
    return any(fold.primal and fold.complement for fold in folds)


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


def batch_bytes_per_target(X, splits, alphas, dtype) -> int:
    """Bytes per target of the largest per-batch array: one fold's predictions, or Y, X^T Y."""
    largest_test = max(len(test) for _, test in splits)
    return torch.finfo(dtype).bits // 8 * max(len(alphas) * largest_test, *X.shape)


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
        Targets solved at once; bounds memory on ``device``. When None, batches keep
        ``Y`` and the coefficients of a batch near 32 MiB.
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
    for columns in target_batches(Y.shape[1], n_targets_batch, Y.element_size() * max(X.shape)):
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
        Targets processed at once; bounds memory on ``device``. When None, batches keep
        the largest per-batch array (one fold's predictions for all alphas) near 32 MiB.
    device : str or torch.device
    dtype : {"float32", "float64"}

    Returns
    -------
    RidgeCVResult
        coef (n_features, n_targets), intercept (n_targets,), best_alphas (n_targets,),
        cv_scores (n_alphas, n_targets), all on the CPU.

    Notes
    -----
    Besides ``X``, the device holds the fold operators, at most
    ``n_alphas * n_samples * min(n_features, n_train)`` values of ``dtype``, and per
    target batch ``Y``, ``X^T Y`` and the test predictions of one fold for all alphas
    (``n_alphas * n_test * n_targets_batch`` values, near 32 MiB by default).
    """
    X, Y, alphas, device, dtype = prepare(X, Y, alphas, device, dtype)
    score_fn = check_score(scoring)
    splits = check_cv(cv, X.shape[0], groups)
    X, x_mean = center(X, fit_intercept)
    folds = plan_folds(X, splits, alphas, fit_intercept, dtype)
    refit = RefitSolver(X, alphas.tolist())
    n_features, n_targets = X.shape[1], Y.shape[1]
    coef = torch.empty((n_features, n_targets), dtype=dtype)
    intercept = torch.zeros(n_targets, dtype=dtype)
    best_alphas = torch.empty(n_targets, dtype=torch.float64)
    cv_scores = torch.empty((len(alphas), n_targets), dtype=torch.float64)
    alphas_device = alphas.to(device)
    for columns in target_batches(n_targets, n_targets_batch, batch_bytes_per_target(X, splits, alphas, dtype)):
        batch, y_mean = load_batch(Y, columns, device, fit_intercept)
        XtY = X.T @ batch if (refit.primal or needs_xty(folds)) else None
        scores = cv_scores_batch(folds, X, batch, XtY, fit_intercept, score_fn)
        chosen = alphas_device[select_best(scores, alphas_device)]
        weights = refit.coef(batch, XtY, chosen)
        coef[:, columns] = weights.cpu()
        intercept[columns] = (y_mean - x_mean @ weights).cpu()
        best_alphas[columns] = chosen.cpu()
        cv_scores[:, columns] = scores.cpu()
    return RidgeCVResult(coef, intercept, best_alphas, cv_scores)
