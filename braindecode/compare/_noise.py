"""Noise covariance from residuals, and the Mahalanobis and cross-validated Mahalanobis (crossnobis) RDMs."""

from __future__ import annotations

import torch

from braindecode._devices import resolve_device, resolve_dtype
from braindecode._products import matmul
from braindecode.compare._checks import (
    as_tensor,
    check_choice,
    check_n_conditions,
    like,
)
from braindecode.compare._rdm import kernel_distances, square_distances
from braindecode.errors import InvalidArgument

NOISE_METHODS = ("shrinkage_diag", "shrinkage_eye", "diag", "full")


def _offdiagonal(p: int, dtype, device) -> torch.Tensor:
    return 1 - torch.eye(p, dtype=dtype, device=device)


def _check_variances(variances: torch.Tensor, scale: torch.Tensor) -> None:
    flat = variances <= 64 * torch.finfo(variances.dtype).eps * scale[..., None]
    if bool(flat.any()):
        feature = int(torch.nonzero(flat)[0, -1])
        raise InvalidArgument(
            f"feature {feature} has zero residual variance, so the noise covariance is singular; "
            "drop constant features or use method='shrinkage_eye'"
        )


def covariance_from_residuals(residuals: torch.Tensor, method: str, dof) -> torch.Tensor:
    """Covariances of residuals (n_sets, n_residuals, n_features), as rsatoolbox estimates them."""
    residuals = residuals - residuals.mean(dim=-2, keepdim=True)
    m, p = residuals.shape[-2:]
    dof = m - 1 if dof is None else dof
    s_sum = residuals.transpose(-1, -2) @ residuals
    diagonal = torch.diagonal(s_sum, dim1=-2, dim2=-1)
    if method != "shrinkage_eye":
        _check_variances(diagonal, diagonal.amax(dim=-1))
    if method == "full":
        return s_sum / dof
    if method == "diag":
        return torch.diag_embed(diagonal / dof)
    squares = residuals * residuals
    s2_sum = squares.transpose(-1, -2) @ squares
    eye = torch.eye(p, dtype=residuals.dtype, device=residuals.device)
    if method == "shrinkage_eye":
        # Ledoit & Wolf (2004): shrink towards a multiple of the identity
        s = s_sum / m
        b2 = (s2_sum / m - s * s).sum(dim=(-2, -1)) / m
        mu = torch.diagonal(s, dim1=-2, dim2=-1).mean(dim=-1)
        d2 = ((s - mu[..., None, None] * eye) ** 2).sum(dim=(-2, -1))
        b2 = torch.minimum(b2, d2)
        weight = torch.where(d2 > 0, b2 / torch.where(d2 > 0, d2, 1), 0)[..., None, None]
        return (weight * mu[..., None, None] * eye + (1 - weight) * s) * m / dof
    # Schaefer & Strimmer (2005): shrink the correlations towards zero
    s = s_sum / dof
    var = torch.diagonal(s, dim1=-2, dim2=-1)
    std = var.sqrt()
    s_mean = s_sum / std[..., None, :] / std[..., :, None] / (m - 1)
    s2_mean = s2_sum / var[..., None, :] / var[..., :, None] / (m - 1)
    var_hat = m / dof**2 * (s2_mean - s_mean**2)
    mask = _offdiagonal(p, residuals.dtype, residuals.device)
    lamb = (var_hat * mask).sum(dim=(-2, -1)) / ((s_mean**2) * mask).sum(dim=(-2, -1))
    lamb = lamb.clamp(0, 1)[..., None, None]
    return s * (eye + (1 - lamb) * mask)


def precision_from_covariance(covariance: torch.Tensor) -> torch.Tensor:
    """Inverse of symmetric positive definite covariances (..., p, p)."""
    factor, info = torch.linalg.cholesky_ex(covariance)
    if bool((info != 0).any()):
        raise InvalidArgument(
            "the noise covariance is not positive definite (more features than residual degrees "
            "of freedom?); use a shrinkage method"
        )
    return torch.cholesky_inverse(factor)


