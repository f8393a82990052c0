"""The serving toolkit (services/_batching.py) on its own: batches per key, the wait policy, worker
threads shared across keys, progress fan-out and cancellation, calls from worker threads, and the
served-model cache."""

import asyncio
import threading
import time

import numpy as np
import pytest

from braindecode.errors import InvalidArgument, NotFound
from services._batching import Batcher, ServedModels, WaitPolicy
from services._wire import Cancelled


@pytest.fixture
def loop():
    """An event loop running in a thread of its own, as the server's does."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    loop.close()


def _doubling(calls: list):
    """A ``run`` that notes (key, summed sizes) of each batch and doubles every item."""
    def run(key, items, progress):
        calls.append((key, sum(len(item) for item in items)))
        return [item * 2 for item in items]
    return run


def test_batches_concurrent_callers_and_recovers_from_errors():
    calls = []

    def run(key, items, progress):
        calls.append(sum(len(item) for item in items))
        time.sleep(0.05)
        if any(np.any(item < 0) for item in items):
            raise InvalidArgument("negative sample")
        return [item * 2 for item in items]

    async def scenario():
        batcher = Batcher(run, WaitPolicy(), max_size=64)
        results = await asyncio.gather(*[batcher.submit("k", np.full((1 + i % 2, 3), float(i)), 1 + i % 2)
                                         for i in range(8)])
        assert len(calls) < 8 and sum(calls) == sum(1 + i % 2 for i in range(8))
        for i, result in enumerate(results):
            np.testing.assert_array_equal(result, np.full((1 + i % 2, 3), 2.0 * i))
        failing = asyncio.ensure_future(batcher.submit("k", np.full((1, 3), -1.0)))
        await asyncio.sleep(0.01)  # its batch is running: the next sample makes a batch of its own
        fine = await batcher.submit("k", np.full((1, 3), 2.0))
        with pytest.raises(InvalidArgument, match="negative sample"):
            await failing
        assert fine.shape == (1, 3)
        batcher.close()

    asyncio.run(scenario())


def test_waits_only_for_streams_whose_next_item_is_due():
    calls = []

    async def closed_loop(batcher, stream, delay_third: float):
        """Three samples, the first two back to back; the third after ``delay_third`` seconds."""
        for i in range(3):
            if i == 2 and delay_third:
                await asyncio.sleep(delay_third)
            await batcher.submit("k", np.full((1, 2), float(i)), stream=stream)

    async def scenario(max_delay: float, delay_third: float) -> list:
        calls.clear()
        batcher = Batcher(_doubling(calls), WaitPolicy(max_delay), max_size=64)
        with batcher.stream("k") as prompt, batcher.stream("k") as slow:
            await asyncio.gather(closed_loop(batcher, prompt, 0.0), closed_loop(batcher, slow, delay_third))
        batcher.close()
        return [size for _, size in calls]

    # Both clients sent their second sample at once: the third of the prompt one waits for the
    # slow one's (due by then), up to 30 s, and the two go as one batch.
    assert asyncio.run(scenario(max_delay=30.0, delay_third=0.3)) == [2, 2, 2]
    # The wait ends at the delay: the late sample makes a batch of its own.
    assert asyncio.run(scenario(max_delay=0.05, delay_third=0.3))[-2:] == [1, 1]

    async def answered_once_then_another():
        # Streams answered at most once (no gap known yet) are not waited for: batches go at once.
        batcher = Batcher(_doubling(calls), WaitPolicy(30.0), max_size=64)
        with batcher.stream("k") as once, batcher.stream("k"):
            await batcher.submit("k", np.zeros((1, 2)), stream=once)
            await batcher.submit("k", np.ones((1, 2)))
        batcher.close()

    calls.clear()
    asyncio.run(asyncio.wait_for(answered_once_then_another(), 30))
    assert [size for _, size in calls] == [1, 1]


def test_callers_of_one_call_after_another_are_waited_for_as_streams_and_then_forgotten():
    calls = []

    async def closed_loop(batcher, name, delay_third: float):
        """Three unary calls of one sample each, the first two back to back, the third after ``delay_third``."""
        streams = []
        for i in range(3):
            if i == 2 and delay_third:
                await asyncio.sleep(delay_third)
            streams.append(batcher.caller("k", name, idle=0.5))
            await batcher.submit("k", np.full((1, 2), float(i)), stream=streams[-1])
        return streams

    async def scenario():
        batcher = Batcher(_doubling(calls), WaitPolicy(30.0), max_size=64)
        prompt, slow = await asyncio.gather(closed_loop(batcher, "peer-1", 0.0), closed_loop(batcher, "peer-2", 0.3))
        assert len({id(s) for s in prompt}) == 1 and prompt[0] is not slow[0]  # one stream per caller
        assert batcher._queues  # the callers are remembered ...
        await asyncio.sleep(0.7)
        assert batcher._queues == {}  # ... until they have been idle for 0.5 s
        batcher.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    # The prompt caller's third call waited for the slow one's, due by then: one batch of two.
    assert [size for _, size in calls] == [2, 2, 2]


def test_groups_by_key_and_keeps_callers_apart(loop):
    calls = []

    def run(key, items, progress):
        calls.append((key, len(items)))
        progress(1, 1)
        if key == "fails":
            raise InvalidArgument("batch failed")
        return [item * 2 for item in items]

    batcher = Batcher(run, WaitPolicy(0.5, window=True), loop=loop)
    out, errors = {}, {}

    def cancelled(done, total):
        raise Cancelled("reconstruct")

    def submit(name, key, progress=None):  # from a worker thread, as Reconstruct does
        try:
            out[name] = batcher.submit_from_thread(key, np.full((1, 2), len(name), np.float32), progress=progress)
        except Exception as exc:  # noqa: BLE001 - recorded per caller
            errors[name] = exc

    threads = [threading.Thread(target=submit, args=args) for args in
               [("a", "k"), ("bb", "k"), ("ccc", "k", cancelled), ("d", "other"), ("ee", "fails")]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.close()
    assert sorted(calls) == [("fails", 1), ("k", 3), ("other", 1)]
    assert sorted(batcher.batch_sizes) == [1, 1, 3]
    assert out["a"].tolist() == [[2, 2]] and out["bb"].tolist() == [[4, 4]] and out["d"].tolist() == [[2, 2]]
    assert isinstance(errors["ccc"], Cancelled) and str(errors["ee"]) == "batch failed"


def test_a_batch_stops_once_none_of_its_callers_listens(loop):
    reports = []

    def run(key, items, progress):
        for step in range(1, 4):
            progress(step, 3)  # raises once every caller has gone
            reports.append(step)
        return items

    def listener(leaves_at: int):
        def progress(done, total):
            if done >= leaves_at:
                raise Cancelled("reconstruct")
        return progress

    batcher = Batcher(run, WaitPolicy(0.5, window=True), loop=loop)
    errors = []

    def submit(leaves_at):
        with pytest.raises(Cancelled) as error:
            batcher.submit_from_thread("k", [leaves_at], progress=listener(leaves_at))
        errors.append(error.value)

    threads = [threading.Thread(target=submit, args=(leaves_at,)) for leaves_at in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.close()
    assert batcher.batch_sizes == [2] and len(errors) == 2
    assert reports == [1]  # step 1 had a listener left; step 2 had none: the batch stopped there


def test_max_size_ends_the_wait_and_bounds_a_batch():
    calls = []

    async def scenario():
        batcher = Batcher(_doubling(calls), WaitPolicy(30.0, window=True), max_size=2)
        # a 30 s window, but the batch is full at 2 samples: it runs at once
        await asyncio.wait_for(asyncio.gather(*[batcher.submit("k", np.zeros((1, 2)), 1) for _ in range(2)]), 10)
        # 3 samples (1 + 2) cannot go together: the second waits for the next batch
        await asyncio.wait_for(asyncio.gather(batcher.submit("k", np.zeros((1, 2)), 1),
                                              batcher.submit("k", np.zeros((2, 2)), 2)), 10)
        batcher.close()
        return batcher.batch_sizes

    assert asyncio.run(scenario()) == [2, 1, 1]
    assert [size for _, size in calls] == [2, 1, 2]


def test_workers_bound_the_batches_running_across_keys():
    release, running, most = threading.Event(), [0], [0]
    lock = threading.Lock()

    def run(key, items, progress):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        if key == "first":
            release.wait(10)
        with lock:
            running[0] -= 1
        return items

    async def scenario():
        batcher = Batcher(run, WaitPolicy(), workers=1)
        first = asyncio.ensure_future(batcher.submit("first", 0))
        await asyncio.sleep(0.1)  # "first" holds the one worker
        others = asyncio.gather(*[batcher.submit("second", i) for i in range(3)])
        await asyncio.sleep(0.1)
        release.set()
        assert await first == 0 and await others == [0, 1, 2]
        batcher.close()
        return batcher.batch_sizes

    assert asyncio.run(scenario()) == [1, 3]  # "second" took every item queued while it waited
    assert most[0] == 1


def test_cancelled_callers_leave_their_batch_and_nothing_stays_queued():
    calls = []

    async def scenario():
        batcher = Batcher(_doubling(calls), WaitPolicy(0.2, window=True))
        gone = asyncio.ensure_future(batcher.submit("k", np.zeros((1, 2))))
        await asyncio.sleep(0.05)
        gone.cancel()
        assert (await batcher.submit("k", np.ones((1, 2)))).tolist() == [[2, 2]]
        with batcher.stream("other"):
            pass
        batcher.close()
        return batcher

    batcher = asyncio.run(scenario())
    assert batcher.batch_sizes == [1] and calls == [("k", 1)]
    assert batcher._queues == {}  # queues go once they hold no item, stream or worker


def test_a_run_with_the_wrong_number_of_results_fails_each_caller():
    async def scenario():
        batcher = Batcher(lambda key, items, progress: items[:-1], WaitPolicy())
        results = await asyncio.gather(*[batcher.submit("k", i) for i in range(2)], return_exceptions=True)
        batcher.close()
        return results

    results = asyncio.run(scenario())
    assert all(isinstance(r, RuntimeError) and "gave" in str(r) for r in results)


def test_served_models_load_once_check_every_get_and_evict_the_least_recent():
    loads, allowed = [], {"a", "b"}
    gate = threading.Event()

    def load(key):
        gate.wait(10)
        loads.append(key)
        return object()

    def check(key):
        if key not in allowed:
            raise NotFound(f"no model {key}")

    models = ServedModels(load, check, capacity=1)
    got = []
    threads = [threading.Thread(target=lambda: got.append(models.get("a"))) for _ in range(4)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert loads == ["a"] and len({id(m) for m in got}) == 1  # calls that missed together loaded once
    assert models.get("a") is got[0]
    models.get("b")  # evicts "a"
    assert models.get("a") is not got[0] and loads == ["a", "b", "a"]
    assert models.loaded("a") is models.get("a") and models.loaded("b") is None  # loaded ones only, no load
    allowed.discard("a")  # deleted: no longer served, though loaded
    with pytest.raises(NotFound, match="no model a"):
        models.get("a")
    with pytest.raises(NotFound, match="no model a"):
        models.loaded("a")
