"""The echo service: the transport floor of the server, for benchmarks and tests only.

``braindecode.bench.Echo`` answers with the bytes it gets, unparsed: ``Stream`` answers each
message of a stream, ``Call`` one message. A call may ask for shorter answers, the first bytes
of each message, with ``echo-reply-bytes: N`` in its metadata, so that an echo carries the bytes
of a real call both ways (a Decode request's samples in, its embeddings' size out). It runs
through the server's own stack, the interceptors (auth, errors) and the event loop as Decode
does, with no model and no message parsing: what a call costs beyond it is the service's own.

Only a server made with ``BraindecodeServer(config, echo=True)`` has it; ``braindecode serve``
never does.
"""

from __future__ import annotations

import grpc

from braindecode.errors import InvalidArgument

SERVICE = "braindecode.bench.Echo"
REPLY_BYTES = "echo-reply-bytes"


def _reply_bytes(context) -> int | None:
    """The length the call's metadata asks answers to be cut to, or None for whole messages."""
    for key, value in context.invocation_metadata() or ():
        if key == REPLY_BYTES:
            if not value.isdigit():
                raise InvalidArgument(f"{REPLY_BYTES} must be a whole number of bytes, got {value[:40]!r}")
            return int(value)
    return None


async def _stream(request_iterator, context):
    length = _reply_bytes(context)
    async for message in request_iterator:
        yield message[:length]


async def _call(request, context):
    return request[:_reply_bytes(context)]


def add_echo_service(server) -> None:
    """Add the echo service to ``server`` (a ``grpc.aio`` server, before it starts)."""
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {
        "Stream": grpc.stream_stream_rpc_method_handler(_stream),
        "Call": grpc.unary_unary_rpc_method_handler(_call),
    }),))
