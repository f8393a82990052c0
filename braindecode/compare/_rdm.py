"""Representational dissimilarity matrices (RDMs) from condition patterns."""

from __future__ import annotations

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


def kernel_distances(kernel: torch.Tensor, symmetric: bool = False) -> torch.Tensor:
    """Squared distances ``k_ii + k_jj - k_ij - k_ji`` from inner products (..., n, n), clamped at 0.

    Exactly symmetric, with a zero diagonal. A ``symmetric`` kernel (as :func:`gram` returns)
    is overwritten: ``2 k_ij`` in place, without reading its transpose.
    """
    diagonal = torch.diagonal(kernel, dim1=-2, dim2=-1)
    sums = diagonal[..., :, None] + diagonal[..., None, :]
    twice = kernel.mul_(2) if symmetric else kernel + kernel.transpose(-1, -2)
    return sums.sub_(twice).clamp_(min=0)


def square_distances(X: torch.Tensor, method: str, name: str = "X") -> torch.Tensor:
    """Square RDMs of ``X`` (n_sets, n_conditions, n_features) for one of the non-cross-validated methods.

    Every method is one product of the (centred) patterns with themselves; the norms
    come from its diagonal.
    """
    if method not in ("correlation", "cosine"):
        dist = kernel_distances(gram(X - X.mean(dim=-2, keepdim=True)), symmetric=True)
        return dist.div_(X.shape[-1]) if method == "sqeuclidean" else dist.sqrt_()
    means = X.mean(dim=-1, keepdim=True) if method == "correlation" else None
    products = gram(X - means if method == "correlation" else X)
    squares = torch.diagonal(products, dim1=-2, dim2=-1)
    what = "zero variance across features (a constant pattern)" if means is not None else "an all-zero pattern"
    # the squared norm of a row of X is that of its centred row plus n_features * mean^2
    reference = squares if means is None else squares + X.shape[-1] * means[..., 0] ** 2
    _check_norms(squares, reference, what, name)
    scale = squares.rsqrt()
    # the outer product of the scales is exactly symmetric, so the distances are as symmetric as ``products``
    dist = products.mul_(scale[..., :, None] * scale[..., None, :]).neg_().add_(1)
    dist.diagonal(dim1=-2, dim2=-1).zero_()
    return dist


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
    tensor = as_tensor(X, "X", dtype, device, ndims=(2, 3))
    batched = tensor.ndim == 3
    tensor = tensor if batched else tensor[None]
    check_n_conditions(tensor.shape[1], "X")
    rdms = square_distances(tensor, method)
    return like(rdms if batched else rdms[0], X)
