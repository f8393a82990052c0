"""Checks on the brain data and embeddings that decoders receive."""

from __future__ import annotations

import numpy as np
import torch

from braindecode.containers import BrainResponses
from braindecode.errors import InvalidArgument

MODALITIES = ("fmri", "eeg")
_LAYOUT = {
    "fmri": (2, "(n_samples, n_voxels)", "EEG/MEG epochs"),
    "eeg": (3, "(n_trials, n_channels, n_times)", "fMRI responses"),
}


def check_modality(modality: str) -> str:
    """``modality`` if it is one of ``MODALITIES``, else ``InvalidArgument``."""
    if modality not in MODALITIES:
        raise InvalidArgument(f"unknown modality {modality!r}; use one of {', '.join(MODALITIES)}")
    return modality


def check_device(device) -> torch.device:
    """``device`` as a torch device; ``InvalidArgument`` if unknown or CUDA is absent."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise InvalidArgument(f"unknown device {device!r}; use 'cpu', 'cuda' or 'cuda:N'") from None
    if resolved.type not in ("cpu", "cuda"):
        raise InvalidArgument(f"unsupported device {device!r}; use 'cpu', 'cuda' or 'cuda:N'")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InvalidArgument(f"device {device!r} requested but CUDA is not available")
    return resolved


def _check_finite(arr: np.ndarray, name: str) -> None:
    bad = np.count_nonzero(~np.isfinite(arr))
    if bad:
        raise InvalidArgument(f"{name} contains {bad} NaN or infinite values")


def _as_float32(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise InvalidArgument(f"{name} must be numeric, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def check_input(X, modality: str, input_shape=None) -> np.ndarray:
    """Validate brain data for a decoder of ``modality``.

    Parameters
    ----------
    X : array of shape (n_samples, n_voxels) or (n_trials, n_channels, n_times), or BrainResponses
        2-D responses for "fmri", 3-D epochs for "eeg".
    modality : {"fmri", "eeg"}
        The modality the decoder was (or will be) fitted on.
    input_shape : tuple of int, optional
        Per-sample shape the decoder was fitted on: ``(n_voxels,)`` or ``(n_channels, n_times)``.

    Returns
    -------
    X : array of shape (n_samples, *input_shape), float32
    """
    check_modality(modality)
    if isinstance(X, BrainResponses):
        X = X.data
    X = _as_float32(X, "brain data")
    ndim, layout, other = _LAYOUT[modality]
    if X.ndim != ndim:
        hint = f" (this looks like {other})" if X.ndim in (2, 3) else ""
        raise InvalidArgument(
            f"a {modality} decoder expects {ndim}-D data {layout}; got shape {X.shape}{hint}")
    if X.shape[0] == 0:
        raise InvalidArgument("brain data has no samples")
    if input_shape is not None and tuple(X.shape[1:]) != tuple(input_shape):
        raise InvalidArgument(
            f"decoder was fitted on samples of shape {tuple(input_shape)}, got {tuple(X.shape[1:])} "
            f"(data layout {layout})")
    _check_finite(X, "brain data")
    return X


def check_embeddings(Y, n_samples: int | None = None, n_dims: int | None = None, name: str = "embeddings"):
    """Validate a 2-D float array of embeddings.

    Parameters
    ----------
    Y : array of shape (n_samples, n_dims)
    n_samples, n_dims : int, optional
        Expected row and column counts.

    Returns
    -------
    Y : array of shape (n_samples, n_dims), float32
    """
    Y = _as_float32(Y, name)
    if Y.ndim != 2:
        raise InvalidArgument(f"{name} must be 2-D (n_samples, n_dims), got shape {Y.shape}")
    if n_samples is not None and Y.shape[0] != n_samples:
        raise InvalidArgument(f"{name} have {Y.shape[0]} rows for {n_samples} brain samples")
    if n_dims is not None and Y.shape[1] != n_dims:
        raise InvalidArgument(f"{name} have {Y.shape[1]} dimensions, expected {n_dims}")
    if Y.shape[0] == 0 or Y.shape[1] == 0:
        raise InvalidArgument(f"{name} are empty (shape {Y.shape})")
    _check_finite(Y, name)
    return Y
