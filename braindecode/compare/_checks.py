"""Input checks and array conversion shared by the comparison functions.

Public functions take numpy arrays or torch tensors. Math runs in torch on
``device``; a function given numpy arrays answers with numpy arrays, one given
tensors answers with tensors on ``device``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from braindecode.errors import InvalidArgument


def as_tensor(array, name: str, dtype: torch.dtype, device: torch.device, ndims=(2,),
              finite: bool = True) -> torch.Tensor:
    """``array`` as a floating tensor with one of the allowed numbers of dimensions, checked
    to be finite unless ``finite`` is False (for callers whose own arithmetic tells)."""
    if isinstance(array, torch.Tensor):
        tensor = array.detach()
    else:
        numpy_dtype = np.float64 if dtype == torch.float64 else np.float32
        try:
            tensor = torch.from_numpy(np.asarray(array, dtype=numpy_dtype))
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"{name} is not a numeric array: {exc}") from None
    if tensor.ndim not in ndims:
        wanted = " or ".join(f"{n}-D" for n in ndims)
        raise InvalidArgument(f"{name} must be {wanted}, got shape {tuple(tensor.shape)}")
    if tensor.numel() == 0:
        raise InvalidArgument(f"{name} is empty (shape {tuple(tensor.shape)})")
    if tensor.is_complex():
        raise InvalidArgument(f"{name} has unsupported dtype {tensor.dtype}")
    tensor = tensor.to(device=device, dtype=dtype)
    # min and max are NaN where any value is, infinite where any value is: one pass, no mask
    if finite and not bool(torch.isfinite(torch.stack(torch.aminmax(tensor))).all()):
        raise InvalidArgument(f"{name} contains NaN or infinite values")
    return tensor


def like(result: torch.Tensor, template):
    """``result`` as numpy when ``template`` is not a tensor, else as it is."""
    if isinstance(template, torch.Tensor):
        return result
    return result.detach().cpu().numpy()


def check_choice(value: str, choices, what: str) -> str:
    if value not in choices:
        raise InvalidArgument(f"unknown {what} {value!r}; choose one of: {', '.join(choices)}")
    return value


def check_n_conditions(n: int, name: str, minimum: int = 3) -> None:
    if n < minimum:
        raise InvalidArgument(f"{name} has {n} conditions; at least {minimum} are needed")


def n_conditions_from_pairs(n_pairs: int, name: str) -> int:
    """Number of conditions of an RDM whose upper triangle holds ``n_pairs`` entries."""
    n = int(round((1 + math.sqrt(1 + 8 * n_pairs)) / 2))
    if n * (n - 1) // 2 != n_pairs:
        raise InvalidArgument(
            f"{name} has {n_pairs} entries per RDM, which is not n*(n-1)/2 for any n; "
            "pass upper-triangle vectors (see rdm_to_vector)"
        )
    check_n_conditions(n, name)
    return n


def check_not_constant(vectors: torch.Tensor, name: str) -> None:
    """Reject RDM vectors of shape (n_rdms, n_pairs) that hold a single value."""
    spread = vectors.amax(dim=-1) - vectors.amin(dim=-1)
    scale = vectors.abs().amax(dim=-1)
    flat = spread <= 8 * torch.finfo(vectors.dtype).eps * scale
    if bool(flat.any()):
        index = int(torch.nonzero(flat)[0, 0])
        raise InvalidArgument(f"{name}: RDM {index} is constant, so no comparison with it is defined")


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidArgument(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def check_count(value, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidArgument(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
