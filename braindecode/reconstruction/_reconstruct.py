"""The service-facing calls: reconstruct images from embeddings, batch several requests, encode PNGs."""

from __future__ import annotations

import functools
import io
import numbers
import pathlib
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from braindecode._devices import resolve_device
from braindecode.errors import InvalidArgument, ResourceExhausted
from braindecode.reconstruction._families import load_model_directory
from braindecode.reconstruction._memory import check_memory
from braindecode.reconstruction._pipeline import BACKENDS, EmbeddingPipeline, ModelDescription

DEFAULT_MODEL_DIR = pathlib.Path(__file__).resolve().parents[2] / "models" / "reconstruction-default"


@dataclass
class ReconstructionRequest:
    """One request of a batch.

    Parameters
    ----------
    embeddings : array of shape (n, d)
    seed : int
        Image ``k`` of the request draws its noise from the stream ``(seed, k)``,
        so a request gives the same images alone or batched with others.
    init_images : array of shape (n, H, W, 3), optional
        Coarse images to start from (img2img).
    """

    embeddings: np.ndarray
    seed: int = 0
    init_images: np.ndarray | None = None


def seed_generators(seed: int, n: int) -> list:
    """``n`` CPU generators, the k-th seeded from the stream ``(seed, k)``."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InvalidArgument(f"seed must be a non-negative integer, got {seed!r}")
    states = [np.random.SeedSequence((int(seed), k)).generate_state(1, np.uint64)[0] for k in range(n)]
    return [torch.Generator().manual_seed(int(s)) for s in states]


@functools.lru_cache(maxsize=4)
def _load(directory: str, device: str) -> EmbeddingPipeline:
    return load_model_directory(directory, device=device)


def load_pipeline(model=None, device=None) -> EmbeddingPipeline:
    """A model directory's pipeline, of the family its ``model_index.json`` names (default: the shipped model).

    Each directory and device loads once (see :func:`load_model_directory`). A pipeline passed in is
    returned, moved to ``device`` when one is given. ``device`` defaults to the CPU for directories.
    """
    if isinstance(model, EmbeddingPipeline):
        return model if device is None or model.device == resolve_device(device) else model.to(device)
    directory = pathlib.Path(model if model is not None else DEFAULT_MODEL_DIR).resolve()
    return _load(str(directory), str(resolve_device(device or "cpu")))


def describe_model(model=None) -> ModelDescription:
    """Family, embedding space (encoder, output, dimension), image size and recommended sampling of a model.

    ``model`` is a model directory (default: the shipped model) or a pipeline; see :func:`load_pipeline`.
    """
    return load_pipeline(model).describe()


def reconstruct_requests(requests, model=None, n_steps: int | None = None, guidance: float | None = None,
                         strength: float | None = None, scheduler: str | None = None, backend: str = "torch",
                         device=None, progress=None, max_batch: int = 64, max_bytes: int | None = None,
                         **runtime_options) -> list:
    """Generate several requests together, in batches of at most ``max_batch`` images.

    Requests with and without ``init_images`` go in separate batches; a request
    is never split. Parameters are those of :func:`reconstruct`.

    Returns
    -------
    images : list of array of shape (n_i, H, W, 3)
        uint8 images per request, in request order.
    """
    pipeline = load_pipeline(model, device)
    n_steps, scheduler, guidance, strength = pipeline.sampling_settings(n_steps, scheduler, guidance, strength).values()
    requests = list(requests)
    embeddings = [np.asarray(r.embeddings) for r in requests]
    for i, emb in enumerate(embeddings):
        try:
            pipeline.check_embeddings(emb)
        except InvalidArgument as exc:
            raise InvalidArgument(f"request {i}: {exc}") from None
        check_memory(pipeline, len(emb), guidance, max_batch, max_bytes)
    batches = _pack(pipeline, requests, [len(e) for e in embeddings], guidance, max_batch, max_bytes)
    total = len(batches) * n_steps
    results = [None] * len(requests)
    for b, batch in enumerate(batches):
        init = [requests[i].init_images for i in batch]
        images = pipeline(
            np.concatenate([embeddings[i] for i in batch]), n_steps=n_steps, scheduler=scheduler,
            guidance_scale=guidance, strength=strength, backend=backend,
            generator=[g for i in batch for g in seed_generators(requests[i].seed, len(embeddings[i]))],
            init_images=None if init[0] is None else np.concatenate([np.asarray(x) for x in init]),
            progress=None if progress is None else (lambda done, _, b=b: progress(b * n_steps + done, total)),
            **runtime_options,
        )
        for i, chunk in zip(batch, np.split(images, np.cumsum([len(embeddings[i]) for i in batch])[:-1])):
            results[i] = chunk
    return results


def _pack(pipeline, requests, sizes, guidance, max_batch, max_bytes) -> list:
    """Greedy batches of request indices: whole requests, with and without init apart, within the bounds."""
    batches = []
    for with_init in (True, False):
        current = []
        for i in (i for i, r in enumerate(requests) if (r.init_images is not None) == with_init):
            if current and not _fits(pipeline, sum(sizes[j] for j in current) + sizes[i], guidance, max_batch, max_bytes):
                batches.append(current)
                current = []
            current.append(i)
        batches += [current] if current else []
    return batches


def _fits(pipeline, batch_size, guidance, max_batch, max_bytes) -> bool:
    try:
        check_memory(pipeline, batch_size, guidance, max_batch, max_bytes)
    except ResourceExhausted:
        return False
    return True


def reconstruct(embeddings, model=None, n_steps: int | None = None, seed: int = 0, guidance: float | None = None,
                init_images=None, strength: float | None = None, scheduler: str | None = None, backend: str = "torch",
                device=None, progress=None, max_batch: int = 64, max_bytes: int | None = None,
                **runtime_options) -> np.ndarray:
    """Reconstruct one image per embedding.

    ``n_steps``, ``guidance``, ``strength`` and ``scheduler`` left at None take the settings
    the model recommends (``"sampling"`` in its ``model_index.json``; the shipped model's are
    stated in its model card).

    Parameters
    ----------
    embeddings : array of shape (n, d)
        Decoded image embeddings in the model's conditioning space (:func:`describe_model`; for the
        default model EfficientNet-Lite0 ``pool``, d = 1280).
    model : path or EmbeddingPipeline, optional
        A model directory of any supported family (see :func:`load_model_directory`); default the
        shipped model.
    n_steps : int, optional
        Denoising steps, 1 to the model's ``max_steps``.
    seed : int
        Image ``k`` uses the noise stream ``(seed, k)``.
    guidance : float, optional
        Classifier-free guidance scale (>= 1; 1 is off).
    init_images : array of shape (n, H, W, 3), optional
        Predicted coarse images to start from (uint8, or float in [0, 1]).
    strength : float in [0, 1], optional
        Noise level to start img2img from: from ``init_images``, else from the coarse latents of
        the model's latent prior when it has one (1 starts from pure noise); ignored otherwise.
    scheduler : {"lcm", "ddim", "euler"}, optional
    backend : {"torch", "onnx"}
    device : str, optional
        "cpu" or "cuda[:N]" (default: a given pipeline's device, else "cpu"); on CUDA the ONNX
        backend runs the CUDA provider with fp16 and I/O binding.
    progress : callable(done, total), optional
        Called after each denoising step.
    max_batch, max_bytes : int, optional
        Bounds checked before generating; exceeding one raises ``ResourceExhausted``.
    **runtime_options
        ONNX runtime options: ``cache_dir``, ``fp16``, ``tensorrt``, ``threads``.

    Returns
    -------
    images : array of shape (n, H, W, 3)
        uint8 RGB images.
    """
    emb = np.asarray(embeddings)
    if emb.ndim != 2:
        raise InvalidArgument(f"embeddings must have shape (n, d), got {emb.shape}")
    request = ReconstructionRequest(emb, seed, init_images)
    return reconstruct_requests([request], model, n_steps, guidance, strength, scheduler, backend, device, progress,
                                max_batch=max_batch, max_bytes=max_bytes, **runtime_options)[0]


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


def encode_png(image) -> bytes:
    """PNG bytes of one uint8 image of shape (H, W, 3)."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise InvalidArgument(f"encode_png needs a uint8 array of shape (H, W, 3), got {arr.dtype} {arr.shape}")
    buffer = io.BytesIO()
    Image.fromarray(arr, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()
