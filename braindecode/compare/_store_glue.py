"""RDMs, comparisons and score matrices computed from stored recordings and activation sets.

``compute_rdms_from_store`` turns stored recordings (per-trial responses averaged per stimulus,
one RDM per subject) or a layer of a stored activation set into RDMs kept as ``"rdm"``
artifacts; ``compare_from_store`` compares stored brain RDMs with stored model RDMs, their
conditions matched by id, and keeps the result as a ``"comparison"`` artifact;
``score_matrix_from_store`` scores every layer of an activation set against every ROI (or
time point) of stored recordings in one call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from braindecode.compare._checks import check_choice, check_count
from braindecode.compare._compare import ComparisonResult, compare
from braindecode.compare._noise import crossnobis_rdm
from braindecode.compare._rdm import RDM_METHODS, compute_rdm
from braindecode.compare._roi import ROI, VolumeGrid, select_responses
from braindecode.compare._scores import ScoreMatrix, score_matrix, time_score_matrix
from braindecode.containers import ActivationSet, BrainResponses
from braindecode.errors import InvalidArgument, ResourceExhausted
from braindecode.store import (
    ArtifactInfo,
    Store,
    load_activation_set,
    load_arrays,
    load_responses,
    recordings_of_one_modality,
    save_arrays,
)

RDM_ARTIFACT = "rdm"
COMPARISON_ARTIFACT = "comparison"
SCORE_MATRIX_ARTIFACT = "score_matrix"
#: The most bootstrap samples, and the most permutations, that one comparison may draw.
MAX_RESAMPLES = 100_000
_MODALITIES = ("fmri", "eeg", "meg")


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


@dataclass
class StoredRDM(SubjectRDM):
    """An RDM kept as an ``"rdm"`` artifact; ``info`` holds its id, meta and provenance."""

    info: ArtifactInfo

    @property
    def id(self) -> str:
        return self.info.id


@dataclass
class StoredComparison:
    """A brain-model comparison kept as a ``"comparison"`` artifact.

    Attributes
    ----------
    result : ComparisonResult
    condition_ids : array of shape (n_conditions,)
        The conditions compared, in the order of the first brain RDM.
    info : ArtifactInfo
    """

    result: ComparisonResult
    condition_ids: np.ndarray
    info: ArtifactInfo

    @property
    def id(self) -> str:
        return self.info.id


@dataclass
class StoredScoreMatrix:
    """Layer x ROI (or layer x time) scores kept as a ``"score_matrix"`` artifact.

    Attributes
    ----------
    matrix : ScoreMatrix
        Scores averaged over subjects, of shape (n_layers, n_columns).
    subjects : list of str
    subject_scores : array of shape (n_subjects, n_layers, n_columns)
    times : array of shape (n_columns,) or None
        The columns' epoch times in seconds for a layer x time matrix; None for layer x ROI.
    info : ArtifactInfo
    """

    matrix: ScoreMatrix
    subjects: list
    subject_scores: np.ndarray
    times: np.ndarray | None
    info: ArtifactInfo

    @property
    def id(self) -> str:
        return self.info.id


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


def _recordings(store: Store, tenant: str, recording_ids, preprocessing) -> list:
    """The RecordingInfo of each id: distinct ids of one modality, with a preprocessing spec for it."""
    infos = recordings_of_one_modality(store, tenant, recording_ids, _MODALITIES,
                                       "cannot compute RDMs of {modality} recordings; use {supported}")
    modality = infos[0].modality
    if not isinstance(preprocessing, dict) or preprocessing.get("modality") != modality:
        raise InvalidArgument(f"preprocessing must be a spec with modality {modality!r} like the recordings, "
                              f"got {preprocessing!r}")
    return infos


def _grid(info) -> VolumeGrid | None:
    if info.modality != "fmri":
        return None
    return VolumeGrid(tuple(info.meta["shape"][:3]), np.asarray(info.meta["affine"], dtype=np.float64))


def _store_all(store: Store, tenant: str, items: list) -> list:
    """Store each (kind, arrays, meta, provenance); all or nothing."""
    stored = []
    try:
        for kind, arrays, meta, provenance in items:
            stored.append(save_arrays(store, tenant, kind, arrays, meta, provenance))
    except BaseException:
        for info in stored:
            store.delete_artifact(tenant, info.id)
        raise
    return stored


def _rdm_item(rdm: SubjectRDM, method: str, extra_arrays: dict, meta: dict, provenance: dict) -> tuple:
    arrays = {"rdm": np.asarray(rdm.rdm, dtype=np.float32), "condition_ids": np.asarray(rdm.condition_ids, dtype=str),
              **extra_arrays}
    meta = {"method": method, "subject": rdm.subject, "n_conditions": len(rdm.condition_ids), **meta}
    return RDM_ARTIFACT, arrays, meta, dict(provenance, method=method)


def _roi_provenance(roi: ROI | None, n_features: int) -> dict:
    roi = roi or ROI()
    kind = "mask" if roi.mask is not None else "indices" if roi.indices is not None else "all"
    return {"name": roi.name, "kind": kind, "n_features": int(n_features)}


def compute_rdms_from_store(store: Store, tenant: str, recording_ids=(), preprocessing: dict | None = None,
                            roi: ROI | None = None, time_window=None, activation_set_id: str = "",
                            layer: str = "", method: str = "correlation", condition_ids=None,
                            device="cpu") -> list:
    """RDMs of stored recordings (one per subject) or of a stored activation layer, kept as artifacts.

    Give either ``recording_ids`` with ``preprocessing`` (and optionally ``roi``,
    ``time_window``) or ``activation_set_id`` with ``layer``.

    Parameters
    ----------
    store : Store
    tenant : str
        Owner of the recordings or the activation set, and of the RDMs.
    recording_ids : list of str
        Recordings of one modality (fmri, eeg or meg); ``subjects`` come from their subject.
    preprocessing : dict
        ``braindecode.preprocessing.preprocess`` spec with a ``trials`` (fMRI) or ``epochs``
        (EEG/MEG) step; trials are averaged per subject and stimulus (per run for crossnobis).
    roi : ROI, optional
        Features to keep: fMRI voxels (indices or a mask on the first recording's voxel grid)
        or EEG/MEG channels (indices).
    time_window : (float, float), optional
        Epoch times to keep in seconds (EEG/MEG); channels x times are the features.
    activation_set_id, layer : str
        A layer of a stored activation set.
    method : {"correlation", "cosine", "euclidean", "sqeuclidean", "crossnobis"}
        crossnobis for recordings only (see :func:`response_rdms`).
    condition_ids : list of str, optional
        The conditions of the RDMs, in this order; by default all stimuli, sorted (recordings)
        or in the activation set's order.
    device : str or torch.device

    Returns
    -------
    rdms : list of StoredRDM
        One per subject (sorted) for recordings, one for an activation layer. Nothing is
        stored when any of them fails.
    """
    check_choice(method, RDM_METHODS, "RDM method")
    recording_ids = list(recording_ids)
    from_recordings = bool(recording_ids)
    if from_recordings == bool(activation_set_id):
        raise InvalidArgument("give either recording_ids (with preprocessing) or activation_set_id (with layer)")
    if from_recordings and layer:
        raise InvalidArgument("layer applies to an activation set, not to recordings")
    if not from_recordings:
        if roi is not None or time_window is not None or preprocessing is not None:
            raise InvalidArgument("roi, time_window and preprocessing apply to recordings, not to an activation set")
        activations = load_activation_set(store, tenant, activation_set_id)
        rdm = activation_rdm(activations, layer, method, condition_ids, device)
        provenance = {"source": "activations", "activation_set_id": activation_set_id, "layer": layer,
                      "activation_model": activations.model}
        items = [_rdm_item(rdm, method, {}, {"source": "activations", "layer": layer}, provenance)]
        return [StoredRDM(rdm.subject, rdm.condition_ids, rdm.rdm, info)
                for info in _store_all(store, tenant, items)]

    infos = _recordings(store, tenant, recording_ids, preprocessing)
    responses = load_responses(store, tenant, [info.id for info in infos], preprocessing)
    selected, features = select_responses(responses, roi, time_window, _grid(infos[0]))
    rdms = response_rdms(selected, method, condition_ids, device=device)
    dropped = responses.info.get("dropped", {})
    items = []
    for rdm in rdms:
        own = [info for info in infos if info.subject == rdm.subject]
        provenance = {
            "source": "recordings",
            "recordings": [{"id": i.id, "sha256": i.sha256, "subject": i.subject, "modality": i.modality}
                           for i in own],
            "preprocessing": preprocessing, "roi": _roi_provenance(roi, len(features)),
            "time_window": None if time_window is None else [float(t) for t in time_window],
            "n_trials": int((selected.subjects == rdm.subject).sum()),
            "dropped_trials": {i.id: dropped[i.id] for i in own if i.id in dropped},
        }
        items.append(_rdm_item(rdm, method, {"features": features}, {"source": "recordings", "layer": ""},
                               provenance))
    return [StoredRDM(rdm.subject, rdm.condition_ids, rdm.rdm, info)
            for rdm, info in zip(rdms, _store_all(store, tenant, items))]


def load_rdm(store: Store, tenant: str, rdm_id: str) -> StoredRDM:
    """The RDM stored under ``rdm_id``; NotFound for unknown ids, other tenants' and other kinds."""
    info = store.get_artifact(tenant, rdm_id, RDM_ARTIFACT)
    arrays = load_arrays(store, tenant, rdm_id)
    return StoredRDM(info.meta["subject"], np.asarray(arrays["condition_ids"]), np.array(arrays["rdm"]), info)


def _aligned(rdm: StoredRDM, reference: StoredRDM, what: str) -> np.ndarray:
    """``rdm``'s matrix with rows and columns in the condition order of ``reference``."""
    ids, wanted = [str(c) for c in rdm.condition_ids], [str(c) for c in reference.condition_ids]
    if len(ids) != len(wanted):
        raise InvalidArgument(f"condition counts differ: brain RDM {reference.id!r} has {len(wanted)} conditions, "
                              f"{what} has {len(ids)}")
    lacking = sorted(set(wanted) - set(ids))
    if lacking:
        extra = sorted(set(ids) - set(wanted))
        raise InvalidArgument(f"condition ids differ: {what} lacks {len(lacking)} of brain RDM {reference.id!r}'s "
                              f"conditions, e.g. {lacking[:3]}, and has others, e.g. {extra[:3]}")
    index = {c: i for i, c in enumerate(ids)}
    rows = np.array([index[c] for c in wanted], dtype=np.int64)
    return rdm.rdm[np.ix_(rows, rows)]


def _model_pairs(model_rdm_ids) -> list:
    pairs = list(model_rdm_ids.items()) if isinstance(model_rdm_ids, dict) else [tuple(p) for p in model_rdm_ids]
    if not pairs:
        raise InvalidArgument("no model RDMs given")
    names = [name for name, _ in pairs]
    if any(not isinstance(name, str) or not name.strip() for name in names):
        raise InvalidArgument("every model RDM needs a name")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidArgument(f"model names given more than once: {', '.join(repeated)}")
    return pairs


def compare_from_store(store: Store, tenant: str, brain_rdm_ids, model_rdm_ids, method: str = "pearson",
                       n_bootstrap: int = 1000, bootstrap: str = "conditions", n_permutations: int = 1000,
                       ci: float = 0.95, seed: int = 0, progress=None, device="cpu") -> StoredComparison:
    """Compare stored brain RDMs with stored model RDMs (:func:`compare`) and keep the result.

    Parameters
    ----------
    store : Store
    tenant : str
    brain_rdm_ids : list of str
        One RDM per subject. Conditions are matched by id: every RDM must hold the same
        conditions; the first brain RDM's order is used.
    model_rdm_ids : dict of str -> str, or list of (name, id)
        The model RDMs by name.
    method, n_bootstrap, bootstrap, n_permutations, ci, seed
        As in :func:`compare`; at most ``MAX_RESAMPLES`` bootstrap samples and permutations.
    progress : callable, optional
        ``progress(stage, done, total)`` with stages "resampling" (``done`` a fraction of 1)
        and "store". An exception it raises stops the comparison; nothing is stored then.
    device : str or torch.device

    Returns
    -------
    StoredComparison
    """
    report = progress or (lambda stage, done, total: None)
    brain_rdm_ids = list(brain_rdm_ids)
    if not brain_rdm_ids:
        raise InvalidArgument("no brain RDMs given")
    repeated = sorted({r for r in brain_rdm_ids if brain_rdm_ids.count(r) > 1})
    if repeated:
        raise InvalidArgument(f"brain RDM ids given more than once: {', '.join(repeated)}")
    pairs = _model_pairs(model_rdm_ids)
    for name, value in (("n_bootstrap", n_bootstrap), ("n_permutations", n_permutations)):
        if check_count(value, name) > MAX_RESAMPLES:
            raise ResourceExhausted(f"{name} is {value}; at most {MAX_RESAMPLES} per comparison")
    brains = [load_rdm(store, tenant, rid) for rid in brain_rdm_ids]
    models = [(name, load_rdm(store, tenant, rid)) for name, rid in pairs]
    reference = brains[0]
    brain_rdms = np.stack([_aligned(b, reference, f"brain RDM {b.id!r}") for b in brains])
    model_rdms = {name: _aligned(m, reference, f"model RDM {name!r} ({m.id})") for name, m in models}
    result = compare(brain_rdms, model_rdms, method=method, n_bootstrap=n_bootstrap,
                     bootstrap=bootstrap, n_permutations=n_permutations, ci=ci,
                     seed=seed, progress=lambda fraction: report("resampling", fraction, 1), device=device)
    report("store", 0, 1)
    arrays = {"condition_ids": np.asarray(reference.condition_ids, dtype=str), "scores": result.scores,
              "subject_scores": result.subject_scores}
    arrays.update({name: getattr(result, name) for name in ("bootstrap_scores", "null_scores")
                   if getattr(result, name) is not None})
    provenance = {"brain_rdm_ids": brain_rdm_ids, "model_rdm_ids": {name: rid for name, rid in pairs},
                  "subjects": [b.subject for b in brains]}
    info = save_arrays(store, tenant, COMPARISON_ARTIFACT, arrays, result.to_dict(), provenance)
    return StoredComparison(result, reference.condition_ids, info)


def _check_rois(rois) -> list:
    rois = list(rois)
    names = [roi.name for roi in rois]
    if any(not name for name in names):
        raise InvalidArgument("every ROI of a score matrix needs a name")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidArgument(f"ROI names given more than once: {', '.join(repeated)}")
    return rois


def score_matrix_from_store(store: Store, tenant: str, activation_set_id: str, recording_ids,
                            preprocessing: dict, rois=None, layers=None, time_window=None, method: str = "rsa",
                            rdm_method: str = "correlation", comparison: str = "spearman", kernel: str = "linear",
                            debiased: bool = False, device="cpu") -> StoredScoreMatrix:
    """Every layer of a stored activation set against every ROI (or time point) of stored recordings.

    Per subject, the trials are averaged per stimulus and the layers' rows matched to those
    stimuli by id; each subject gets a :func:`score_matrix` (layers x ROIs) or, for EEG/MEG
    epochs without ROIs, a :func:`time_score_matrix` (layers x times); the result is their
    mean over subjects.

    Parameters
    ----------
    store : Store
    tenant : str
    activation_set_id : str
    recording_ids : list of str
        Recordings of one modality.
    preprocessing : dict
        Spec with a ``trials`` (fMRI) or ``epochs`` (EEG/MEG) step.
    rois : list of ROI, optional
        Named, distinct ROIs (the columns); by default one column "all" of every feature, or
        for EEG/MEG every time point.
    layers : list of str, optional
        The rows, in this order; every layer by default.
    time_window : (float, float), optional
        Epoch times to keep in seconds (EEG/MEG).
    method, rdm_method, comparison, kernel, debiased
        As in :func:`score_matrix`.
    device : str or torch.device

    Returns
    -------
    StoredScoreMatrix
    """
    infos = _recordings(store, tenant, recording_ids, preprocessing)
    activations = load_activation_set(store, tenant, activation_set_id)
    for layer in layers or ():
        activations[layer]  # an unknown layer fails before the preprocessing
    rois = None if rois is None else _check_rois(rois)
    options = dict(method=method, rdm_method=rdm_method, comparison=comparison, kernel=kernel, debiased=debiased,
                   row_names=None if layers is None else list(layers), device=device)
    responses = load_responses(store, tenant, [info.id for info in infos], preprocessing)
    over_time = rois is None and responses.data.ndim == 3
    grid = _grid(infos[0])
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
    meta = dict(mean.to_dict(), subjects=subjects)
    provenance = {
        "recordings": [{"id": i.id, "sha256": i.sha256, "subject": i.subject, "modality": i.modality} for i in infos],
        "preprocessing": preprocessing, "activation_set_id": activation_set_id,
        "activation_model": activations.model,
        "rois": [_roi_provenance(roi, columns[roi.name].data.shape[1]) for roi in rois or []],
        "time_window": None if time_window is None else [float(t) for t in time_window],
    }
    info = save_arrays(store, tenant, SCORE_MATRIX_ARTIFACT,
                       {"scores": mean.scores, "subject_scores": subject_scores}, meta, provenance)
    times = np.asarray(mean.columns, dtype=np.float64) if over_time else None
    return StoredScoreMatrix(mean, subjects, subject_scores, times, info)
