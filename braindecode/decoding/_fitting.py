"""Decoders made from JSON hyper-parameters and fitted on per-trial brain responses.

``make_decoder`` builds an unfitted decoder from the hyper-parameters a request carries, and
``make_fine_tuning`` the settings of fine-tuning a shared decoder; ``fit_decoder`` matches the
trials to a layer of an activation set by stimulus id, scores the decoder by cross-validation over
runs and refits it on every trial.
"""

from __future__ import annotations

import dataclasses
import json
import math
from numbers import Real

import numpy as np
from sklearn.base import clone

from braindecode.containers import ActivationSet, BrainResponses
from braindecode.decoding._base import MAX_FIT_BYTES, BaseDecoder, PersistentDecoder
from braindecode.decoding._neural import EEGDecoder, MLPDecoder
from braindecode.decoding._ridge import RidgeDecoder
from braindecode.decoding._scoring import held_out_scores
from braindecode.decoding._shared import SharedDecoder
from braindecode.decoding._training import TrainingConfig
from braindecode.encoding import LeaveOneRunOut, check_cv
from braindecode.errors import BraindecodeError, InvalidArgument, quoted, shortened

DECODER_KINDS = {"ridge": RidgeDecoder, "mlp": MLPDecoder, "eeg": EEGDecoder, "shared": SharedDecoder}
#: The kind of ``SharedDecoder``, which ``fit_shared_decoder`` fits on responses of several subjects.
SHARED = "shared"
#: Recording modality -> the input layout of the decoders: 2-D responses or 3-D epochs.
INPUT_LAYOUTS = {"fmri": "fmri", "eeg": "eeg", "meg": "eeg"}
_SET_BY_CALLER = ("modality", "device")


def _non_negative_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


# (type of the default, check of a JSON value, what the value must be); bool before int.
_JSON_TYPES = (
    (bool, lambda v: isinstance(v, bool), "true or false"),
    (int, lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "a non-negative integer"),
    (float, _non_negative_number, "a non-negative number"),
    (str, lambda v: isinstance(v, str), "a string"),
    ((tuple, list), lambda v: isinstance(v, list) and len(v) > 0 and all(map(_non_negative_number, v)),
     "a non-empty list of non-negative numbers"),
)


def _check_json_params(values, defaults: dict, what: str) -> dict:
    """``values`` checked to name only keys of ``defaults``, each of its default's JSON type."""
    if not isinstance(values, dict):
        raise InvalidArgument(f"{what}s must be a JSON object, got {quoted(values)}")
    for name, value in values.items():
        if name not in defaults:
            raise InvalidArgument(f"unknown {what} {quoted(name)}; known: {', '.join(sorted(defaults))}")
        for kind, valid, description in _JSON_TYPES:
            if isinstance(defaults[name], kind):
                if not valid(value):
                    raise InvalidArgument(f"{what} {name!r} must be {description}, got {quoted(value)}")
                break
    return dict(values)


def make_decoder(kind: str, params: dict | None, modality: str, seed: int = 0,
                 val_fraction: float | None = None, device: str = "cpu") -> BaseDecoder:
    """An unfitted decoder from JSON hyper-parameters, checked against the decoder's own.

    Parameters
    ----------
    kind : {"ridge", "mlp", "eeg", "shared"}
        ``mlp`` and ``shared`` take fMRI responses, ``eeg`` EEG/MEG epochs, ``ridge`` either.
    params : dict, optional
        Constructor parameters as JSON values, ``training`` as a dict of ``TrainingConfig``
        fields; ``modality`` and ``device`` come from the arguments.
    modality : {"fmri", "eeg"}
        Input layout of the data: 2-D responses or 3-D epochs.
    seed : int
        ``TrainingConfig.seed`` of the neural decoders (the ridge fit is deterministic).
    val_fraction : float, optional
        Overrides ``TrainingConfig.val_fraction`` of the neural decoders.
    device : str
        Torch device of the fit.

    Returns
    -------
    decoder : RidgeDecoder, MLPDecoder, EEGDecoder or SharedDecoder
    """
    cls = DECODER_KINDS.get(kind)
    if cls is None:
        raise InvalidArgument(f"unknown decoder {quoted(kind)}; use one of {', '.join(DECODER_KINDS)}")
    defaults = {k: v for k, v in cls().get_params().items() if k not in _SET_BY_CALLER}
    params = _check_json_params({} if params is None else params, defaults, f"{kind} decoder parameter")
    if cls is RidgeDecoder:
        if val_fraction is not None:
            raise InvalidArgument("val_fraction applies to the neural decoders (mlp, eeg), not to ridge")
        return RidgeDecoder(**params, modality=modality, device=device)
    if cls.modality != modality:
        raise InvalidArgument(f"decoder {kind!r} takes {cls.modality} data but the recordings give "
                              f"{modality} responses")
    training = _training(TrainingConfig(), params.pop("training", {}), seed, val_fraction)
    return cls(**params, training=training, device=device)


