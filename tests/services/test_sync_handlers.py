"""Plain-function methods on the asyncio server (services/_sync_handlers.py), over a loopback port.

A tiny service of byte messages, served by ``grpc.aio`` through ``SyncHandlers``: streaming responses
are produced at most ``STREAM_AHEAD`` ahead of the reader, cancellation and deadlines reach the
worker as ``is_active() == False``, a call ends only once its worker has finished cleaning up,
aborts reach the client with their code, and request streams arrive in order.
"""

import asyncio
import concurrent.futures
import threading
import time

import grpc
import pytest

from services._sync_handlers import STREAM_AHEAD, SyncHandlers, guarded

SERVICE = "test.Sync"
MESSAGE_BYTES = 1024 * 1024
CLEAN_UP = 0.3  # seconds a method takes to clean up once its call is over


class _Methods:
    """The methods under test, with what they saw."""

    def __init__(self):
        self.produced = 0
        self.closed = threading.Event()
        self.saw_inactive = threading.Event()
        self.cleaned_at = []  # time.monotonic() when each method finished cleaning up

    def _clean_up(self):
        time.sleep(CLEAN_UP)
        self.cleaned_at.append(time.monotonic())

    def count(self, request, context):  # unary -> stream: 1 MiB messages b"0...", b"1...", ... for ever
        try:
            while True:
                yield str(self.produced).encode().ljust(MESSAGE_BYTES, b".")
                self.produced += 1
        finally:
            self._clean_up()
            self.closed.set()

    def wait(self, request, context):  # unary -> unary: returns once the call is over
        while context.is_active():
            time.sleep(0.01)
        self._clean_up()
        self.saw_inactive.set()
        return b""

    def refuse(self, request, context):
        context.abort(grpc.StatusCode.FAILED_PRECONDITION, "refused: " + request.decode())

    def join(self, requests, context):  # stream -> unary
        return b"".join(requests)


class _CallEnds(grpc.aio.ServerInterceptor):
    """Notes when each call's handler returns, as services/_auth.py frees the tenant's call slot."""

    def __init__(self):
        self.ended_at = []

    async def intercept_service(self, continuation, details):
        async def enter(context):
            pass

        return guarded(await continuation(details), enter, lambda: self.ended_at.append(time.monotonic()))


@pytest.fixture
def served():
    """(channel, methods, call ends) of the tiny service on an asyncio server in a thread of its own."""
    methods, ends = _Methods(), _CallEnds()
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
        server = grpc.aio.server(interceptors=[ends, SyncHandlers(pool)])
        server.add_generic_rpc_handlers((handler,))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        return server, port

    server, port = asyncio.run_coroutine_threadsafe(start(), loop).result()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel, methods, ends
    asyncio.run_coroutine_threadsafe(server.stop(0), loop).result()
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    pool.shutdown(wait=True)


def test_streamed_responses_stay_a_few_ahead_of_the_reader_and_stop_on_cancel(served):
    channel, methods, _ = served
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
    channel, methods, _ = served
    with pytest.raises(grpc.RpcError) as error:
        channel.unary_unary(f"/{SERVICE}/Wait")(b"", timeout=0.3)
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert methods.saw_inactive.wait(10)

    methods.saw_inactive.clear()
    future = channel.unary_unary(f"/{SERVICE}/Wait").future(b"")
    time.sleep(0.2)
    future.cancel()
    assert methods.saw_inactive.wait(10)


def test_a_call_ends_only_once_its_worker_has_cleaned_up(served):
    channel, methods, ends = served
    calls = [channel.unary_unary(f"/{SERVICE}/Wait").future(b""), channel.unary_stream(f"/{SERVICE}/Count")(b"")]
    next(calls[1])
    time.sleep(0.2)
    for call in calls:
        call.cancel()
    deadline = time.monotonic() + 10
    while len(ends.ended_at) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(methods.cleaned_at) == len(ends.ended_at) == 2
    assert min(ends.ended_at) >= max(methods.cleaned_at) - CLEAN_UP / 2, "a call ended while its worker cleaned up"


def test_abort_in_a_worker_reaches_the_client(served):
    channel, _, _ = served
    with pytest.raises(grpc.RpcError) as error:
        channel.unary_unary(f"/{SERVICE}/Refuse")(b"no key")
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.value.details() == "refused: no key"


def test_request_streams_arrive_whole_and_in_order(served):
    channel, _, _ = served
    parts = [bytes([i]) * 1000 for i in range(50)]
    assert channel.stream_unary(f"/{SERVICE}/Join")(iter(parts)) == b"".join(parts)
