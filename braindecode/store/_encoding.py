"""Encoders fitted on stored recordings, kept as ``encoder`` artifacts, used and scored from them.

``fit_encoder_from_store`` fits ``braindecode.encoding.fit_encoder`` on the per-trial responses
of stored recordings and layers of a stored activation set; ``save_encoder_artifact`` stores
the encoder; ``predict_from_store`` and ``score_encoder_from_store`` use a stored encoder, the
latter keeping per-target scores (and, for fMRI voxels, a NIfTI map in the recordings' space with
the sidecar that says what each volume is) as a ``score-map`` artifact.
"""

from __future__ import annotations

import json
import pathlib
from dataclasses import dataclass

import numpy as np

from braindecode.encoding import (
    DEFAULT_ALPHAS,
    Encoder,
    EncoderFit,
    EncoderScores,
    fit_encoder,
    load_encoder,
    save_encoder,
    score_encoder,
    score_map_sidecar,
)
from braindecode.errors import InvalidArgument
from braindecode.preprocessing import selection_spec
from braindecode.store._artifacts import Stored, load_activation_set, save_directory
from braindecode.store._checks import check_preprocessing
from braindecode.store._kinds import ENCODER_ARTIFACT, SCORE_MAP_ARTIFACT
from braindecode.store._provenance import recording_provenance
from braindecode.store._recordings import load_responses, model_selection, recordings_of_one_modality, voxel_grid
from braindecode.store._store import ArtifactInfo, Store

SCORES_FILE = "scores.npy"
SCORE_MAP_FILE = "score_map.nii.gz"
SCORE_MAP_SIDECAR = "score_map.json"
_MODALITIES = ("fmri", "eeg", "meg")


def score_map_files(score_map: bytes | None, score_names) -> dict:
    """The files of a score map: the NIfTI and its JSON sidecar that says what each volume is.

    Parameters
    ----------
    score_map : bytes or None
        The ``.nii.gz`` of ``EncoderScores.score_map``; None (not fMRI voxels) gives no files.
    score_names : list of str
        The score of each volume, in order.

    Returns
    -------
    dict of str -> bytes
        ``score_map.nii.gz`` and ``score_map.json`` (``braindecode.encoding.score_map_sidecar``).
    """
    if score_map is None:
        return {}
    sidecar = json.dumps(score_map_sidecar(list(score_names)), indent=2, sort_keys=True) + "\n"
    return {SCORE_MAP_FILE: score_map, SCORE_MAP_SIDECAR: sidecar.encode()}


@dataclass
class StoredEncoderScores(EncoderScores, Stored):
    """An encoder's scores on stored recordings, kept as a ``score-map`` artifact."""

    info: ArtifactInfo


def _recordings(store: Store, tenant: str, recording_ids) -> list:
    """The RecordingInfo of each id: distinct ids of one modality an encoder can predict."""
    return recordings_of_one_modality(store, tenant, recording_ids, _MODALITIES,
                                      "cannot encode {modality} recordings; encoders predict {supported}")


def fit_encoder_from_store(store: Store, tenant: str, recording_ids, preprocessing: dict, activation_set_id: str,
                           layers, alphas=DEFAULT_ALPHAS, delays=None, lags=None, cv_folds: int = 0,
                           n_ratios: int = 20, seed: int = 0, device: str = "cpu", progress=None,
                           selection=None) -> EncoderFit:
    """Fit an encoder (``braindecode.encoding.fit_encoder``) from layers of a stored activation set
    to stored recordings.

    Every recording is one run.

    Parameters
    ----------
    store : Store
    tenant : str
        Owner of the recordings, the activation set and the encoder.
    recording_ids : list of str
        Recordings of one modality (fmri, eeg or meg); fMRI runs on one voxel grid.
    preprocessing : dict
        ``braindecode.preprocessing.preprocess`` spec with a ``trials`` or ``epochs`` step.
    activation_set_id : str
    layers, alphas, delays, lags, cv_folds, n_ratios, seed, device
        As in ``braindecode.encoding.fit_encoder``.
    progress : callable, optional
        ``progress(stage, done, total)`` with stages "responses", "cross-validation" (``done``
        in folds) and "fit". An exception it raises stops the fit.
    selection : dict or Selection, optional
        The voxels and trials to fit on (see ``load_responses``); the encoder then predicts
        those voxels only.

    Returns
    -------
    fit : EncoderFit
        ``fit.encoder.provenance`` also names the recordings, the activation set, the
        preprocessing and the selection.
    """
    report = progress or (lambda stage, done, total: None)
    selection = selection_spec(selection)
    infos = _recordings(store, tenant, recording_ids)
    grid = voxel_grid(infos)
    check_preprocessing(preprocessing, infos[0].modality)
    activations = load_activation_set(store, tenant, activation_set_id)
    layers = [str(layer) for layer in layers]
    for layer in layers:
        activations[layer]  # an unknown layer fails here, before the preprocessing

    report("responses", 0, 1)
    responses = load_responses(store, tenant, [info.id for info in infos], preprocessing, selection)
    report("responses", 1, 1)
    fit = fit_encoder(responses, activations, layers, infos[0].modality, alphas, delays, lags, cv_folds, n_ratios,
                      seed, device, grid, progress)
    fit.encoder.provenance = {"recordings": recording_provenance(infos), "activation_set_id": activation_set_id,
                              "preprocessing": preprocessing, "selection": responses.info["selection"],
                              **fit.encoder.provenance}
    return fit


