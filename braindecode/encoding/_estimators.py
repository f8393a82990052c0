"""scikit-learn estimators over the ridge solvers."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from braindecode._devices import resolve_dtype
from braindecode.encoding._banded import solve_banded_ridge_cv
from braindecode.encoding._scoring import r2_score
from braindecode.encoding._solvers import solve_ridge_cv
from braindecode.errors import InvalidArgument

DEFAULT_ALPHAS = (1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6)


class _LinearEncoder(MultiOutputMixin, RegressorMixin, BaseEstimator):
    """predict / score of a fitted linear model with ``coef_`` and ``intercept_``."""

    def _validate(self, X, y=None, fitting=False):
        """scikit-learn's checks (finite, 2-D, consistent lengths and feature counts) as InvalidArgument."""
        dtype = np.float64 if resolve_dtype(self.dtype) == torch.float64 else np.float32
        try:
            if fitting:
                return validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=dtype,
                                     ensure_min_samples=2)
            return validate_data(self, X, reset=False, dtype=dtype)
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None

    def _store(self, result, ravel: bool) -> None:
        self.coef_ = result.coef.numpy()
        self.intercept_ = result.intercept.numpy()
        if ravel:
            self.coef_, self.intercept_ = self.coef_[:, 0], self.intercept_[0]

    def predict(self, X) -> np.ndarray:
        """Predicted responses.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)

        Returns
        -------
        Y_pred : array of shape (n_samples, n_targets), or (n_samples,) after a 1-D ``y``
        """
        check_is_fitted(self, "coef_")
        return self._validate(X) @ self.coef_ + self.intercept_

    def score_per_target(self, X, y) -> np.ndarray:
        """R^2 of the predictions for each target.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
        y : array of shape (n_samples, n_targets) or (n_samples,)

        Returns
        -------
        r2 : array of shape (n_targets,)
        """
        return r2_score(y, self.predict(X))

    def score(self, X, y, sample_weight=None) -> float:
        """Mean R^2 over targets (as scikit-learn's ``RegressorMixin.score``)."""
        if sample_weight is not None:
            raise InvalidArgument("sample_weight is not supported")
        return float(np.mean(self.score_per_target(X, y)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


class RidgeCV(_LinearEncoder):
    """Ridge regression with one alpha per target chosen by cross-validation.

    Parameters
    ----------
    alphas : sequence of float
        Positive regularization strengths to try.
    cv : int, splitter or iterable of (train, test) index arrays
        An int K gives K contiguous folds, or K folds of whole runs when ``groups``
        is passed to :meth:`fit`.
    fit_intercept : bool
    n_targets_batch : int, optional
        Targets processed at once; bounds memory. When None, batches keep the largest
        per-batch array near 32 MiB.
    scoring : {"r2", "pearson", "neg_mse"}
        Per-target cross-validation score that selects alpha. (Named ``scoring``
        as in scikit-learn: a ``score`` parameter would hide the ``score`` method.)
    device : str
        Where the solver runs ("cpu", "cuda", "cuda:1").
    dtype : {"float32", "float64"}

    Attributes
    ----------
    coef_ : array of shape (n_features, n_targets)
    intercept_ : array of shape (n_targets,)
    best_alphas_ : array of shape (n_targets,)
    cv_scores_ : array of shape (n_alphas, n_targets)
        Cross-validation score of each alpha, averaged over folds.
    n_features_in_ : int
    """

    def __init__(self, alphas=DEFAULT_ALPHAS, cv=5, fit_intercept=True, n_targets_batch=None,
                 scoring="r2", device="cpu", dtype="float32"):
        self.alphas = alphas
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.n_targets_batch = n_targets_batch
        self.scoring = scoring
        self.device = device
        self.dtype = dtype

    def fit(self, X, y, groups=None):
        """Select alphas by cross-validation and refit on all samples.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
        y : array of shape (n_samples, n_targets) or (n_samples,)
        groups : array of shape (n_samples,), optional
            Run of each sample; folds never split a run.

        Returns
        -------
        self
        """
        X, y = self._validate(X, y, fitting=True)
        result = solve_ridge_cv(X, y, self.alphas, cv=self.cv, groups=groups, fit_intercept=self.fit_intercept,
                                scoring=self.scoring, n_targets_batch=self.n_targets_batch,
                                device=self.device, dtype=self.dtype)
        self._store(result, np.ndim(y) == 1)
        self.best_alphas_ = result.best_alphas.numpy()
        self.cv_scores_ = result.cv_scores.numpy()
        return self


class BandedRidgeCV(_LinearEncoder):
    """Banded ridge: one regularization per feature space (band), chosen by cross-validation.

    Each candidate ``ratios`` vector ``g`` (non-negative, summing to 1) scales band
    ``i`` by ``sqrt(g_i)``; a ridge with alpha on the scaled features equals a
    ridge whose band ``i`` has regularization ``alpha / g_i``. Every candidate is
    cross-validated over all ``alphas``, and each target keeps its best pair.

    Parameters
    ----------
    bands : array of shape (n_features,)
        Band label of each feature (e.g. ``[0]*512 + [1]*768``).
    alphas : sequence of float
    ratios : int or array of shape (n_candidates, n_bands)
        An int draws that many candidates from a Dirichlet distribution (the first
        is equal weights), as himalaya's random search; an array gives them.
    concentration : float or sequence of float
        Dirichlet concentration(s) when ``ratios`` is an int.
    cv, fit_intercept, n_targets_batch, scoring, device, dtype
        As in :class:`RidgeCV`.
    random_state : int, optional
        Seed of the Dirichlet draws.

    Attributes
    ----------
    coef_ : array of shape (n_features, n_targets)
    intercept_ : array of shape (n_targets,)
    band_alphas_ : array of shape (n_bands, n_targets)
        Regularization of each band (``inf`` for a band with ratio 0).
    best_ratios_ : array of shape (n_bands, n_targets)
    best_alphas_ : array of shape (n_targets,)
        The alpha of the best candidate.
    ratios_ : array of shape (n_candidates, n_bands)
    cv_scores_ : array of shape (n_candidates, n_alphas, n_targets)
    band_labels_ : array of shape (n_bands,)
    """

    def __init__(self, bands, alphas=DEFAULT_ALPHAS, ratios=20, concentration=(0.1, 1.0), cv=5,
                 fit_intercept=True, n_targets_batch=None, scoring="r2", device="cpu", dtype="float32",
                 random_state=None):
        self.bands = bands
        self.alphas = alphas
        self.ratios = ratios
        self.concentration = concentration
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.n_targets_batch = n_targets_batch
        self.scoring = scoring
        self.device = device
        self.dtype = dtype
        self.random_state = random_state

    def fit(self, X, y, groups=None):
        """Select band ratios and alphas by cross-validation and refit on all samples.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
        y : array of shape (n_samples, n_targets) or (n_samples,)
        groups : array of shape (n_samples,), optional
            Run of each sample; folds never split a run.

        Returns
        -------
        self
        """
        X, y = self._validate(X, y, fitting=True)
        result = solve_banded_ridge_cv(
            X, y, self.bands, self.alphas, ratios=self.ratios, concentration=self.concentration, cv=self.cv,
            groups=groups, fit_intercept=self.fit_intercept, scoring=self.scoring,
            n_targets_batch=self.n_targets_batch, random_state=self.random_state, device=self.device, dtype=self.dtype)
        self._store(result, np.ndim(y) == 1)
        self.band_alphas_ = result.band_alphas.numpy()
        self.best_ratios_ = result.best_ratios.numpy()
        self.best_alphas_ = result.best_alphas.numpy()
        self.ratios_ = result.ratios.numpy()
        self.cv_scores_ = result.cv_scores.numpy()
        self.band_labels_ = result.band_labels
        return self
