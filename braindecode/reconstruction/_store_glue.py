"""Reconstructions of stored data: server settings, embeddings decoded from stored recordings,
request checks before batching, and reconstruction sets kept as store artifacts."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import tempfile

import numpy as np

from braindecode.decoding import DECODER_ARTIFACT, load_decoder_artifact
from braindecode.errors import FailedPrecondition, InvalidArgument, NotFound
from braindecode.reconstruction._memory import check_memory
from braindecode.reconstruction._pipeline import BACKENDS
from braindecode.reconstruction._reconstruct import DEFAULT_MODEL_DIR, encode_png, load_pipeline, seed_generators
from braindecode.store import load_responses

RECONSTRUCTION_ARTIFACT = "reconstruction"
IDS_FILE = "ids.json"
ENV_PREFIX = "BRAINDECODE_RECONSTRUCTION_"


@dataclasses.dataclass
class ReconstructionSettings:
    """How a server reconstructs.

    Parameters
    ----------
    model : str
        Pipeline directory; empty means the shipped model.
    device : str
        Torch device of the pipeline and of the decoders ("cpu", "cuda[:N]").
    max_batch : int
        Most images generated together.
    max_bytes : int
        Memory bound of one batch (see ``check_memory``); 0 means the free memory of a CUDA
        device and no bound on the CPU.
    batch_window_ms : float
        How long the first of concurrent requests waits for others to join its batch.
    """

    model: str = ""
    device: str = "cpu"
    max_batch: int = 64
    max_bytes: int = 0
    batch_window_ms: float = 20.0

    def __post_init__(self):
        for name in ("max_batch", "max_bytes", "batch_window_ms"):
            if getattr(self, name) < (1 if name == "max_batch" else 0):
                raise InvalidArgument(f"reconstruction setting {name} is out of range: {getattr(self, name)!r}")

    @classmethod
    def from_env(cls, **overrides) -> "ReconstructionSettings":
        """Defaults, then ``BRAINDECODE_RECONSTRUCTION_<NAME>`` environment variables, then ``overrides``."""
        values = {}
        for field in dataclasses.fields(cls):
            env = os.environ.get(ENV_PREFIX + field.name.upper())
            if env is not None:
                kind = type(field.default)
                try:
                    values[field.name] = kind(env)
                except ValueError:
                    raise InvalidArgument(
                        f"{ENV_PREFIX}{field.name.upper()}={env!r} is not a valid {kind.__name__}") from None
        values.update(overrides)
        return cls(**values)

    @property
    def model_name(self) -> str:
        """The model directory's name (recorded in provenance)."""
        return pathlib.Path(self.model or DEFAULT_MODEL_DIR).name

    def pipeline(self):
        """The pipeline on ``device``, loaded once; ``FailedPrecondition`` when no model is installed there."""
        try:
            return load_pipeline(self.model or None, self.device)
        except NotFound as exc:
            raise FailedPrecondition(f"the server's reconstruction model cannot be loaded: {exc}") from None


def decode_recordings(store, tenant: str, recording_ids, preprocessing: dict, decoder_id: str,
                      n_dims: int, average_repeats: bool = True, device: str = "cpu") -> tuple:
    """Embeddings decoded from stored recordings by a stored decoder.

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
    responses = load_responses(store, tenant, list(recording_ids), preprocessing)
    if average_repeats:
        responses = responses.average_repeats()
    decoder = load_decoder_artifact(store, tenant, decoder_id, device=device, threads=1)
    return decoder.predict(responses.data), responses.stimulus_ids


def check_reconstruction(pipeline, request, n_steps: int | None = None, guidance: float | None = None,
                         strength: float | None = None, scheduler: str | None = None, backend: str = "torch",
                         max_batch: int = 64, max_bytes: int | None = None) -> int:
    """Check one request's arguments and bounds alone, before it is batched with others.

    Raises ``InvalidArgument`` as ``reconstruct`` would and ``ResourceExhausted`` when the
    request alone exceeds ``max_batch`` or ``max_bytes``, so that a bad request never fails
    the batch it would have joined. Settings left at None are the pipeline's recommended ones.

    Returns
    -------
    n_bytes : int
        The memory estimate of the request alone.
    """
    if backend not in BACKENDS:
        raise InvalidArgument(f"unknown backend {backend!r}; use {' or '.join(map(repr, BACKENDS))}")
    pipeline.check_inputs(request.embeddings, n_steps, scheduler, guidance, strength, request.init_images, None,
                          None)
    seed_generators(request.seed, 0)
    guidance = pipeline.sampling_settings(guidance_scale=guidance)["guidance_scale"]
    return check_memory(pipeline, len(request.embeddings), guidance, max_batch, max_bytes)


def check_ids(ids, n: int) -> list:
    """``n`` string ids: the given ones, or "0", "1", ... when none are given."""
    ids = [str(i) for i in ids] if ids is not None and len(ids) else [str(i) for i in range(n)]
    if len(ids) != n:
        raise InvalidArgument(f"{len(ids)} ids for {n} embeddings")
    return ids


def save_reconstructions(store, tenant: str, stimulus_ids, images, provenance: dict | None = None) -> tuple:
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
