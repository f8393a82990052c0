"""Fitted encoders and what it takes to use them again, on disk.

An :class:`Encoder` is a fitted :class:`RidgeCV` or :class:`BandedRidgeCV` with its inputs
(activation layers side by side, optional delays) and its outputs (a :class:`BrainSpace`: the
modality and shape of one trial's response and, for fMRI voxels, the mask and affine that put
per-voxel scores back into the recording's space). ``save_encoder`` writes it as
``weights.safetensors``, ``mask.nii.gz`` (voxel spaces) and ``config.json``; ``load_encoder``
reads it back with bit-identical predictions.
"""

from __future__ import annotations

import gzip
import hashlib
import inspect
import json
import numbers
import pathlib
from dataclasses import dataclass, field

import nibabel as nib
import numpy as np
import safetensors.numpy
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from braindecode import __version__
from braindecode._io import atomic_write, read_saved_config
from braindecode.containers import ActivationSet, BrainResponses
from braindecode.encoding._cv import LeaveOneRunOut, RunKFold
from braindecode.encoding._estimators import BandedRidgeCV, RidgeCV
from braindecode.encoding._features import make_delays
from braindecode.errors import FailedPrecondition, InvalidArgument, NotFound
from braindecode.preprocessing import voxel_names

FORMAT = "braindecode.encoder"
FORMAT_VERSION = 1
WEIGHTS = "weights.safetensors"
CONFIG = "config.json"
MASK = "mask.nii.gz"
ESTIMATORS = {cls.__name__: cls for cls in (RidgeCV, BandedRidgeCV)}
#: Learned arrays of each estimator (``n_features_in_`` and ``band_labels_`` go in the config).
FITTED_ARRAYS = {
    "RidgeCV": ("coef_", "intercept_", "best_alphas_", "cv_scores_"),
    "BandedRidgeCV": ("coef_", "intercept_", "best_alphas_", "cv_scores_", "band_alphas_", "best_ratios_",
                      "ratios_"),
}
_SPLITTERS = {"LeaveOneRunOut": LeaveOneRunOut, "RunKFold": RunKFold}


def nifti_bytes(image: nib.Nifti1Image) -> bytes:
    """A NIfTI image as the bytes of a ``.nii.gz`` file (the same bytes for the same image)."""
    return gzip.compress(image.to_bytes(), mtime=0)


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


