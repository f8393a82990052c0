"""Stimulus sets: images (received as PNG or JPEG bytes, decoded and kept as lossless PNGs of their
RGB pixels) or texts, one unique id each, so that many models can extract them; and what a
network's activations are recorded with (its provenance, its layers' shapes).
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from braindecode.activations._extract import extract_activations
from braindecode.activations._network import NetworkModel, TorchNetwork
from braindecode.activations._registry import get_model_card, list_models
from braindecode.errors import InvalidArgument, ResourceExhausted

IMAGE_FORMATS = ("PNG", "JPEG")
MAX_IMAGE_PIXELS = 25_000_000  # a 6000 x 4000 camera photograph; 75 MB of RGB pixels
MAX_IMAGE_SIDE = 16_384
MAX_TEXT_CHARS = 100_000
MAX_ID_CHARS = 256
MAX_STIMULI = 100_000
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError)


def decode_image(data: bytes, stimulus_id: str = "") -> np.ndarray:
    """The RGB pixels of PNG or JPEG bytes, refusing anything else before it is decompressed.

    Parameters
    ----------
    data : bytes
    stimulus_id : str
        Named in error messages.

    Returns
    -------
    pixels : array of shape (height, width, 3), uint8
        As ``PIL.Image.open(...).convert("RGB")`` gives them (no EXIF rotation), which is what
        :func:`extract_activations` reads from an image file.
    """
    name = f"stimulus {stimulus_id!r}"
    if not data:
        raise InvalidArgument(f"{name}: the image is empty (no bytes)")
    try:
        image = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
    except Image.DecompressionBombError as exc:
        raise InvalidArgument(f"{name}: image too large ({exc})") from None
    except UnidentifiedImageError:
        raise InvalidArgument(f"{name}: not a PNG or JPEG image ({len(data)} bytes)") from None
    except _DECODE_ERRORS as exc:  # Pillow raises any of these for malformed headers
        raise InvalidArgument(f"{name}: cannot read the image header: {exc}") from None
    with image:
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS or max(width, height) > MAX_IMAGE_SIDE:
            raise InvalidArgument(
                f"{name}: image of {width} x {height} pixels is too large (at most {MAX_IMAGE_PIXELS} "
                f"pixels and {MAX_IMAGE_SIDE} per side)")
        try:
            return np.asarray(image.convert("RGB"))
        except _DECODE_ERRORS as exc:
            raise InvalidArgument(f"{name}: cannot decode the {image.format} image: {exc}") from None


def _check_id(stimulus_id, index: int) -> str:
    if not isinstance(stimulus_id, str) or not stimulus_id:
        raise InvalidArgument(f"stimulus {index} has no id; every stimulus needs a unique, non-empty id")
    if len(stimulus_id) > MAX_ID_CHARS:
        raise InvalidArgument(f"stimulus {index}: id of {len(stimulus_id)} characters (at most {MAX_ID_CHARS})")
    return stimulus_id


def _check_text(text, stimulus_id: str) -> str:
    if not isinstance(text, str):
        raise InvalidArgument(f"stimulus {stimulus_id!r}: a text stimulus must be a string, "
                              f"got {type(text).__name__}")
    if not text:
        raise InvalidArgument(f"stimulus {stimulus_id!r}: the text is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidArgument(f"stimulus {stimulus_id!r}: text of {len(text)} characters "
                              f"(at most {MAX_TEXT_CHARS})")
    return text


@dataclass
class StimulusSet:
    """Stimuli with one unique id each, all images or all texts.

    Parameters
    ----------
    stimulus_ids : list of str
    stimuli : list
        Image file paths (modality "image") or strings (modality "text"), as
        :func:`extract_activations` takes them.
    modality : {"image", "text"}
    name : str
    id : str
        The artifact id of a stored set; empty for one not stored yet.
    """

    stimulus_ids: list
    stimuli: list
    modality: str
    name: str = ""
    id: str = ""


class StimulusSetBuilder:
    """Collect stimuli one at a time, checking each as it arrives, into one set.

    Images are decoded (:func:`decode_image`) and written as PNGs to a temporary folder, so that
    memory holds one image at a time. Use it as a context manager: the folder goes on exit.

    Parameters
    ----------
    name : str
        A label for the set.
    max_bytes : int, optional
        Limit on the image bytes plus text characters received; past it ``ResourceExhausted``.
    """

    def __init__(self, name: str = "", max_bytes: int | None = None):
        self.name = str(name)
        self.max_bytes = max_bytes
        self.modality = None
        self.stimulus_ids, self._stimuli = [], []
        self.n_bytes = 0
        self._seen = set()
        self._dir = Path(tempfile.mkdtemp(prefix="stimuli-"))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        """Delete the temporary folder."""
        shutil.rmtree(self._dir, ignore_errors=True)

    def _accept(self, stimulus_id, modality: str, size: int) -> str:
        index = len(self.stimulus_ids)
        stimulus_id = _check_id(stimulus_id, index)
        if stimulus_id in self._seen:
            raise InvalidArgument(f"duplicate stimulus id {stimulus_id!r} (stimulus {index}); ids must be unique")
        if self.modality is not None and modality != self.modality:
            raise InvalidArgument(f"stimulus {stimulus_id!r} is {'an' if modality == 'image' else 'a'} {modality}, "
                                  f"but the set holds {self.modality}s; a set is all images or all texts")
        if index >= MAX_STIMULI:
            raise InvalidArgument(f"too many stimuli: a set holds at most {MAX_STIMULI}")
        self.n_bytes += size
        if self.max_bytes is not None and self.n_bytes > self.max_bytes:
            raise ResourceExhausted(f"stimuli exceed the size limit of {self.max_bytes} bytes")
        return stimulus_id

    def add_image(self, stimulus_id: str, data: bytes) -> None:
        """Decode PNG or JPEG bytes and keep the pixels; ``InvalidArgument`` names the stimulus."""
        stimulus_id = self._accept(stimulus_id, "image", len(data))
        path = self._dir / f"{len(self._stimuli):06d}.png"
        Image.fromarray(decode_image(data, stimulus_id)).save(path, format="PNG", compress_level=1)
        self._add(stimulus_id, "image", str(path))

    def add_text(self, stimulus_id: str, text: str) -> None:
        """Keep a text stimulus; ``InvalidArgument`` names the stimulus."""
        stimulus_id = self._accept(stimulus_id, "text", len(text) if isinstance(text, str) else 0)
        self._add(stimulus_id, "text", _check_text(text, stimulus_id))

    def _add(self, stimulus_id, modality, stimulus) -> None:
        self.modality = modality
        self.stimulus_ids.append(stimulus_id)
        self._seen.add(stimulus_id)
        self._stimuli.append(stimulus)

    def stimulus_set(self) -> StimulusSet:
        """The stimuli so far, not stored (image paths point into the temporary folder)."""
        if not self.stimulus_ids:
            raise InvalidArgument("the stimulus set is empty: send at least one image or text")
        return StimulusSet(list(self.stimulus_ids), list(self._stimuli), self.modality, self.name)


def _weights_sha256(model: NetworkModel):
    """sha256 over a torch network's state dict (names, dtypes, shapes, bytes); None for other networks."""
    if not isinstance(model, TorchNetwork):
        return None
    digest = hashlib.sha256()
    for key, tensor in model.module.state_dict().items():
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def model_provenance(model: NetworkModel) -> dict:
    """Model name, registry source and model card sha256 (registry models), and a weights digest."""
    provenance = {"model": model.name, "weights_sha256": _weights_sha256(model)}
    if model.name in {card.name for card in list_models()}:
        card = get_model_card(model.name)
        provenance.update(model_source=card.source,
                          model_card_sha256=hashlib.sha256(card.card.read_bytes()).hexdigest())
    return provenance


def layer_shapes(model: NetworkModel) -> dict:
    """Each layer's output shape for one stimulus, before pooling, from one neutral probe stimulus.

    Returns
    -------
    shapes : dict of str -> list of int
        In layer order; for text models -1 marks the token dimension, which varies with the text.
    """
    probe = ["a"] if model.modality == "text" else [np.full((224, 224, 3), 128, dtype=np.uint8)]
    shapes = extract_activations(model, probe, pooling="none", batch_size=1).info["layer_shapes"]
    if model.modality == "text":
        return {layer: [-1, *shape[1:]] if len(shape) > 1 else shape for layer, shape in shapes.items()}
    return shapes