def _residuals_tensor(residuals, dtype, device):
    tensor = as_tensor(residuals, "residuals", dtype, device, ndims=(2, 3))
    batched = tensor.ndim == 3
    tensor = tensor if batched else tensor[None]
    if tensor.shape[-2] < 2:
        raise InvalidArgument(f"residuals has {tensor.shape[-2]} rows; at least 2 are needed")
    return tensor, batched


def _check_dof(dof):
    if dof is not None and (isinstance(dof, bool) or not isinstance(dof, (int, float)) or dof <= 0):
        raise InvalidArgument(f"dof must be a positive number, got {dof!r}")


def noise_covariance(residuals, method: str = "shrinkage_diag", dof=None, device="cpu", dtype="float32"):
    """Noise covariance over features, estimated from residuals with optional shrinkage.

    Matches ``rsatoolbox.data.noise.cov_from_residuals``.

    Parameters
    ----------
    residuals : array of shape (n_residuals, n_features) or (n_sets, n_residuals, n_features)
    method : {"shrinkage_diag", "shrinkage_eye", "diag", "full"}
        "shrinkage_diag" shrinks towards the diagonal (Schaefer & Strimmer 2005),
        "shrinkage_eye" towards a multiple of the identity (Ledoit & Wolf 2004).
    dof : float, optional
        Degrees of freedom; ``n_residuals - 1`` by default.
    device : str or torch.device
    dtype : {"float32", "float64"}

    Returns
    -------
    covariance : array of shape (n_features, n_features) or (n_sets, n_features, n_features)
    """
    check_choice(method, NOISE_METHODS, "noise method")
    _check_dof(dof)
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    tensor, batched = _residuals_tensor(residuals, dtype, device)
    covariance = covariance_from_residuals(tensor, method, dof)
    return like(covariance if batched else covariance[0], residuals)


def noise_precision(residuals, method: str = "shrinkage_diag", dof=None, device="cpu", dtype="float32"):
    """Inverse of :func:`noise_covariance` (``rsatoolbox.data.noise.prec_from_residuals``).

    Parameters
    ----------
    residuals : array of shape (n_residuals, n_features) or (n_sets, n_residuals, n_features)
    method, dof, device, dtype
        As in :func:`noise_covariance`.

    Returns
    -------
    precision : array of shape (n_features, n_features) or (n_sets, n_features, n_features)
    """
    check_choice(method, NOISE_METHODS, "noise method")
    _check_dof(dof)
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    tensor, batched = _residuals_tensor(residuals, dtype, device)
    precision = precision_from_covariance(covariance_from_residuals(tensor, method, dof))
    return like(precision if batched else precision[0], residuals)


def _check_precision(noise, n_sets: int, p: int, dtype, device) -> torch.Tensor:
    """A given noise precision as a tensor of shape (n_sets or 1, p, p)."""
    precision = as_tensor(noise, "noise", dtype, device, ndims=(2, 3))
    if precision.shape[-2:] != (p, p) or (precision.ndim == 3 and precision.shape[0] != n_sets):
        raise InvalidArgument(
            f"noise precision has shape {tuple(precision.shape)}; expected ({p}, {p})"
            + (f" or ({n_sets}, {p}, {p})" if n_sets > 1 else "")
        )
    return precision if precision.ndim == 3 else precision[None]


def _precision_for(patterns: torch.Tensor, noise) -> torch.Tensor | None:
    """Precision matrices (n_sets, p, p) for crossnobis, or None for the identity."""
    n_sets, n_runs, n_conditions, p = patterns.shape
    if noise is None:
        return None
    if isinstance(noise, str):
        check_choice(noise, NOISE_METHODS, "noise method")
        residuals = (patterns - patterns.mean(dim=1, keepdim=True)).reshape(n_sets, n_runs * n_conditions, p)
        covariance = covariance_from_residuals(residuals, noise, n_conditions * (n_runs - 1))
        return precision_from_covariance(covariance)
    return _check_precision(noise, n_sets, p, patterns.dtype, patterns.device)


