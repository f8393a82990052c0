"""Turn user stimuli (PIL images, uint8 arrays, file paths, strings) into what a network takes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from braindecode.errors import InvalidArgument

_RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}


def _is_file(path) -> bool:
    try:
        return Path(path).is_file()
    except (OSError, ValueError):  # names too long or with NUL bytes
        return False


def _image_problem(stimulus):
    """Why ``stimulus`` cannot be an image, or None (without decoding files)."""
    if isinstance(stimulus, Image.Image):
        return None
    if isinstance(stimulus, (str, os.PathLike)):
        return None if _is_file(stimulus) else f"no image file at {stimulus}"
    if isinstance(stimulus, np.ndarray):
        if stimulus.dtype != np.uint8:
            return f"image arrays must be uint8, got {stimulus.dtype}"
        if stimulus.ndim == 2 or (stimulus.ndim == 3 and stimulus.shape[2] in (3, 4)):
            return None
        return f"image array has shape {stimulus.shape}, expected (H, W, 3)"
    return (f"unsupported type {type(stimulus).__name__}; "
            "use a PIL image, a uint8 array (H, W, 3) or an image path")


def check_stimuli(stimuli, modality: str) -> None:
    """``InvalidArgument`` naming the first stimulus a ``modality`` network cannot take.

    Image files are only checked for existence here; they are decoded batch by batch.
    """
    for index, stimulus in enumerate(stimuli):
        if modality == "text":
            problem = None if isinstance(stimulus, str) else (
                f"a text model takes strings, got {type(stimulus).__name__}")
        else:
            problem = _image_problem(stimulus)
        if problem:
            raise InvalidArgument(f"stimulus {index}: {problem}")


def as_rgb_image(stimulus, index: int = 0) -> Image.Image:
    """One image stimulus as an RGB PIL image.

    Parameters
    ----------
    stimulus : PIL.Image, array of shape (H, W, 3), (H, W, 4) or (H, W), or path
        uint8 arrays only; paths may be ``str`` or ``os.PathLike``.
    index : int
        Position in the stimulus list, for error messages.
    """
    problem = _image_problem(stimulus)
    if problem:
        raise InvalidArgument(f"stimulus {index}: {problem}")
    if isinstance(stimulus, Image.Image):
        return stimulus.convert("RGB")
    if isinstance(stimulus, np.ndarray):
        return Image.fromarray(stimulus).convert("RGB")
    try:
        with Image.open(stimulus) as img:
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidArgument(f"cannot read image {stimulus}: {exc}") from None


def check_texts(stimuli) -> list:
    """Text stimuli as a list of str; anything else raises ``InvalidArgument``."""
    check_stimuli(stimuli, "text")
    return list(stimuli)


class ImagePreprocessor:
    """Center crop, resize and normalise RGB images into a float32 batch.

    Parameters
    ----------
    size : int
        Output height and width in pixels.
    crop_fraction : float
        Side of the central square crop as a fraction of the shorter image side.
    mean, std : tuple of 3 float
        Per-channel normalisation, in 0-255 pixel units: ``(pixel - mean) / std``.
    resample : {"bicubic", "bilinear"}
        Interpolation used to resize the crop.
    """

    def __init__(self, size=224, crop_fraction=0.875, mean=(123.675, 116.28, 103.53),
                 std=(58.395, 57.12, 57.375), resample="bicubic"):
        if resample not in _RESAMPLE:
            raise InvalidArgument(f"unknown resample {resample!r}; use one of {sorted(_RESAMPLE)}")
        if not 0 < crop_fraction <= 1:
            raise InvalidArgument(f"crop_fraction must be in (0, 1], got {crop_fraction}")
        self.size = int(size)
        self.crop_fraction = float(crop_fraction)
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.resample = resample

    def crop_resize(self, image: Image.Image) -> Image.Image:
        """The central square crop of ``image``, resized to ``size`` x ``size``."""
        width, height = image.size
        side = max(1, int(round(self.crop_fraction * min(width, height))))
        left, top = (width - side) // 2, (height - side) // 2
        crop = image.crop((left, top, left + side, top + side))
        return crop.resize((self.size, self.size), _RESAMPLE[self.resample])

    def __call__(self, stimuli) -> np.ndarray:
        """Images as an array of shape (n_images, 3, size, size), float32."""
        batch = np.empty((len(stimuli), 3, self.size, self.size), dtype=np.float32)
        mean = np.asarray(self.mean, dtype=np.float32)
        std = np.asarray(self.std, dtype=np.float32)
        for i, stimulus in enumerate(stimuli):
            pixels = np.asarray(self.crop_resize(as_rgb_image(stimulus, i)), dtype=np.float32)
            batch[i] = ((pixels - mean) / std).transpose(2, 0, 1)
        return batch

    def describe(self) -> dict:
        """The parameters, for provenance."""
        return {"size": self.size, "crop_fraction": self.crop_fraction, "mean": list(self.mean),
                "std": list(self.std), "resample": self.resample}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.describe().items())
        return f"ImagePreprocessor({args})"


def describe_preprocess(preprocess) -> dict:
    """Provenance for an image preprocessing callable; ``InvalidArgument`` if it is not callable."""
    if not callable(preprocess):
        raise InvalidArgument(f"preprocess must be callable, got {type(preprocess).__name__}")
    if isinstance(preprocess, ImagePreprocessor):
        return preprocess.describe()
    return {"callable": repr(preprocess)}
