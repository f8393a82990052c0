"""Decoders fitted on stored recordings, kept as ``decoder`` artifacts and served from them.

``fit_decoder_from_store`` fits ``braindecode.decoding.fit_decoder`` on the per-trial responses
of stored recordings and a layer of a stored activation set; ``save_decoder_artifact`` stores
the decoder (safetensors weights, config and an ONNX graph) as one artifact;
``load_decoder_artifact`` opens that graph on ONNX Runtime; ``decode_recordings`` decodes the
responses of stored recordings with it; ``retrieve_from_store`` ranks stored or given candidates
for each query (given, or decoded from recordings).
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from braindecode.decoding import (
    INPUT_LAYOUTS,
    BaseDecoder,
    DecoderFit,
    OnnxDecoder,
    export_decoder_onnx,
    fit_decoder,
    retrieve,
    save_decoder,
)
from braindecode.errors import InvalidArgument
from braindecode.preprocessing import selection_spec
from braindecode.store._artifacts import load_activation_set, save_directory
from braindecode.store._checks import check_preprocessing
from braindecode.store._kinds import DECODER_ARTIFACT
from braindecode.store._provenance import recording_provenance
from braindecode.store._recordings import load_responses, model_selection, recordings_of_one_modality
from braindecode.store._store import ArtifactInfo, Store

ONNX_FILE = "model.onnx"


def _recordings(store: Store, tenant: str, recording_ids) -> list:
    """The RecordingInfo of each id: distinct ids, one modality that a decoder can take."""
    return recordings_of_one_modality(store, tenant, recording_ids, INPUT_LAYOUTS,
                                      "cannot decode {modality} recordings; decoders take {supported}")


def fit_decoder_from_store(store: Store, tenant: str, recording_ids, preprocessing: dict,
                           activation_set_id: str, layer: str, decoder: str = "ridge",
                           params: dict | None = None, cv_folds: int = 0, val_fraction: float | None = None,
                           seed: int = 0, device: str = "cpu", progress=None, selection=None) -> DecoderFit:
    """Fit a decoder (``braindecode.decoding.fit_decoder``) from stored recordings to a layer of a
    stored activation set.

    Every recording is one run.

    Parameters
    ----------
    store : Store
    tenant : str
        Owner of the recordings, the activation set and the decoder.
    recording_ids : list of str
        Recordings of one modality (fmri, or eeg/meg).
    preprocessing : dict
        ``braindecode.preprocessing.preprocess`` spec with an ``epochs`` or ``trials`` step.
    activation_set_id, layer : str
        The target embedding space; a layer's rows are flattened to (n_stimuli, n_dims).
    decoder, params, cv_folds, val_fraction, seed, device
        As in ``braindecode.decoding.fit_decoder``; the fit keeps to ``store.limits.max_fit_bytes``.
    progress : callable, optional
        ``progress(stage, done, total)`` with stages "responses", "cross-validation" (``done``
        in folds, fractional within a fold of a neural decoder) and "fit". An exception it
        raises stops the fit.
    selection : dict or Selection, optional
        The voxels and trials to fit on (see ``load_responses``); the decoder then takes those
        voxels only.

    Returns
    -------
    fit : DecoderFit
        ``provenance`` also names the recordings (ids, sha256, labels), the activation set, the
        preprocessing and the selection.
    """
    report = progress or (lambda stage, done, total: None)
    selection = selection_spec(selection)
    infos = _recordings(store, tenant, recording_ids)
    activations = load_activation_set(store, tenant, activation_set_id)
    activations[layer]  # an unknown layer fails here, before the preprocessing
    check_preprocessing(preprocessing, infos[0].modality)
    report("responses", 0, 1)
    responses = load_responses(store, tenant, [info.id for info in infos], preprocessing, selection)
    report("responses", 1, 1)
    fit = fit_decoder(responses, activations, layer, infos[0].modality, decoder, params, cv_folds, val_fraction,
                      seed, device, progress, store.limits.max_fit_bytes)
    return dataclasses.replace(fit, provenance={
        "recordings": recording_provenance(infos), "activation_set_id": activation_set_id,
        "preprocessing": preprocessing, "selection": responses.info["selection"], **fit.provenance})


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
    with store.scratch() as tmp:
        save_decoder(model, tmp, provenance)
        export_decoder_onnx(model, pathlib.Path(tmp) / ONNX_FILE)
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


def decode_recordings(store: Store, tenant: str, recording_ids, preprocessing: dict, decoder_id: str,
                      selection=None, average_repeats: bool = True, device: str = "cpu", decoder=None) -> tuple:
    """Embeddings decoded from stored recordings by a stored decoder.

    Parameters
    ----------
    recording_ids : list of str
    preprocessing : dict
        ``braindecode.preprocessing.preprocess`` spec with a ``trials`` or ``epochs`` step.
    decoder_id : str
        A ``decoder`` artifact of ``tenant``.
    selection : dict or Selection, optional
        The voxels and trials to decode (see ``load_responses``); its voxels default to those the
        decoder was fitted on, its trials to all.
    average_repeats : bool
        Average the responses to each stimulus (per subject) before decoding.
    device : str
        Of the ONNX Runtime session that ``decoder_id`` is opened in.
    decoder : OnnxDecoder, optional
        ``decoder_id``'s decoder already open (e.g. a server's cached session).

    Returns
    -------
    embeddings : array of shape (n, n_dims), float32
    stimulus_ids : array of shape (n,)
        Of each row: its trial's stimulus, or, with ``average_repeats``, sorted by stimulus id per subject.
    selection : dict
        The selection as applied, for provenance (``load_responses``' ``info["selection"]``).
    """
    if not decoder_id:
        raise InvalidArgument("decoder_id is required with recording_ids")
    info = store.get_artifact(tenant, decoder_id, DECODER_ARTIFACT)
    if not isinstance(preprocessing, dict):
        raise InvalidArgument(f"preprocessing must be a spec object, got {preprocessing!r}")
    selection = model_selection(selection, info.provenance)
    responses = load_responses(store, tenant, list(recording_ids), preprocessing, selection)
    if average_repeats:
        responses = responses.average_repeats()
    if decoder is None:
        decoder = load_decoder_artifact(store, tenant, decoder_id, device=device, threads=1)
    return decoder.predict(responses.data), responses.stimulus_ids, responses.info["selection"]


@dataclasses.dataclass
class Retrieval:
    """The candidates nearest to each query.

    Attributes
    ----------
    stimulus_ids : array of shape (n_queries, k)
        Candidate ids, most similar first.
    scores : array of shape (n_queries, k), float32
        Their cosine similarities.
    query_ids : array of shape (n_queries,) or None
        The stimulus of each query decoded from recordings.
    embeddings : array of shape (n_queries, n_dims) or None
        The queries, when a decoder made them.
    """

    stimulus_ids: np.ndarray
    scores: np.ndarray
    query_ids: np.ndarray | None = None
    embeddings: np.ndarray | None = None


def retrieve_from_store(store: Store, tenant: str, queries=None, k: int = 5, activation_set_id: str = "",
                        layer: str = "", candidates=None, candidate_ids=None, decoder=None, recording_ids=(),
                        preprocessing: dict | None = None, selection=None, average_repeats: bool = True,
                        decoder_id: str = "") -> Retrieval:
    """The ``k`` candidate stimuli most similar (cosine) to each query.

    Parameters
    ----------
    queries : array of shape (n_queries, n_dims), or (n_queries, *input_shape) with ``decoder``
        Embeddings, or brain samples that ``decoder`` decodes first ...
    k : int
    activation_set_id, layer : str
        Candidates from a layer of a stored activation set (rows flattened), ids its stimulus ids ...
    candidates : array of shape (n_candidates, n_dims), optional
    candidate_ids : array of shape (n_candidates,), optional
        ... or given candidates with their ids.
    decoder : fitted decoder or OnnxDecoder, optional
        Anything with ``predict(X) -> (n, n_dims)``; with ``recording_ids``, ``decoder_id``'s.
    recording_ids : list of str
        ... or, instead of ``queries``, stored recordings decoded by ``decoder_id`` (see
        ``decode_recordings``, which takes ``preprocessing``, ``selection`` and ``average_repeats``).
    preprocessing : dict, optional
    selection : dict or Selection, optional
    average_repeats : bool
    decoder_id : str

    Returns
    -------
    Retrieval
    """
    if bool(activation_set_id) == (candidates is not None):
        raise InvalidArgument("give the candidates either as activation_set_id and layer or as candidates "
                              "and candidate_ids (exactly one of the two)")
    from_recordings = bool(list(recording_ids))
    if from_recordings == (queries is not None):
        raise InvalidArgument("give the queries either as queries or as recording_ids with a decoder_id "
                              "(exactly one of the two)")
    if not from_recordings and (preprocessing is not None or selection is not None or decoder_id):
        raise InvalidArgument("preprocessing, selection and decoder_id go with recording_ids, not with queries "
                              "(a decoder_id of queries is the decoder argument)")
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
    query_ids = embeddings = None
    if from_recordings:
        embeddings, query_ids, _ = decode_recordings(store, tenant, recording_ids, preprocessing, decoder_id, selection,
                                                  average_repeats, decoder=decoder)
    elif decoder is not None:
        embeddings = decoder.predict(queries)
    ids, scores = retrieve(queries if embeddings is None else embeddings, candidates,
                           [] if candidate_ids is None else candidate_ids, k=k)
    return Retrieval(ids, scores, query_ids, embeddings)
