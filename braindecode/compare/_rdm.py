"""Representational dissimilarity matrices (RDMs) from condition patterns."""

from __future__ import annotations

import numpy as np
import torch

from braindecode._devices import resolve_device, resolve_dtype
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


def _unit_rows(X: torch.Tensor, reference: torch.Tensor, what: str, name: str) -> torch.Tensor:
    """Rows of ``X`` scaled to unit norm; a row whose norm is rounding noise
    relative to the same row of ``reference`` is an error."""
    norms = torch.linalg.vector_norm(X, dim=-1, keepdim=True)
    scale = torch.linalg.vector_norm(reference, dim=-1)
    zero = norms[..., 0] <= 64 * torch.finfo(X.dtype).eps * scale + torch.finfo(X.dtype).tiny
    if bool(zero.any()):
        where = torch.nonzero(zero)[0].tolist()
        raise InvalidArgument(
            f"{name}: condition {where[-1]}" + (f" of set {where[0]}" if X.shape[0] > 1 else "")
            + f" has {what}; the distance is undefined"
        )
    return X / norms


def square_distances(X: torch.Tensor, method: str, name: str = "X") -> torch.Tensor:
    """Square RDMs of ``X`` (n_sets, n_conditions, n_features) for one of the non-cross-validated methods."""
    if method == "correlation":
        centred = X - X.mean(dim=-1, keepdim=True)
        unit = _unit_rows(centred, X, "zero variance across features (a constant pattern)", name)
        dist = 1 - unit @ unit.transpose(-1, -2)
    elif method == "cosine":
        unit = _unit_rows(X, X, "an all-zero pattern", name)
        dist = 1 - unit @ unit.transpose(-1, -2)
    else:
        centred = X - X.mean(dim=-2, keepdim=True)
        sq_norms = (centred * centred).sum(dim=-1)
        dist = sq_norms[..., :, None] + sq_norms[..., None, :] - 2 * centred @ centred.transpose(-1, -2)
        dist = dist.clamp_min(0)
        if method == "sqeuclidean":
            dist = dist / X.shape[-1]
        else:
            dist = dist.sqrt()
    dist = (dist + dist.transpose(-1, -2)) / 2
    return dist * (1 - torch.eye(dist.shape[-1], dtype=dist.dtype, device=dist.device))


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
        (rsatoolbox ``euclidean``). Use :func:`crossnobis_rdm` for crossnobis.
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
