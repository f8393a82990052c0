"""The error interceptor (services/_errors.py) over a loopback port: library errors become the status
their code names, for plain-function and async methods, unary and streaming alike; other errors
become INTERNAL naming only their type; aborts keep the status they chose."""

import asyncio
import concurrent.futures
import logging
import threading

import grpc
import pytest

from braindecode.errors import InvalidArgument, NotFound
from services._errors import ErrorInterceptor
from services._sync_handlers import SyncHandlers

SERVICE = "test.Errors"


def _missing(request, context):  # plain function, unary
    raise NotFound(f"no artifact {request.decode()}")


def _count_then_break(request, context):  # plain generator: one reply, then a bug
    yield b"0"
    raise TypeError("a bug with a secret in its message")


async def _refuse(request, context):  # async, unary
    raise InvalidArgument("bad input")


async def _stream_then_refuse(request, context):  # async generator, as Decode
    yield b"0"
    raise InvalidArgument("a bad sample")


def _abort(request, context):
    context.abort(grpc.StatusCode.FAILED_PRECONDITION, "aborted here")


@pytest.fixture(scope="module")
def channel():
    handler = grpc.method_handlers_generic_handler(SERVICE, {
        "Missing": grpc.unary_unary_rpc_method_handler(_missing),
        "CountThenBreak": grpc.unary_stream_rpc_method_handler(_count_then_break),
        "Refuse": grpc.unary_unary_rpc_method_handler(_refuse),
        "StreamThenRefuse": grpc.unary_stream_rpc_method_handler(_stream_then_refuse),
        "Abort": grpc.unary_unary_rpc_method_handler(_abort)})
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    pool = concurrent.futures.ThreadPoolExecutor(2)

    async def start():
        server = grpc.aio.server(interceptors=[ErrorInterceptor(), SyncHandlers(pool)])
        server.add_generic_rpc_handlers((handler,))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        return server, port

    server, port = asyncio.run_coroutine_threadsafe(start(), loop).result()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as open_channel:
        yield open_channel
    asyncio.run_coroutine_threadsafe(server.stop(0), loop).result()
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    pool.shutdown(wait=True)


def _status(call) -> tuple:
    with pytest.raises(grpc.RpcError) as error:
        call()
    return error.value.code(), error.value.details()


def test_library_errors_become_their_status(channel):
    assert _status(lambda: channel.unary_unary(f"/{SERVICE}/Missing")(b"art_1")) == (
        grpc.StatusCode.NOT_FOUND, "no artifact art_1")
    assert _status(lambda: channel.unary_unary(f"/{SERVICE}/Refuse")(b"")) == (
        grpc.StatusCode.INVALID_ARGUMENT, "bad input")
    replies = []
    assert _status(lambda: replies.extend(channel.unary_stream(f"/{SERVICE}/StreamThenRefuse")(b""))) == (
        grpc.StatusCode.INVALID_ARGUMENT, "a bad sample")
    assert replies == [b"0"]


def test_other_errors_are_internal_and_name_only_their_type(channel, caplog):
    replies = []
    with caplog.at_level(logging.ERROR, logger="braindecode.server"):
        code, details = _status(lambda: replies.extend(channel.unary_stream(f"/{SERVICE}/CountThenBreak")(b"")))
    assert (code, details) == (grpc.StatusCode.INTERNAL, "internal error: TypeError") and replies == [b"0"]
    assert any(record.exc_info and "a secret" in str(record.exc_info[1]) for record in caplog.records)


def test_aborts_keep_their_status(channel):
    assert _status(lambda: channel.unary_unary(f"/{SERVICE}/Abort")(b"")) == (
        grpc.StatusCode.FAILED_PRECONDITION, "aborted here")
