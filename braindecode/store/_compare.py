"""RDMs, comparisons and score matrices computed from stored recordings and activation sets.

``compute_rdms_from_store`` turns stored recordings (per-trial responses averaged per stimulus,
one RDM per subject) or a layer of a stored activation set into RDMs kept as ``"rdm"``
artifacts; ``compare_from_store`` compares stored brain RDMs with stored model RDMs, their
conditions matched by id, and keeps the result as a ``"comparison"`` artifact;
``score_matrix_from_store`` scores every layer of an activation set against every ROI (or
time point) of stored recordings in one call.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from braindecode.compare import (
    ROI,
    ComparisonResult,
    SubjectRDM,
    SubjectScoreMatrix,
    VolumeGrid,
    activation_rdm,
    compare,
    response_rdms,
    select_responses,
    subject_score_matrix,
)
from braindecode.errors import InvalidArgument, ResourceExhausted
from braindecode.preprocessing import Selection, selection_spec
from braindecode.store._artifacts import Stored, load_activation_set, load_arrays, save_arrays
from braindecode.store._checks import check_preprocessing, distinct_ids
from braindecode.store._kinds import COMPARISON_ARTIFACT, RDM_ARTIFACT, SCORE_MATRIX_ARTIFACT
from braindecode.store._provenance import recording_provenance
from braindecode.store._recordings import load_responses, recordings_of_one_modality, voxel_grid
from braindecode.store._store import ArtifactInfo, Store

#: The most bootstrap samples, and the most permutations, that one comparison may draw.
MAX_RESAMPLES = 100_000
_MODALITIES = ("fmri", "eeg", "meg")


@dataclass
class StoredRDM(SubjectRDM, Stored):
    """An RDM kept as an ``"rdm"`` artifact."""

    info: ArtifactInfo


@dataclass
class StoredComparison(Stored):
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


@dataclass
class StoredScoreMatrix(SubjectScoreMatrix, Stored):
    """Layer x ROI (or layer x time) scores kept as a ``"score_matrix"`` artifact."""

    info: ArtifactInfo


def _recordings(store: Store, tenant: str, recording_ids, preprocessing) -> list:
    """The RecordingInfo of each id: distinct ids of one modality, with a preprocessing spec for it."""
    infos = recordings_of_one_modality(store, tenant, recording_ids, _MODALITIES,
                                       "cannot compute RDMs of {modality} recordings; use {supported}")
    check_preprocessing(preprocessing, infos[0].modality)
    return infos


def _grid(infos) -> VolumeGrid | None:
    """The voxel grid of the first recording (fMRI), on which ROI masks are read."""
    grid = voxel_grid(infos[:1])
    return None if grid is None else VolumeGrid(*grid)


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
                            device="cpu", selection=None) -> list:
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
        crossnobis for recordings only (see :func:`braindecode.compare.response_rdms`).
    condition_ids : list of str, optional
        The conditions of the RDMs, in this order; by default all stimuli, sorted (recordings)
        or in the activation set's order.
    device : str or torch.device
    selection : dict or Selection, optional
        The voxels and trials of the recordings to use (see ``load_responses``), before ``roi``.

    Returns
    -------
    rdms : list of StoredRDM
        One per subject (sorted) for recordings, one for an activation layer. Nothing is
        stored when any of them fails.
    """
    recording_ids = list(recording_ids)
    from_recordings = bool(recording_ids)
    if from_recordings == bool(activation_set_id):
        raise InvalidArgument("give either recording_ids (with preprocessing) or activation_set_id (with layer)")
    if from_recordings and layer:
        raise InvalidArgument("layer applies to an activation set, not to recordings")
    selection = selection_spec(selection)
    if not from_recordings:
        if roi is not None or time_window is not None or preprocessing is not None or selection != Selection():
            raise InvalidArgument("roi, time_window, preprocessing and selection apply to recordings, not to an "
                                  "activation set")
        activations = load_activation_set(store, tenant, activation_set_id)
        rdm = activation_rdm(activations, layer, method, condition_ids, device)
        provenance = {"source": "activations", "activation_set_id": activation_set_id, "layer": layer,
                      "activation_model": activations.model}
        items = [_rdm_item(rdm, method, {}, {"source": "activations", "layer": layer}, provenance)]
        return [StoredRDM(rdm.subject, rdm.condition_ids, rdm.rdm, info)
                for info in _store_all(store, tenant, items)]

    infos = _recordings(store, tenant, recording_ids, preprocessing)
    responses = load_responses(store, tenant, [info.id for info in infos], preprocessing, selection)
    selected, features = select_responses(responses, roi, time_window, _grid(infos))
    rdms = response_rdms(selected, method, condition_ids, device=device)
    dropped = responses.info.get("dropped", {})
    items = []
    for rdm in rdms:
        own = [info for info in infos if info.subject == rdm.subject]
        provenance = {
            "source": "recordings", "recordings": recording_provenance(own),
            "preprocessing": preprocessing, "selection": responses.info["selection"],
            "roi": _roi_provenance(roi, len(features)),
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
    """Compare stored brain RDMs with stored model RDMs (:func:`braindecode.compare.compare`) and keep the result.

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
        As in :func:`braindecode.compare.compare`; at most ``MAX_RESAMPLES`` bootstrap samples
        and permutations.
    progress : callable, optional
        ``progress(stage, done, total)`` with stages "resampling" (``done`` a fraction of 1)
        and "store". An exception it raises stops the comparison; nothing is stored then.
    device : str or torch.device

    Returns
    -------
    StoredComparison
    """
    report = progress or (lambda stage, done, total: None)
    brain_rdm_ids = distinct_ids(brain_rdm_ids, "brain RDM ids", "brain RDMs")
    pairs = _model_pairs(model_rdm_ids)
    for name, value in (("n_bootstrap", n_bootstrap), ("n_permutations", n_permutations)):
        if isinstance(value, numbers.Integral) and value > MAX_RESAMPLES:  # compare() checks the type
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


def score_matrix_from_store(store: Store, tenant: str, activation_set_id: str, recording_ids,
                            preprocessing: dict, rois=None, layers=None, time_window=None, method: str = "rsa",
                            rdm_method: str = "correlation", comparison: str = "spearman", kernel: str = "linear",
                            debiased: bool = False, device="cpu", selection=None) -> StoredScoreMatrix:
    """Every layer of a stored activation set against every ROI (or time point) of stored recordings.

    The scores are those of :func:`braindecode.compare.subject_score_matrix` on the recordings'
    per-trial responses (their subjects group the trials).

    Parameters
    ----------
    store : Store
    tenant : str
    activation_set_id : str
    recording_ids : list of str
        Recordings of one modality.
    preprocessing : dict
        Spec with a ``trials`` (fMRI) or ``epochs`` (EEG/MEG) step.
    rois, layers, time_window, method, rdm_method, comparison, kernel, debiased, device
        As in :func:`braindecode.compare.subject_score_matrix`; ROI masks lie on the first
        recording's voxel grid.
    selection : dict or Selection, optional
        The voxels and trials of the recordings to use (see ``load_responses``), before the ROIs.

    Returns
    -------
    StoredScoreMatrix
    """
    selection = selection_spec(selection)
    infos = _recordings(store, tenant, recording_ids, preprocessing)
    rois = None if rois is None else list(rois)
    activations = load_activation_set(store, tenant, activation_set_id)
    for layer in layers or ():
        activations[layer]  # an unknown layer fails before the preprocessing
    responses = load_responses(store, tenant, [info.id for info in infos], preprocessing, selection)
    scored = subject_score_matrix(responses, activations, rois, layers, time_window, _grid(infos), method,
                                  rdm_method, comparison, kernel, debiased, device)
    mean = scored.matrix
    meta = dict(mean.to_dict(), subjects=scored.subjects)
    provenance = {
        "recordings": recording_provenance(infos), "preprocessing": preprocessing,
        "selection": responses.info["selection"],
        "activation_set_id": activation_set_id, "activation_model": activations.model,
        "rois": [_roi_provenance(roi, scored.n_features[roi.name]) for roi in rois or []],
        "time_window": None if time_window is None else [float(t) for t in time_window],
    }
    info = save_arrays(store, tenant, SCORE_MATRIX_ARTIFACT,
                       {"scores": mean.scores, "subject_scores": scored.subject_scores}, meta, provenance)
    return StoredScoreMatrix(mean, scored.subjects, scored.subject_scores, scored.times, scored.n_features, info)
