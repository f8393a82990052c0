"""YAML (and JSON) documents read within bounds: no aliases, a size limit and a nesting limit.

Aliases (``*name``) are refused: a few hundred bytes of nested aliases expand to billions of
values (the "billion laughs"), and no spec or config needs them. The document is scanned as a
stream of parser events first, so nothing is built before the bounds are checked.
"""

from __future__ import annotations

import yaml

from braindecode.errors import InvalidArgument, ResourceExhausted

MAX_DOCUMENT_BYTES = 1024**2
"""Largest YAML or JSON document (a job spec, a config file) read, in bytes."""
MAX_DEPTH = 32
"""Deepest nesting of lists and mappings in a document."""

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _scan(text: str, source: str) -> None:
    depth = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.AliasEvent):
            raise InvalidArgument(f"{source} uses the alias *{event.anchor}: YAML aliases are not allowed")
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise InvalidArgument(f"{source} nests lists or mappings deeper than {MAX_DEPTH} levels")
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


def load_yaml(text, source: str, max_bytes: int = MAX_DOCUMENT_BYTES):
    """The value of one YAML or JSON document (JSON is YAML).

    Parameters
    ----------
    text : str or bytes
        The document.
    source : str
        Names the document in error messages, e.g. ``"job spec job.yaml"``.
    max_bytes : int
        Largest document accepted.

    Raises
    ------
    ResourceExhausted
        The document is longer than ``max_bytes``.
    InvalidArgument
        It uses an alias, nests deeper than ``MAX_DEPTH``, or is not valid YAML.
    """
    size = len(text.encode() if isinstance(text, str) else text)
    if size > max_bytes:
        raise ResourceExhausted(f"{source} is {size} bytes, over the limit of {max_bytes} bytes for a document")
    try:
        _scan(text, source)
        return yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"{source} is not valid YAML or JSON: {exc}") from None


def read_yaml(path, source: str, max_bytes: int = MAX_DOCUMENT_BYTES):
    """The value of the YAML or JSON document in the file at ``path`` (see :func:`load_yaml`);
    at most ``max_bytes + 1`` bytes are read."""
    try:
        with open(path, "rb") as file:
            text = file.read(max_bytes + 1)
    except OSError as exc:
        raise InvalidArgument(f"cannot read {source}: {exc}") from None
    if len(text) > max_bytes:
        raise ResourceExhausted(f"{source} is larger than the limit of {max_bytes} bytes for a document")
    return load_yaml(text, source, max_bytes)
