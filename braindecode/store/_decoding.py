"""Decoders fitted on stored recordings, kept as ``decoder`` artifacts and served from them.

``fit_decoder_from_store`` fits ``braindecode.decoding.fit_decoder`` on the per-trial responses
of stored recordings and a layer of a stored activation set, and ``fit_shared_decoder_from_store``
``braindecode.decoding.fit_shared_decoder`` on the recordings of several subjects (or fine-tunes
a stored shared decoder for one more); ``save_decoder_artifact`` stores the decoder (safetensors
weights, config and an ONNX graph, one per subject of a shared decoder) as one artifact;
``load_decoder_artifact`` opens a graph on ONNX Runtime; ``decode_recordings`` decodes the
responses of stored recordings with it; ``retrieve_from_store`` ranks stored or given candidates
for each query (given, or decoded from recordings).
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from braindecode.decoding import (
    INPUT_LAYOUTS,
    SHARED,
    BaseDecoder,
    DecoderFit,
    OnnxDecoder,
    SharedDecoder,
    export_decoder_onnx,
    fit_decoder,
    fit_shared_decoder,
    load_decoder,
    make_decoder,
    make_fine_tuning,
    retrieve,
    save_decoder,
)
from braindecode.errors import InvalidArgument, quoted
from braindecode.preprocessing import selection_spec
from braindecode.store._artifacts import load_activation_set, save_directory
from braindecode.store._checks import check_preprocessing
from braindecode.store._kinds import DECODER_ARTIFACT
from braindecode.store._provenance import decoder_provenance, recording_provenance
from braindecode.store._recordings import load_responses, model_selection, recordings_of_one_modality
from braindecode.store._store import ArtifactInfo, Store

ONNX_FILE = "model.onnx"
#: ONNX graph of the ``i``-th subject of a shared decoder.
SUBJECT_ONNX_FILE = "subject-{:03d}.onnx"
_NAMED = 10  # subjects a message lists at most


def _recordings(store: Store, tenant: str, recording_ids) -> list:
    """The RecordingInfo of each id: distinct ids, one modality that a decoder can take."""
    return recordings_of_one_modality(store, tenant, recording_ids, INPUT_LAYOUTS,
                                      "cannot decode {modality} recordings; decoders take {supported}")


def _subject_names(names) -> str:
    names = [repr(name) for name in names]
    return ", ".join(names[:_NAMED]) + (f" and {len(names) - _NAMED} more" if len(names) > _NAMED else "")


def fit_decoder_from_store(store: Store, tenant: str, recording_ids, preprocessing: dict,
                           activation_set_id: str, layer: str, decoder: str = "ridge",
                           params: dict | None = None, cv_folds: int = 0, val_fraction: float | None = None,
                           seed: int = 0, device: str = "cpu", progress=None, selection=None,
                           base_decoder_id: str = "") -> DecoderFit:
    """Fit a decoder (``braindecode.decoding.fit_decoder``) from stored recordings to a layer of a
    stored activation set.

    Every recording is one run. A ``"shared"`` decoder is fitted by
    ``fit_shared_decoder_from_store``, on the recordings of several subjects or, with
    ``base_decoder_id``, fine-tuned from a stored shared decoder.

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
    base_decoder_id : str
        With ``decoder="shared"``: a stored shared decoder to fine-tune.

    Returns
    -------
    fit : DecoderFit
        ``provenance`` also names the recordings (ids, sha256, labels), the activation set, the
        preprocessing and the selection.
    """
    if decoder == SHARED:
        return fit_shared_decoder_from_store(store, tenant, recording_ids, preprocessing, activation_set_id, layer,
                                             params, base_decoder_id, cv_folds, val_fraction, seed, device, progress,
                                             selection)
    if base_decoder_id:
        raise InvalidArgument(f"base_decoder_id fine-tunes a shared decoder: set decoder to 'shared' "
                              f"(got {quoted(decoder)})")
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


def _base_decoder(store: Store, tenant: str, base_decoder_id: str, modality: str, activation_set_id: str,
                  activations, layer: str, device: str) -> SharedDecoder:
    """The stored shared decoder to fine-tune, checked to decode ``modality`` recordings into the
    requested embedding space."""
    store.get_artifact(tenant, base_decoder_id, DECODER_ARTIFACT)
    base = load_decoder(store.artifact_dir(tenant, base_decoder_id), device=device)
    if base.modality != INPUT_LAYOUTS[modality]:
        raise InvalidArgument(f"base decoder {base_decoder_id!r} decodes {base.modality} data but the recordings "
                              f"are {modality}")
    if not isinstance(base, SharedDecoder):
        raise InvalidArgument(f"base decoder {base_decoder_id!r} is a {type(base).__name__} of one subject; "
                              "fine-tuning starts from a shared decoder (decoder 'shared')")
    width = int(np.prod(activations[layer].shape[1:]))
    space = (base.provenance_.get("activation_model"), base.provenance_.get("layer"))
    if base.n_dims_ != width or (space[1] is not None and space != (activations.model, layer)):
        raise InvalidArgument(
            f"base decoder {base_decoder_id!r} maps to another embedding space: {base.n_dims_} dims of layer "
            f"{space[1]!r} of model {space[0]!r}, but activation set {activation_set_id!r} gives {width} dims of "
            f"layer {layer!r} of model {activations.model!r}")
    return base


def fit_shared_decoder_from_store(store: Store, tenant: str, recording_ids, preprocessing: dict,
                                  activation_set_id: str, layer: str, params: dict | None = None,
                                  base_decoder_id: str = "", cv_folds: int = 0, val_fraction: float | None = None,
                                  seed: int = 0, device: str = "cpu", progress=None, selection=None) -> DecoderFit:
    """Fit a shared decoder (``braindecode.decoding.fit_shared_decoder``) on stored fMRI recordings of
    several subjects, or fine-tune a stored one for one subject, to a layer of a stored activation set.

    Every recording is one run of the subject its label names; each subject's recordings are
    preprocessed together and may give another voxel count than the other subjects'.

    Parameters
    ----------
    store : Store
    tenant : str
        Owner of the recordings, the activation set, the base decoder and the decoder.
    recording_ids : list of str
        fMRI recordings, each labelled with its subject; with ``base_decoder_id``, of one subject.
    preprocessing : dict
        ``braindecode.preprocessing.preprocess`` spec with a ``trials`` step.
    activation_set_id, layer : str
        The target embedding space; a layer's rows are flattened to (n_stimuli, n_dims).
    params : dict, optional
        JSON hyper-parameters: a ``SharedDecoder``'s (see ``braindecode.decoding.make_decoder``), or
        with ``base_decoder_id`` the fine-tuning's (see ``braindecode.decoding.make_fine_tuning``).
    base_decoder_id : str
        A stored shared decoder of the same embedding space (activation model, layer and dimension)
        to fine-tune: the recordings' subject gets a new adapter, or a known one continues from its own.
    cv_folds, val_fraction, seed, device
        As in ``braindecode.decoding.fit_decoder``.
    progress : callable, optional
        ``progress(stage, done, total)`` with stages "responses" (``done`` in subjects),
        "cross-validation" (``done`` in folds) and "fit". An exception it raises stops the fit.
    selection : dict or Selection, optional
        The trials (and voxels, on a grid every subject's runs share) to fit on (see ``load_responses``).

    Returns
    -------
    fit : DecoderFit
        ``provenance`` also names the recordings (ids, sha256, labels), the activation set, the
        preprocessing and, when fine-tuned, the base decoder (``base_decoder``: its id,
        subjects and recordings).
    """
    report = progress or (lambda stage, done, total: None)
    infos = _recordings(store, tenant, recording_ids)
    if INPUT_LAYOUTS[infos[0].modality] != SharedDecoder.modality:
        raise InvalidArgument(f"a shared decoder takes {SharedDecoder.modality} recordings, these are "
                              f"{infos[0].modality}")
    unlabelled = [info.id for info in infos if not info.subject]
    if unlabelled:
        raise InvalidArgument(f"recording {unlabelled[0]!r} has no subject label; a shared decoder fits each "
                              "recording's subject through its own adapter")
    by_subject = {}
    for info in infos:
        by_subject.setdefault(info.subject, []).append(info.id)
    activations = load_activation_set(store, tenant, activation_set_id)
    activations[layer]  # an unknown layer fails here, before the preprocessing
    check_preprocessing(preprocessing, infos[0].modality)
    base = None
    if base_decoder_id:
        base = _base_decoder(store, tenant, base_decoder_id, infos[0].modality, activation_set_id, activations,
                             layer, device)
        if len(by_subject) != 1:
            raise InvalidArgument(f"fine-tuning takes the recordings of one subject; these are of subjects "
                                  f"{_subject_names(by_subject)}")
        settings = make_fine_tuning(base, params, seed, val_fraction)
    else:
        settings = {"decoder": make_decoder(SHARED, params, SharedDecoder.modality, seed, val_fraction, device)}
    responses = []
    for i, ids in enumerate(by_subject.values()):
        report("responses", i, len(by_subject))
        responses.append(load_responses(store, tenant, ids, preprocessing, selection))
    report("responses", len(by_subject), len(by_subject))
    fit = fit_shared_decoder(responses, activations, layer, base=base, cv_folds=cv_folds, progress=progress,
                             **settings)
    provenance = {"recordings": recording_provenance(infos), "activation_set_id": activation_set_id,
                  "preprocessing": preprocessing, **fit.provenance}
    if base is not None:
        provenance["base_decoder"] = decoder_provenance(store.get_artifact(tenant, base_decoder_id))
    return dataclasses.replace(fit, provenance=provenance)


def save_decoder_artifact(store: Store, tenant: str, model: BaseDecoder | SharedDecoder,
                          provenance: dict | None = None) -> ArtifactInfo:
    """Store a fitted decoder as one ``decoder`` artifact: weights, config and its ONNX graphs.

    A decoder of one subject's data has one graph, ``model.onnx``; a ``SharedDecoder`` one per
    subject (its adapter and the shared head), ``subject-000.onnx``, ``subject-001.onnx``, ...

    Parameters
    ----------
    model : RidgeDecoder, MLPDecoder, EEGDecoder or SharedDecoder
        Fitted.
    provenance : dict, optional
        JSON-serializable; kept in the artifact and in the saved config.

    Returns
    -------
    info : ArtifactInfo
        ``meta`` holds the class, modality, n_dims and the input_shape, or for a shared decoder
        ``subjects``: per subject, in adapter order, its ``input_shape`` and ``onnx`` file.
    """
    meta = {"class": type(model).__name__, "modality": model.modality, "n_dims": int(model.n_dims_)}
    with store.scratch() as tmp:
        save_decoder(model, tmp, provenance)
        if isinstance(model, SharedDecoder):
            meta["subjects"] = {}
            for i, subject in enumerate(model.subjects_):
                export_decoder_onnx(model, pathlib.Path(tmp) / SUBJECT_ONNX_FILE.format(i), subject=subject)
                meta["subjects"][subject] = {"input_shape": list(model.input_shapes_[subject]),
                                             "onnx": SUBJECT_ONNX_FILE.format(i)}
        else:
            export_decoder_onnx(model, pathlib.Path(tmp) / ONNX_FILE)
            meta["input_shape"] = list(model.input_shape_)
        return save_directory(store, tenant, DECODER_ARTIFACT, tmp, meta, provenance)


def _onnx_file(decoder_id: str, meta: dict, subject: str) -> str:
    """The graph of ``subject`` (a shared decoder's) or the one graph (``subject`` empty)."""
    subjects = meta.get("subjects")
    if subjects is None:
        if subject:
            raise InvalidArgument(f"decoder {decoder_id!r} decodes one subject's data and takes no subject "
                                  f"(got subject {quoted(subject)})")
        return ONNX_FILE
    if not subject:
        raise InvalidArgument(f"decoder {decoder_id!r} is a shared decoder: name the subject, one of "
                              f"{_subject_names(subjects)}")
    if subject not in subjects:
        raise InvalidArgument(f"decoder {decoder_id!r} has no adapter for subject {quoted(subject)}; its subjects "
                              f"are {_subject_names(subjects)}")
    return subjects[subject]["onnx"]


def load_decoder_artifact(store: Store, tenant: str, decoder_id: str, device: str = "cpu",
                          threads: int | None = None, subject: str = "") -> OnnxDecoder:
    """The stored decoder's ONNX graph on ONNX Runtime (NotFound for another tenant's or kind's id).

    ``braindecode.decoding.load_decoder(store.artifact_dir(tenant, decoder_id))`` gives the torch
    decoder instead.

    Parameters
    ----------
    device : {"cpu", "cuda", "cuda:N", "auto"}
    threads : int, optional
        Intra-op threads of the CPU session (default: ONNX Runtime's, one per core); a server
        running many sessions at once wants 1.
    subject : str
        A shared decoder's subject, whose adapter and the shared head make the graph (required
        for a shared decoder, refused for the others).
    """
    meta = store.get_artifact(tenant, decoder_id, DECODER_ARTIFACT).meta
    onnx_file = _onnx_file(decoder_id, meta, subject)
    return OnnxDecoder(store.artifact_dir(tenant, decoder_id) / onnx_file, device=device, threads=threads)


def decode_recordings(store: Store, tenant: str, recording_ids, preprocessing: dict, decoder_id: str,
                      selection=None, average_repeats: bool = True, device: str = "cpu",
                      subject: str = "") -> tuple:
    """Embeddings decoded from stored recordings by a stored decoder.

    A shared decoder decodes each recording through the adapter of its subject: ``subject``, or
    else the recording's own subject label; the recordings of each subject are preprocessed
    together, subject after subject in the order they first appear.

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
    subject : str
        A shared decoder's subject for every recording (refused by the decoders of one subject's data).

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
    by_subject = {subject: list(recording_ids)}
    if "subjects" in info.meta and not subject:
        by_subject = {}
        for rid in recording_ids:
            by_subject.setdefault(store.get_recording(tenant, rid).subject, []).append(rid)
    decoders = {name: load_decoder_artifact(store, tenant, decoder_id, device=device, threads=1, subject=name)
                for name in by_subject}  # an unknown subject fails before any preprocessing
    embeddings, stimulus_ids = [], []
    for name, ids in by_subject.items():
        responses = load_responses(store, tenant, ids, preprocessing, selection)
        if average_repeats:
            responses = responses.average_repeats()
        embeddings.append(decoders[name].predict(responses.data))
        stimulus_ids.append(responses.stimulus_ids)
    return np.concatenate(embeddings), np.concatenate(stimulus_ids), responses.info["selection"]


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
                        decoder_id: str = "", subject: str = "") -> Retrieval:
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
        Anything with ``predict(X) -> (n, n_dims)``, decoding ``queries``; recordings are decoded
        by ``decoder_id``'s graph of each recording's subject.
    recording_ids : list of str
        ... or, instead of ``queries``, stored recordings decoded by ``decoder_id`` (see
        ``decode_recordings``, which takes ``preprocessing``, ``selection`` and ``average_repeats``).
    preprocessing : dict, optional
    selection : dict or Selection, optional
    average_repeats : bool
    decoder_id : str
    subject : str
        With a shared ``decoder_id``: the subject whose adapter decodes every recording (default: each
        recording's own subject).

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
    if from_recordings and decoder is not None:
        raise InvalidArgument("an open decoder decodes queries; recordings are decoded by decoder_id")
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
                                                     average_repeats, subject=subject)
    elif decoder is not None:
        embeddings = decoder.predict(queries)
    ids, scores = retrieve(queries if embeddings is None else embeddings, candidates,
                           [] if candidate_ids is None else candidate_ids, k=k)
    return Retrieval(ids, scores, query_ids, embeddings)
