"""What the service clients share: the call options, paging, progress streams followed to their
result, and arrays sent and received in pieces."""

from __future__ import annotations

import dataclasses

import numpy as np

from braindecode import tensors
from braindecode.client._replies import Reply, from_message
from braindecode.v1 import common_pb2


@dataclasses.dataclass(frozen=True)
class CallOptions:
    """What every call of one :class:`~braindecode.client.Client` carries.

    Attributes
    ----------
    metadata : tuple of (str, str)
        gRPC metadata: ``("authorization", "Bearer <key>")`` when the client has an API key.
    timeout : float or None
        Deadline in seconds of each call (of the whole stream for a streaming call); None waits.
    """

    metadata: tuple = ()
    timeout: float | None = None


def slices(sequence, size: int):
    """Consecutive pieces of at most ``size`` items of ``sequence`` (bytes, or an array's rows)."""
    return (sequence[start:start + size] for start in range(0, len(sequence), size))


class ServiceClient:
    """Base of the clients of one gRPC service each, which share their client's channel and options.

    Parameters
    ----------
    channel : grpc.Channel
        Owned (and closed) by the :class:`~braindecode.client.Client`.
    options : CallOptions

    Attributes
    ----------
    stub : generated stub
        The service's stub on the channel, for raw calls (pass ``metadata=options.metadata``).
    """

    #: The service's generated stub class.
    stub_class: type

    def __init__(self, channel, options: CallOptions):
        self.stub = self.stub_class(channel)
        self.options = options

    def _call(self, method: str, request, **kwargs):
        """The reply of the stub's ``method`` (its iterator of replies for a streaming one), sent with the
        options' metadata and deadline (``timeout=`` overrides the deadline)."""
        kwargs.setdefault("timeout", self.options.timeout)
        return getattr(self.stub, method)(request, metadata=self.options.metadata, **kwargs)

    def _get(self, method: str, request) -> Reply:
        """The reply of a unary ``method`` as its reply class."""
        return from_message(self._call(method, request))

    def _list(self, method: str, request, field: str, page_size: int) -> list:
        """Every item of a paged listing, all pages read in turn: ``request`` carries the filters, each
        reply ``field`` (a page of items) and ``next_page_token``."""
        items, token = [], ""
        while True:
            request.page.CopyFrom(common_pb2.PageRequest(page_size=page_size, page_token=token))
            reply = self._call(method, request)
            items.extend(from_message(item) for item in getattr(reply, field))
            token = reply.next_page_token
            if not token:
                return items

    def _follow(self, method: str, request, on_progress=None, **on_event) -> Reply:
        """The result of a stream of events (each with one of ``progress``, ``result`` or another kind set),
        as its reply class.

        ``on_progress(Progress)`` is called for each progress message, ``on_event[kind](message)`` for each
        message of another kind.
        """
        result = None
        for event in self._call(method, request):
            kind = event.WhichOneof("event")
            if kind == "result":
                result = from_message(event.result)
            elif kind == "progress":
                if on_progress is not None:
                    on_progress(from_message(event.progress))
            else:
                on_event[kind](getattr(event, kind))
        if result is None:
            raise RuntimeError(f"the {method} stream ended without a result")
        return result

    def _download(self, method: str, request) -> np.ndarray:
        """The array that ``method`` streams back as ``TensorChunk`` messages."""
        return tensors.from_chunks(self._call(method, request))
