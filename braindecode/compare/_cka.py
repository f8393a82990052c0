"""Centered kernel alignment (CKA) with linear or RBF kernels, biased or debiased HSIC.

CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) (Kornblith et al. 2019). The
biased HSIC is proportional to <HKH, HLH>; the debiased (unbiased) HSIC of Song
et al. (2012) is proportional to <U(K), U(L)> with U the U-centering of
Szekely & Rizzo (2014). Either way CKA is the cosine between flattened centred
Gram matrices, so many representations are compared with one matrix product.
"""

from __future__ import annotations

import torch

from braindecode._devices import resolve_device, resolve_dtype
from braindecode.compare._checks import (
    as_tensor,
    check_choice,
    check_n_conditions,
    like,
)
from braindecode.errors import InvalidArgument

CKA_KERNELS = ("linear", "rbf")


def _median(values: torch.Tensor) -> torch.Tensor:
    """Median of each row of ``values`` (n_rows, n), the mean of the two middle values
    when ``n`` is even (as ``numpy.median``)."""
    n = values.shape[-1]
    low = torch.kthvalue(values, (n + 1) // 2, dim=-1).values
    high = torch.kthvalue(values, n // 2 + 1, dim=-1).values
    return (low + high) / 2


def gram(X: torch.Tensor, kernel: str, rbf_threshold: float) -> torch.Tensor:
    """Kernel matrices (n_sets, n, n) of patterns ``X`` (n_sets, n, n_features).

    The RBF bandwidth follows Kornblith et al.: sigma^2 = rbf_threshold^2 * the
    median squared distance between patterns (the zero diagonal included).
    """
    centred = X - X.mean(dim=-2, keepdim=True)
    linear = centred @ centred.transpose(-1, -2)
    if kernel == "linear":
        return linear
    sq_norms = torch.diagonal(linear, dim1=-2, dim2=-1)
    sq_distances = (sq_norms[..., :, None] + sq_norms[..., None, :] - 2 * linear).clamp_min(0)
    median = _median(sq_distances.flatten(-2))
    if bool((median <= 0).any()):
        raise InvalidArgument(
            "the median squared distance between patterns is zero (most conditions have identical "
            "patterns), so the RBF bandwidth is undefined"
        )
    return torch.exp(-sq_distances / (2 * rbf_threshold**2 * median[..., None, None]))


def centre_gram(K: torch.Tensor, debiased: bool) -> torch.Tensor:
    """Double-centred (H K H) or U-centred (debiased) kernel matrices, same shape as ``K``."""
    n = K.shape[-1]
    if not debiased:
        row_means = K.mean(dim=-1, keepdim=True)
        return K - row_means - row_means.transpose(-1, -2) + row_means.mean(dim=-2, keepdim=True)
    off = K * (1 - torch.eye(n, dtype=K.dtype, device=K.device))
    row_sums = off.sum(dim=-1, keepdim=True)
    total = row_sums.sum(dim=-2, keepdim=True)
    centred = off - row_sums / (n - 2) - row_sums.transpose(-1, -2) / (n - 2) + total / ((n - 1) * (n - 2))
    return centred * (1 - torch.eye(n, dtype=K.dtype, device=K.device))


def cka_signatures(X: torch.Tensor, kernel: str, debiased: bool, rbf_threshold: float, name: str) -> torch.Tensor:
    """Unit-norm flattened centred Gram matrices (n_sets, n * n) of ``X`` (n_sets, n, n_features)."""
    check_n_conditions(X.shape[-2], name, minimum=4 if debiased else 3)
    spread = torch.linalg.vector_norm(X - X.mean(dim=-2, keepdim=True), dim=(-2, -1))
    flat = spread <= 64 * torch.finfo(X.dtype).eps * torch.linalg.vector_norm(X, dim=(-2, -1))
    if bool(flat.any()):
        raise InvalidArgument(
            f"{name}: set {int(torch.nonzero(flat)[0, 0])} has no variance across conditions "
            "(all features constant), so CKA is undefined"
        )
    centred = centre_gram(gram(X, kernel, rbf_threshold), debiased).flatten(-2)
    norms = torch.linalg.vector_norm(centred, dim=-1, keepdim=True)
    if bool((norms == 0).any()):
        raise InvalidArgument(f"{name}: a centred Gram matrix is zero, so CKA is undefined")
    return centred / norms


def _check_threshold(rbf_threshold) -> float:
    if isinstance(rbf_threshold, bool) or not isinstance(rbf_threshold, (int, float)) or not rbf_threshold > 0:
        raise InvalidArgument(f"rbf_threshold must be a positive number, got {rbf_threshold!r}")
    return float(rbf_threshold)


def cka(
    X, Y, kernel: str = "linear", debiased: bool = False, rbf_threshold: float = 1.0, device="cpu", dtype="float32"
):
    """Centered kernel alignment between representations of the same conditions.

    Parameters
    ----------
    X : array of shape (n_conditions, n_features) or (n_a, n_conditions, n_features)
    Y : array of shape (n_conditions, n_features_y) or (n_b, n_conditions, n_features_y)
    kernel : {"linear", "rbf"}
    debiased : bool
        Use the unbiased HSIC estimator (needs at least 4 conditions).
    rbf_threshold : float
        RBF bandwidth as a fraction of the median distance between patterns.
    device : str or torch.device
    dtype : {"float32", "float64"}

    Returns
    -------
    score : float for 2-D inputs, else array of shape (n_a, n_b)
        1 for representations equal up to rotation and isotropic scaling (linear).
    """
    check_choice(kernel, CKA_KERNELS, "CKA kernel")
    rbf_threshold = _check_threshold(rbf_threshold)
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    tensor_x = as_tensor(X, "X", dtype, device, ndims=(2, 3))
    tensor_y = as_tensor(Y, "Y", dtype, device, ndims=(2, 3))
    if tensor_x.shape[-2] != tensor_y.shape[-2]:
        raise InvalidArgument(f"X has {tensor_x.shape[-2]} conditions but Y has {tensor_y.shape[-2]}")
    batched = tensor_x.ndim == 3 or tensor_y.ndim == 3
    tensor_x = tensor_x if tensor_x.ndim == 3 else tensor_x[None]
    tensor_y = tensor_y if tensor_y.ndim == 3 else tensor_y[None]
    signatures_x = cka_signatures(tensor_x, kernel, debiased, rbf_threshold, "X")
    signatures_y = cka_signatures(tensor_y, kernel, debiased, rbf_threshold, "Y")
    scores = signatures_x @ signatures_y.T
    if batched:
        return like(scores, X)
    return like(scores[0, 0], X) if isinstance(X, torch.Tensor) else float(scores[0, 0])
