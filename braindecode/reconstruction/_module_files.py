"""Our own pipeline components on disk, beside the diffusers folders: ``config.json`` + ``model.safetensors``."""

from __future__ import annotations

import json
import pathlib

import torch
from safetensors.torch import load_file, save_file

from braindecode.errors import NotFound

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def save_module(module: torch.nn.Module, config: dict, directory) -> None:
    """Write ``config`` as ``config.json`` and the module's state (float32, CPU) as ``model.safetensors``."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
    save_file({k: v.detach().to("cpu", torch.float32).contiguous() for k, v in module.state_dict().items()},
              directory / WEIGHTS_NAME)


def read_module(directory, what: str) -> tuple:
    """(config, state dict) written by :func:`save_module`; NotFound naming ``what`` when either file is missing."""
    directory = pathlib.Path(directory)
    if not (directory / CONFIG_NAME).is_file() or not (directory / WEIGHTS_NAME).is_file():
        raise NotFound(f"no {what} ({CONFIG_NAME} + {WEIGHTS_NAME}) in {directory}")
    return json.loads((directory / CONFIG_NAME).read_text()), load_file(directory / WEIGHTS_NAME)
