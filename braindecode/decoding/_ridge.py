"""Linear decoder: standardized brain data -> embeddings by ``braindecode.encoding.RidgeCV``."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from braindecode.decoding._base import BaseDecoder
from braindecode.decoding._networks import Standardize
from braindecode.decoding._validation import check_device, check_embeddings, check_input
from braindecode.encoding import RidgeCV

DEFAULT_ALPHAS = RidgeCV().get_params()["alphas"]


class RidgeDecoder(BaseDecoder):
    """Ridge regression from brain data to embeddings, one alpha per embedding dimension.

    Features are z-scored with the training statistics, then ``RidgeCV`` picks each
    dimension's alpha by cross-validation and refits on all samples. EEG epochs are
    flattened to (n_trials, n_channels * n_times).

    Parameters
    ----------
    alphas : sequence of float
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

    def __init__(self, alphas=DEFAULT_ALPHAS, cv=5, standardize: bool = True, scoring: str = "r2",
                 modality: str = "fmri", device: str = "cpu", dtype: str = "float32"):
        self.alphas = alphas
        self.cv = cv
        self.standardize = standardize
        self.scoring = scoring
        self.modality = modality
        self.device = device
        self.dtype = dtype

    def fit(self, X, Y, groups=None):
        """Fit the regression.

        Parameters
        ----------
        X : array of shape (n_samples, n_voxels) or (n_trials, n_channels, n_times)
        Y : array of shape (n_samples, n_dims)
        groups : array of shape (n_samples,), optional
            Run of each sample; cross-validation folds never split a run.

        Returns
        -------
        self
        """
        check_device(self.device)
        X = check_input(X, self.modality)
        Y = check_embeddings(Y, len(X), name="target embeddings")
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
                                     linear).to(check_device(self.device)).eval()
