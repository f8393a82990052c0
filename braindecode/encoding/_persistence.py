"""Fitted encoders on disk: ``save_encoder`` writes ``weights.safetensors``, ``mask.nii.gz`` (voxel
spaces) and ``config.json``; ``load_encoder`` reads them back with bit-identical predictions.
"""

from __future__ import annotations

import gzip
import hashlib
import inspect
import json
import numbers
import pathlib

import nibabel as nib
import numpy as np
import safetensors.numpy

from braindecode import __version__
from braindecode._io import atomic_write, read_saved_config
from braindecode.encoding._cv import LeaveOneRunOut, RunKFold
from braindecode.encoding._encoder import ESTIMATORS, BrainSpace, Encoder
from braindecode.encoding._nifti import nifti_bytes
from braindecode.errors import InvalidArgument, NotFound
from braindecode.preprocessing import voxel_names

FORMAT = "braindecode.encoder"
FORMAT_VERSION = 1
WEIGHTS = "weights.safetensors"
CONFIG = "config.json"
MASK = "mask.nii.gz"
#: Learned arrays of each estimator (``n_features_in_`` and ``band_labels_`` go in the config).
FITTED_ARRAYS = {
    "RidgeCV": ("coef_", "intercept_", "best_alphas_", "cv_scores_"),
    "BandedRidgeCV": ("coef_", "intercept_", "best_alphas_", "cv_scores_", "band_alphas_", "best_ratios_",
                      "ratios_"),
}
_SPLITTERS = {"LeaveOneRunOut": LeaveOneRunOut, "RunKFold": RunKFold}


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
