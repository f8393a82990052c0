"""Encoders fitted on stored recordings, kept as store artifacts, used and scored from them.

``fit_encoder_from_store`` matches the per-trial responses of stored recordings to layers of a
stored activation set by stimulus id, scores a ridge (one layer) or banded ridge (several)
encoder by cross-validation over runs and refits it on every trial; ``save_encoder_artifact``
stores it as an ``encoder`` artifact; ``predict_from_store`` and ``score_encoder_from_store``
use a stored encoder, the latter keeping per-target scores (and, for fMRI voxels, a NIfTI map
in the recordings' space) as a ``score-map`` artifact.

Scores are per target (voxel, ROI, or channel x time point) on single trials: Pearson r and
R^2 in each run, averaged over runs. Where at least two stimuli are shown more than once, the
NCSNR noise ceiling of single trials (``noise_ceiling`` with ``n_average=1``) normalizes them.
"""

from __future__ import annotations

import pathlib
import tempfile
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone

from braindecode.containers import BrainResponses
from braindecode.encoding._cv import LeaveOneRunOut, check_cv
from braindecode.encoding._estimators import DEFAULT_ALPHAS, BandedRidgeCV, RidgeCV
from braindecode.encoding._features import make_delays, times_to_lags
from braindecode.encoding._nifti import scores_to_nifti
from braindecode.encoding._noise_ceiling import noise_ceiling, normalize_by_ceiling
from braindecode.encoding._persistence import BrainSpace, Encoder, load_encoder, nifti_bytes, save_encoder, stack_layers
from braindecode.encoding._scoring import pearson_r, r2_score
from braindecode.encoding._validation import check_alphas, resolve_device
from braindecode.errors import InvalidArgument
from braindecode.store import (
    ArtifactInfo,
    Store,
    load_activation_set,
    load_responses,
    recordings_of_one_modality,
    save_directory,
)

ENCODER_ARTIFACT = "encoder"
SCORE_MAP_ARTIFACT = "score-map"
SCORES_FILE = "scores.npy"
SCORE_MAP_FILE = "score_map.nii.gz"
_MODALITIES = ("fmri", "eeg", "meg")
#: Inner folds (of whole runs where there are two or more) that select the alphas.
MAX_INNER_FOLDS = 5


@dataclass
class EncoderFit:
    """An encoder fitted by ``fit_encoder_from_store``.

    Attributes
    ----------
    encoder : Encoder
        Fitted on every trial; ``encoder.provenance`` says how.
    target_scores : dict of str -> array of shape (n_targets,)
        Cross-validated scores (see ``target_scores``) of the held-out predictions.
    cv_scores : dict of str -> float
        Their summary (see ``summarize_scores``).
    folds : list of dict
        Per fold: ``test_runs`` (recording ids held out), ``n_test_trials`` and ``scores``
        (``pearson`` and ``r2`` averaged over targets).
    """

    encoder: Encoder
    target_scores: dict
    cv_scores: dict
    folds: list


@dataclass
class EncoderScores:
    """An encoder scored on stored recordings by ``score_encoder_from_store``.

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
    info : ArtifactInfo
        The stored ``score-map`` artifact.
    """

    target_scores: dict
    summary: dict
    n_trials: int
    response_shape: tuple
    score_map: bytes | None
    info: ArtifactInfo

    @property
    def id(self) -> str:
        return self.info.id


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


def _run_means(Y, Y_pred, runs) -> dict:
    """Per-target Pearson r and R^2 of each run, averaged over runs."""
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
    scores = _run_means(Y, Y_pred, runs)
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


def _recordings(store: Store, tenant: str, recording_ids) -> list:
    """The RecordingInfo of each id: distinct ids of one modality an encoder can predict."""
    return recordings_of_one_modality(store, tenant, recording_ids, _MODALITIES,
                                      "cannot encode {modality} recordings; encoders predict {supported}")


