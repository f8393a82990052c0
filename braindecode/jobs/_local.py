"""The local executor: shards in a pool of spawned worker processes on this machine."""

from __future__ import annotations

import collections
import concurrent.futures
import ctypes
import multiprocessing
import os
import signal
import sys

from braindecode.jobs._shard import ShardResult, run_shard

_PR_SET_PDEATHSIG = 1


def _init_worker(threads: int) -> None:
    """Fix the worker's torch threads (reproducible sums) and, on Linux, die with the coordinator."""
    import torch

    torch.set_num_threads(threads)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:  # the coordinator died before prctl took effect
            os._exit(1)


class LocalExecutor:
    """Run shards in ``workers`` spawned processes.

    Workers open the store read-only and keep the decoders they loaded, so the shards of a
    job after the first reuse the model. A worker that dies (out of memory, a crash in
    native code) fails the shards it held and the pool is started afresh.

    Parameters
    ----------
    workers : int
        Processes, and shards in flight at once.
    threads_per_worker : int
        Torch threads of each process.
    """

    def __init__(self, workers: int = 2, threads_per_worker: int = 1):
        self.workers = workers
        self.threads_per_worker = threads_per_worker
        self._pool = None

    def _get_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker, initargs=(self.threads_per_worker,))
        return self._pool

    def map(self, context, tasks, on_start=None, should_stop=lambda: False):
        """Run ``tasks`` of one job; yields a :class:`ShardResult` per task as each finishes.

        Parameters
        ----------
        context : JobContext
        tasks : list of ShardTask
        on_start : callable(ShardTask), optional
            Called as a task is handed to a worker (at most ``workers`` are in flight).
        should_stop : callable() -> bool
            Polled; when true, tasks not yet started are dropped and the iteration ends.
        """
        waiting = collections.deque(tasks)
        running = {}
        try:
            while waiting or running:
                if should_stop():
                    return
                while waiting and len(running) < self.workers:
                    task = waiting.popleft()
                    if on_start is not None:
                        on_start(task)
                    pool = self._get_pool()
                    running[pool.submit(run_shard, context, task)] = (task, pool)
                done, _ = concurrent.futures.wait(running, timeout=0.5,
                                                  return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    task, pool = running.pop(future)
                    try:
                        yield future.result()
                    except concurrent.futures.process.BrokenProcessPool as exc:
                        if pool is self._pool:
                            self.close()
                        yield ShardResult(task.index, f"worker process died: {exc}")
        finally:
            for future in running:
                future.cancel()

    def close(self) -> None:
        """Stop the workers now; shards they were running are abandoned."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list((pool._processes or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.kill()
        for process in processes:
            process.join()
