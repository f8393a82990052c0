"""Encoders scored on single trials: per-target Pearson r and R^2, normalized by the noise ceiling.

Scores are per target (voxel, ROI, or channel x time point) on single trials: Pearson r and
R^2 in each run, averaged over runs. Where at least two stimuli are shown more than once, the
NCSNR noise ceiling of single trials (``noise_ceiling`` with ``n_average=1``) normalizes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from braindecode.containers import ActivationSet, BrainResponses
from braindecode.encoding._encoder import Encoder
from braindecode.encoding._nifti import nifti_bytes, scores_to_nifti
from braindecode.encoding._noise_ceiling import noise_ceiling, normalize_by_ceiling
from braindecode.encoding._scoring import pearson_r, r2_score
from braindecode.errors import InvalidArgument


@dataclass
class EncoderScores:
    """An encoder scored on trials by ``score_encoder``.

    Attributes
    ----------
    target_scores : dict of str -> array of shape (n_targets,)
        See ``target_scores``.
    summary : dict of str -> float
        See ``summarize_scores``.
    n_trials : int
    response_shape : tuple of int
        One trial's response; the targets are its elements in C order.
    score_map : bytes or None
        fMRI voxels: a ``.nii.gz`` in the recordings' space with one volume per score (in the
        order of ``target_scores``), 0 outside the mask.
    predictions : array of shape (n_trials, *response_shape), float32
    """

    target_scores: dict
    summary: dict
    n_trials: int
    response_shape: tuple
    score_map: bytes | None
    predictions: np.ndarray


def repeat_noise_ceiling(Y, stimulus_ids):
    """Single-trial noise ceiling from the stimuli shown at least twice, or None.

    Every repeated stimulus contributes its first ``n`` presentations, ``n`` being the fewest
    presentations of a repeated stimulus.

    Parameters
    ----------
    Y : array of shape (n_trials, n_targets)
    stimulus_ids : array of shape (n_trials,)

    Returns
    -------
    ceiling : NoiseCeiling or None
        None when fewer than two stimuli repeat.
    """
    _, inverse, counts = np.unique(np.asarray(stimulus_ids), return_inverse=True, return_counts=True)
    repeated = np.flatnonzero(counts >= 2)
    if len(repeated) < 2:
        return None
    n_repeats = int(counts[repeated].min())
    rows = np.array([np.flatnonzero(inverse == s)[:n_repeats] for s in repeated])  # (n_stimuli, n_repeats)
    return noise_ceiling(np.asarray(Y)[rows.T], n_average=1)


def run_means(Y, Y_pred, runs) -> dict:
    """Per-target Pearson r and R^2 of each run, averaged over runs.

    Parameters
    ----------
    Y, Y_pred : array of shape (n_trials, n_targets)
    runs : array of shape (n_trials,)

    Returns
    -------
    scores : dict of str -> array of shape (n_targets,)
        ``pearson`` and ``r2``.
    """
    runs = np.asarray(runs)
    per_run = [(pearson_r(Y[runs == run], Y_pred[runs == run]), r2_score(Y[runs == run], Y_pred[runs == run]))
               for run in np.unique(runs)]
    return {"pearson": np.mean([p for p, _ in per_run], axis=0), "r2": np.mean([r for _, r in per_run], axis=0)}


def target_scores(Y, Y_pred, runs, stimulus_ids) -> dict:
    """Per-target scores of single-trial predictions.

    Parameters
    ----------
    Y, Y_pred : array of shape (n_trials, n_targets)
    runs : array of shape (n_trials,)
        Each run is scored on its own; the scores are averaged over runs.
    stimulus_ids : array of shape (n_trials,)

    Returns
    -------
    scores : dict of str -> array of shape (n_targets,), float32
        ``pearson`` and ``r2``; where stimuli repeat also ``noise_ceiling`` (Pearson scale),
        ``pearson_normalized`` and ``r2_normalized`` (NaN where the ceiling is 0).
    """
    scores = run_means(Y, Y_pred, runs)
    ceiling = repeat_noise_ceiling(Y, stimulus_ids)
    if ceiling is not None:
        scores.update(noise_ceiling=ceiling.r, pearson_normalized=normalize_by_ceiling(scores["pearson"], ceiling.r),
                      r2_normalized=normalize_by_ceiling(scores["r2"], ceiling.r2))
    return {name: np.asarray(values, dtype=np.float32) for name, values in scores.items()}


def summarize_scores(scores: dict) -> dict:
    """Means over targets; a normalized score is the mean score over the mean ceiling.

    (A mean of per-target ratios would be dominated by the targets with the smallest ceilings.)

    Parameters
    ----------
    scores : dict of str -> array of shape (n_targets,)
        As returned by ``target_scores``.

    Returns
    -------
    summary : dict of str -> float
    """
    summary = {name: float(np.mean(scores[name], dtype=np.float64)) for name in ("pearson", "r2")}
    if "noise_ceiling" in scores:
        ceiling = scores["noise_ceiling"].astype(np.float64)
        summary["noise_ceiling"] = float(ceiling.mean())
        for name, scale in (("pearson", ceiling), ("r2", ceiling ** 2)):
            if scale.mean() > 0:
                summary[f"{name}_normalized"] = summary[name] / float(scale.mean())
    return summary


def response_matrix(responses: BrainResponses) -> np.ndarray:
    """The responses as (n_trials, n_targets), refused when any is NaN or infinite."""
    Y = responses.flat()
    finite = np.isfinite(Y).all(axis=1)
    if not finite.all():
        runs = sorted(set(responses.runs[~finite].tolist()))
        raise InvalidArgument(f"the responses of {int((~finite).sum())} trials contain NaN or infinite values "
                              f"(recordings {', '.join(runs)})")
    return Y


def _check_responses(encoder: Encoder, responses: BrainResponses, grid, name: str) -> None:
    """The responses lie in the encoder's space: same shape and, for voxels, same grid and voxels."""
    space = encoder.space
    if space is None:
        raise InvalidArgument(f"encoder {name!r} has no brain space (modality, response shape) to score in")
    if responses.data.shape[1:] != space.response_shape:
        raise InvalidArgument(f"the recordings give responses of shape {responses.data.shape[1:]} but encoder "
                              f"{name!r} predicts {space.response_shape}; use its preprocessing")
    if space.mask is not None:
        grid_shape, affine = grid if grid is not None else (None, None)
        if grid_shape != space.mask.shape or not np.allclose(affine, space.affine, atol=1e-4):
            raise InvalidArgument(f"the recordings lie on another voxel grid (shape {grid_shape}) than encoder "
                                  f"{name!r} (shape {space.mask.shape}, or another affine)")
        if list(responses.feature_names) != space.feature_names:
            raise InvalidArgument(f"the recordings' voxels differ from those of encoder {name!r}; "
                                  "use its preprocessing and mask")


