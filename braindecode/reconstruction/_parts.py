"""A model directory's ``model_index.json`` and its parts, each loaded with the class its entry names."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable

from safetensors import SafetensorError

from braindecode._hf_logging import quiet_loading
from braindecode.errors import InvalidArgument, NotFound

INDEX_NAME = "model_index.json"


def read_model_index(directory) -> dict:
    """The ``model_index.json`` of a model directory; NotFound when there is none."""
    path = pathlib.Path(directory) / INDEX_NAME
    if not path.is_file():
        raise NotFound(f"{directory} is not a reconstruction model: no {INDEX_NAME}")
    try:
        index = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArgument(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(index, dict):
        raise InvalidArgument(f"{path} must hold a JSON object, got {type(index).__name__}")
    return index


def index_encoder(directory, index: dict):
    """The ``"encoder"`` entry of ``model_index.json`` (``{"model": ..., "output": ...}``), None when absent.

    A ``model`` path relative to the model directory that exists there (e.g.
    ``../kandinsky-2-2-prior/image_encoder``) becomes that absolute path, so that the directories move
    together; registry names and other values stay as written (the pipeline checks the entry).
    """
    encoder = index.get("encoder")
    if not isinstance(encoder, dict) or not isinstance(encoder.get("model"), str):
        return encoder
    model = pathlib.Path(encoder["model"])
    if not model.is_absolute() and (pathlib.Path(directory) / model).exists():
        return encoder | {"model": str((pathlib.Path(directory) / model).resolve())}
    return encoder


def part_class(directory, index: dict, name: str, resolve: Callable, needs: str, family: str):
    """The class of part ``name`` as ``model_index.json`` names it, or None when the entry is absent, null or
    ``[null, null]`` (what diffusers writes for a pipeline's None components).

    Parameters
    ----------
    resolve : callable(class_name) -> type or None
        The accepted class of that name, None when the name is not accepted.
    needs : str
        What the family accepts, for the error message (e.g. "VQModel").
    family : str
        The family reading the part, for error messages.

    Raises ``InvalidArgument`` naming the part when its class is not accepted.
    """
    entry = index.get(name)
    if entry is None or entry == [None, None]:
        return None
    class_name = entry[1] if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], str) else None
    cls = resolve(class_name) if class_name is not None else None
    if cls is None:
        raise InvalidArgument(f"part {name!r} of {directory} is {class_name or entry!r}; a {family} model "
                              f"needs {needs} there")
    return cls


def load_part(directory, index: dict, name: str, resolve: Callable, needs: str, family: str,
              required: bool = True, load: Callable | None = None):
    """Part ``name`` of a model directory, loaded from its folder with the class ``model_index.json`` names.

    Parameters
    ----------
    directory : path
    index : dict
        The directory's ``model_index.json``.
    name : str
        The part, e.g. "unet"; it lives in the folder of that name.
    resolve, needs, family
        See :func:`part_class`.
    required : bool
        A missing part raises ``InvalidArgument`` naming it; otherwise it is None.
    load : callable(cls, folder), optional
        How to load it; default ``cls.from_pretrained(folder)``.

    Returns
    -------
    part : the loaded object, or None (optional part absent)
    """
    directory = pathlib.Path(directory)
    cls = part_class(directory, index, name, resolve, needs, family)
    if cls is None:
        if required:
            raise InvalidArgument(f"{directory} has no {name!r} part: a {family} model needs {needs} there")
        return None
    folder = directory / name
    if not folder.is_dir():
        raise InvalidArgument(f"part {name!r} of {directory} is missing: no {name}/ folder")
    try:
        with quiet_loading():
            return load(cls, folder) if load is not None else cls.from_pretrained(folder)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as exc:
        raise InvalidArgument(f"part {name!r} of {directory} cannot be loaded as {cls.__name__}: {exc}") from None


def one_of(*classes) -> Callable:
    """A ``resolve`` that accepts the given classes by name."""
    by_name = {cls.__name__: cls for cls in classes}
    return by_name.get


def diffusers_scheduler(class_name: str):
    """A ``resolve`` for noise schedules: any diffusers scheduler class."""
    import diffusers

    cls = getattr(diffusers, class_name, None) if class_name.endswith("Scheduler") else None
    return cls if isinstance(cls, type) and issubclass(cls, diffusers.SchedulerMixin) else None