def _voxel_grid(infos) -> tuple:
    """(shape, affine) of the fMRI recordings' common voxel grid; (None, None) for EEG/MEG."""
    if infos[0].modality != "fmri":
        return None, None
    shape, affine = tuple(infos[0].meta["shape"][:3]), np.asarray(infos[0].meta["affine"], dtype=np.float64)
    for info in infos[1:]:
        other = np.asarray(info.meta["affine"], dtype=np.float64)
        if tuple(info.meta["shape"][:3]) != shape or not np.allclose(other, affine, atol=1e-4):
            raise InvalidArgument(f"recording {info.id!r} lies on another voxel grid than {infos[0].id!r} "
                                  f"(shape {tuple(info.meta['shape'][:3])} vs {shape}, or another affine); "
                                  "resample the runs to one grid")
    return shape, affine


def _check_spec(preprocessing, modality: str) -> dict:
    if not isinstance(preprocessing, dict) or preprocessing.get("modality") != modality:
        raise InvalidArgument(f"preprocessing must be a spec with modality {modality!r} like the recordings, "
                              f"got {preprocessing!r}")
    return preprocessing


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


def _response_matrix(responses: BrainResponses) -> np.ndarray:
    """The responses as (n_trials, n_targets), refused when any is NaN or infinite."""
    Y = responses.flat()
    finite = np.isfinite(Y).all(axis=1)
    if not finite.all():
        runs = sorted(set(responses.runs[~finite].tolist()))
        raise InvalidArgument(f"the responses of {int((~finite).sum())} trials contain NaN or infinite values "
                              f"(recordings {', '.join(runs)})")
    return Y


def _fit_on(template, X, Y, runs):
    """A clone of ``template`` fitted with its alphas chosen over folds of whole runs (where there are 2+)."""
    model = clone(template)
    n_runs = len(np.unique(runs))
    if n_runs >= 2:
        return model.set_params(cv=min(MAX_INNER_FOLDS, n_runs)).fit(X, Y, groups=runs)
    return model.set_params(cv=min(MAX_INNER_FOLDS, len(X))).fit(X, Y)


def fit_encoder_from_store(store: Store, tenant: str, recording_ids, preprocessing: dict, activation_set_id: str,
                           layers, alphas=DEFAULT_ALPHAS, delays=None, lags=None, cv_folds: int = 0,
                           n_ratios: int = 20, seed: int = 0, device: str = "cpu", progress=None) -> EncoderFit:
    """Fit an encoder from layers of a stored activation set to stored recordings.

    Every recording is one run. Trials are matched to activation rows by stimulus id; the
    layers, side by side (and delayed within each run), predict the flattened per-trial
    responses. The encoder is scored on held-out runs, then refitted on every trial; the alphas
    (and band ratios) are chosen per target by inner folds of whole runs.

    Parameters
    ----------
    store : Store
    tenant : str
        Owner of the recordings and the activation set.
    recording_ids : list of str
        Recordings of one modality (fmri, eeg or meg); fMRI runs on one voxel grid.
    preprocessing : dict
        ``braindecode.preprocessing.preprocess`` spec with a ``trials`` or ``epochs`` step.
    activation_set_id : str
    layers : list of str
        One layer fits a ``RidgeCV``, several a ``BandedRidgeCV`` with one band per layer.
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
    progress : callable, optional
        ``progress(stage, done, total)`` with stages "responses", "cross-validation" (``done``
        in folds) and "fit". An exception it raises stops the fit.

    Returns
    -------
    fit : EncoderFit
    """
    report = progress or (lambda stage, done, total: None)
    infos = _recordings(store, tenant, recording_ids)
    modality = infos[0].modality
    layers = _check_layers(layers)
    alphas = check_alphas(alphas).tolist()
    delays = _resolve_delays(delays, lags)
    resolve_device(device)
    grid_shape, affine = _voxel_grid(infos)
    _check_spec(preprocessing, modality)
    activations = load_activation_set(store, tenant, activation_set_id)
    for layer in layers:
        activations[layer]  # an unknown layer fails here, before the preprocessing

    report("responses", 0, 1)
    responses = load_responses(store, tenant, [info.id for info in infos], preprocessing)
    report("responses", 1, 1)
    Y, runs, stimulus_ids = _response_matrix(responses), responses.runs, responses.stimulus_ids
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
        fold = _run_means(Y[test], held_out[test], runs[test])
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
        "recordings": [{"id": info.id, "sha256": info.sha256, "subject": info.subject, "modality": info.modality}
                       for info in infos],
        "activation_set_id": activation_set_id, "layers": layers, "activation_model": activations.model,
        "preprocessing": preprocessing, "estimator": type(estimator).__name__, "alphas": alphas,
        "selected_alphas": {f"{alpha:g}": int(n) for alpha, n in zip(chosen, counts)},
        "delays": None if delays is None else list(delays), "n_ratios": int(n_ratios) if len(layers) > 1 else None,
        "seed": int(seed), "n_trials": len(Y), "dropped_trials": responses.info.get("dropped", {}),
        "cross_validation": {
            "scheme": "leave-one-run-out" if cv_folds == 0 else f"{cv_folds} folds of runs",
            "alpha_selection": f"up to {MAX_INNER_FOLDS} inner folds of whole runs",
            "scores": cv_scores, "folds": folds},
    }
    space = BrainSpace.from_responses(responses, modality, grid_shape, affine)
    return EncoderFit(Encoder(estimator, widths, delays, space, provenance), scores, cv_scores, folds)


