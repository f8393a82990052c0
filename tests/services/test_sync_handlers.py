"""Plain-function methods on the asyncio server (services/_sync_handlers.py), over a loopback port.

A tiny service of byte messages, served by ``grpc.aio`` through ``SyncHandlers``: streaming responses
are produced at most ``STREAM_AHEAD`` ahead of the reader, cancellation and deadlines reach the
worker as ``is_active() == False``, aborts reach the client with their code, and request streams
arrive in order.
"""

import asyncio
import concurrent.futures
import threading
import time

import grpc
import pytest

from services._sync_handlers import STREAM_AHEAD, SyncHandlers

SERVICE = "test.Sync"
MESSAGE_BYTES = 1024 * 1024


class _Methods:
    """The methods under test, with what they saw."""

    def __init__(self):
        self.produced = 0
        self.closed = threading.Event()
        self.saw_inactive = threading.Event()

    def count(self, request, context):  # unary -> stream: 1 MiB messages b"0...", b"1...", ... for ever
        try:
            while True:
                yield str(self.produced).encode().ljust(MESSAGE_BYTES, b".")
                self.produced += 1
        finally:
            self.closed.set()

    def wait(self, request, context):  # unary -> unary: returns once the call is over
        while context.is_active():
            time.sleep(0.01)
        self.saw_inactive.set()
        return b""

    def refuse(self, request, context):
        context.abort(grpc.StatusCode.FAILED_PRECONDITION, "refused: " + request.decode())

    def join(self, requests, context):  # stream -> unary
        return b"".join(requests)


@pytest.fixture
def served():
    """(channel, methods) of the tiny service on an asyncio server in a thread of its own."""
    methods = _Methods()
    handler = grpc.method_handlers_generic_handler(SERVICE, {
        "Count": grpc.unary_stream_rpc_method_handler(methods.count),
        "Wait": grpc.unary_unary_rpc_method_handler(methods.wait),
        "Refuse": grpc.unary_unary_rpc_method_handler(methods.refuse),
        "Join": grpc.stream_unary_rpc_method_handler(methods.join)})
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    pool = concurrent.futures.ThreadPoolExecutor(4)

    async def start():
        server = grpc.aio.server(interceptors=[SyncHandlers(pool)])
        server.add_generic_rpc_handlers((handler,))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        return server, port

    server, port = asyncio.run_coroutine_threadsafe(start(), loop).result()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel, methods
    asyncio.run_coroutine_threadsafe(server.stop(0), loop).result()
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    pool.shutdown(wait=True)


def test_streamed_responses_stay_a_few_ahead_of_the_reader_and_stop_on_cancel(served):
    channel, methods = served
    call = channel.unary_stream(f"/{SERVICE}/Count")(b"")
    assert [next(call)[:1] for _ in range(3)] == [b"0", b"1", b"2"]
    time.sleep(0.5)  # a reader that stops reading: the worker blocks instead of producing on
    before = methods.produced
    time.sleep(0.3)
    assert methods.produced == before
    # Beyond the 3 read: STREAM_AHEAD queued, one waiting for room, and what gRPC's transport holds
    # between the server's writes and the client's reads (flow-control windows, 24 MiB here);
    # an unbounded producer makes thousands of these 1 MiB messages in that time.
    assert before <= 3 + STREAM_AHEAD + 1 + 40
    call.cancel()
    assert methods.closed.wait(10)  # the worker saw the call end and closed the generator


def test_deadline_and_cancellation_reach_the_worker_as_inactive(served):
    channel, methods = served
    with pytest.raises(grpc.RpcError) as error:
        channel.unary_unary(f"/{SERVICE}/Wait")(b"", timeout=0.3)
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert methods.saw_inactive.wait(10)

    methods.saw_inactive.clear()
    future = channel.unary_unary(f"/{SERVICE}/Wait").future(b"")
    time.sleep(0.2)
    future.cancel()
    assert methods.saw_inactive.wait(10)


def test_abort_in_a_worker_reaches_the_client(served):
    channel, _ = served
    with pytest.raises(grpc.RpcError) as error:
        channel.unary_unary(f"/{SERVICE}/Refuse")(b"no key")
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.value.details() == "refused: no key"


def test_request_streams_arrive_whole_and_in_order(served):
    channel, _ = served
    parts = [bytes([i]) * 1000 for i in range(50)]
    assert channel.stream_unary(f"/{SERVICE}/Join")(iter(parts)) == b"".join(parts)
