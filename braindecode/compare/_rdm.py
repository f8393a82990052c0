"""Representational dissimilarity matrices (RDMs) from condition patterns."""

from __future__ import annotations

import numba
import numpy as np
import torch

from braindecode._devices import resolve_device, resolve_dtype
from braindecode._products import gram
from braindecode.compare._checks import (
    as_tensor,
    check_choice,
    check_n_conditions,
    like,
    n_conditions_from_pairs,
)
from braindecode.errors import InvalidArgument

RDM_METHODS = ("correlation", "cosine", "euclidean", "sqeuclidean", "crossnobis")


def pair_indices(n_conditions: int, device=None) -> tuple:
    """Row and column indices (i < j) of the upper triangle, in row-major order.

    The same order as ``scipy.spatial.distance.squareform`` and rsatoolbox.
    """
    rows, cols = torch.triu_indices(n_conditions, n_conditions, offset=1, device=device)
    return rows, cols


def rdm_to_vector(rdms):
    """Upper triangles (without the diagonal) of square RDMs.

    Parameters
    ----------
    rdms : array of shape (..., n_conditions, n_conditions)

    Returns
    -------
    vectors : array of shape (..., n_conditions * (n_conditions - 1) / 2)
        Row-major upper-triangle order, as ``scipy.spatial.distance.squareform``.
    """
    if not isinstance(rdms, torch.Tensor):
        rdms = np.asarray(rdms)
    if rdms.ndim < 2 or rdms.shape[-1] != rdms.shape[-2]:
        raise InvalidArgument(f"RDMs must be square in their last two axes, got shape {tuple(rdms.shape)}")
    n = rdms.shape[-1]
    if isinstance(rdms, torch.Tensor):
        rows, cols = pair_indices(n, rdms.device)
    else:
        rows, cols = np.triu_indices(n, k=1)
    return rdms[..., rows, cols]


def vector_to_rdm(vectors):
    """Square symmetric RDMs with a zero diagonal from upper-triangle vectors.

    Parameters
    ----------
    vectors : array of shape (..., n_pairs)
        ``n_pairs = n_conditions * (n_conditions - 1) / 2``, row-major upper triangle.

    Returns
    -------
    rdms : array of shape (..., n_conditions, n_conditions)
    """
    as_torch = isinstance(vectors, torch.Tensor)
    tensor = vectors if as_torch else torch.from_numpy(np.asarray(vectors))
    if tensor.ndim < 1:
        raise InvalidArgument("RDM vectors must have at least one dimension")
    n = n_conditions_from_pairs(tensor.shape[-1], "RDM vectors")
    rows, cols = pair_indices(n, tensor.device)
    square = tensor.new_zeros(tensor.shape[:-1] + (n, n))
    square[..., rows, cols] = tensor
    square[..., cols, rows] = tensor
    return square if as_torch else square.numpy()


def _check_norms(squares: torch.Tensor, reference: torch.Tensor, what: str, name: str) -> None:
    """Reject rows whose squared norm (n_sets, n_conditions) is rounding noise next to
    ``reference``, the squared norm of the same row of the input."""
    eps, tiny = torch.finfo(squares.dtype).eps, torch.finfo(squares.dtype).tiny
    zero = squares.clamp(min=0).sqrt() <= 64 * eps * reference.clamp(min=0).sqrt() + tiny
    if bool(zero.any()):
        where = torch.nonzero(zero)[0].tolist()
        raise InvalidArgument(
            f"{name}: condition {where[-1]}" + (f" of set {where[0]}" if squares.shape[0] > 1 else "")
            + f" has {what}; the distance is undefined"
        )


def kernel_distances(kernel: torch.Tensor, divisor: float = 1, clamp: bool = True, root: bool = False,
                     symmetric: bool = False) -> torch.Tensor:
    """Distances ``(k_ii + k_jj - k_ij - k_ji) / divisor`` from inner products (..., n, n).

    Clamped at 0 with ``clamp``, square-rooted with ``root``; exactly symmetric, with a zero
    diagonal. ``kernel`` is overwritten. On the CPU one compiled pass, which for a ``symmetric``
    kernel (as :func:`gram` returns) never reads the transpose; elsewhere torch's elementwise
    operations.
    """
    if kernel.device.type == "cpu":
        flat = kernel.reshape(-1, *kernel.shape[-2:])
        _pair_distances(flat.numpy(), float(divisor), clamp, root, symmetric)
        return flat.view(kernel.shape)
    diagonal = torch.diagonal(kernel, dim1=-2, dim2=-1)
    dist = (diagonal[..., :, None] + diagonal[..., None, :]).sub_(kernel + kernel.transpose(-1, -2))
    dist = dist.clamp_(min=0) if clamp else dist
    dist = dist.div_(divisor) if divisor != 1 else dist
    return dist.sqrt_() if root else dist


