"""Fitted encoders: an estimator with the activation layers it takes and the brain space it predicts.

An :class:`Encoder` is a fitted :class:`RidgeCV` or :class:`BandedRidgeCV` with its inputs
(activation layers side by side, optional delays) and its outputs (a :class:`BrainSpace`: the
modality and shape of one trial's response and, for fMRI voxels, the mask and affine that put
per-voxel scores back into the recording's space).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nibabel as nib
import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from braindecode.containers import ActivationSet, BrainResponses
from braindecode.encoding._estimators import BandedRidgeCV, RidgeCV
from braindecode.encoding._features import make_delays
from braindecode.errors import FailedPrecondition, InvalidArgument

ESTIMATORS = {cls.__name__: cls for cls in (RidgeCV, BandedRidgeCV)}


def _voxel_coordinates(names, grid_shape) -> np.ndarray | None:
    """The (i, j, k) of every feature, (n_features, 3), or None when the names are not voxels of the grid."""
    try:
        coordinates = np.array([[int(part) for part in str(name).split(",")] for name in names])
    except ValueError:
        return None
    if coordinates.shape != (len(names), 3) or np.any(coordinates < 0) or np.any(coordinates >= grid_shape):
        return None
    return coordinates


@dataclass
class BrainSpace:
    """What an encoder predicts: one trial's response, and where its voxels lie.

    Parameters
    ----------
    modality : {"fmri", "eeg", "meg"}
    response_shape : tuple of int
        One trial's response: (n_features,) or (n_channels, n_times).
    feature_names : list of str, optional
        One name per feature: ``"i,j,k"`` voxels, ROI labels or channel names.
    times : array of shape (n_times,), optional
        Epoch times in seconds of 3-D EEG/MEG responses.
    mask : bool array of shape (x, y, z), optional
        The voxels of the features, which follow ``data[mask]`` (C) order; fMRI voxel features only.
    affine : array of shape (4, 4), optional
        Voxel to world (mm) transform of the mask's grid.
    """

    modality: str
    response_shape: tuple
    feature_names: list | None = None
    times: np.ndarray | None = None
    mask: np.ndarray | None = None
    affine: np.ndarray | None = None

    def __post_init__(self):
        self.response_shape = tuple(int(s) for s in self.response_shape)
        if self.feature_names is not None:
            self.feature_names = [str(name) for name in self.feature_names]
        if self.mask is not None:
            self.mask = np.asarray(self.mask, dtype=bool)
            self.affine = np.asarray(self.affine, dtype=np.float64)
            if self.mask.ndim != 3 or self.affine.shape != (4, 4):
                raise InvalidArgument(f"a brain space needs a 3-D mask and a (4, 4) affine, got shapes "
                                      f"{self.mask.shape} and {self.affine.shape}")
            if self.response_shape != (int(self.mask.sum()),):
                raise InvalidArgument(f"the mask holds {int(self.mask.sum())} voxels for responses of shape "
                                      f"{self.response_shape}")

    @property
    def n_targets(self) -> int:
        return int(np.prod(self.response_shape))

    def mask_image(self) -> nib.Nifti1Image:
        """The mask as a uint8 NIfTI image with the affine (for ``scores_to_nifti``)."""
        if self.mask is None:
            raise InvalidArgument(f"the targets of this {self.modality} encoder are not voxels of a volume; "
                                  "there is no mask to map scores into")
        image = nib.Nifti1Image(self.mask.astype(np.uint8), self.affine)
        image.set_data_dtype(np.uint8)
        return image

    @classmethod
    def from_responses(cls, responses: BrainResponses, modality: str, grid_shape=None,
                       affine=None) -> "BrainSpace":
        """The space of ``responses``; the mask is rebuilt from ``"i,j,k"`` feature names.

        Parameters
        ----------
        responses : BrainResponses
        modality : {"fmri", "eeg", "meg"}
        grid_shape : tuple of int, optional
            (x, y, z) of the recordings' voxel grid (fMRI).
        affine : array of shape (4, 4), optional
            The grid's voxel to world transform.
        """
        names = responses.feature_names
        mask = None
        if grid_shape is not None and names and responses.data.ndim == 2:
            coordinates = _voxel_coordinates(names, tuple(grid_shape))
            if coordinates is not None:
                mask = np.zeros(tuple(grid_shape), dtype=bool)
                mask[tuple(coordinates.T)] = True
                if not np.array_equal(np.argwhere(mask), coordinates):
                    raise InvalidArgument("the voxel features are not the voxels of a mask in C order (repeated "
                                          "or reordered voxels); their scores cannot be mapped back")
        return cls(modality, responses.data.shape[1:], names, responses.times, mask,
                   None if mask is None else affine)


def stack_layers(activations: ActivationSet, layers) -> np.ndarray:
    """Layers of an activation set side by side, each flattened.

    Parameters
    ----------
    activations : ActivationSet
    layers : list of str

    Returns
    -------
    X : array of shape (n_stimuli, n_features), float32
    """
    n = len(activations.stimulus_ids)
    blocks = []
    for layer in layers:
        block = np.asarray(activations[layer], dtype=np.float32).reshape(n, -1)
        bad = int(np.size(block) - np.count_nonzero(np.isfinite(block)))
        if bad:
            raise InvalidArgument(f"layer {layer!r} of the activations contains {bad} NaN or infinite values")
        blocks.append(block)
    return np.concatenate(blocks, axis=1)


@dataclass(eq=False)
class Encoder:
    """A fitted encoding model: stimulus features -> brain responses.

    Like any fitted model it equals itself only (and hashes by identity), so that a server can key
    the batches of the callers it serves by it.

    Parameters
    ----------
    estimator : RidgeCV or BandedRidgeCV
        Fitted on the (delayed) features; its targets are the flattened responses.
    layers : dict of str -> int, optional
        Features of each activation layer, in column order; default one block ``"features"``.
    delays : tuple of int, optional
        Delays in trials (see ``make_delays``) applied within each run before ``estimator``.
    space : BrainSpace, optional
        What one trial's response is; default flat targets of unknown modality.
    provenance : dict
        JSON-serializable: how the encoder was fitted.
    """

    estimator: RidgeCV | BandedRidgeCV
    layers: dict | None = None
    delays: tuple | None = None
    space: BrainSpace | None = None
    provenance: dict = field(default_factory=dict)

    def __post_init__(self):
        if type(self.estimator).__name__ not in ESTIMATORS:
            raise InvalidArgument(f"an encoder wraps a {' or '.join(ESTIMATORS)}, not a "
                                  f"{type(self.estimator).__name__}")
        try:
            check_is_fitted(self.estimator, "coef_")
        except NotFittedError:
            raise FailedPrecondition(f"this {type(self.estimator).__name__} is not fitted yet") from None
        n_delays = 1 if self.delays is None else len(self.delays)
        if self.layers is None:
            self.layers = {"features": self.estimator.n_features_in_ // n_delays}
        self.layers = {str(name): int(width) for name, width in self.layers.items()}
        if self.n_features * n_delays != self.estimator.n_features_in_:
            raise InvalidArgument(f"layers of {self.n_features} features with {n_delays} delays do not make the "
                                  f"{self.estimator.n_features_in_} features of the estimator")
        n_targets = 1 if np.ndim(self.estimator.coef_) == 1 else self.estimator.coef_.shape[1]
        if self.space is not None and self.space.n_targets != n_targets:
            raise InvalidArgument(f"the estimator predicts {n_targets} targets but the brain space has "
                                  f"{self.space.n_targets}")

    @property
    def n_features(self) -> int:
        """Features of the layers side by side, before delays."""
        return sum(self.layers.values())

    def features(self, activations: ActivationSet) -> np.ndarray:
        """The encoder's layers of an activation set side by side, checked against the fit.

        Returns
        -------
        X : array of shape (n_stimuli, n_features), float32
        """
        widths = {layer: int(np.prod(activations[layer].shape[1:])) for layer in self.layers}
        wrong = [f"{layer!r} has {widths[layer]} features, the encoder takes {width}"
                 for layer, width in self.layers.items() if widths[layer] != width]
        if wrong:
            raise InvalidArgument(f"activation layers do not fit the encoder: {'; '.join(wrong)}")
        return stack_layers(activations, self.layers)

    @property
    def response_shape(self) -> tuple:
        """One sample's predicted response: ``space.response_shape``, or (n_targets,) without a space."""
        if self.space is not None:
            return self.space.response_shape
        return (1 if np.ndim(self.estimator.coef_) == 1 else int(self.estimator.coef_.shape[1]),)

    def design(self, X, runs=None) -> np.ndarray:
        """The estimator's input: ``X`` checked and delayed.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
        runs : array of shape (n_samples,), optional
            Run of each sample; delays never cross runs. By default one run in time order.

        Returns
        -------
        X_design : array of shape (n_samples, n_delays * n_features)
        """
        X = self.check_input(X)
        return X if self.delays is None else make_delays(X, self.delays, runs)

    def check_input(self, X) -> np.ndarray:
        """Features checked against the fit: numeric, finite, ``n_features`` columns, a row at least.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)

        Returns
        -------
        X : array of shape (n_samples, n_features), floating point (float32 unless given in another)
        """
        try:
            X = np.asarray(X)
            X = X if X.dtype.kind == "f" else X.astype(np.float32)
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"features are not a numeric array: {exc}") from None
        if X.ndim != 2 or X.shape[1] != self.n_features or X.shape[0] == 0:
            layers = ", ".join(f"{name} ({width})" for name, width in self.layers.items())
            raise InvalidArgument(f"features must have shape (n, {self.n_features}) for the layers {layers}; "
                                  f"got {X.shape}")
        bad = int(X.size - np.count_nonzero(np.isfinite(X)))
        if bad:
            raise InvalidArgument(f"features contain {bad} NaN or infinite values")
        return X

    def predict(self, X, runs=None) -> np.ndarray:
        """Predicted responses.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
        runs : array of shape (n_samples,), optional
            As in :meth:`design`.

        Returns
        -------
        Y_pred : array of shape (n_samples, *space.response_shape), or (n_samples, n_targets)
        """
        predicted = self.estimator.predict(self.design(X, runs))
        return predicted.reshape((len(predicted),) + self.response_shape)

    def predict_each(self, blocks) -> list:
        """Predicted responses of several blocks of features, run together.

        Each block is a run of its own: delays never reach from one block into another, so that
        each block's responses are those of :meth:`predict` on it alone. A server joins the
        blocks of concurrent callers this way.

        Parameters
        ----------
        blocks : list of array of shape (n_i, n_features)

        Returns
        -------
        Y_pred : list of array of shape (n_i, *response_shape)
            One per block, in order.
        """
        lengths = [len(block) for block in blocks]
        predicted = self.predict(np.concatenate(blocks), np.repeat(np.arange(len(blocks)), lengths))
        return np.split(predicted, np.cumsum(lengths)[:-1])