def _training(start: TrainingConfig, values, seed: int, val_fraction: float | None) -> TrainingConfig:
    """``start`` with the JSON ``values`` of its fields, ``seed`` and ``val_fraction`` (when given) replaced."""
    values = _check_json_params(values, dataclasses.asdict(start), "training parameter")
    values["seed"] = int(seed)
    if val_fraction is not None:
        values["val_fraction"] = float(val_fraction)
    return dataclasses.replace(start, **values).check()


def make_fine_tuning(base: SharedDecoder, params: dict | None, seed: int = 0,
                     val_fraction: float | None = None) -> dict:
    """The settings of fine-tuning a subject of ``base``, from JSON hyper-parameters.

    Parameters
    ----------
    base : SharedDecoder
        Fitted.
    params : dict, optional
        ``head_lr_scale`` (default 0: the head stays fixed) and ``training``: a dict of
        ``TrainingConfig`` fields that replace those of ``base.training``.
    seed : int
        ``TrainingConfig.seed`` of the fine-tuning.
    val_fraction : float, optional
        Overrides ``TrainingConfig.val_fraction``.

    Returns
    -------
    settings : dict
        ``head_lr_scale`` and ``training``, keyword arguments of ``fit_shared_decoder`` (and
        ``SharedDecoder.fine_tune``).
    """
    params = _check_json_params({} if params is None else params, {"head_lr_scale": 0.0, "training": {}},
                                "fine-tuning parameter")
    start = base.training if isinstance(base.training, TrainingConfig) else TrainingConfig()
    return {"head_lr_scale": params.get("head_lr_scale", 0.0),
            "training": _training(start, params.get("training", {}), seed, val_fraction)}


@dataclasses.dataclass
class DecoderFit:
    """A decoder fitted by ``fit_decoder`` or ``fit_shared_decoder``.

    Attributes
    ----------
    model : RidgeDecoder, MLPDecoder, EEGDecoder or SharedDecoder
        Fitted on every trial.
    cv_scores : dict of str -> float
        Means of the held-out scores (see ``folds``) over the folds that have them (``top_5``
        needs 5 held-out stimuli).
    folds : list of dict
        Per fold: ``test_runs`` (runs held out), ``n_test_trials``, ``n_test_stimuli``
        and ``scores``: ``pearson`` and ``r2`` (means over embedding dimensions, per trial),
        ``top_1``, ``top_5`` and ``two_way`` (``retrieval_report``'s brain -> image scores of the
        held-out predictions averaged per stimulus, among the held-out stimuli). A shared
        decoder's has one per fold and held-out subject, naming its ``subject``.
    provenance : dict
        JSON-serializable: layer, activation model, decoder, parameters, seed, trial count,
        dropped trials and the cross-validation above; a shared decoder's also its subjects (and
        the fine-tuning).
    """

    model: PersistentDecoder
    cv_scores: dict
    folds: list
    provenance: dict


def _fit_on(estimator: BaseDecoder, X, Y, runs, auto_inner_cv: bool, report, max_fit_bytes: int) -> BaseDecoder:
    """A clone of ``estimator`` fitted with the runs as groups (when there are two or more), within
    ``max_fit_bytes``."""
    model = clone(estimator)
    n_runs = len(np.unique(runs))
    groups = runs if n_runs >= 2 else None
    try:
        if isinstance(model, RidgeDecoder):
            if auto_inner_cv:  # as many alpha-selection folds of whole runs as there are runs, up to 5
                model.set_params(cv=min(5, n_runs if groups is not None else len(X)))
            return model.fit(X, Y, groups=groups, max_fit_bytes=max_fit_bytes)
        return model.fit(X, Y, groups=groups, progress=report, max_fit_bytes=max_fit_bytes)
    except BraindecodeError:
        raise
    except (TypeError, ValueError) as exc:  # hyper-parameter values the decoder's modules reject
        raise InvalidArgument(f"cannot fit {type(model).__name__} with {quoted(json.dumps(model._params_json()))}: "
                              f"{shortened(str(exc))}") from None


