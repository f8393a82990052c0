"""Plain-function servicer methods on the asyncio server: each call runs in a worker thread.

The server is ``grpc.aio`` (services/server.py): its event loop does the network work of every
call, so a Decode stream waiting for its next sample holds no thread. Servicer methods written as
plain functions and generators run in a thread pool through :class:`SyncHandlers`. They get a
:class:`SyncContext` with the part of the sync API they use: ``abort`` raises, ``is_active`` turns
False once the client cancels or the deadline passes, ``code``, ``invocation_metadata``,
``time_remaining`` and ``peer``. The caller's context variables (the tenant) go with the call.

grpc.aio can run plain-function methods itself (``grpc.aio.server(migration_thread_pool=...)``,
https://github.com/grpc/grpc/pull/22812), but not as these methods need. This module works around
two grpc issues (both checked on the grpcio pinned in pyproject.toml):

- no ``is_active()`` on grpc.aio's servicer contexts, the sync one included
  (https://github.com/grpc/grpc/issues/26137): a long method could not see that its client
  cancelled or that its deadline passed;
- context variables set in an async interceptor do not reach a sync handler
  (https://github.com/grpc/grpc/issues/37881): the tenant that services/_auth.py binds would be
  lost, so each worker runs in a copy of its call's context.

It also adds two things of its own: a streaming method produces at most ``STREAM_AHEAD`` responses
ahead of the network and stops once its call is over; and a call ends only once its worker thread
is done (:func:`_settled`), so that a tenant's call slot (services/_auth.py) is freed only then.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import inspect
import threading

import grpc

#: Responses a streaming method may produce ahead of what the network has taken.
STREAM_AHEAD = 4
_POLL = 0.1  # seconds between checks for cancellation while a worker waits for the event loop
_END = object()


class CallEnded(Exception):
    """Raised in a worker waiting for a request once its call has ended."""


class _Aborted(Exception):
    def __init__(self, code, details: str):
        super().__init__(details)
        self.code, self.details = code, details


class SyncContext:
    """The servicer context a plain-function method sees, backed by the asyncio call's."""

    def __init__(self, context):
        self._context = context
        self._code = None
        self._ended = threading.Event()

    def abort(self, code, details: str = ""):
        """End the call with ``code``; raises, like ``grpc.ServicerContext.abort``."""
        self._code = code
        raise _Aborted(code, details)

    def code(self):
        """The status code chosen by :meth:`abort`, else None."""
        return self._code

    def end(self) -> None:
        """Mark the call as over (cancelled, or its handler gone): :meth:`is_active` turns False."""
        self._ended.set()

    def is_active(self) -> bool:
        remaining = self._context.time_remaining()
        return not self._ended.is_set() and (remaining is None or remaining > 0)

    def time_remaining(self):
        return self._context.time_remaining()

    def invocation_metadata(self):
        return self._context.invocation_metadata()

    def peer(self) -> str:
        return self._context.peer()


async def _next_request(requests):
    try:
        return await requests.__anext__()
    except StopAsyncIteration:
        return _END


def _sync_requests(requests, context: SyncContext, loop):
    """A blocking iterator, for a worker thread, over the asyncio call's request stream."""
    requests = requests.__aiter__()
    while True:
        pending = asyncio.run_coroutine_threadsafe(_next_request(requests), loop)
        while True:
            try:
                request = pending.result(_POLL)
                break
            except concurrent.futures.TimeoutError:
                if not context.is_active():
                    pending.cancel()
                    raise CallEnded("the call ended while waiting for a request") from None
            except BaseException:
                context.end()  # the stream broke: the call is over
                raise
        if request is _END:
            return
        yield request


async def _settled(worker: asyncio.Future) -> None:
    """Wait until the worker has finished, whatever its outcome, so that the call (and the tenant's
    call slot, services/_auth.py) ends only once its thread is done cleaning up."""
    await asyncio.wait([worker])
    if not worker.cancelled():
        worker.exception()  # retrieved: its error was either raised already or belongs to a cancelled call


