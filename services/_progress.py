"""Long library calls run in a worker thread while the handler streams their Progress messages."""

from __future__ import annotations

import queue
import threading

from braindecode.v1 import common_pb2


class Cancelled(Exception):
    """Raised in a worker's progress callback once its call is no longer active."""


def progress_stream(work, context, wrap, name: str):
    """Run ``work(progress)`` in a thread called ``name``, yield ``wrap(Progress)`` as it reports,
    return its result.

    ``progress(stage, done, total)`` raises ``Cancelled`` once the call is cancelled or past its
    deadline, which stops the work at its next report. Use as ``result = yield from progress_stream(...)``.
    """
    events = queue.Queue()
    outcome = {}

    def progress(stage, done, total):
        if not context.is_active():
            raise Cancelled(stage)
        events.put(common_pb2.Progress(stage=stage, fraction=min(done / total, 1.0),
                                       message=f"{stage}: {done:.3g} of {total}"))

    def run():
        try:
            outcome["result"] = work(progress)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the handler thread
            outcome["error"] = exc
        finally:
            events.put(None)

    threading.Thread(target=run, name=name, daemon=True).start()
    while (message := events.get()) is not None:
        yield wrap(message)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]
