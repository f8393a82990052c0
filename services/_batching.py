"""The serving toolkit: batches of what concurrent calls submit, and the models those calls share.

:class:`Batcher` lives on the server's event loop. Callers submit items under a key (a served
model, a set of sampling settings); the items of one key run as batches, one batch at a time per
key, through a function the caller supplies, ``run(key, items, progress) -> results``: a library
call on lists, so that the array work stays in the library. When a batch runs is decided by its
:class:`WaitPolicy`. Callers on the loop ``await submit(...)``; callers in worker threads call
``submit_from_thread(...)``. A stream of items (a Decode stream) holds a :class:`Stream`
(``stream``); a caller that makes one call after another (unary calls over one connection, e.g.
ModelInfer) holds one too, kept from call to call (``caller``). :class:`ServedModels` keeps the most
recently used models loaded.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import dataclasses
import threading

from services._wire import Cancelled


@dataclasses.dataclass(frozen=True)
class WaitPolicy:
    """How long a key's next batch waits for more items once it could run.

    It runs at once when its items reach the batcher's ``max_size``, else it waits, for at most
    ``max_delay`` seconds, while more items are expected by then:

    - ``window=False`` (calls that send one item after the other, e.g. Decode streams and the
      ModelInfer calls of one connection): an open :class:`Stream` answered at ``t`` whose client
      last took ``gap`` seconds to send again is expected at ``t + gap``. Clients that send back to
      back (a closed loop) are waited for; clients that send at their own pace (every TR, every EEG
      window), streams answered at most once and one-shot calls are not.
    - ``window=True`` (one-shot calls with no pace to learn, e.g. Reconstruct): every call may
      come, so the batch waits out ``max_delay``.

    Parameters
    ----------
    max_delay : float
        Seconds; 0 runs each batch as soon as a worker is free.
    window : bool
    """

    max_delay: float = 0.0
    window: bool = False

    def waits(self, size: int, max_size: int | None, streams, deadline: float) -> bool:
        """Whether a batch holding ``size`` should wait for more, given the key's open ``streams``."""
        if max_size is not None and size >= max_size:
            return False
        return self.window or any(stream.expected_by(deadline) for stream in streams)


class Stream:
    """A caller that submits one item after the other: when its last item was answered and how long
    its client then took to send the next."""

    __slots__ = ("answered_at", "expiry", "gap", "queued")

    def __init__(self):
        self.answered_at = self.gap = self.expiry = None
        self.queued = False

    def expected_by(self, deadline: float) -> bool:
        """Whether the stream's next item should arrive by ``deadline`` (loop time)."""
        return not self.queued and self.gap is not None and self.answered_at + self.gap <= deadline


class _Entry:
    """A submitted item: its size, the future of its result, its progress callback and, once its
    caller stopped listening, the error it gets."""

    __slots__ = ("error", "future", "item", "progress", "size")

    def __init__(self, item, size: int, future, progress):
        self.item, self.size, self.future, self.progress = item, size, future, progress
        self.error = None


class _Queue:
    """The items, open streams (the callers' among them, by name) and worker task of one key."""

    __slots__ = ("arrived", "callers", "entries", "streams", "worker")

    def __init__(self):
        self.entries = collections.deque()
        self.streams = set()
        self.callers = {}
        self.worker = None
        self.arrived = asyncio.Event()

    @property
    def idle(self) -> bool:
        return not self.entries and not self.streams and self.worker is None


def _fan_out(batch: list):
    """``progress(done, total)`` of a batch, reported to each of its callers that listens.

    A caller whose callback raises ``Cancelled`` stops listening and gets that error; once none
    listens, ``progress`` raises ``Cancelled``, which stops the batch.
    """
    listening = list(batch)

    def progress(done, total):
        for entry in list(listening):
            if entry.progress is None:
                continue
            try:
                entry.progress(done, total)
            except Cancelled as exc:
                listening.remove(entry)
                entry.error = exc
        if not listening:
            raise Cancelled("every caller of the batch has gone")

    return progress