def _for_worker(request, context, request_streaming: bool) -> tuple:
    """(event loop, SyncContext, request or blocking request iterator) of a call handed to a worker."""
    loop = asyncio.get_running_loop()
    sync = SyncContext(context)
    return loop, sync, _sync_requests(request, sync, loop) if request_streaming else request


def _unary_response(handler, pool, request_streaming: bool):
    async def call(request, context):
        loop, sync, request = _for_worker(request, context, request_streaming)
        worker = loop.run_in_executor(pool, contextvars.copy_context().run, handler, request, sync)
        try:
            return await asyncio.shield(worker)
        except _Aborted as error:
            await context.abort(error.code, error.details)
        finally:
            sync.end()
            await _settled(worker)
    return call


def _stream_response(handler, pool, request_streaming: bool):
    async def call(request, context):
        loop, sync, request = _for_worker(request, context, request_streaming)
        responses, room = asyncio.Queue(), threading.Semaphore(STREAM_AHEAD)

        def produce():
            try:
                for response in handler(request, sync):
                    while not room.acquire(timeout=_POLL):
                        if not sync.is_active():
                            return
                    loop.call_soon_threadsafe(responses.put_nowait, response)
                loop.call_soon_threadsafe(responses.put_nowait, _END)
            except BaseException as error:  # noqa: BLE001 - raised again on the event loop
                loop.call_soon_threadsafe(responses.put_nowait, error)

        worker = loop.run_in_executor(pool, contextvars.copy_context().run, produce)
        try:
            while (response := await responses.get()) is not _END:
                if isinstance(response, _Aborted):
                    await context.abort(response.code, response.details)
                if isinstance(response, BaseException):
                    raise response
                room.release()
                yield response
            await worker
        finally:
            sync.end()
            await _settled(worker)
    return call


def handler_like(handler, function):
    """A method handler of ``handler``'s streaming shape and (de)serializers that runs ``function``."""
    make = {(False, False): grpc.unary_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler,
            (True, True): grpc.stream_stream_rpc_method_handler}[
        (handler.request_streaming, handler.response_streaming)]
    return make(function, request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)


def method_of(handler):
    """The function behind a ``grpc.RpcMethodHandler``, whatever its streaming shape."""
    return handler.unary_unary or handler.unary_stream or handler.stream_unary or handler.stream_stream


async def _stepped(messages, step, context):
    """``messages`` (an async iterator) with ``await step(context)`` before each one is passed on."""
    async for message in messages:
        await step(context)
        yield message


def guarded(handler, enter, leave, step=None):
    """``handler`` (async) run after ``await enter(context)``, with ``leave()`` once it has returned
    or, for a stream, once its response stream is closed (its worker, if any, is done by then);
    ``await step(context)``, if given, runs before each message a stream receives or sends."""
    inner = method_of(handler)

    def requests_of(request, context):
        return _stepped(request, step, context) if step is not None and handler.request_streaming else request

    if handler.response_streaming:
        async def behaviour(request, context):
            await enter(context)
            try:
                async with contextlib.aclosing(inner(requests_of(request, context), context)) as responses:
                    async for response in responses:
                        if step is not None:
                            await step(context)
                        yield response
            finally:
                leave()
    else:
        async def behaviour(request, context):
            await enter(context)
            try:
                return await inner(requests_of(request, context), context)
            finally:
                leave()
    return handler_like(handler, behaviour)


def as_async(handler, pool):
    """``handler`` (a ``grpc.RpcMethodHandler``) with its plain-function method run in ``pool``.

    Handlers whose method is already a coroutine or async generator function come back unchanged.
    """
    function = method_of(handler)
    if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
        return handler
    wrap = _stream_response if handler.response_streaming else _unary_response
    return handler_like(handler, wrap(function, pool, handler.request_streaming))


class SyncHandlers(grpc.aio.ServerInterceptor):
    """Runs every plain-function handler in ``pool`` (innermost interceptor)."""

    def __init__(self, pool: concurrent.futures.ThreadPoolExecutor):
        self.pool = pool

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        return None if handler is None else as_async(handler, self.pool)
