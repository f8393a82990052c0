"""Score matrices of per-trial brain responses: every layer against every ROI (or time point), per subject."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from braindecode.compare._roi import ROI, VolumeGrid, select_responses
from braindecode.compare._scores import ScoreMatrix, score_matrix, time_score_matrix
from braindecode.containers import ActivationSet, BrainResponses
from braindecode.errors import InvalidArgument


@dataclass
class SubjectScoreMatrix:
    """Layer x ROI (or layer x time) scores of each subject and their mean.

    Attributes
    ----------
    matrix : ScoreMatrix
        Scores averaged over subjects, of shape (n_layers, n_columns).
    subjects : list of str
    subject_scores : array of shape (n_subjects, n_layers, n_columns)
    times : array of shape (n_columns,) or None
        The columns' epoch times in seconds for a layer x time matrix; None for layer x ROI.
    n_features : dict of str -> int
        The features each ROI kept, by ROI name.
    """

    matrix: ScoreMatrix
    subjects: list
    subject_scores: np.ndarray
    times: np.ndarray | None
    n_features: dict


def _check_rois(rois) -> list:
    rois = list(rois)
    names = [roi.name for roi in rois]
    if any(not name for name in names):
        raise InvalidArgument("every ROI of a score matrix needs a name")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidArgument(f"ROI names given more than once: {', '.join(repeated)}")
    return rois


def subject_score_matrix(responses: BrainResponses, activations: ActivationSet, rois=None, layers=None,
                         time_window=None, grid: VolumeGrid | None = None, method: str = "rsa",
                         rdm_method: str = "correlation", comparison: str = "spearman", kernel: str = "linear",
                         debiased: bool = False, device="cpu") -> SubjectScoreMatrix:
    """Every layer of an activation set against every ROI (or time point) of each subject's responses.

    Per subject, the trials are averaged per stimulus and the layers' rows matched to those
    stimuli by id; each subject gets a :func:`score_matrix` (layers x ROIs) or, for EEG/MEG
    epochs without ROIs, a :func:`time_score_matrix` (layers x times); ``matrix`` is their mean
    over subjects.

    Parameters
    ----------
    responses : BrainResponses
        data of shape (n_trials, n_features) or (n_trials, n_channels, n_times); ``subjects``
        group the trials.
    activations : ActivationSet
        Holds every stimulus of the responses.
    rois : list of ROI, optional
        Named, distinct ROIs (the columns); by default one column "all" of every feature, or
        for EEG/MEG epochs every time point.
    layers : list of str, optional
        The rows, in this order; every layer by default.
    time_window : (float, float), optional
        Epoch times to keep in seconds (EEG/MEG).
    grid : VolumeGrid, optional
        The recordings' voxel grid, for ROI masks.
    method, rdm_method, comparison, kernel, debiased
        As in :func:`score_matrix`.
    device : str or torch.device

    Returns
    -------
    SubjectScoreMatrix
    """
    rois = None if rois is None else _check_rois(rois)
    options = dict(method=method, rdm_method=rdm_method, comparison=comparison, kernel=kernel, debiased=debiased,
                   row_names=None if layers is None else list(layers), device=device)
    over_time = rois is None and responses.data.ndim == 3
    columns = {roi.name: select_responses(responses, roi, time_window, grid)[0] for roi in rois or [ROI(name="all")]}
    subjects = [str(s) for s in np.unique(responses.subjects)]
    matrices = []
    for subject in subjects:
        means = {name: part.subset(part.subjects == subject).average_repeats() for name, part in columns.items()}
        first = next(iter(means.values()))
        rows = {name: np.asarray(values, dtype=np.float32).reshape(len(first.stimulus_ids), -1)
                for name, values in activations.align(first.stimulus_ids).layers.items()}
        if over_time:
            matrices.append(time_score_matrix(rows, first.data, first.times, **options))
        else:
            matrices.append(score_matrix(rows, {name: m.flat() for name, m in means.items()}, **options))
    subject_scores = np.stack([m.scores for m in matrices])
    mean = ScoreMatrix(subject_scores.mean(axis=0), matrices[0].rows, matrices[0].columns, matrices[0].method)
    times = np.asarray(mean.columns, dtype=np.float64) if over_time else None
    return SubjectScoreMatrix(mean, subjects, subject_scores, times,
                              {name: part.data.shape[1] for name, part in columns.items()})
