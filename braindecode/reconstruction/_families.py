"""The supported model families by ``_class_name``, and the loader that picks one for a model directory."""

from __future__ import annotations

import pathlib

import torch

from braindecode.errors import InvalidArgument
from braindecode.reconstruction._kandinsky import KandinskyV22Family
from braindecode.reconstruction._parts import read_model_index
from braindecode.reconstruction._pipeline import EmbeddingPipeline
from braindecode.reconstruction._reconstruction_pipeline import ReconstructionPipeline
from braindecode.reconstruction._unclip import StableUnCLIPFamily

#: The family class of each supported ``_class_name``.
FAMILIES = {family.family: family for family in (ReconstructionPipeline, KandinskyV22Family, StableUnCLIPFamily)}


def load_model_directory(directory, device="cpu", dtype=torch.float32) -> EmbeddingPipeline:
    """The pipeline of a model directory, of the family its ``model_index.json`` names.

    Parameters
    ----------
    directory : path
        A directory with ``model_index.json``: braindecode's own ``ReconstructionPipeline``, or one
        written by diffusers' ``KandinskyV22Pipeline`` or ``StableUnCLIPImg2ImgPipeline``.
    device : str or torch.device
    dtype : torch.dtype

    Returns
    -------
    pipeline : EmbeddingPipeline

    Raises ``NotFound`` when there is no ``model_index.json``, and ``InvalidArgument`` for a class
    that is not supported (listing those that are) or a missing or wrong part (naming it).
    """
    directory = pathlib.Path(directory)
    class_name = read_model_index(directory).get("_class_name")
    if class_name not in FAMILIES:
        raise InvalidArgument(f"{directory} holds a {class_name!r} model; supported families: {', '.join(FAMILIES)}")
    return FAMILIES[class_name].from_pretrained(directory, device=device, dtype=dtype)