def _unit_distances(products: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``1 - k_ij s_i s_j`` from symmetric inner products (..., n, n) and scales (..., n), in place; zero diagonal."""
    if products.device.type == "cpu":
        flat = products.reshape(-1, *products.shape[-2:])
        _scaled_distances(flat.numpy(), scale.reshape(len(flat), -1).numpy())
        return flat.view(products.shape)
    # the outer product of the scales is exactly symmetric, so the distances are as symmetric as ``products``
    dist = products.mul_(scale[..., :, None] * scale[..., None, :]).neg_().add_(1)
    dist.diagonal(dim1=-2, dim2=-1).zero_()
    return dist


_BLOCK = 64  # pairs are visited in square blocks, so the transposed reads stay in the cache


@numba.njit(cache=True, nogil=True)
def _pair_distances(kernel, divisor, clamp, root, symmetric):
    """:func:`kernel_distances` in place on ``kernel`` (n_sets, n, n), in its dtype."""
    n_sets, n, _ = kernel.shape
    diagonal = np.empty(n, dtype=kernel.dtype)
    zero, divisor = np.zeros(1, dtype=kernel.dtype)[0], np.full(1, divisor, dtype=kernel.dtype)[0]
    for index in range(n_sets):  # indexed, not iterated: the rows keep their C layout and run in SIMD lanes
        matrix = kernel[index]
        for i in range(n):
            diagonal[i] = matrix[i, i]
        if symmetric:
            for i in range(n):
                row = matrix[i]
                for j in range(n):
                    row[j] = _distance(diagonal[i] + diagonal[j] - (row[j] + row[j]), divisor, zero, clamp, root)
                row[i] = zero
            continue
        for block_i in range(0, n, _BLOCK):
            for block_j in range(block_i, n, _BLOCK):
                for i in range(block_i, min(block_i + _BLOCK, n)):
                    for j in range(max(i + 1, block_j), min(block_j + _BLOCK, n)):
                        value = _distance(diagonal[i] + diagonal[j] - (matrix[i, j] + matrix[j, i]), divisor, zero,
                                          clamp, root)
                        matrix[i, j] = value
                        matrix[j, i] = value
        for i in range(n):
            matrix[i, i] = zero


@numba.njit(inline="always")
def _distance(numerator, divisor, zero, clamp, root):
    """One distance of :func:`_pair_distances` from ``k_ii + k_jj - k_ij - k_ji``."""
    value = numerator / divisor
    value = zero if clamp and value < zero else value
    return np.sqrt(value) if root else value


@numba.njit(cache=True, nogil=True)
def _scaled_distances(products, scale):
    """:func:`_unit_distances` in place on ``products`` (n_sets, n, n) with ``scale`` (n_sets, n)."""
    one = np.ones(1, dtype=products.dtype)[0]
    for index in range(len(products)):
        matrix, row_scale = products[index], scale[index]
        for i in range(len(matrix)):
            row = matrix[i]
            for j in range(len(row)):
                row[j] = one - row[j] * (row_scale[i] * row_scale[j])
            row[i] = one - one


def square_distances(X: torch.Tensor, method: str, name: str = "X") -> torch.Tensor:
    """Square RDMs of ``X`` (n_sets, n_conditions, n_features) for one of the non-cross-validated methods.

    Every method is one product of the (centred) patterns with themselves; the norms
    come from its diagonal, which also tells a NaN or infinite value anywhere in ``X``
    (so ``X`` need not be checked before).
    """
    normalised = method in ("correlation", "cosine")  # else a distance of the patterns centred over conditions
    means = X.mean(dim=-1 if normalised else -2, keepdim=True) if method != "cosine" else None
    products = gram(X if means is None else X - means)
    squares = torch.diagonal(products, dim1=-2, dim2=-1)
    if not bool(torch.isfinite(squares).all()):
        raise InvalidArgument(f"{name} contains NaN or infinite values (or values whose squares overflow)")
    if not normalised:
        divisor = X.shape[-1] if method == "sqeuclidean" else 1
        return kernel_distances(products, divisor, root=method == "euclidean", symmetric=True)
    what = "zero variance across features (a constant pattern)" if means is not None else "an all-zero pattern"
    # the squared norm of a row of X is that of its centred row plus n_features * mean^2
    reference = squares if means is None else squares + X.shape[-1] * means[..., 0] ** 2
    _check_norms(squares, reference, what, name)
    return _unit_distances(products, squares.rsqrt())


def compute_rdm(X, method: str = "correlation", device="cpu", dtype="float32"):
    """RDMs of condition patterns.

    Parameters
    ----------
    X : array of shape (n_conditions, n_features) or (n_sets, n_conditions, n_features)
        One pattern per condition (rows); a leading axis computes many RDMs at once.
    method : {"correlation", "cosine", "euclidean", "sqeuclidean"}
        "correlation": 1 - Pearson r between patterns (rsatoolbox ``correlation``);
        "cosine": 1 - cosine similarity (``scipy.spatial.distance.pdist``);
        "euclidean": Euclidean norm of the difference (``pdist``);
        "sqeuclidean": squared Euclidean distance divided by ``n_features``
        (rsatoolbox ``euclidean``). Use :func:`mahalanobis_rdm` for Mahalanobis distances
        and :func:`crossnobis_rdm` for crossnobis.
    device : str or torch.device
    dtype : {"float32", "float64"}

    Returns
    -------
    rdms : array of shape (n_conditions, n_conditions) or (n_sets, n_conditions, n_conditions)
        Symmetric, zero diagonal.
    """
    check_choice(method, RDM_METHODS, "RDM method")
    if method == "crossnobis":
        raise InvalidArgument("crossnobis needs per-run patterns: call crossnobis_rdm(patterns)")
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    tensor = as_tensor(X, "X", dtype, device, ndims=(2, 3), finite=False)  # square_distances tells
    batched = tensor.ndim == 3
    tensor = tensor if batched else tensor[None]
    check_n_conditions(tensor.shape[1], "X")
    rdms = square_distances(tensor, method)
    return like(rdms if batched else rdms[0], X)
