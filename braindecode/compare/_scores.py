"""Score matrices: every model layer against every brain region (or time point) in one call."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from braindecode._devices import resolve_device, resolve_dtype
from braindecode.compare._checks import (
    as_tensor,
    check_choice,
    check_n_conditions,
    check_not_constant,
)
from braindecode.compare._cka import CKA_KERNELS, _check_threshold, cka_signatures
from braindecode.compare._comparison import COMPARISON_METHODS, make_comparer
from braindecode.compare._rdm import RDM_METHODS, rdm_to_vector, square_distances
from braindecode.containers import ActivationSet
from braindecode.errors import InvalidArgument

SCORE_METHODS = ("rsa", "cka")


@dataclass
class ScoreMatrix:
    """Scores of representations (rows) against others (columns).

    Attributes
    ----------
    scores : array of shape (n_rows, n_columns)
    rows : list of str
        Row names (e.g. layers).
    columns : list
        Column names (e.g. ROIs) or times in seconds.
    method : str
        "rsa:<rdm method>:<comparison>" or "cka:<kernel>[:debiased]".
    """

    scores: np.ndarray
    rows: list
    columns: list
    method: str

    def to_dict(self) -> dict:
        return {
            "scores": self.scores.tolist(),
            "rows": list(self.rows),
            "columns": list(self.columns),
            "method": self.method,
        }


def _select(representations, names, what: str) -> dict:
    """The chosen entries of a dict (or ActivationSet) of representations, in order."""
    if isinstance(representations, ActivationSet):
        representations = representations.layers
    if not isinstance(representations, dict) or not representations:
        raise InvalidArgument(f"{what} must be a non-empty dict of name -> array (n_conditions, n_features)")
    if names is None:
        return dict(representations)
    unknown = [name for name in names if name not in representations]
    if unknown:
        raise InvalidArgument(f"unknown {what} {unknown}; available: {', '.join(map(str, representations))}")
    if not names:
        raise InvalidArgument(f"no {what} selected")
    return {name: representations[name] for name in names}


class _Signatures:
    """Turns patterns (n_sets, n_conditions, n_features) into comparable signatures and scores them."""

    def __init__(self, method, rdm_method, comparison, kernel, debiased, rbf_threshold):
        check_choice(method, SCORE_METHODS, "score method")
        self.method = method
        if method == "rsa":
            check_choice(rdm_method, RDM_METHODS, "RDM method")
            if rdm_method == "crossnobis":
                raise InvalidArgument(
                    "crossnobis needs per-run patterns: compute RDMs with crossnobis_rdm and use compare_rdms"
                )
            check_choice(comparison, COMPARISON_METHODS, "comparison method")
            self.label = f"rsa:{rdm_method}:{comparison}"
        else:
            check_choice(kernel, CKA_KERNELS, "CKA kernel")
            rbf_threshold = _check_threshold(rbf_threshold)
            self.label = f"cka:{kernel}" + (":debiased" if debiased else "")
        self.rdm_method, self.comparison = rdm_method, comparison
        self.kernel, self.debiased, self.rbf_threshold = kernel, debiased, rbf_threshold

    def __call__(self, patterns: torch.Tensor, name: str) -> torch.Tensor:
        if self.method == "rsa":
            check_n_conditions(patterns.shape[-2], name)
            vectors = rdm_to_vector(square_distances(patterns, self.rdm_method, name))
            check_not_constant(vectors, name)
            return vectors
        return cka_signatures(patterns, self.kernel, self.debiased, self.rbf_threshold, name)

    def score(self, rows: torch.Tensor, columns: torch.Tensor) -> np.ndarray:
        if self.method == "rsa":
            scores = make_comparer(self.comparison, rows, columns)()
        else:
            scores = rows @ columns.T
        return scores.cpu().numpy()


def _stack(representations: dict, signatures: _Signatures, n_conditions, what, dtype, device) -> tuple:
    """Signatures of every entry, stacked, and their common number of conditions."""
    stacked = []
    for name, patterns in representations.items():
        tensor = as_tensor(patterns, f"{what} {name!r}", dtype, device, ndims=(2,))
        if n_conditions is not None and tensor.shape[0] != n_conditions:
            raise InvalidArgument(f"{what} {name!r} has {tensor.shape[0]} conditions, expected {n_conditions}")
        n_conditions = tensor.shape[0]
        stacked.append(signatures(tensor[None], f"{what} {name!r}"))
    return torch.cat(stacked), n_conditions


def score_matrix(
    rows,
    columns,
    method: str = "rsa",
    rdm_method: str = "correlation",
    comparison: str = "spearman",
    kernel: str = "linear",
    debiased: bool = False,
    rbf_threshold: float = 1.0,
    row_names=None,
    column_names=None,
    device="cpu",
    dtype="float32",
) -> ScoreMatrix:
    """Score every row representation against every column representation.

    Typical use: layers x ROIs (``rows=activations.layers``, ``columns=roi_patterns``),
    or layers x layers (``columns=rows``).

    Parameters
    ----------
    rows : dict of str -> array of shape (n_conditions, n_features), or ActivationSet
    columns : dict of str -> array of shape (n_conditions, n_features_j), or ActivationSet
        The same conditions, in the same order, as ``rows``.
    method : {"rsa", "cka"}
    rdm_method : {"correlation", "cosine", "euclidean", "sqeuclidean"}
        RDMs for RSA (see :func:`compute_rdm`).
    comparison : str
        RDM comparison for RSA, one of ``COMPARISON_METHODS``.
    kernel : {"linear", "rbf"}
        Kernel for CKA.
    debiased : bool
        Debiased HSIC for CKA.
    rbf_threshold : float
        RBF bandwidth for CKA (see :func:`cka`).
    row_names, column_names : list of str, optional
        Entries to use, in this order; all by default.
    device : str or torch.device
    dtype : {"float32", "float64"}

    Returns
    -------
    ScoreMatrix
        ``scores`` of shape (n_rows, n_columns).
    """
    signatures = _Signatures(method, rdm_method, comparison, kernel, debiased, rbf_threshold)
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    rows = _select(rows, row_names, "rows")
    columns = _select(columns, column_names, "columns")
    row_signatures, n_conditions = _stack(rows, signatures, None, "row", dtype, device)
    column_signatures, _ = _stack(columns, signatures, n_conditions, "column", dtype, device)
    return ScoreMatrix(signatures.score(row_signatures, column_signatures), list(rows), list(columns), signatures.label)


def time_score_matrix(
    rows,
    responses,
    times=None,
    method: str = "rsa",
    rdm_method: str = "correlation",
    comparison: str = "spearman",
    kernel: str = "linear",
    debiased: bool = False,
    rbf_threshold: float = 1.0,
    row_names=None,
    device="cpu",
    dtype="float32",
) -> ScoreMatrix:
    """Score every row representation against the brain response at every time point.

    Parameters
    ----------
    rows : dict of str -> array of shape (n_conditions, n_features), or ActivationSet
    responses : array of shape (n_conditions, n_channels, n_times)
        Condition-averaged EEG/MEG epochs; each time point's channel pattern is a column.
    times : array of shape (n_times,), optional
        Column labels in seconds; sample indices by default.
    method, rdm_method, comparison, kernel, debiased, rbf_threshold, row_names, device, dtype
        As in :func:`score_matrix`.

    Returns
    -------
    ScoreMatrix
        ``scores`` of shape (n_rows, n_times).
    """
    signatures = _Signatures(method, rdm_method, comparison, kernel, debiased, rbf_threshold)
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    rows = _select(rows, row_names, "rows")
    patterns = as_tensor(responses, "responses", dtype, device, ndims=(3,))
    n_times = patterns.shape[2]
    if times is None:
        times = list(range(n_times))
    else:
        times = np.asarray(times, dtype=np.float64).reshape(-1)
        if times.shape != (n_times,):
            raise InvalidArgument(f"times has {times.size} entries for {n_times} time points")
        times = times.tolist()
    row_signatures, _ = _stack(rows, signatures, patterns.shape[0], "row", dtype, device)
    column_signatures = signatures(patterns.permute(2, 0, 1).contiguous(), "responses (time points)")
    return ScoreMatrix(signatures.score(row_signatures, column_signatures), list(rows), times, signatures.label)
