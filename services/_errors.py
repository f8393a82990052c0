"""Library errors -> gRPC status codes, for unary and streaming handlers alike."""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging

import grpc

from braindecode.errors import BraindecodeError

log = logging.getLogger("braindecode.server")


def _status(exc: Exception) -> tuple:
    """(status code, details) for an error no handler chose a status for."""
    if isinstance(exc, BraindecodeError):
        return getattr(grpc.StatusCode, exc.code), str(exc)
    log.exception("internal error", exc_info=exc)
    return grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}"


def _handle(context, exc: Exception):
    """Turn ``exc`` into the call's status; re-raise aborts; stay quiet for calls already dead."""
    if context.code() is not None and not isinstance(exc, BraindecodeError):
        raise exc  # context.abort() already chose the status
    if not context.is_active():  # cancelled by the client or past its deadline: nobody listens
        log.debug("call ended by the client: %s", exc)
        return
    context.abort(*_status(exc))


def grpc_errors(method):
    """Wrap a servicer method so library errors reach the client as a status that names them.

    ``method`` is a plain function or generator (run in a worker thread, services/_sync_handlers.py)
    or an async generator (run on the server's event loop).
    """
    if inspect.isasyncgenfunction(method):
        @functools.wraps(method)
        async def async_stream(self, request, context):
            try:
                async with contextlib.aclosing(method(self, request, context)) as responses:
                    async for response in responses:
                        yield response
            except Exception as exc:  # noqa: BLE001 - every error becomes a status
                if context.code() is not None and not isinstance(exc, BraindecodeError):
                    raise  # context.abort() already chose the status
                await context.abort(*_status(exc))
        return async_stream

    if inspect.isgeneratorfunction(method):
        @functools.wraps(method)
        def stream(self, request, context):
            try:
                yield from method(self, request, context)
            except Exception as exc:  # noqa: BLE001 - every error becomes a status
                _handle(context, exc)
        return stream

    @functools.wraps(method)
    def unary(self, request, context):
        try:
            return method(self, request, context)
        except Exception as exc:  # noqa: BLE001
            _handle(context, exc)
    return unary