def save_encoder_artifact(store: Store, tenant: str, encoder: Encoder) -> ArtifactInfo:
    """Store a fitted encoder (``save_encoder``'s files) as one ``encoder`` artifact.

    Returns
    -------
    info : ArtifactInfo
        ``meta`` holds the class, modality, response shape, layers and delays; ``provenance``
        the encoder's.
    """
    with store.scratch() as tmp:
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


def score_encoder_from_store(store: Store, tenant: str, encoder_id: str, recording_ids,
                             preprocessing: dict | None = None, activation_set_id: str = "",
                             selection=None) -> StoredEncoderScores:
    """Score a stored encoder on stored recordings (``braindecode.encoding.score_encoder``) and keep
    the scores as a ``score-map`` artifact.

    Parameters
    ----------
    encoder_id : str
    recording_ids : list of str
        Recordings of the encoder's modality; each is one run.
    preprocessing : dict, optional
        Default: the encoder's (its provenance).
    activation_set_id : str
        Default: the encoder's; its layers must have the encoder's feature counts.
    selection : dict or Selection, optional
        The voxels and trials to score on (see ``load_responses``); its voxels default to those
        the encoder was fitted on, its trials to all.

    Returns
    -------
    scores : StoredEncoderScores
    """
    encoder = load_encoder_artifact(store, tenant, encoder_id)
    selection = model_selection(selection, encoder.provenance)
    space = encoder.space
    if space is None:
        raise InvalidArgument(f"encoder {encoder_id!r} has no brain space (modality, response shape) to score in")
    infos = _recordings(store, tenant, recording_ids)
    for info in infos:
        if info.modality != space.modality:
            raise InvalidArgument(f"encoder {encoder_id!r} predicts {space.modality} responses but recording "
                                  f"{info.id!r} is {info.modality}")
    preprocessing = check_preprocessing(preprocessing or encoder.provenance.get("preprocessing"), space.modality)
    activation_set_id = activation_set_id or encoder.provenance.get("activation_set_id", "")
    if not activation_set_id:
        raise InvalidArgument(f"encoder {encoder_id!r} names no activation set; give activation_set_id")
    activations = load_activation_set(store, tenant, activation_set_id)
    responses = load_responses(store, tenant, [info.id for info in infos], preprocessing, selection)
    grid = voxel_grid(infos) if space.mask is not None else None
    scored = score_encoder(encoder, responses, activations, grid, encoder_id)
    provenance = {
        "encoder_id": encoder_id, "recordings": recording_provenance(infos), "preprocessing": preprocessing,
        "selection": responses.info["selection"], "activation_set_id": activation_set_id,
        "n_trials": scored.n_trials, "summary": scored.summary,
    }
    meta = {"encoder_id": encoder_id, "modality": space.modality, "score_names": list(scored.target_scores),
            "response_shape": list(space.response_shape), "summary": scored.summary}
    with store.scratch() as tmp:
        np.save(pathlib.Path(tmp) / SCORES_FILE, np.stack(list(scored.target_scores.values())), allow_pickle=False)
        for name, content in score_map_files(scored.score_map, list(scored.target_scores)).items():
            (pathlib.Path(tmp) / name).write_bytes(content)
        info = save_directory(store, tenant, SCORE_MAP_ARTIFACT, tmp, meta, provenance)
    return StoredEncoderScores(**vars(scored), info=info)
