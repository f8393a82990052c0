"""What the servicers share between messages and library calls: JSON request fields, selections,
chunked tensor replies, and progress streams (with replies of their own)."""

from __future__ import annotations

import json
import queue
import threading

from braindecode import tensors
from braindecode.errors import InvalidArgument
from braindecode.v1 import common_pb2


class Cancelled(Exception):
    """Raised in a library call's progress callback once its call is no longer active."""


def json_object(text: str, field: str, required: bool = False) -> dict | None:
    """The JSON object in request field ``field`` (a ``*_json`` string); None when empty and not
    ``required``."""
    if not text:
        if required:
            raise InvalidArgument(f"{field} is required")
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"{field} is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidArgument(f"{field} nests lists or objects too deeply") from None
    if not isinstance(value, dict):
        raise InvalidArgument(f"{field} must be a JSON object, got {type(value).__name__}")
    return value


def chunk_size(chunk_bytes: int, config) -> int:
    """The bytes of one chunk of a streamed reply: the request's ``chunk_bytes`` (0:
    ``config.chunk_bytes``), at most half the message limit ``config.max_message_bytes``."""
    if chunk_bytes < 0:
        raise InvalidArgument("chunk_bytes must be positive")
    return min(chunk_bytes or config.chunk_bytes, config.max_message_bytes // 2)


def selection(request, field: str = "selection") -> dict | None:
    """The request's ``Selection`` message as the dict that ``braindecode.preprocessing.selection_spec``
    checks: the parts and fields that are set; None when the request has none."""
    if not request.HasField(field):
        return None
    message, selected = getattr(request, field), {}
    if message.HasField("voxels"):
        voxels = message.voxels
        selected["voxels"] = {name: value for name, value in (
            ("mask_id", voxels.mask_id), ("atlas_id", voxels.atlas_id), ("labels", list(voxels.labels))) if value}
    if message.HasField("trials"):
        trials = message.trials
        selected["trials"] = {name: value for name, value in (
            ("stimulus_ids", list(trials.stimulus_ids)), ("where", trials.where),
            ("model_events", trials.model_events)) if value}
    return selected


def tensor_chunks(array, chunk_bytes: int, config, context):
    """Yield the TensorChunk replies that hold ``array`` (any shape), until the call ends.

    ``chunk_bytes`` is the request's, bounded by :func:`chunk_size`.
    """
    for message in tensors.to_chunks(array, chunk_size(chunk_bytes, config)):
        if not context.is_active():
            return
        yield message


def progress_stream(work, context, event, name: str):
    """Run ``work(progress)`` in a thread called ``name``, yield ``event(progress=Progress)`` as
    it reports, and return its result.

    ``progress(stage, done, total)`` raises ``Cancelled`` once the call is cancelled or past its
    deadline, which stops the work at its next report. Use as
    ``result = yield from progress_stream(...)``.
    """
    return (yield from reply_stream(lambda progress, send: work(progress), context, event, name))


def reply_stream(work, context, event, name: str):
    """:func:`progress_stream` for work that also sends replies of its own as it goes: ``work(progress,
    send)``, where ``send(message)`` yields ``message`` (an ``event``) in the order of the reports."""
    events = queue.Queue()
    outcome = {}

    def progress(stage, done, total):
        if not context.is_active():
            raise Cancelled(stage)
        events.put(event(progress=common_pb2.Progress(stage=stage, fraction=min(done / total, 1.0),
                                                      message=f"{stage}: {done:.3g} of {total}")))

    def send(message):
        if not context.is_active():
            raise Cancelled("send")
        events.put(message)

    def run():
        try:
            outcome["result"] = work(progress, send)
        except BaseException as exc:  # noqa: BLE001 - raised again in the handler's thread
            outcome["error"] = exc
        finally:
            events.put(None)

    threading.Thread(target=run, name=name, daemon=True).start()
    while (message := events.get()) is not None:
        yield message
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]
