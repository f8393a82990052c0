"""RDMs of conditions: one per subject from per-trial brain responses, one of a network layer.

Conditions are stimuli, matched by id: a subject's trials are averaged per stimulus (per run and
stimulus for crossnobis) and an activation layer's rows are picked by stimulus id, so the RDMs of
brains and networks hold the same conditions in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from braindecode.compare._checks import check_choice
from braindecode.compare._noise import crossnobis_rdm
from braindecode.compare._rdm import RDM_METHODS, compute_rdm
from braindecode.containers import ActivationSet, BrainResponses
from braindecode.errors import InvalidArgument


@dataclass
class SubjectRDM:
    """One RDM of condition patterns.

    Attributes
    ----------
    subject : str
        The subject of the responses ("" for a network layer).
    condition_ids : array of shape (n_conditions,)
        The stimulus ids of the rows and columns.
    rdm : array of shape (n_conditions, n_conditions)
    """

    subject: str
    condition_ids: np.ndarray
    rdm: np.ndarray


def _condition_rows(ids: np.ndarray, condition_ids, what: str) -> np.ndarray:
    """Rows of ``ids`` holding ``condition_ids`` in their order (all rows when None)."""
    if condition_ids is None:
        return np.arange(len(ids))
    index = {str(c): i for i, c in enumerate(ids)}
    missing = [c for c in condition_ids if c not in index]
    if missing:
        raise InvalidArgument(f"{what} have no pattern for {len(missing)} of the requested conditions, "
                              f"e.g. {missing[:3]}")
    return np.array([index[c] for c in condition_ids], dtype=np.int64)


def _check_condition_ids(condition_ids):
    if condition_ids is None:
        return None
    condition_ids = [str(c) for c in condition_ids]
    if len(set(condition_ids)) != len(condition_ids):
        raise InvalidArgument("condition_ids name a condition more than once")
    return condition_ids


def _check_patterns(patterns: np.ndarray, condition_ids: np.ndarray, method: str, what: str) -> None:
    """Finite condition patterns (n_conditions, n_features) that give a defined, non-constant RDM."""
    if not np.isfinite(patterns).all():
        raise InvalidArgument(f"{what} contain NaN or infinite values")
    if len(patterns) < 3:
        raise InvalidArgument(f"{what} have {len(patterns)} conditions; an RDM needs at least 3")
    if not (patterns != patterns[:1]).any():
        raise InvalidArgument(f"{what}: every feature has the same value in all {len(patterns)} conditions "
                              "(zero variance), so every distance would be the same")
    if method == "correlation":
        undefined, reason = np.ptp(patterns, axis=1) == 0, "zero variance across features"
    elif method == "cosine":
        undefined, reason = ~patterns.any(axis=1), "an all-zero pattern"
    else:
        return
    if undefined.any():
        raise InvalidArgument(f"{what}: condition {str(condition_ids[np.argmax(undefined)])!r} has {reason}, "
                              f"so its {method} distance is undefined")


def _run_patterns(responses: BrainResponses, condition_ids, what: str) -> tuple:
    """(condition ids, patterns of shape (n_runs, n_conditions, n_features)): the mean per run and stimulus."""
    runs = np.unique(responses.runs)
    if len(runs) < 2:
        raise InvalidArgument(f"crossnobis needs at least 2 runs; {what} come from {len(runs)}")
    condition_ids = condition_ids if condition_ids is not None else list(np.unique(responses.stimulus_ids))
    patterns = []
    for run in runs:
        means = responses.subset(responses.runs == run).average_repeats()
        rows = _condition_rows(means.stimulus_ids, condition_ids, f"{what}, run {str(run)!r} (crossnobis needs "
                                                                  "every condition in every run),")
        patterns.append(means.flat()[rows])
    return np.asarray(condition_ids, dtype=str), np.stack(patterns)


def response_rdms(responses: BrainResponses, method: str = "correlation", condition_ids=None,
                  noise="shrinkage_diag", device="cpu", dtype="float32") -> list:
    """One RDM per subject of per-trial responses averaged per stimulus.

    Parameters
    ----------
    responses : BrainResponses
        data of shape (n_trials, n_features) or (n_trials, n_channels, n_times) (flattened
        to channel x time features).
    method : {"correlation", "cosine", "euclidean", "sqeuclidean", "crossnobis"}
        See :func:`compute_rdm`; "crossnobis" (:func:`crossnobis_rdm`) averages the trials
        per run and stimulus and needs every condition in each of 2 or more runs.
    condition_ids : list of str, optional
        The conditions (stimulus ids) of the RDMs, in this order; by default every stimulus
        of the subject, sorted.
    noise : str, array or None
        Noise precision of crossnobis (see :func:`crossnobis_rdm`).
    device : str or torch.device
    dtype : {"float32", "float64"}

    Returns
    -------
    rdms : list of SubjectRDM
        One per subject, sorted by subject; ``rdm`` of shape (n_conditions, n_conditions).
    """
    check_choice(method, RDM_METHODS, "RDM method")
    condition_ids = _check_condition_ids(condition_ids)
    rdms = []
    for subject in np.unique(responses.subjects):
        own = responses.subset(responses.subjects == subject)
        what = f"the responses of subject {str(subject)!r}"
        if method == "crossnobis":
            ids, patterns = _run_patterns(own, condition_ids, what)
            _check_patterns(patterns.mean(axis=0), ids, method, what)
            rdm = crossnobis_rdm(patterns, noise=noise, device=device, dtype=dtype)
        else:
            means = own.average_repeats()
            rows = _condition_rows(means.stimulus_ids, condition_ids, what)
            ids, patterns = means.stimulus_ids[rows], means.flat()[rows]
            _check_patterns(patterns, ids, method, what)
            rdm = compute_rdm(patterns, method, device=device, dtype=dtype)
        rdms.append(SubjectRDM(str(subject), ids, rdm))
    return rdms


def activation_rdm(activations: ActivationSet, layer: str, method: str = "correlation", condition_ids=None,
                   device="cpu", dtype="float32") -> SubjectRDM:
    """The RDM of one layer of an activation set.

    Parameters
    ----------
    activations : ActivationSet
    layer : str
        A layer of ``activations``; its rows are flattened to (n_stimuli, n_features).
    method : {"correlation", "cosine", "euclidean", "sqeuclidean"}
    condition_ids : list of str, optional
        The stimuli of the RDM, in this order; all, in the set's order, by default.
    device : str or torch.device
    dtype : {"float32", "float64"}

    Returns
    -------
    SubjectRDM
        ``subject`` is "".
    """
    check_choice(method, RDM_METHODS, "RDM method")
    if method == "crossnobis":
        raise InvalidArgument("crossnobis needs per-run patterns; an activation set has one pattern per stimulus")
    condition_ids = _check_condition_ids(condition_ids)
    what = f"the activations of layer {layer!r}"
    values = activations[layer]
    rows = _condition_rows(activations.stimulus_ids, condition_ids, what)
    patterns = np.asarray(values[rows], dtype=np.float32).reshape(len(rows), -1)
    ids = activations.stimulus_ids[rows]
    _check_patterns(patterns, ids, method, what)
    return SubjectRDM("", ids, compute_rdm(patterns, method, device=device, dtype=dtype))
