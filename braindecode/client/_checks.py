"""Argument checks at the client boundary: a wrong type fails here, with a message that names the
argument and what it takes, before anything is sent."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

import numpy as np
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor

from braindecode.v1 import common_pb2

_NOUNS = {
    FieldDescriptor.CPPTYPE_STRING: "str",
    FieldDescriptor.CPPTYPE_BOOL: "bool",
    FieldDescriptor.CPPTYPE_DOUBLE: "number",
    FieldDescriptor.CPPTYPE_FLOAT: "number",
    FieldDescriptor.CPPTYPE_INT32: "integer",
    FieldDescriptor.CPPTYPE_INT64: "integer",
    FieldDescriptor.CPPTYPE_UINT32: "integer",
    FieldDescriptor.CPPTYPE_UINT64: "integer",
}


def shown(value) -> str:
    """A value for an error message: its type and a short repr."""
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def _expected(field) -> str:
    """What a message field takes, in words: "a str", "an integer", "a list of str values" ..."""
    if field.type == FieldDescriptor.TYPE_BYTES:
        noun = "bytes"
    elif field.message_type is not None:
        noun = f"{field.message_type.name} message"
    else:
        noun = _NOUNS.get(field.cpp_type, "value")
    if field.is_repeated:
        return f"a list of {noun} values"
    return noun if noun == "bytes" else f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def build(message_class, **fields):
    """``message_class(**fields)``; a value of the wrong type raises a TypeError naming its field.

    A str for a repeated field (which protobuf would split into characters) is refused too.
    """
    descriptor = message_class.DESCRIPTOR
    for name, value in fields.items():
        field = descriptor.fields_by_name.get(name)
        if field is None:
            raise TypeError(f"unknown field {name!r}; {descriptor.name} takes {', '.join(descriptor.fields_by_name)}")
        if field.is_repeated and isinstance(value, (str, bytes)):
            raise TypeError(f"{name} must be {_expected(field)}, got {shown(value)}")
    try:
        return message_class(**fields)
    except (TypeError, ValueError):
        for name, value in fields.items():
            try:
                message_class(**{name: value})
            except (TypeError, ValueError) as exc:
                why = f" ({exc})" if isinstance(exc, ValueError) else ""  # e.g. an integer out of range
                raise TypeError(f"{name} must be {_expected(descriptor.fields_by_name[name])}, "
                                f"got {shown(value)}{why}") from None
        raise


def json_object(value, name: str) -> str:
    """A dict argument (a preprocessing spec, parameters) as the JSON text of a ``*_json`` field;
    None or an empty dict as ""."""
    if value is None:
        return ""
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict, got {shown(value)}")
    return json.dumps(value) if value else ""


def selection(value) -> common_pb2.Selection | None:
    """A voxel and trial selection (a dict, or a ``braindecode.preprocessing.Selection``) as its message;
    None as None (everything). Its contents are checked by the server."""
    if value is None:
        return None
    if hasattr(value, "document"):
        value = value.document()
    if not isinstance(value, Mapping):
        raise TypeError(f"selection must be a dict such as {{'voxels': {{'atlas_id': ..., 'labels': [...]}}, "
                        f"'trials': {{'where': \"split == 'train'\"}}}}, got {shown(value)}")
    try:
        return json_format.ParseDict(value, common_pb2.Selection())
    except json_format.ParseError as exc:
        raise TypeError(f"selection: {exc}") from None


def mapping(value, name: str, takes: str) -> Mapping:
    """``value``, checked to be a dict; ``takes`` says what it maps, e.g. "model name -> RDM id"."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict of {takes}, got {shown(value)}")
    return value


def floats(value, name: str) -> np.ndarray:
    """An array argument as float32."""
    try:
        return np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers, got {shown(value)}") from None


def numbers(value, name: str, count: int, takes: str) -> tuple:
    """A short tuple argument of ``count`` numbers, e.g. a time window (start, stop), as floats."""
    sequence = isinstance(value, Iterable) and not isinstance(value, (str, bytes, Mapping))
    items = tuple(value) if sequence else ()
    if len(items) != count or not all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                                      for v in items):
        raise TypeError(f"{name} must be {takes}, got {shown(value)}")
    return tuple(float(v) for v in items)


def labels(values, name: str) -> list:
    """A list argument of labels (ids) as str: any iterable but a str itself; numbers become their text."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a list of ids, got {shown(values)}")
    return [str(v) for v in values]