def save_encoder_artifact(store: Store, tenant: str, encoder: Encoder) -> ArtifactInfo:
    """Store a fitted encoder (``save_encoder``'s files) as one ``encoder`` artifact.

    Returns
    -------
    info : ArtifactInfo
        ``meta`` holds the class, modality, response shape, layers and delays; ``provenance``
        the encoder's.
    """
    with tempfile.TemporaryDirectory() as tmp:
        save_encoder(encoder, tmp)
        space = encoder.space
        meta = {"class": type(encoder.estimator).__name__, "modality": None if space is None else space.modality,
                "response_shape": None if space is None else list(space.response_shape),
                "n_features": encoder.n_features, "layers": encoder.layers,
                "delays": None if encoder.delays is None else list(encoder.delays)}
        return save_directory(store, tenant, ENCODER_ARTIFACT, tmp, meta, encoder.provenance)


def load_encoder_artifact(store: Store, tenant: str, encoder_id: str) -> Encoder:
    """The stored encoder (NotFound for another tenant's or kind's id)."""
    store.get_artifact(tenant, encoder_id, ENCODER_ARTIFACT)
    return load_encoder(store.artifact_dir(tenant, encoder_id))


def predict_from_store(store: Store, tenant: str, encoder_id: str, features=None, activation_set_id: str = "",
                       stimulus_ids=None) -> np.ndarray:
    """Responses predicted by a stored encoder.

    Parameters
    ----------
    encoder_id : str
    features : array of shape (n, n_features), optional
        The encoder's layers side by side (before delays) ...
    activation_set_id : str
    stimulus_ids : array of shape (n,), optional
        ... or the rows of these stimuli in a stored activation set. With delays the rows are
        one run in time order.

    Returns
    -------
    Y_pred : array of shape (n, *response_shape), float32
    """
    encoder = load_encoder_artifact(store, tenant, encoder_id)
    if (features is None) == (not activation_set_id):
        raise InvalidArgument("give the features either as features or as activation_set_id and stimulus_ids "
                              "(exactly one of the two)")
    if activation_set_id:
        if stimulus_ids is None or len(stimulus_ids) == 0:
            raise InvalidArgument("stimulus_ids are required with activation_set_id")
        features = encoder.features(load_activation_set(store, tenant, activation_set_id).align(stimulus_ids))
    elif stimulus_ids is not None and len(stimulus_ids):
        raise InvalidArgument("stimulus_ids go with activation_set_id, not with features")
    return encoder.predict(features)


