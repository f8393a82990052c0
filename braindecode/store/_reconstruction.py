"""Reconstructions from stored data: embeddings decoded from stored recordings by a stored decoder,
images generated from them and kept as ``reconstruction`` artifacts."""

from __future__ import annotations

import json
import pathlib
import tempfile
from dataclasses import dataclass

import numpy as np

from braindecode.config import ReconstructionSettings
from braindecode.errors import InvalidArgument
from braindecode.reconstruction import (
    ReconstructionRequest,
    check_ids,
    check_reconstruction,
    encode_png,
    reconstruct_requests,
)
from braindecode.store._artifacts import Stored
from braindecode.store._decoding import load_decoder_artifact
from braindecode.store._kinds import DECODER_ARTIFACT, RECONSTRUCTION_ARTIFACT
from braindecode.store._provenance import decoder_provenance
from braindecode.store._recordings import load_responses
from braindecode.store._store import ArtifactInfo, Store

IDS_FILE = "ids.json"


@dataclass
class StoredReconstruction(Stored):
    """Images kept as a ``reconstruction`` artifact.

    Attributes
    ----------
    stimulus_ids : list of str
        One per image.
    images : array of shape (n, H, W, 3), uint8
    pngs : list of bytes
        The stored PNG of each image, in order.
    info : ArtifactInfo
    """

    stimulus_ids: list
    images: np.ndarray
    pngs: list
    info: ArtifactInfo