def mahalanobis_rdm(X, noise=None, device="cpu", dtype="float32"):
    """Squared Mahalanobis distances between condition patterns, divided by ``n_features``.

    ``(x_i - x_j)^T P (x_i - x_j) / n_features`` with the noise precision ``P``
    (rsatoolbox ``calc_rdm(..., method="mahalanobis", noise=P)``): the patterns,
    centred over conditions, are whitened by one product with ``P``, and the
    distances come from one more product with the patterns.

    Parameters
    ----------
    X : array of shape (n_conditions, n_features) or (n_sets, n_conditions, n_features)
    noise : array of shape (n_features, n_features) or (n_sets, n_features, n_features), optional
        Noise precision, e.g. :func:`noise_precision` of residuals. None uses the identity:
        the squared Euclidean distance divided by ``n_features`` (``compute_rdm(X, "sqeuclidean")``).
    device : str or torch.device
    dtype : {"float32", "float64"}

    Returns
    -------
    rdms : array of shape (n_conditions, n_conditions) or (n_sets, n_conditions, n_conditions)
        Symmetric, zero diagonal.
    """
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    tensor = as_tensor(X, "X", dtype, device, ndims=(2, 3))
    batched = tensor.ndim == 3
    tensor = tensor if batched else tensor[None]
    n_sets, n_conditions, p = tensor.shape
    check_n_conditions(n_conditions, "X")
    if noise is None:
        rdms = square_distances(tensor, "sqeuclidean")
    else:
        centred = tensor - tensor.mean(dim=-2, keepdim=True)
        whitened = matmul(centred, _check_precision(noise, n_sets, p, dtype, device))
        rdms = kernel_distances(matmul(whitened, centred.transpose(-1, -2)), p)
    return like(rdms if batched else rdms[0], X)


def crossnobis_rdm(patterns, noise="shrinkage_diag", device="cpu", dtype="float32"):
    """Cross-validated squared Mahalanobis distances (crossnobis), leave one run out.

    For each held-out run, the distance pattern is the product of the held-out run's
    differences with the mean of the other runs' differences, weighted by the noise
    precision; the RDM averages the folds and divides by ``n_features``
    (rsatoolbox ``calc_rdm(..., method="crossnobis", cv_descriptor=run)``).

    Parameters
    ----------
    patterns : array of shape (n_runs, n_conditions, n_features) or (n_sets, n_runs, n_conditions, n_features)
        One pattern per run and condition (same condition order in every run).
    noise : {"shrinkage_diag", "shrinkage_eye", "diag", "full"}, array or None
        A method name estimates the noise covariance from the residuals of each
        run's patterns around the condition means (``n_conditions * (n_runs - 1)``
        degrees of freedom) and uses its inverse; an array of shape
        (n_features, n_features) or (n_sets, n_features, n_features) is used as the
        precision; None uses the identity (cross-validated Euclidean distance).
    device : str or torch.device
    dtype : {"float32", "float64"}

    Returns
    -------
    rdms : array of shape (n_conditions, n_conditions) or (n_sets, n_conditions, n_conditions)
        Symmetric, zero diagonal; entries can be negative (unbiased estimates).
    """
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    tensor = as_tensor(patterns, "patterns", dtype, device, ndims=(3, 4))
    batched = tensor.ndim == 4
    tensor = tensor if batched else tensor[None]
    n_sets, n_runs, n_conditions, p = tensor.shape
    if n_runs < 2:
        raise InvalidArgument(f"crossnobis needs at least 2 runs, got {n_runs}")
    check_n_conditions(n_conditions, "patterns")
    precision = _precision_for(tensor, noise)
    # sum over pairs of different runs r != s of (run r P)(run s)^T: all pairs minus the same-run ones
    weighted = tensor if precision is None else matmul(tensor.reshape(n_sets, -1, p), precision).view(tensor.shape)
    kernel = matmul(weighted.sum(dim=1), tensor.sum(dim=1).transpose(-1, -2))
    for run in range(n_runs):
        kernel -= matmul(weighted[:, run], tensor[:, run].transpose(-1, -2))
    rdms = kernel_distances(kernel, p * n_runs * (n_runs - 1), clamp=False)
    return like(rdms if batched else rdms[0], patterns)
