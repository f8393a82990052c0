"""Reconstructions from stored data: embeddings decoded from stored recordings by a stored decoder,
images generated from them and kept as ``reconstruction`` artifacts."""

from __future__ import annotations

import json
import pathlib
from dataclasses import dataclass

import numpy as np

from braindecode.config import DEFAULT_RECONSTRUCTION_MODEL, ReconstructionSettings
from braindecode.errors import InvalidArgument
from braindecode.reconstruction import (
    ReconstructionRequest,
    batch_limit,
    check_ids,
    check_reconstruction,
    encode_png,
    reconstruct_requests,
)
from braindecode.store._artifacts import Stored
from braindecode.store._decoding import decode_recordings
from braindecode.store._kinds import DECODER_ARTIFACT, RECONSTRUCTION_ARTIFACT
from braindecode.store._provenance import decoder_provenance
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


def save_reconstructions(store: Store, tenant: str, stimulus_ids, images, provenance: dict | None = None,
                         pngs=None) -> tuple:
    """Store images as one ``reconstruction`` artifact: ``000000.png``, ... and ``ids.json``.

    Parameters
    ----------
    stimulus_ids : list of str
    images : array of shape (n, H, W, 3), uint8
    provenance : dict, optional
        JSON-serializable: decoder, recordings, model, steps, seed ...
    pngs : list of bytes, optional
        The PNG of each image (``braindecode.reconstruction.encode_png``), when already encoded.

    Returns
    -------
    info : ArtifactInfo
    pngs : list of bytes
        The stored PNG of each image, in order.
    """
    images = np.asarray(images)
    if len(stimulus_ids) != len(images):
        raise InvalidArgument(f"{len(stimulus_ids)} ids for {len(images)} images")
    pngs = [encode_png(image) for image in images] if pngs is None else list(pngs)
    with store.scratch() as tmp:
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
                           scheduler: str | None = None, backend: str = "torch",
                           model: str = DEFAULT_RECONSTRUCTION_MODEL, generate=None,
                           progress=None, on_images=None, selection=None,
                           subject: str = "") -> StoredReconstruction:
    """Reconstruct images from given embeddings or from stored recordings, and keep them.

    Recordings are decoded by a stored decoder (``decode_recordings``); the request is checked
    alone (``braindecode.reconstruction.check_reconstruction``), generated in pieces of as many
    images as one batch holds within the settings' bounds (``batch_limit``), and stored with its
    provenance (``save_reconstructions``).

    Parameters
    ----------
    store : Store
    tenant : str
    settings : ReconstructionSettings
        The served models, their device (of the decoder too) and the batch bounds.
    embeddings : array of shape (n, d), optional
        Embeddings in the model's conditioning space ...
    ids : list of str, optional
        ... named by these ids ("0", "1", ... by default).
    recording_ids : list of str
        ... or recordings to decode with ``decoder_id`` after ``preprocessing`` (see
        ``decode_recordings``); their images are named by the trials' stimulus ids.
    preprocessing : dict, optional
        ``braindecode.preprocessing.preprocess`` spec with a ``trials`` or ``epochs`` step.
    decoder_id : str
        A ``decoder`` artifact mapping to the model's conditioning space.
    average_repeats : bool
        Average the responses to each stimulus (per subject) before decoding.
    selection : dict or Selection, optional
        The voxels and trials of the recordings to decode; its voxels default to those the
        decoder was fitted on.
    seed : int
        Image ``k`` draws its noise from the stream ``(seed, k)``.
    init_images : array of shape (n, H, W, 3), optional
        Coarse images to start from (img2img).
    n_steps, guidance, strength, scheduler : optional
        Sampling settings; None takes the model's recommended ones.
    backend : {"torch", "onnx"}
    model : str
        The name of one of ``settings``' models (``NotFound`` for others).
    generate : callable, optional
        ``generate(model, sampling, request, progress)``: the images (n, H, W, 3) of a
        ``ReconstructionRequest`` (one piece) by model ``model`` with ``sampling`` = (n_steps, guidance,
        strength, scheduler, backend), reporting ``progress(done, total)``; a server passes its batcher.
        By default each piece is generated alone.
    progress : callable, optional
        ``progress(stage, done, total)`` with stages "decode", "reconstruct" and "store". An
        exception it raises stops the call; nothing is stored then.
    on_images : callable, optional
        ``on_images(row, stimulus_ids, pngs)`` as each piece is made: the PNG bytes of its images,
        the first of which is image ``row`` of the request.
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
    if from_embeddings and (decoder_id or preprocessing is not None or selection is not None or subject):
        raise InvalidArgument("decoder_id, subject, preprocessing and selection go with recording_ids, not with "
                              "embeddings")
    if not from_embeddings and ids is not None and len(ids):
        raise InvalidArgument("ids go with embeddings; decoded trials are named by their stimulus ids")
    pipeline = settings.pipeline(model)
    n_steps, scheduler, guidance, strength = pipeline.sampling_settings(n_steps, scheduler, guidance, strength).values()
    sampling = (n_steps, guidance, strength, scheduler, backend)
    provenance = {"model": model, "model_family": pipeline.family, "n_steps": n_steps, "seed": seed,
                  "guidance": guidance, "scheduler": scheduler, "backend": backend,
                  "img2img": init_images is not None, "strength": strength}
    if from_embeddings:
        provenance["source"] = "embeddings"
    else:
        report("decode", 0, 1)
        if decoder_id:
            n_dims = store.get_artifact(tenant, decoder_id, DECODER_ARTIFACT).meta["n_dims"]
            if n_dims != pipeline.embedding_dim:
                raise InvalidArgument(f"decoder {decoder_id!r} maps to {n_dims} dimensions but the reconstruction "
                                      f"model is conditioned on {pipeline.embedding_dim}")
        embeddings, ids, applied = decode_recordings(store, tenant, recording_ids, preprocessing, decoder_id,
                                                     selection, average_repeats, settings.device, subject=subject)
        report("decode", 1, 1)
        provenance.update(source="recordings", decoder_id=decoder_id, recordings=recording_ids, subject=subject,
                          preprocessing=preprocessing, selection=applied, average_repeats=average_repeats,
                          decoder=decoder_provenance(store.get_artifact(tenant, decoder_id, DECODER_ARTIFACT)))
    request = ReconstructionRequest(embeddings, seed, init_images)
    max_bytes = settings.max_bytes or None
    check_reconstruction(pipeline, request, n_steps, guidance, strength, scheduler, backend, settings.max_batch,
                         max_bytes)
    if from_embeddings:
        ids = check_ids(ids, len(embeddings))
    ids = [str(i) for i in ids]
    pieces = request.split(batch_limit(pipeline, guidance, settings.max_batch, max_bytes))
    total = len(pieces) * n_steps
    report("reconstruct", 0, total)
    images, pngs = [], []
    for k, piece in enumerate(pieces):
        def piece_progress(done, of, k=k):
            report("reconstruct", (k + done / of) * n_steps, total)

        if generate is None:
            made = reconstruct_requests([piece], pipeline, *sampling, max_batch=settings.max_batch,
                                        max_bytes=max_bytes, progress=piece_progress)[0]
        else:
            made = generate(model, sampling, piece, piece_progress)
        images.append(made)
        pngs += [encode_png(image) for image in made]
        if on_images is not None:
            on_images(piece.start, ids[piece.start:piece.start + len(piece)], pngs[piece.start:])
    images = np.concatenate(images)
    report("store", 0, 1)
    info, pngs = save_reconstructions(store, tenant, ids, images, provenance, pngs)
    return StoredReconstruction(ids, images, pngs, info)
