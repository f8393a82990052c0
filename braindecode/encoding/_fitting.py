"""Encoders fitted on per-trial brain responses from layers of an activation set.

``fit_encoder`` matches the trials to activation rows by stimulus id, scores a ridge (one
layer) or banded ridge (several) encoder by cross-validation over runs and refits it on every
trial.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import clone

from braindecode._devices import resolve_device
from braindecode.containers import ActivationSet, BrainResponses
from braindecode.encoding._cv import LeaveOneRunOut, check_cv
from braindecode.encoding._encoder import BrainSpace, Encoder, stack_layers
from braindecode.encoding._encoder_scores import response_matrix, run_means, summarize_scores, target_scores
from braindecode.encoding._estimators import DEFAULT_ALPHAS, BandedRidgeCV, RidgeCV
from braindecode.encoding._features import make_delays, times_to_lags
from braindecode.encoding._validation import check_alphas
from braindecode.errors import InvalidArgument

#: Inner folds (of whole runs where there are two or more) that select the alphas.
MAX_INNER_FOLDS = 5


@dataclass
class EncoderFit:
    """An encoder fitted by ``fit_encoder``.

    Attributes
    ----------
    encoder : Encoder
        Fitted on every trial; ``encoder.provenance`` says how.
    target_scores : dict of str -> array of shape (n_targets,)
        Cross-validated scores (see ``target_scores``) of the held-out predictions.
    cv_scores : dict of str -> float
        Their summary (see ``summarize_scores``).
    folds : list of dict
        Per fold: ``test_runs`` (runs held out), ``n_test_trials`` and ``scores``
        (``pearson`` and ``r2`` averaged over targets).
    """

    encoder: Encoder
    target_scores: dict
    cv_scores: dict
    folds: list


def _check_layers(layers) -> list:
    layers = [str(layer) for layer in layers]
    if not layers:
        raise InvalidArgument("no layers given; name one layer (ridge) or several (banded ridge)")
    repeated = sorted({layer for layer in layers if layers.count(layer) > 1})
    if repeated:
        raise InvalidArgument(f"layers given more than once: {', '.join(repeated)}")
    return layers


def _resolve_delays(delays, lags) -> tuple | None:
    """Delays in trials from ``delays`` or from ``lags`` = (tmin, tmax, sfreq) in seconds."""
    if delays is not None and lags is not None:
        raise InvalidArgument("give delays (in trials) or lags (in seconds), not both")
    if lags is not None:
        delays = times_to_lags(*lags)
    if delays is None:
        return None
    values = np.asarray(delays)
    if values.ndim != 1 or values.size == 0 or values.dtype.kind not in "iu":
        raise InvalidArgument(f"delays must be a non-empty list of integers (trials), got {delays!r}")
    if len(np.unique(values)) != len(values):
        raise InvalidArgument(f"delays repeat a value: {values.tolist()}")
    return tuple(int(d) for d in values)


def _fit_on(template, X, Y, runs):
    """A clone of ``template`` fitted with its alphas chosen over folds of whole runs (where there are 2+)."""
    model = clone(template)
    n_runs = len(np.unique(runs))
    if n_runs >= 2:
        return model.set_params(cv=min(MAX_INNER_FOLDS, n_runs)).fit(X, Y, groups=runs)
    return model.set_params(cv=min(MAX_INNER_FOLDS, len(X))).fit(X, Y)


def fit_encoder(responses: BrainResponses, activations: ActivationSet, layers, modality: str,
                alphas=DEFAULT_ALPHAS, delays=None, lags=None, cv_folds: int = 0, n_ratios: int = 20, seed: int = 0,
                device: str = "cpu", grid=None, progress=None) -> EncoderFit:
    """Fit an encoder from layers of an activation set to per-trial brain responses.

    Trials are matched to activation rows by stimulus id; the layers, side by side (and delayed
    within each run), predict the flattened responses. The encoder is scored on held-out runs,
    then refitted on every trial; the alphas (and band ratios) are chosen per target by inner
    folds of whole runs.

    Parameters
    ----------
    responses : BrainResponses
        data of shape (n_trials, n_features) or (n_trials, n_channels, n_times); ``runs``
        group the trials (each run in time order where there are delays).
    activations : ActivationSet
        Holds every trial's stimulus.
    layers : list of str
        One layer fits a ``RidgeCV``, several a ``BandedRidgeCV`` with one band per layer.
    modality : {"fmri", "eeg", "meg"}
        Of the responses (the encoder's brain space).
    alphas : sequence of float
    delays : sequence of int, optional
        Finite impulse response over the trials of a run (e.g. one trial per fMRI scan): the
        features of trial ``t - d`` for each delay ``d``.
    lags : (float, float, float), optional
        ``(tmin, tmax, sfreq)``: delays from lags in seconds for trials sampled at ``sfreq`` (a
        temporal response function); at most one of ``delays`` and ``lags``.
    cv_folds : int
        Folds of whole runs for the scores; 0 leaves one run out at a time.
    n_ratios : int
        Band-ratio candidates of the banded ridge.
    seed : int
        Seed of the band-ratio draws.
    device : str
        Torch device of the solvers.
    grid : (tuple of int, array of shape (4, 4)), optional
        Shape and affine of the voxel grid of fMRI responses whose features are voxels: the
        encoder then maps its scores back into that grid.
    progress : callable, optional
        ``progress(stage, done, total)`` with stages "cross-validation" (``done`` in folds) and
        "fit". An exception it raises stops the fit.

    Returns
    -------
    fit : EncoderFit
        ``encoder.provenance`` holds the layers, estimator, alphas, delays, seed, trial count,
        dropped trials and the cross-validation.
    """
    report = progress or (lambda stage, done, total: None)
    layers = _check_layers(layers)
    alphas = check_alphas(alphas).tolist()
    delays = _resolve_delays(delays, lags)
    resolve_device(device)
    Y, runs, stimulus_ids = response_matrix(responses), responses.runs, responses.stimulus_ids
    aligned = activations.align(stimulus_ids)
    X = stack_layers(aligned, layers)
    widths = {layer: int(np.prod(aligned[layer].shape[1:])) for layer in layers}
    design = X if delays is None else make_delays(X, delays, runs)
    if len(layers) == 1:
        template = RidgeCV(alphas=alphas, device=device)
    else:
        bands = np.tile(np.repeat(layers, list(widths.values())), 1 if delays is None else len(delays))
        template = BandedRidgeCV(bands, alphas=alphas, ratios=int(n_ratios), random_state=int(seed), device=device)
    splits = check_cv(LeaveOneRunOut() if cv_folds == 0 else cv_folds, len(Y), groups=runs)

    held_out, folds = np.empty_like(Y), []
    report("cross-validation", 0, len(splits))
    for i, (train, test) in enumerate(splits):
        train, test = train.numpy(), test.numpy()
        held_out[test] = _fit_on(template, design[train], Y[train], runs[train]).predict(design[test])
        fold = run_means(Y[test], held_out[test], runs[test])
        folds.append({"test_runs": sorted(set(runs[test].tolist())), "n_test_trials": len(test),
                      "scores": {name: float(np.mean(values, dtype=np.float64)) for name, values in fold.items()}})
        report("cross-validation", i + 1, len(splits))
    scores = target_scores(Y, held_out, runs, stimulus_ids)
    cv_scores = summarize_scores(scores)

    report("fit", 0, 1)
    estimator = _fit_on(template, design, Y, runs)
    report("fit", 1, 1)
    chosen, counts = np.unique(np.asarray(estimator.best_alphas_).reshape(-1), return_counts=True)
    provenance = {
        "layers": layers, "activation_model": activations.model, "estimator": type(estimator).__name__,
        "alphas": alphas, "selected_alphas": {f"{alpha:g}": int(n) for alpha, n in zip(chosen, counts)},
        "delays": None if delays is None else list(delays), "n_ratios": int(n_ratios) if len(layers) > 1 else None,
        "seed": int(seed), "n_trials": len(Y), "dropped_trials": responses.info.get("dropped", {}),
        "cross_validation": {
            "scheme": "leave-one-run-out" if cv_folds == 0 else f"{cv_folds} folds of runs",
            "alpha_selection": f"up to {MAX_INNER_FOLDS} inner folds of whole runs",
            "scores": cv_scores, "folds": folds},
    }
    grid_shape, affine = grid if grid is not None else (None, None)
    space = BrainSpace.from_responses(responses, modality, grid_shape, affine)
    return EncoderFit(Encoder(estimator, widths, delays, space, provenance), scores, cv_scores, folds)
