"""Decoders fitted on stored recordings, kept as ``decoder`` artifacts and served from them.

``fit_decoder_from_store`` fits ``braindecode.decoding.fit_decoder`` on the per-trial responses
of stored recordings and a layer of a stored activation set; ``save_decoder_artifact`` stores
the decoder (safetensors weights, config and an ONNX graph) as one artifact;
``load_decoder_artifact`` opens that graph on ONNX Runtime; ``retrieve_from_store`` ranks stored
or given candidates for each query.
"""

from __future__ import annotations

import dataclasses
import pathlib
import tempfile

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
from braindecode.store._artifacts import load_activation_set, save_directory
from braindecode.store._checks import check_preprocessing
from braindecode.store._kinds import DECODER_ARTIFACT
from braindecode.store._provenance import recording_provenance
from braindecode.store._recordings import load_responses, recordings_of_one_modality
from braindecode.store._store import ArtifactInfo, Store

ONNX_FILE = "model.onnx"


def _recordings(store: Store, tenant: str, recording_ids) -> list:
    """The RecordingInfo of each id: distinct ids, one modality that a decoder can take."""
    return recordings_of_one_modality(store, tenant, recording_ids, INPUT_LAYOUTS,
                                      "cannot decode {modality} recordings; decoders take {supported}")


def fit_decoder_from_store(store: Store, tenant: str, recording_ids, preprocessing: dict,
                           activation_set_id: str, layer: str, decoder: str = "ridge",
                           params: dict | None = None, cv_folds: int = 0, val_fraction: float | None = None,
                           seed: int = 0, device: str = "cpu", progress=None) -> DecoderFit:
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
        As in ``braindecode.decoding.fit_decoder``.
    progress : callable, optional
        ``progress(stage, done, total)`` with stages "responses", "cross-validation" (``done``
        in folds, fractional within a fold of a neural decoder) and "fit". An exception it
        raises stops the fit.

    Returns
    -------
    fit : DecoderFit
        ``provenance`` also names the recordings (ids, sha256, labels), the activation set and
        the preprocessing.
    """
    report = progress or (lambda stage, done, total: None)
    infos = _recordings(store, tenant, recording_ids)
    activations = load_activation_set(store, tenant, activation_set_id)
    activations[layer]  # an unknown layer fails here, before the preprocessing
    check_preprocessing(preprocessing, infos[0].modality)
    report("responses", 0, 1)
    responses = load_responses(store, tenant, [info.id for info in infos], preprocessing)
    report("responses", 1, 1)
    fit = fit_decoder(responses, activations, layer, infos[0].modality, decoder, params, cv_folds, val_fraction,
                      seed, device, progress)
    return dataclasses.replace(fit, provenance={
        "recordings": recording_provenance(infos), "activation_set_id": activation_set_id,
        "preprocessing": preprocessing, **fit.provenance})


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
