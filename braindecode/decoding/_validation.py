"""Checks on the brain data, embeddings and hyper-parameters that decoders receive."""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

from braindecode.containers import BrainResponses
from braindecode.errors import InvalidArgument, quoted

_LAYOUT = {
    "fmri": (2, "(n_samples, n_voxels)", "EEG/MEG epochs"),
    "eeg": (3, "(n_trials, n_channels, n_times)", "fMRI responses"),
}


@dataclasses.dataclass(frozen=True)
class Interval:
    """The documented range of a hyper-parameter; ``str()`` gives it as docstrings quote it.

    Parameters
    ----------
    kind : {int, float}
        int: the value must be an integer; float: any real number.
    low, high : float
        The ends of the range (``math.inf`` for none).
    closed : {"both", "left", "right", "neither"}
        Which ends belong to the range.
    max_count : int, optional
        When given, the parameter is a sequence of 1 to ``max_count`` values, each in the range.
    """

    kind: type
    low: float
    high: float
    closed: str = "both"
    max_count: int | None = None

    def __str__(self) -> str:
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        span = f"{left}{_number(self.low)}, {_number(self.high)}{right}"
        return span if self.max_count is None else f"1 to {self.max_count} values in {span}"

    def describe(self) -> str:
        """What a value must be, for error messages: "an integer in [1, 256]"."""
        if self.max_count is not None:
            return f"a sequence of {self}"
        return f"{'an integer' if self.kind is int else 'a number'} in {self}"

    def holds(self, value) -> bool:
        """Whether ``value`` is in the range (of the right kind, and for a sequence its length)."""
        if self.max_count is None:
            return self._holds_one(value)
        return (isinstance(value, (list, tuple, np.ndarray)) and np.ndim(value) == 1
                and 1 <= len(value) <= self.max_count and all(map(self._holds_one, value)))

    def _holds_one(self, value) -> bool:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            return False
        if self.kind is int and not isinstance(value, numbers.Integral):
            return False
        above = value >= self.low if self.closed in ("both", "left") else value > self.low
        below = value <= self.high if self.closed in ("both", "right") else value < self.high
        return bool(above and below)


def _number(value: float) -> str:
    if math.isinf(value) or not float(value).is_integer():
        return f"{value:g}"
    return str(int(value))


def check_ranges(owner: str, values: dict, ranges: dict) -> None:
    """``InvalidArgument`` naming the first of ``values`` outside its range.

    Parameters
    ----------
    owner : str
        Who the values belong to, for the message ("EEGDecoder", "training").
    values : dict of str -> value
    ranges : dict of str -> Interval
        The owner's table of ranges; every name in it must be in ``values``.
    """
    for name, interval in ranges.items():
        if not interval.holds(values[name]):
            raise InvalidArgument(f"{owner} {name}={quoted(values[name])} is out of range: it must "
                                  f"be {interval.describe()}")


def check_modality(modality: str) -> str:
    """``modality`` if a decoder takes it ("fmri" or "eeg"), else ``InvalidArgument``."""
    if modality not in _LAYOUT:
        raise InvalidArgument(f"unknown modality {quoted(modality)}; use one of {', '.join(_LAYOUT)}")
    return modality


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


def check_subject_input(X, modality: str, subject: str, input_shape) -> np.ndarray:
    """``check_input`` of samples for one subject's adapter: a mismatch names the subject and both sizes.

    Parameters
    ----------
    X : array of shape (n_samples, n_voxels), or BrainResponses
    modality : str
    subject : str
    input_shape : tuple of int
        ``(n_voxels,)`` of the subject's adapter.

    Returns
    -------
    X : array of shape (n_samples, n_voxels), float32
    """
    X = check_input(X, modality)
    if tuple(X.shape[1:]) != tuple(input_shape):
        raise InvalidArgument(f"subject {quoted(subject)} has an adapter for {math.prod(input_shape)} voxels, got "
                              f"samples of {math.prod(X.shape[1:])} voxels")
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
