"""Fitted decoders on disk: safetensors weights plus a JSON config, written atomically."""

from __future__ import annotations

import hashlib
import json
import pathlib

import safetensors.torch

from braindecode import __version__
from braindecode._io import atomic_write, read_saved_config
from braindecode.decoding._base import PersistentDecoder
from braindecode.decoding._neural import EEGDecoder, MLPDecoder
from braindecode.decoding._ridge import RidgeDecoder
from braindecode.decoding._shared import SharedDecoder
from braindecode.errors import InvalidArgument, NotFound

FORMAT = "braindecode.decoder"
FORMAT_VERSION = 1
WEIGHTS = "weights.safetensors"
CONFIG = "config.json"
DECODERS = {cls.__name__: cls for cls in (RidgeDecoder, MLPDecoder, EEGDecoder, SharedDecoder)}


def save_decoder(model: PersistentDecoder, directory, provenance: dict | None = None) -> pathlib.Path:
    """Save a fitted decoder as ``weights.safetensors`` and ``config.json`` in ``directory``.

    The weights are written first and the config, which holds their SHA-256, last: a
    save interrupted at any point is detected by ``load_decoder``.

    Parameters
    ----------
    model : RidgeDecoder, MLPDecoder, EEGDecoder or SharedDecoder
        Fitted. The config records ``input_shape`` (``input_shapes``, per subject, for a
        ``SharedDecoder``) and ``n_dims``.
    directory : str or os.PathLike
        Created if missing; an earlier save there is replaced.
    provenance : dict, optional
        JSON-serializable training provenance (recording ids, activation set, CV scores ...).

    Returns
    -------
    directory : pathlib.Path
    """
    if type(model).__name__ not in DECODERS:
        raise InvalidArgument(f"cannot save a {type(model).__name__}; decoders are {', '.join(DECODERS)}")
    model._check_fitted()
    try:
        provenance = json.loads(json.dumps(provenance or {}))
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"provenance is not JSON-serializable: {exc}") from None
    tensors = {name: t.contiguous() for name, t in model._fitted_tensors().items()}
    weights = safetensors.torch.save(tensors)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "class": type(model).__name__,
        "params": model._params_json(),
        "modality": model.modality,
        **model._shapes_json(),
        "fitted": model._fitted_info(),
        "provenance": provenance,
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
    }
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write(directory / WEIGHTS, weights)
    atomic_write(directory / CONFIG, json.dumps(config, indent=2).encode())
    return directory


def read_decoder_config(directory) -> dict:
    """The JSON config of a saved decoder (class, parameters, modality, shapes, provenance)."""
    return read_saved_config(directory, CONFIG, FORMAT, FORMAT_VERSION, "decoder")


def load_decoder(directory, device: str | None = None) -> PersistentDecoder:
    """Load a decoder saved by ``save_decoder``; its predictions equal the saved model's.

    Parameters
    ----------
    directory : str or os.PathLike
    device : str, optional
        Torch device to load onto (default: the device it was fitted with).

    Returns
    -------
    model : RidgeDecoder, MLPDecoder, EEGDecoder or SharedDecoder
        Fitted; ``provenance_`` holds the provenance passed to ``save_decoder``.
    """
    config = read_decoder_config(directory)
    weights_path = pathlib.Path(directory) / WEIGHTS
    try:
        weights = weights_path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"no saved decoder weights in {directory} ({WEIGHTS} missing)") from None
    if hashlib.sha256(weights).hexdigest() != config.get("weights_sha256"):
        raise InvalidArgument(f"{weights_path} does not match the checksum in {CONFIG}: incomplete or altered save")
    cls = DECODERS.get(config.get("class"))
    if cls is None:
        raise InvalidArgument(f"unknown decoder class {config.get('class')!r}; known: {', '.join(DECODERS)}")
    params = dict(config["params"])
    if device is not None:
        params["device"] = device
    model = cls._from_params_json(params)
    if model.modality != config["modality"]:
        raise InvalidArgument(f"config says modality {config['modality']!r} but {cls.__name__} decodes "
                              f"{model.modality!r}")
    model._set_shapes(config)
    model._restore(safetensors.torch.load(weights), config["fitted"])
    model.provenance_ = config["provenance"]
    return model
