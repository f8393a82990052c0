"""Scores of a decoder's predictions on held-out trials."""

from __future__ import annotations

import numpy as np

from braindecode.containers import BrainResponses
from braindecode.decoding._retrieval import retrieval_report
from braindecode.encoding import pearson_r, r2_score
from braindecode.errors import InvalidArgument

RETRIEVAL_KS = (1, 5)


def held_out_scores(predicted, target, stimulus_ids, activations, layer: str) -> tuple:
    """Scores of predictions on held-out trials.

    Parameters
    ----------
    predicted, target : array of shape (n_trials, n_dims)
        Decoded and true embeddings of each trial.
    stimulus_ids : array of shape (n_trials,)
    activations : ActivationSet
        Holds the candidates: one row of ``layer`` per stimulus.
    layer : str

    Returns
    -------
    n_stimuli : int
        Distinct held-out stimuli.
    scores : dict of str -> float
        ``pearson`` and ``r2`` (means over embedding dimensions, per trial), and ``top_1``,
        ``top_5`` and ``two_way`` of ``retrieval_report`` (brain -> image) for the predictions
        averaged per stimulus, among the held-out stimuli (``top_5`` with 5 or more).
    """
    scores = {"pearson": float(np.mean(pearson_r(target, predicted))),
              "r2": float(np.mean(r2_score(target, predicted)))}
    per_stimulus = BrainResponses(predicted, stimulus_ids).average_repeats()
    n_stimuli = per_stimulus.n_trials
    if n_stimuli < 2:
        raise InvalidArgument(f"held-out runs show {n_stimuli} distinct stimulus; retrieval needs at least 2")
    candidates = activations.align(per_stimulus.stimulus_ids)[layer].reshape(n_stimuli, -1)
    report = retrieval_report(per_stimulus.data, candidates, ks=[k for k in RETRIEVAL_KS if k <= n_stimuli])
    scores.update(report["brain_to_image"])
    return n_stimuli, scores