def _check_responses(encoder_id: str, space: BrainSpace, infos, responses: BrainResponses) -> None:
    """The recordings give responses in the encoder's space: same shape and, for voxels, same voxels."""
    if responses.data.shape[1:] != space.response_shape:
        raise InvalidArgument(f"the recordings give responses of shape {responses.data.shape[1:]} but encoder "
                              f"{encoder_id!r} predicts {space.response_shape}; use its preprocessing")
    if space.mask is not None:
        grid_shape, affine = _voxel_grid(infos)
        if grid_shape != space.mask.shape or not np.allclose(affine, space.affine, atol=1e-4):
            raise InvalidArgument(f"the recordings lie on another voxel grid (shape {grid_shape}) than encoder "
                                  f"{encoder_id!r} (shape {space.mask.shape}, or another affine)")
        if list(responses.feature_names) != space.feature_names:
            raise InvalidArgument(f"the recordings' voxels differ from those of encoder {encoder_id!r}; "
                                  "use its preprocessing and mask")


def score_encoder_from_store(store: Store, tenant: str, encoder_id: str, recording_ids,
                             preprocessing: dict | None = None, activation_set_id: str = "") -> EncoderScores:
    """Score a stored encoder on stored recordings and keep the scores as a ``score-map`` artifact.

    Parameters
    ----------
    encoder_id : str
    recording_ids : list of str
        Recordings of the encoder's modality; each is one run.
    preprocessing : dict, optional
        Default: the encoder's (its provenance).
    activation_set_id : str
        Default: the encoder's; its layers must have the encoder's feature counts.

    Returns
    -------
    scores : EncoderScores
    """
    encoder = load_encoder_artifact(store, tenant, encoder_id)
    space = encoder.space
    if space is None:
        raise InvalidArgument(f"encoder {encoder_id!r} has no brain space (modality, response shape) to score in")
    infos = _recordings(store, tenant, recording_ids)
    for info in infos:
        if info.modality != space.modality:
            raise InvalidArgument(f"encoder {encoder_id!r} predicts {space.modality} responses but recording "
                                  f"{info.id!r} is {info.modality}")
    preprocessing = _check_spec(preprocessing or encoder.provenance.get("preprocessing"), space.modality)
    activation_set_id = activation_set_id or encoder.provenance.get("activation_set_id", "")
    if not activation_set_id:
        raise InvalidArgument(f"encoder {encoder_id!r} names no activation set; give activation_set_id")
    activations = load_activation_set(store, tenant, activation_set_id)
    responses = load_responses(store, tenant, [info.id for info in infos], preprocessing)
    _check_responses(encoder_id, space, infos, responses)
    Y = _response_matrix(responses)
    predicted = encoder.predict(encoder.features(activations.align(responses.stimulus_ids)), responses.runs)
    scores = target_scores(Y, predicted.reshape(len(Y), -1), responses.runs, responses.stimulus_ids)
    summary = summarize_scores(scores)
    score_map = None
    if space.mask is not None:
        score_map = nifti_bytes(scores_to_nifti(np.stack(list(scores.values()), axis=1), space.mask_image()))
    provenance = {
        "encoder_id": encoder_id,
        "recordings": [{"id": info.id, "sha256": info.sha256, "subject": info.subject} for info in infos],
        "preprocessing": preprocessing, "activation_set_id": activation_set_id, "n_trials": len(Y),
        "summary": summary,
    }
    meta = {"encoder_id": encoder_id, "modality": space.modality, "score_names": list(scores),
            "response_shape": list(space.response_shape), "summary": summary}
    with tempfile.TemporaryDirectory() as tmp:
        np.save(pathlib.Path(tmp) / SCORES_FILE, np.stack(list(scores.values())), allow_pickle=False)
        if score_map is not None:
            (pathlib.Path(tmp) / SCORE_MAP_FILE).write_bytes(score_map)
        info = save_directory(store, tenant, SCORE_MAP_ARTIFACT, tmp, meta, provenance)
    return EncoderScores(scores, summary, len(Y), space.response_shape, score_map, info)