class Batcher:
    """Runs the items that concurrent callers submit under one key as batches.

    Parameters
    ----------
    run : callable
        ``run(key, items, progress) -> results``, one result per item, in order; called in a
        worker thread. ``progress(done, total)`` reaches the callers that submitted with a
        ``progress`` callback. An exception it raises reaches every caller of the batch.
    policy : WaitPolicy
    max_size : int, optional
        Most summed item sizes in one batch (an item larger alone runs alone).
    workers : int
        Batches that run at once, across keys, each in a thread of the batcher's own (one per
        device that holds one batch at a time). A batch takes its items once a worker is free.
    name : str
        Prefix of the worker threads' names.
    history : int
        How many of the latest batch sizes ``batch_sizes`` keeps.
    loop : asyncio.AbstractEventLoop, optional
        The event loop it lives on; by default the loop running where it is made.
    """

    def __init__(self, run, policy: WaitPolicy, max_size: int | None = None, workers: int = 1,
                 name: str = "batch", history: int = 1000, loop: asyncio.AbstractEventLoop | None = None):
        self._run, self._policy, self._max_size = run, policy, max_size
        self._loop = loop or asyncio.get_running_loop()
        self._executor = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix=name)
        self._free = asyncio.Semaphore(workers)
        self._queues = {}
        self._sizes = collections.deque(maxlen=history)

    @property
    def batch_sizes(self) -> list:
        """The number of items of each of the latest batches run, oldest first."""
        return list(self._sizes)

    def close(self) -> None:
        """Wait for the running batches to end and stop the worker threads."""
        self._executor.shutdown(wait=True)

    def _queue(self, key) -> _Queue:
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = _Queue()
        return queue

    def _forget_if_idle(self, key, queue: _Queue) -> None:
        if queue.idle and self._queues.get(key) is queue:
            del self._queues[key]

    @contextlib.contextmanager
    def stream(self, key):
        """A :class:`Stream` under ``key`` for a caller that submits items one after the other (on
        the loop): pass it to :meth:`submit`."""
        queue = self._queue(key)
        stream = Stream()
        queue.streams.add(stream)
        try:
            yield stream
        finally:
            queue.streams.discard(stream)
            self._forget_if_idle(key, queue)

    def caller(self, key, name, idle: float = 1.0) -> Stream:
        """The :class:`Stream` under ``key`` of the caller ``name`` (on the loop), for callers that make
        one call after another, each with one item (unary calls over one connection, named by its
        peer): kept from call to call, so that the policy learns its pace as it does an open
        stream's, and forgotten once it has made no call for ``idle`` seconds. Pass it to :meth:`submit`."""
        queue = self._queue(key)
        stream = queue.callers.get(name)
        if stream is None:
            stream = queue.callers[name] = Stream()
            queue.streams.add(stream)
        else:
            stream.expiry.cancel()
        stream.expiry = self._loop.call_later(idle, self._forget_caller, key, queue, name)
        return stream

    def _forget_caller(self, key, queue: _Queue, name) -> None:
        queue.streams.discard(queue.callers.pop(name))
        self._forget_if_idle(key, queue)

    async def submit(self, key, item, size: int = 1, stream: Stream | None = None, progress=None):
        """The result of ``item``, run in a batch with the other items of ``key``.

        Parameters
        ----------
        key : hashable
            Items of one key run together; ``run`` gets it.
        item : object
        size : int
            What the item counts towards ``max_size`` (samples in it, images it makes).
        stream : Stream, optional
            The caller's stream under ``key`` (:meth:`stream` or :meth:`caller`).
        progress : callable, optional
            ``progress(done, total)`` as the batch reports; raising ``Cancelled`` in it stops
            the caller's share (and the batch, once no caller is left).
        """
        loop = self._loop
        if stream is not None:
            if stream.answered_at is not None:
                stream.gap = loop.time() - stream.answered_at
            stream.queued = True
        queue = self._queue(key)
        entry = _Entry(item, size, loop.create_future(), progress)
        queue.entries.append(entry)
        queue.arrived.set()
        if queue.worker is None:
            queue.worker = loop.create_task(self._work(key, queue))
        try:
            return await entry.future
        finally:
            if stream is not None:
                stream.queued = False
                stream.answered_at = loop.time()

    def submit_from_thread(self, key, item, size: int = 1, progress=None):
        """:meth:`submit` from a thread other than the loop's; blocks until the result is there."""
        return asyncio.run_coroutine_threadsafe(
            self.submit(key, item, size, progress=progress), self._loop).result()

    async def _work(self, key, queue: _Queue) -> None:
        try:
            while queue.entries:
                await self._wait_for_more(queue)
                async with self._free:
                    batch = self._take(queue)
                    if batch:
                        await self._run_batch(key, batch)
        except BaseException as exc:  # a bug here must not leave callers waiting for ever
            while queue.entries:
                entry = queue.entries.popleft()
                if not entry.future.done():
                    entry.future.set_exception(exc)
            raise
        finally:
            queue.worker = None
            self._forget_if_idle(key, queue)

    async def _wait_for_more(self, queue: _Queue) -> None:
        """Wait as the policy says, from now on (the moment the batch could run)."""
        loop = self._loop
        deadline = loop.time() + self._policy.max_delay
        while (self._policy.waits(sum(entry.size for entry in queue.entries), self._max_size, queue.streams,
                                  deadline)
               and (left := deadline - loop.time()) > 0):
            queue.arrived.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(queue.arrived.wait(), left)

    def _take(self, queue: _Queue) -> list:
        """The queued entries of the next batch, within ``max_size``; those whose caller has gone
        are dropped."""
        batch, size = [], 0
        while queue.entries and (not batch or self._max_size is None
                                 or size + queue.entries[0].size <= self._max_size):
            entry = queue.entries.popleft()
            if not entry.future.done():
                batch.append(entry)
                size += entry.size
        return batch

    async def _run_batch(self, key, batch: list) -> None:
        self._sizes.append(len(batch))
        error = None
        try:
            results = await self._loop.run_in_executor(
                self._executor, self._run, key, [entry.item for entry in batch], _fan_out(batch))
            if len(results) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} items gave {len(results)} results")
        except Exception as exc:  # noqa: BLE001 - every caller of the batch gets the error
            error, results = exc, [None] * len(batch)
        for entry, result in zip(batch, results):
            if entry.future.done():  # its call was cancelled meanwhile
                continue
            if entry.error is not None or error is not None:
                entry.future.set_exception(entry.error or error)
            else:
                entry.future.set_result(result)


