"""Decoders fitted on stored recordings, kept as store artifacts and served from them.

``fit_decoder_from_store`` matches the per-trial responses of stored recordings to a layer of
a stored activation set by stimulus id, scores the decoder by cross-validation over runs and
refits it on every trial; ``save_decoder_artifact`` stores it (safetensors weights, config and
an ONNX graph) as one artifact; ``load_decoder_artifact`` opens that graph on ONNX Runtime;
``retrieve_from_store`` ranks stored or given candidates for each query.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import tempfile
from numbers import Real

import numpy as np
from sklearn.base import clone

from braindecode.containers import BrainResponses
from braindecode.decoding._base import BaseDecoder
from braindecode.decoding._neural import EEGDecoder, MLPDecoder
from braindecode.decoding._onnx import OnnxDecoder, export_onnx
from braindecode.decoding._persistence import save_decoder
from braindecode.decoding._retrieval import retrieval_report, retrieve
from braindecode.decoding._ridge import RidgeDecoder
from braindecode.decoding._training import TrainingConfig
from braindecode.encoding import LeaveOneRunOut, check_cv, pearson_r, r2_score
from braindecode.errors import BraindecodeError, InvalidArgument
from braindecode.store import (
    ArtifactInfo,
    Store,
    load_activation_set,
    load_responses,
    recordings_of_one_modality,
    save_directory,
)

DECODER_ARTIFACT = "decoder"
ONNX_FILE = "model.onnx"
DECODER_KINDS = {"ridge": RidgeDecoder, "mlp": MLPDecoder, "eeg": EEGDecoder}
#: Recording modality -> the input layout of the decoders: 2-D responses or 3-D epochs.
INPUT_LAYOUTS = {"fmri": "fmri", "eeg": "eeg", "meg": "eeg"}
RETRIEVAL_KS = (1, 5)
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
        raise InvalidArgument(f"{what}s must be a JSON object, got {values!r}")
    for name, value in values.items():
        if name not in defaults:
            raise InvalidArgument(f"unknown {what} {name!r}; known: {', '.join(sorted(defaults))}")
        for kind, valid, description in _JSON_TYPES:
            if isinstance(defaults[name], kind):
                if not valid(value):
                    raise InvalidArgument(f"{what} {name!r} must be {description}, got {value!r}")
                break
    return dict(values)


def make_decoder(kind: str, params: dict | None, modality: str, seed: int = 0,
                 val_fraction: float | None = None, device: str = "cpu") -> BaseDecoder:
    """An unfitted decoder from JSON hyper-parameters, checked against the decoder's own.

    Parameters
    ----------
    kind : {"ridge", "mlp", "eeg"}
        ``mlp`` takes fMRI responses, ``eeg`` EEG/MEG epochs, ``ridge`` either.
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
    decoder : RidgeDecoder, MLPDecoder or EEGDecoder
    """
    cls = DECODER_KINDS.get(kind)
    if cls is None:
        raise InvalidArgument(f"unknown decoder {kind!r}; use one of {', '.join(DECODER_KINDS)}")
    defaults = {k: v for k, v in cls().get_params().items() if k not in _SET_BY_CALLER}
    params = _check_json_params({} if params is None else params, defaults, f"{kind} decoder parameter")
    if cls is RidgeDecoder:
        if val_fraction is not None:
            raise InvalidArgument("val_fraction applies to the neural decoders (mlp, eeg), not to ridge")
        return RidgeDecoder(**params, modality=modality, device=device)
    if cls.modality != modality:
        raise InvalidArgument(f"decoder {kind!r} takes {cls.modality} data but the recordings give "
                              f"{modality} responses")
    training = _check_json_params(params.pop("training", {}), dataclasses.asdict(TrainingConfig()),
                                  "training parameter")
    training["seed"] = int(seed)
    if val_fraction is not None:
        training["val_fraction"] = float(val_fraction)
    return cls(**params, training=TrainingConfig(**training).check(), device=device)


@dataclasses.dataclass
class DecoderFit:
    """A decoder fitted by ``fit_decoder_from_store``.

    Attributes
    ----------
    model : RidgeDecoder, MLPDecoder or EEGDecoder
        Fitted on every trial.
    cv_scores : dict of str -> float
        Means of the held-out scores (see ``folds``) over the folds that have them (``top_5``
        needs 5 held-out stimuli).
    folds : list of dict
        Per fold: ``test_runs`` (recording ids held out), ``n_test_trials``, ``n_test_stimuli``
        and ``scores``: ``pearson`` and ``r2`` (means over embedding dimensions, per trial),
        ``top_1``, ``top_5`` and ``two_way`` (``retrieval_report``'s brain -> image scores of the
        held-out predictions averaged per stimulus, among the held-out stimuli).
    provenance : dict
        JSON-serializable: recordings (ids, sha256), activation set, layer, preprocessing,
        decoder, seed and the cross-validation above.
    """

    model: BaseDecoder
    cv_scores: dict
    folds: list
    provenance: dict


def _recordings(store: Store, tenant: str, recording_ids) -> list:
    """The RecordingInfo of each id: distinct ids, one modality that a decoder can take."""
    return recordings_of_one_modality(store, tenant, recording_ids, INPUT_LAYOUTS,
                                      "cannot decode {modality} recordings; decoders take {supported}")


def _fit_on(estimator: BaseDecoder, X, Y, runs, auto_inner_cv: bool, report) -> BaseDecoder:
    """A clone of ``estimator`` fitted with the runs as groups (when there are two or more)."""
    model = clone(estimator)
    n_runs = len(np.unique(runs))
    groups = runs if n_runs >= 2 else None
    try:
        if isinstance(model, RidgeDecoder):
            if auto_inner_cv:  # as many alpha-selection folds of whole runs as there are runs, up to 5
                model.set_params(cv=min(5, n_runs if groups is not None else len(X)))
            return model.fit(X, Y, groups=groups)
        return model.fit(X, Y, groups=groups, progress=report)
    except BraindecodeError:
        raise
    except (TypeError, ValueError) as exc:  # hyper-parameter values the decoder's modules reject
        raise InvalidArgument(f"cannot fit {type(model).__name__} with {model._params_json()}: {exc}") from None


def _held_out_scores(predicted, target, stimulus_ids, activations, layer: str) -> tuple:
    """(number of held-out stimuli, scores) of predictions on held-out trials."""
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


def fit_decoder_from_store(store: Store, tenant: str, recording_ids, preprocessing: dict,
                           activation_set_id: str, layer: str, decoder: str = "ridge",
                           params: dict | None = None, cv_folds: int = 0, val_fraction: float | None = None,
                           seed: int = 0, device: str = "cpu", progress=None) -> DecoderFit:
    """Fit a decoder from stored recordings to a layer of a stored activation set.

    Every recording is one run. Trials are matched to activation rows by stimulus id and the
    decoder is fitted on single trials with the runs as groups (ridge alpha selection and the
    neural decoders' early-stopping split never split a run); it is scored on held-out runs,
    then refitted on every trial.

    Parameters
    ----------
    store : Store
    tenant : str
        Owner of the recordings and the activation set.
    recording_ids : list of str
        Recordings of one modality (fmri, or eeg/meg).
    preprocessing : dict
        ``braindecode.preprocessing.preprocess`` spec with an ``epochs`` or ``trials`` step.
    activation_set_id, layer : str
        The target embedding space; a layer's rows are flattened to (n_stimuli, n_dims).
    decoder : {"ridge", "mlp", "eeg"}
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
        ``progress(stage, done, total)`` with stages "responses", "cross-validation" (``done``
        in folds, fractional within a fold of a neural decoder) and "fit". An exception it
        raises stops the fit.

    Returns
    -------
    fit : DecoderFit
    """
    report = progress or (lambda stage, done, total: None)
    infos = _recordings(store, tenant, recording_ids)
    modality = INPUT_LAYOUTS[infos[0].modality]
    auto_inner_cv = decoder == "ridge" and "cv" not in (params or {})
    estimator = make_decoder(decoder, params, modality, seed, val_fraction, device)
    activations = load_activation_set(store, tenant, activation_set_id)
    activations[layer]  # an unknown layer fails here, before the preprocessing
    if not isinstance(preprocessing, dict) or preprocessing.get("modality") != infos[0].modality:
        raise InvalidArgument(f"preprocessing must be a spec with modality {infos[0].modality!r} "
                              f"like the recordings, got {preprocessing!r}")
    report("responses", 0, 1)
    responses = load_responses(store, tenant, [info.id for info in infos], preprocessing)
    report("responses", 1, 1)
    X, runs, n_trials = responses.data, responses.runs, responses.n_trials
    Y = np.asarray(activations.align(responses.stimulus_ids)[layer], dtype=np.float32).reshape(n_trials, -1)
    splits = check_cv(LeaveOneRunOut() if cv_folds == 0 else cv_folds, n_trials, groups=runs)

    folds = []
    for i, (train, test) in enumerate(splits):
        train, test = train.numpy(), test.numpy()

        def fold_progress(record, i=i):
            report("cross-validation", i + record["epoch"] / record["max_epochs"], len(splits))

        model = _fit_on(estimator, X[train], Y[train], runs[train], auto_inner_cv, fold_progress)
        n_stimuli, scores = _held_out_scores(model.predict(X[test]), Y[test], responses.stimulus_ids[test],
                                             activations, layer)
        folds.append({"test_runs": sorted(set(runs[test].tolist())), "n_test_trials": len(test),
                      "n_test_stimuli": n_stimuli, "scores": scores})
        report("cross-validation", i + 1, len(splits))
    names = sorted({name for fold in folds for name in fold["scores"]})
    cv_scores = {name: float(np.mean([f["scores"][name] for f in folds if name in f["scores"]]))
                 for name in names}

    report("fit", 0, 1)
    model = _fit_on(estimator, X, Y, runs, auto_inner_cv,
                    lambda record: report("fit", record["epoch"], record["max_epochs"]))
    report("fit", 1, 1)
    provenance = {
        "recordings": [{"id": info.id, "sha256": info.sha256, "subject": info.subject,
                        "modality": info.modality} for info in infos],
        "activation_set_id": activation_set_id, "layer": layer, "activation_model": activations.model,
        "preprocessing": preprocessing, "decoder": decoder, "params": params or {}, "seed": int(seed),
        "n_trials": int(n_trials), "dropped_trials": responses.info.get("dropped", {}),
        "cross_validation": {"scheme": "leave-one-run-out" if cv_folds == 0 else f"{cv_folds} folds of runs",
                             "scores": cv_scores, "folds": folds},
    }
    return DecoderFit(model, cv_scores, folds, provenance)


def save_decoder_artifact(store: Store, tenant: str, model: BaseDecoder,
                          provenance: dict | None = None) -> ArtifactInfo:
    """Store a fitted decoder as one ``decoder`` artifact: weights, config and ``model.onnx``.

    Parameters
    ----------
    model : RidgeDecoder, MLPDecoder or EEGDecoder
        Fitted.
    provenance : dict, optional
        JSON-serializable; kept in the artifact and in the saved config.

    Returns
    -------
    info : ArtifactInfo
        ``meta`` holds the class, modality, input_shape and n_dims.
    """
    with tempfile.TemporaryDirectory() as tmp:
        save_decoder(model, tmp, provenance)
        export_onnx(model, pathlib.Path(tmp) / ONNX_FILE)
        meta = {"class": type(model).__name__, "modality": model.modality,
                "input_shape": list(model.input_shape_), "n_dims": int(model.n_dims_)}
        return save_directory(store, tenant, DECODER_ARTIFACT, tmp, meta, provenance)


def load_decoder_artifact(store: Store, tenant: str, decoder_id: str, device: str = "cpu",
                          threads: int | None = None) -> OnnxDecoder:
    """The stored decoder's ONNX graph on ONNX Runtime (NotFound for another tenant's or kind's id).

    ``braindecode.decoding.load_decoder(store.artifact_dir(tenant, decoder_id))`` gives the torch
    decoder instead.

    Parameters
    ----------
    device : {"cpu", "cuda", "cuda:N", "auto"}
    threads : int, optional
        Intra-op threads of the CPU session (default: ONNX Runtime's, one per core); a server
        running many sessions at once wants 1.
    """
    store.get_artifact(tenant, decoder_id, DECODER_ARTIFACT)
    return OnnxDecoder(store.artifact_dir(tenant, decoder_id) / ONNX_FILE, device=device, threads=threads)


def retrieve_from_store(store: Store, tenant: str, queries, k: int = 5, activation_set_id: str = "",
                        layer: str = "", candidates=None, candidate_ids=None, decoder=None) -> tuple:
    """The ``k`` candidate stimuli most similar (cosine) to each query.

    Parameters
    ----------
    queries : array of shape (n_queries, n_dims), or (n_queries, *input_shape) with ``decoder``
        Embeddings, or brain samples that ``decoder`` decodes first.
    k : int
    activation_set_id, layer : str
        Candidates from a layer of a stored activation set (rows flattened), ids its stimulus ids ...
    candidates : array of shape (n_candidates, n_dims), optional
    candidate_ids : array of shape (n_candidates,), optional
        ... or given candidates with their ids.
    decoder : fitted decoder or OnnxDecoder, optional
        Anything with ``predict(X) -> (n, n_dims)``.

    Returns
    -------
    ids : array of shape (n_queries, k)
        Candidate ids, most similar first.
    scores : array of shape (n_queries, k), float32
    """
    if bool(activation_set_id) == (candidates is not None):
        raise InvalidArgument("give the candidates either as activation_set_id and layer or as candidates "
                              "and candidate_ids (exactly one of the two)")
    if activation_set_id:
        if not layer:
            raise InvalidArgument("layer is required with activation_set_id")
        if candidate_ids is not None:
            raise InvalidArgument("candidate_ids go with candidates, not with activation_set_id")
        activations = load_activation_set(store, tenant, activation_set_id)
        candidate_ids = activations.stimulus_ids
        candidates = np.array(activations[layer], dtype=np.float32).reshape(len(candidate_ids), -1)
    elif layer:
        raise InvalidArgument("layer applies to activation_set_id candidates only")
    embeddings = queries if decoder is None else decoder.predict(queries)
    return retrieve(embeddings, candidates, [] if candidate_ids is None else candidate_ids, k=k)