def decode_recordings(store: Store, tenant: str, recording_ids, preprocessing: dict, decoder_id: str,
                      n_dims: int, average_repeats: bool = True, device: str = "cpu", subject: str = "") -> tuple:
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
    n_dims : int
        The dimension the decoder must map to (the reconstruction model's embedding dimension).
    average_repeats : bool
        Average the responses to each stimulus (per subject) before decoding.
    device : str
    subject : str
        A shared decoder's subject for every recording (refused by the decoders of one subject's data).

    Returns
    -------
    embeddings : array of shape (n, n_dims), float32
    stimulus_ids : array of shape (n,)
    """
    if not decoder_id:
        raise InvalidArgument("decoder_id is required with recording_ids")
    meta = store.get_artifact(tenant, decoder_id, DECODER_ARTIFACT).meta
    if meta["n_dims"] != n_dims:
        raise InvalidArgument(f"decoder {decoder_id!r} maps to {meta['n_dims']} dimensions but the "
                              f"reconstruction model is conditioned on {n_dims}")
    if not isinstance(preprocessing, dict):
        raise InvalidArgument(f"preprocessing must be a spec object, got {preprocessing!r}")
    by_subject = {subject: list(recording_ids)}
    if "subjects" in meta and not subject:
        by_subject = {}
        for rid in recording_ids:
            by_subject.setdefault(store.get_recording(tenant, rid).subject, []).append(rid)
    decoders = {name: load_decoder_artifact(store, tenant, decoder_id, device=device, threads=1, subject=name)
                for name in by_subject}  # an unknown subject fails before any preprocessing
    embeddings, stimulus_ids = [], []
    for name, ids in by_subject.items():
        responses = load_responses(store, tenant, ids, preprocessing)
        if average_repeats:
            responses = responses.average_repeats()
        embeddings.append(decoders[name].predict(responses.data))
        stimulus_ids.append(responses.stimulus_ids)
    return np.concatenate(embeddings), np.concatenate(stimulus_ids)


def save_reconstructions(store: Store, tenant: str, stimulus_ids, images, provenance: dict | None = None) -> tuple:
    """Store images as one ``reconstruction`` artifact: ``000000.png``, ... and ``ids.json``.

    Parameters
    ----------
    stimulus_ids : list of str
    images : array of shape (n, H, W, 3), uint8
    provenance : dict, optional
        JSON-serializable: decoder, recordings, model, steps, seed ...

    Returns
    -------
    info : ArtifactInfo
    pngs : list of bytes
        The stored PNG of each image, in order.
    """
    images = np.asarray(images)
    if len(stimulus_ids) != len(images):
        raise InvalidArgument(f"{len(stimulus_ids)} ids for {len(images)} images")
    pngs = [encode_png(image) for image in images]
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for i, png in enumerate(pngs):
            files[f"{i:06d}.png"] = path = pathlib.Path(tmp) / f"{i:06d}.png"
            path.write_bytes(png)
        files[IDS_FILE] = path = pathlib.Path(tmp) / IDS_FILE
        path.write_text(json.dumps([str(s) for s in stimulus_ids]))
        meta = {"n_images": len(images), "height": int(images.shape[1]), "width": int(images.shape[2])}
        return store.add_artifact(tenant, RECONSTRUCTION_ARTIFACT, files, meta, provenance), pngs


def reconstruct_from_store(store: Store, tenant: str, settings: ReconstructionSettings, embeddings=None, ids=None,
                           recording_ids=(), preprocessing: dict | None = None, decoder_id: str = "",
                           average_repeats: bool = True, seed: int = 0, init_images=None, n_steps: int | None = None,
                           guidance: float | None = None, strength: float | None = None,
                           scheduler: str | None = None, backend: str = "torch", generate=None,
                           progress=None, subject: str = "") -> StoredReconstruction:
    """Reconstruct images from given embeddings or from stored recordings, and keep them.

    Recordings are decoded by a stored decoder (``decode_recordings``); the request is checked
    alone (``braindecode.reconstruction.check_reconstruction``), generated, and stored with its
    provenance (``save_reconstructions``).

    Parameters
    ----------
    store : Store
    tenant : str
    settings : ReconstructionSettings
        The model, its device (of the decoder too) and the batch bounds.
    embeddings : array of shape (n, d), optional
        Embeddings in the model's conditioning space ...
    ids : list of str, optional
        ... named by these ids ("0", "1", ... by default).
    recording_ids : list of str
        ... or recordings to decode with ``decoder_id`` after ``preprocessing``; their images are
        named by the trials' stimulus ids.
    preprocessing : dict, optional
        ``braindecode.preprocessing.preprocess`` spec with a ``trials`` or ``epochs`` step.
    decoder_id : str
        A ``decoder`` artifact mapping to the model's conditioning space.
    average_repeats : bool
        Average the responses to each stimulus (per subject) before decoding.
    seed : int
        Image ``k`` draws its noise from the stream ``(seed, k)``.
    init_images : array of shape (n, H, W, 3), optional
        Coarse images to start from (img2img).
    n_steps, guidance, strength, scheduler : optional
        Sampling settings; None takes the model's recommended ones.
    backend : {"torch", "onnx"}
    generate : callable, optional
        ``generate(sampling, request, progress)``: the images (n, H, W, 3) of a
        ``ReconstructionRequest`` with ``sampling`` = (n_steps, guidance, strength, scheduler,
        backend), reporting ``progress("reconstruct", done, total)``; a server passes its
        batcher. By default the request is generated alone.
    progress : callable, optional
        ``progress(stage, done, total)`` with stages "decode", "reconstruct" and "store". An
        exception it raises stops the call; nothing is stored then.
    subject : str
        With a shared ``decoder_id``: the subject whose adapter decodes every recording (default:
        each recording's own subject; see ``decode_recordings``).

    Returns
    -------
    StoredReconstruction
    """
    report = progress or (lambda stage, done, total: None)
    recording_ids = list(recording_ids)
    from_embeddings = embeddings is not None
    if from_embeddings == bool(recording_ids):
        raise InvalidArgument("give either embeddings or recording_ids with a decoder_id (exactly one of the two)")
    if from_embeddings and (decoder_id or preprocessing is not None or subject):
        raise InvalidArgument("decoder_id, subject and preprocessing go with recording_ids, not with embeddings")
    if not from_embeddings and ids is not None and len(ids):
        raise InvalidArgument("ids go with embeddings; decoded trials are named by their stimulus ids")
    pipeline = settings.pipeline()
    n_steps, scheduler, guidance, strength = pipeline.sampling_settings(n_steps, scheduler, guidance, strength).values()
    sampling = (n_steps, guidance, strength, scheduler, backend)
    provenance = {"model": settings.model_name, "n_steps": n_steps, "seed": seed, "guidance": guidance,
                  "scheduler": scheduler, "backend": backend, "img2img": init_images is not None,
                  "strength": strength}
    if from_embeddings:
        provenance["source"] = "embeddings"
    else:
        report("decode", 0, 1)
        embeddings, ids = decode_recordings(store, tenant, recording_ids, preprocessing, decoder_id,
                                            pipeline.embedding_dim, average_repeats, settings.device, subject)
        report("decode", 1, 1)
        provenance.update(source="recordings", decoder_id=decoder_id, recordings=recording_ids, subject=subject,
                          preprocessing=preprocessing, average_repeats=average_repeats,
                          decoder=decoder_provenance(store.get_artifact(tenant, decoder_id, DECODER_ARTIFACT)))
    request = ReconstructionRequest(embeddings, seed, init_images)
    max_bytes = settings.max_bytes or None
    check_reconstruction(pipeline, request, n_steps, guidance, strength, scheduler, backend, settings.max_batch,
                         max_bytes)
    if from_embeddings:
        ids = check_ids(ids, len(embeddings))
    report("reconstruct", 0, n_steps)
    if generate is None:
        images = reconstruct_requests([request], pipeline, *sampling, max_batch=settings.max_batch,
                                      max_bytes=max_bytes,
                                      progress=lambda done, total: report("reconstruct", done, total))[0]
    else:
        images = generate(sampling, request, report)
    report("store", 0, 1)
    info, pngs = save_reconstructions(store, tenant, ids, images, provenance)
    return StoredReconstruction([str(i) for i in ids], images, pngs, info)