class ServedModels:
    """The most recently used served models, loaded once and shared by the calls that serve them.

    Parameters
    ----------
    load : callable
        ``load(key) -> model``.
    check : callable
        ``check(key)`` raises (``NotFound``) for a key the caller may not use. It runs on every
        :meth:`get`, so that a model deleted or never the caller's is not served from memory.
    capacity : int, optional
        Most models kept; the least recently used goes first. None keeps every model.
    """

    def __init__(self, load, check, capacity: int | None = None):
        self._load, self._check, self.capacity = load, check, capacity
        self._entries = collections.OrderedDict()
        self._lock = threading.Lock()
        self._loading = threading.Lock()

    def _cached(self, key):
        with self._lock:
            model = self._entries.get(key)
            if model is not None:
                self._entries.move_to_end(key)
            return model

    def loaded(self, key):
        """The model of ``key`` if it is loaded, else None; checked as by :meth:`get`, and quick
        enough for the event loop (``get`` may load)."""
        self._check(key)
        return self._cached(key)

    def get(self, key):
        """The model of ``key``, loaded on first use (calls that miss together load it once)."""
        self._check(key)
        model = self._cached(key)
        if model is not None:
            return model
        with self._loading:
            model = self._cached(key)
            if model is None:
                model = self._load(key)
                with self._lock:
                    self._entries[key] = model
                    while self.capacity is not None and len(self._entries) > self.capacity:
                        self._entries.popitem(last=False)
        return model
