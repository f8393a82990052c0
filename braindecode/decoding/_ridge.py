"""Linear decoder: standardized brain data -> embeddings by ``braindecode.encoding.RidgeCV``."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from braindecode._devices import resolve_device
from braindecode.decoding._base import MAX_FIT_BYTES, BaseDecoder
from braindecode.decoding._networks import Standardize
from braindecode.decoding._validation import Interval, check_embeddings, check_input
from braindecode.encoding import RidgeCV

DEFAULT_ALPHAS = RidgeCV().get_params()["alphas"]
_TARGET_BATCH_BYTES = 32 * 2**20  # what RidgeCV holds per batch of targets


class RidgeDecoder(BaseDecoder):
    """Ridge regression from brain data to embeddings, one alpha per embedding dimension.

    Features are z-scored with the training statistics, then ``RidgeCV`` picks each
    dimension's alpha by cross-validation and refits on all samples. EEG epochs are
    flattened to (n_trials, n_channels * n_times). The ranges below are
    ``RidgeDecoder.param_ranges``, which ``fit`` enforces.

    Parameters
    ----------
    alphas : sequence of float, 1 to 64 values in (0, inf)
        Default: ``RidgeCV``'s.
    cv : int or splitter
        As in ``RidgeCV``; with ``groups`` an int gives folds of whole groups (runs).
    standardize : bool
        Z-score each feature before the regression.
    scoring : {"r2", "pearson", "neg_mse"}
        Cross-validation score that selects alpha.
    modality : {"fmri", "eeg"}
    device : str
    dtype : {"float32", "float64"}
        Precision of the ridge solver.

    Attributes
    ----------
    coef_ : array of shape (n_features, n_dims)
        Weights on the standardized features.
    intercept_ : array of shape (n_dims,)
    best_alphas_ : array of shape (n_dims,)
    cv_scores_ : array of shape (n_alphas, n_dims)
    module_ : torch.nn.Module
        Standardization + linear map, float32, in eval mode.
    input_shape_ : tuple of int
    n_dims_ : int
    """

    param_ranges = {"alphas": Interval(float, 0, math.inf, "neither", max_count=64)}

    def __init__(self, alphas=DEFAULT_ALPHAS, cv=5, standardize: bool = True, scoring: str = "r2",
                 modality: str = "fmri", device: str = "cpu", dtype: str = "float32"):
        self.alphas = alphas
        self.cv = cv
        self.standardize = standardize
        self.scoring = scoring
        self.modality = modality
        self.device = device
        self.dtype = dtype

    def fit(self, X, Y, groups=None, max_fit_bytes: int = MAX_FIT_BYTES):
        """Fit the regression.

        Parameters
        ----------
        X : array of shape (n_samples, n_voxels) or (n_trials, n_channels, n_times)
        Y : array of shape (n_samples, n_dims)
        groups : array of shape (n_samples,), optional
            Run of each sample; cross-validation folds never split a run.
        max_fit_bytes : int
            Past this ``fit_footprint``, ``ResourceExhausted`` before anything is allocated.

        Returns
        -------
        self
        """
        self._check_params()
        resolve_device(self.device)
        X = check_input(X, self.modality)
        Y = check_embeddings(Y, len(X), name="target embeddings")
        self._check_footprint(len(X), X.shape[1:], Y.shape[1], max_fit_bytes)
        flat = torch.as_tensor(X.reshape(len(X), -1))
        if self.standardize:
            standardize = Standardize.from_data(flat, (0,))
        else:
            standardize = Standardize(torch.zeros(flat.shape[1]), torch.ones(flat.shape[1]))
        with torch.no_grad():
            features = standardize(flat).numpy()
        ridge = RidgeCV(alphas=self.alphas, cv=self.cv, scoring=self.scoring, device=self.device,
                        dtype=self.dtype).fit(features, Y, groups=groups)
        self.input_shape_ = tuple(X.shape[1:])
        self.n_dims_ = Y.shape[1]
        self._restore({"mean": standardize.mean, "scale": standardize.scale,
                       **{name: torch.as_tensor(getattr(ridge, name + "_"))
                          for name in ("coef", "intercept", "best_alphas", "cv_scores")}}, {})
        return self

    def fit_footprint(self, n_samples: int, input_shape: tuple, n_dims: int) -> int:
        """Bytes a fit holds at its peak, as ``RidgeCV`` documents its solver: three copies of
        the features (flattened, standardized, centered), the Gram or kernel matrix and its
        factorization for a fold and for the refit (float64, ``min(n_samples, n_features)``
        squared each), the fold operators of every alpha, the weights and one batch of targets."""
        n_features = math.prod(input_shape)
        rank = min(n_samples, n_features)
        itemsize = 8 if self.dtype == "float64" else 4
        return (4 * 3 * n_samples * n_features + 8 * 4 * rank**2
                + itemsize * (len(self.alphas) * n_samples * rank + 2 * n_features * n_dims)
                + _TARGET_BATCH_BYTES)

    def _fitted_tensors(self) -> dict:
        standardize = self.module_[1]
        return {"mean": standardize.mean.cpu(), "scale": standardize.scale.cpu(),
                **{name: torch.as_tensor(getattr(self, name + "_"))
                   for name in ("coef", "intercept", "best_alphas", "cv_scores")}}

    def _restore(self, tensors: dict, info: dict) -> None:
        self.coef_ = tensors["coef"].numpy()
        self.intercept_ = tensors["intercept"].numpy()
        self.best_alphas_ = tensors["best_alphas"].numpy()
        self.cv_scores_ = tensors["cv_scores"].numpy()
        linear = nn.Linear(*self.coef_.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.as_tensor(np.ascontiguousarray(self.coef_.T)))
            linear.bias.copy_(torch.as_tensor(self.intercept_))
        self.module_ = nn.Sequential(nn.Flatten(), Standardize(tensors["mean"], tensors["scale"]),
                                     linear).to(resolve_device(self.device)).eval()