def predict_responses(encoder: Encoder, responses: BrainResponses, activations: ActivationSet, grid=None,
                      name: str = "") -> np.ndarray:
    """The encoder's predictions of the trials of ``responses``, checked to lie in its space.

    Parameters
    ----------
    encoder : Encoder
        With a brain space.
    responses : BrainResponses
        data of shape (n_trials, *encoder.space.response_shape); every run in time order
        (delays never cross runs).
    activations : ActivationSet
        Holds every trial's stimulus and the encoder's layers.
    grid : (tuple of int, array of shape (4, 4)), optional
        Shape and affine of the responses' voxel grid; needed for voxel encoders.
    name : str
        How error messages call the encoder (e.g. its artifact id).

    Returns
    -------
    Y_pred : array of shape (n_trials, *encoder.space.response_shape), float32
    """
    _check_responses(encoder, responses, grid, name)
    features = encoder.features(activations.align(responses.stimulus_ids))
    return encoder.predict(features, responses.runs).astype(np.float32)


def score_encoder(encoder: Encoder, responses: BrainResponses, activations: ActivationSet, grid=None,
                  name: str = "") -> EncoderScores:
    """Score an encoder's predictions of single trials (``target_scores``) against the trials.

    Parameters
    ----------
    encoder, responses, activations, grid, name
        As in ``predict_responses``.

    Returns
    -------
    scores : EncoderScores
        With a ``score_map`` for voxel encoders.
    """
    predicted = predict_responses(encoder, responses, activations, grid, name)
    Y = response_matrix(responses)
    scores = target_scores(Y, predicted.reshape(len(Y), -1), responses.runs, responses.stimulus_ids)
    space = encoder.space
    score_map = None
    if space.mask is not None:
        score_map = nifti_bytes(scores_to_nifti(np.stack(list(scores.values()), axis=1), space.mask_image()))
    return EncoderScores(scores, summarize_scores(scores), len(Y), space.response_shape, score_map, predicted)
