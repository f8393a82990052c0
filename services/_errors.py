"""Library errors -> gRPC statuses, for every method, as one server interceptor.

A ``BraindecodeError`` (``braindecode/errors.py``) ends its call with the status its ``code``
names and its message; any other error ends it with INTERNAL naming only the error's type (its
traceback goes to the server log). Aborts pass through with the status they chose, and an error
of a call already cancelled or past its deadline is only logged: nobody listens.
"""

from __future__ import annotations

import contextlib
import logging

import grpc

from braindecode.errors import BraindecodeError
from services._sync_handlers import handler_like, method_of

log = logging.getLogger("braindecode.server")


def _status(exc: Exception) -> tuple:
    """(status code, details) that ``exc`` ends its call with."""
    if isinstance(exc, BraindecodeError):
        return getattr(grpc.StatusCode, exc.code), str(exc)
    log.exception("internal error", exc_info=exc)
    return grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}"


def _ended(context) -> bool:
    """Whether the call is over for its client: done, cancelled or past its deadline."""
    remaining = context.time_remaining()
    return context.done() or context.cancelled() or (remaining is not None and remaining <= 0)


async def _end_with(context, exc: Exception) -> None:
    """End the call with the status of ``exc``; aborts raise again; calls already over stay quiet."""
    if isinstance(exc, grpc.aio.AbortError):
        raise exc  # context.abort() chose the status
    if _ended(context):
        log.debug("error in a call already over: %r", exc)
        return
    await context.abort(*_status(exc))


def _mapped(handler):
    """``handler`` (async, see services/_sync_handlers.py) with its errors ending its call as statuses."""
    inner = method_of(handler)
    if handler.response_streaming:
        async def behaviour(request, context):
            try:
                async with contextlib.aclosing(inner(request, context)) as responses:
                    async for response in responses:
                        yield response
            except Exception as exc:  # noqa: BLE001 - every error becomes a status
                await _end_with(context, exc)
    else:
        async def behaviour(request, context):
            try:
                return await inner(request, context)
            except Exception as exc:  # noqa: BLE001 - every error becomes a status
                await _end_with(context, exc)
    return handler_like(handler, behaviour)


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Maps the errors of every method to statuses; sits outside ``SyncHandlers``, which makes every
    handler async."""

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        return None if handler is None else _mapped(handler)