def fit_decoder(responses: BrainResponses, activations: ActivationSet, layer: str, modality: str,
                decoder: str = "ridge", params: dict | None = None, cv_folds: int = 0,
                val_fraction: float | None = None, seed: int = 0, device: str = "cpu", progress=None,
                max_fit_bytes: int = MAX_FIT_BYTES) -> DecoderFit:
    """Fit a decoder from per-trial brain responses to a layer of an activation set.

    Trials are matched to activation rows by stimulus id and the decoder is fitted on single
    trials with the runs as groups (ridge alpha selection and the neural decoders'
    early-stopping split never split a run); it is scored on held-out runs, then refitted on
    every trial.

    Parameters
    ----------
    responses : BrainResponses
        data of shape (n_trials, n_features) or (n_trials, n_channels, n_times); ``runs``
        group the trials.
    activations : ActivationSet
        Holds every trial's stimulus.
    layer : str
        The target embedding space; the layer's rows are flattened to (n_stimuli, n_dims).
    modality : {"fmri", "eeg", "meg"}
        Of the responses (see ``INPUT_LAYOUTS``).
    decoder : {"ridge", "mlp", "eeg"}
        (``fit_shared_decoder`` fits "shared" ones.)
    params : dict, optional
        JSON hyper-parameters (see ``make_decoder``). Without ``cv``, ridge selects alphas by
        ``min(5, n_runs)`` folds of whole runs.
    cv_folds : int
        Folds of whole runs for the scores; 0 leaves one run out at a time.
    val_fraction : float, optional
        Early-stopping hold-out of the neural decoders (see ``make_decoder``).
    seed : int
    device : str
    progress : callable, optional
        ``progress(stage, done, total)`` with stages "cross-validation" (``done`` in folds,
        fractional within a fold of a neural decoder) and "fit". An exception it raises stops
        the fit.
    max_fit_bytes : int
        Most bytes one fit may hold (the decoder's ``fit_footprint``); past it ResourceExhausted
        before the fit allocates.

    Returns
    -------
    fit : DecoderFit
    """
    if decoder == SHARED:
        raise InvalidArgument("decoder 'shared' decodes several subjects through their own adapters: fit it with "
                              "fit_shared_decoder")
    report = progress or (lambda stage, done, total: None)
    auto_inner_cv = decoder == "ridge" and "cv" not in (params or {})
    estimator = make_decoder(decoder, params, INPUT_LAYOUTS[modality], seed, val_fraction, device)
    X, runs, n_trials = responses.data, responses.runs, responses.n_trials
    Y = np.asarray(activations.align(responses.stimulus_ids)[layer], dtype=np.float32).reshape(n_trials, -1)
    splits = check_cv(LeaveOneRunOut() if cv_folds == 0 else cv_folds, n_trials, groups=runs)

    folds = []
    for i, (train, test) in enumerate(splits):
        train, test = train.numpy(), test.numpy()

        def fold_progress(record, i=i):
            report("cross-validation", i + record["epoch"] / record["max_epochs"], len(splits))

        model = _fit_on(estimator, X[train], Y[train], runs[train], auto_inner_cv, fold_progress, max_fit_bytes)
        n_stimuli, scores = held_out_scores(model.predict(X[test]), Y[test], responses.stimulus_ids[test],
                                            activations, layer)
        folds.append({"test_runs": sorted(set(runs[test].tolist())), "n_test_trials": len(test),
                      "n_test_stimuli": n_stimuli, "scores": scores})
        report("cross-validation", i + 1, len(splits))
    names = sorted({name for fold in folds for name in fold["scores"]})
    cv_scores = {name: float(np.mean([f["scores"][name] for f in folds if name in f["scores"]]))
                 for name in names}

    report("fit", 0, 1)
    model = _fit_on(estimator, X, Y, runs, auto_inner_cv,
                    lambda record: report("fit", record["epoch"], record["max_epochs"]), max_fit_bytes)
    report("fit", 1, 1)
    provenance = {
        "layer": layer, "activation_model": activations.model, "decoder": decoder, "params": params or {},
        "seed": int(seed), "n_trials": int(n_trials), "dropped_trials": responses.info.get("dropped", {}),
        "cross_validation": {"scheme": "leave-one-run-out" if cv_folds == 0 else f"{cv_folds} folds of runs",
                             "scores": cv_scores, "folds": folds},
    }
    return DecoderFit(model, cv_scores, folds, provenance)