@dataclass
class Encoder:
    """A fitted encoding model: stimulus features -> brain responses.

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
        return X if self.delays is None else make_delays(X, self.delays, runs)

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
        shape = (-1,) if self.space is None else self.space.response_shape
        return predicted.reshape((len(predicted),) + shape)


def _param_to_json(value):
    if isinstance(value, LeaveOneRunOut):
        return {"splitter": "LeaveOneRunOut"}
    if isinstance(value, RunKFold):
        return {"splitter": "RunKFold", "n_splits": value.n_splits}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Number):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, (list, tuple, np.ndarray)):
        array = np.asarray(value)
        if array.dtype.kind in "biufU":
            return array.tolist()
    return {"unserializable": repr(value)}


def _param_from_json(value, default):
    if isinstance(value, dict):
        if "splitter" in value:
            return _SPLITTERS[value["splitter"]](**{k: v for k, v in value.items() if k != "splitter"})
        return default  # a parameter that JSON cannot hold (e.g. a scikit-learn splitter)
    return value


def _check_json(provenance) -> dict:
    try:
        return json.loads(json.dumps(provenance or {}))
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"provenance is not JSON-serializable: {exc}") from None


def _write_files(directory: pathlib.Path, files: dict) -> None:
    """Write name -> bytes atomically, in order (the config last: a save cut short is detected)."""
    for name, data in files.items():
        atomic_write(directory / name, data)


def save_encoder(model, directory, provenance: dict | None = None) -> pathlib.Path:
    """Save a fitted encoder in ``directory``: weights, config and, for voxel spaces, the mask.

    Parameters
    ----------
    model : Encoder, RidgeCV or BandedRidgeCV
        Fitted; a bare estimator is saved as ``Encoder(model)``.
    directory : str or os.PathLike
        Created if missing; an earlier save there is replaced.
    provenance : dict, optional
        JSON-serializable; replaces the encoder's own provenance when given.

    Returns
    -------
    directory : pathlib.Path
    """
    encoder = model if isinstance(model, Encoder) else Encoder(model)
    provenance = _check_json(encoder.provenance if provenance is None else provenance)
    estimator, name = encoder.estimator, type(encoder.estimator).__name__
    weights = safetensors.numpy.save({attr: np.array(getattr(estimator, attr), order="C")
                                      for attr in FITTED_ARRAYS[name]})
    files = {WEIGHTS: weights}
    space = encoder.space
    config_space = None
    if space is not None:
        config_space = {"modality": space.modality, "response_shape": list(space.response_shape),
                        "feature_names": space.feature_names if space.mask is None else None,
                        "times": None if space.times is None else space.times.tolist(),
                        "grid_shape": None if space.mask is None else list(space.mask.shape),
                        "affine": None if space.mask is None else space.affine.tolist()}
        if space.mask is not None:
            files[MASK] = nifti_bytes(space.mask_image())
    fitted = {"n_features_in_": int(estimator.n_features_in_)}
    if name == "BandedRidgeCV":
        fitted["band_labels_"] = np.asarray(estimator.band_labels_).tolist()
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "class": name,
        "params": {key: _param_to_json(value) for key, value in estimator.get_params().items()},
        "fitted": fitted,
        "layers": encoder.layers,
        "delays": None if encoder.delays is None else [int(d) for d in encoder.delays],
        "n_features": encoder.n_features,
        "n_targets": space.n_targets if space is not None else int(np.size(estimator.intercept_)),
        "space": config_space,
        "provenance": provenance,
        "sha256": {file: hashlib.sha256(data).hexdigest() for file, data in files.items()},
    }
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _write_files(directory, {**files, CONFIG: json.dumps(config, indent=2).encode()})
    if MASK not in files:
        (directory / MASK).unlink(missing_ok=True)  # left by an earlier save of a voxel encoder
    return directory


def read_encoder_config(directory) -> dict:
    """The JSON config of a saved encoder (class, parameters, layers, delays, brain space, provenance)."""
    return read_saved_config(directory, CONFIG, FORMAT, FORMAT_VERSION, "encoder")


def _read_checked(directory: pathlib.Path, name: str, config: dict) -> bytes:
    try:
        data = (directory / name).read_bytes()
    except FileNotFoundError:
        raise NotFound(f"saved encoder in {directory} lacks {name}") from None
    if hashlib.sha256(data).hexdigest() != config["sha256"].get(name):
        raise InvalidArgument(f"{directory / name} does not match the checksum in {CONFIG}: incomplete or "
                              "altered save")
    return data


def _load_space(directory: pathlib.Path, config: dict) -> BrainSpace | None:
    saved = config["space"]
    if saved is None:
        return None
    mask = affine = None
    if saved["grid_shape"] is not None:
        image = nib.Nifti1Image.from_bytes(gzip.decompress(_read_checked(directory, MASK, config)))
        mask, affine = np.asarray(image.dataobj) != 0, np.asarray(saved["affine"], dtype=np.float64)
        if list(mask.shape) != saved["grid_shape"]:
            raise InvalidArgument(f"{directory / MASK} has shape {mask.shape}, the config says {saved['grid_shape']}")
    names = voxel_names(mask) if mask is not None else saved["feature_names"]
    times = None if saved["times"] is None else np.asarray(saved["times"], dtype=np.float64)
    return BrainSpace(saved["modality"], saved["response_shape"], names, times, mask, affine)


def load_encoder(directory, device: str | None = None) -> Encoder:
    """Load an encoder saved by ``save_encoder``; its predictions equal the saved one's bit for bit.

    Parameters
    ----------
    directory : str or os.PathLike
    device : str, optional
        Torch device of a refit (default: the saved estimator's).

    Returns
    -------
    encoder : Encoder
        ``encoder.estimator`` is the fitted RidgeCV or BandedRidgeCV.
    """
    directory = pathlib.Path(directory)
    config = read_encoder_config(directory)
    cls = ESTIMATORS.get(config.get("class"))
    if cls is None:
        raise InvalidArgument(f"unknown encoder class {config.get('class')!r}; known: {', '.join(ESTIMATORS)}")
    arrays = safetensors.numpy.load(_read_checked(directory, WEIGHTS, config))
    defaults = {p.name: p.default for p in inspect.signature(cls).parameters.values()}
    params = {key: _param_from_json(value, defaults.get(key)) for key, value in config["params"].items()}
    if device is not None:
        params["device"] = device
    estimator = cls(**params)
    for attr in FITTED_ARRAYS[cls.__name__]:
        value = arrays[attr]
        setattr(estimator, attr, value[()] if value.ndim == 0 else value)
    estimator.n_features_in_ = config["fitted"]["n_features_in_"]
    if "band_labels_" in config["fitted"]:
        estimator.band_labels_ = np.asarray(config["fitted"]["band_labels_"])
    delays = None if config["delays"] is None else tuple(config["delays"])
    return Encoder(estimator, config["layers"], delays, _load_space(directory, config), config["provenance"])
