"""The torch device and floating dtype that a caller names, checked once for every package."""

from __future__ import annotations

import torch

from braindecode.errors import InvalidArgument, quoted

_DTYPES = {"float32": torch.float32, "float64": torch.float64}
_DEVICES = "use 'cpu', 'cuda' or 'cuda:N'"


def resolve_device(device) -> torch.device:
    """``device`` as a ``torch.device``; CUDA only where it is present.

    Parameters
    ----------
    device : str or torch.device
        "cpu", "cuda" or "cuda:N".

    Returns
    -------
    device : torch.device

    Raises
    ------
    InvalidArgument
        For an unknown or unsupported device, or CUDA without a GPU.
    """
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise InvalidArgument(f"unknown device {quoted(device)}; {_DEVICES}") from None
    if resolved.type not in ("cpu", "cuda"):
        raise InvalidArgument(f"unsupported device {quoted(device)}; {_DEVICES}")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InvalidArgument(f"device {quoted(device)} requested but CUDA is not available")
    return resolved


def resolve_dtype(dtype) -> torch.dtype:
    """The torch dtype named by ``dtype``.

    Parameters
    ----------
    dtype : {"float32", "float64"} or torch.dtype
        ``torch.float32`` or ``torch.float64`` when a torch dtype.

    Returns
    -------
    dtype : torch.dtype

    Raises
    ------
    InvalidArgument
        For any other dtype.
    """
    if isinstance(dtype, torch.dtype) and dtype in _DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype in _DTYPES:
        return _DTYPES[dtype]
    raise InvalidArgument(f"unsupported dtype {quoted(dtype)}; use 'float32' or 'float64'")
