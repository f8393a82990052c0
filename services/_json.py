"""JSON fields of requests (``*_json`` strings) parsed into the library's dicts."""

from __future__ import annotations

import json

from braindecode.errors import InvalidArgument


def json_object(text: str, field: str, required: bool = False) -> dict | None:
    """The JSON object in request field ``field``; None when empty and not ``required``."""
    if not text:
        if required:
            raise InvalidArgument(f"{field} is required")
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"{field} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidArgument(f"{field} must be a JSON object, got {type(value).__name__}")
    return value
