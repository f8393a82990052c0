"""Noise ceiling of RDM comparisons from subject RDMs (leave one subject out)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from braindecode._devices import resolve_device, resolve_dtype
from braindecode.compare._checks import check_choice
from braindecode.compare._comparison import COMPARISON_METHODS, make_comparer, rdm_vectors
from braindecode.compare._ranks import TieGroups
from braindecode.errors import InvalidArgument


@dataclass
class RDMNoiseCeiling:
    """Bounds on the score a true model could reach given inter-subject variability.

    Attributes
    ----------
    lower : float
        Mean score of each subject against the pooled RDM of the other subjects.
    upper : float
        Mean score of each subject against the pooled RDM of all subjects.
    """

    lower: float
    upper: float

    def to_dict(self) -> dict:
        return {"lower": self.lower, "upper": self.upper}


def _normalised(vectors: torch.Tensor, method: str) -> torch.Tensor:
    """Subject RDMs scaled the way rsatoolbox's ``pool_rdm`` scales them before averaging."""
    if method in ("cosine", "whitened_cosine"):
        return vectors / torch.sqrt((vectors * vectors).mean(dim=-1, keepdim=True))
    if method in ("pearson", "whitened_pearson"):
        centred = vectors - vectors.mean(dim=-1, keepdim=True)
        return centred / centred.std(dim=-1, correction=0, keepdim=True)
    return TieGroups(vectors).ranks(vectors.dtype)


def pooled_rdms(vectors: torch.Tensor, method: str) -> tuple:
    """The pooled RDM of all subjects (1, n_pairs) and of all but each subject (n_subjects, n_pairs)."""
    normalised = _normalised(vectors, method)
    n_subjects = len(vectors)
    # sums of ranks are exact, so tied mean ranks stay tied as in a direct mean
    total = normalised.sum(dim=0, keepdim=True)
    pooled = total / n_subjects
    left_out = (total - normalised) / (n_subjects - 1)
    if method in ("pearson", "whitened_pearson"):
        pooled = pooled - pooled.amin(dim=-1, keepdim=True)
        left_out = left_out - left_out.amin(dim=-1, keepdim=True)
    return pooled, left_out


def noise_ceiling_of(vectors: torch.Tensor, method: str) -> RDMNoiseCeiling:
    """Noise ceiling of validated subject RDM vectors (n_subjects, n_pairs)."""
    if len(vectors) < 2:
        raise InvalidArgument(f"a noise ceiling needs at least 2 subject RDMs, got {len(vectors)}")
    pooled, left_out = pooled_rdms(vectors, method)
    upper = make_comparer(method, pooled, vectors)()[0]
    lower = torch.diagonal(make_comparer(method, left_out, vectors)())
    return RDMNoiseCeiling(lower=float(lower.mean()), upper=float(upper.mean()))


def rdm_noise_ceiling(subject_rdms, method: str = "pearson", device="cpu", dtype="float32") -> RDMNoiseCeiling:
    """Lower and upper noise ceiling bounds, leave one subject out.

    Matches ``rsatoolbox.inference.boot_noise_ceiling`` (pooling as
    ``rsatoolbox.util.inference_util.pool_rdm``: RMS-scaled means for the cosine
    methods, z-scored means shifted to a zero minimum for the Pearson methods,
    mean ranks for Spearman and Kendall).

    Parameters
    ----------
    subject_rdms : array of shape (n_subjects, n_pairs)
        One upper-triangle RDM vector per subject (at least 2).
    method : str
        The comparison the ceiling is for, one of ``COMPARISON_METHODS``.
    device : str or torch.device
    dtype : {"float32", "float64"}

    Returns
    -------
    RDMNoiseCeiling
    """
    check_choice(method, COMPARISON_METHODS, "comparison method")
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    return noise_ceiling_of(rdm_vectors(subject_rdms, "subject_rdms", dtype, device), method)
