"""The local executor: shards in a pool of spawned worker processes on this machine."""

from __future__ import annotations

import concurrent.futures
import ctypes
import multiprocessing
import os
import signal
import sys

from braindecode.jobs._executor import Executor
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


class LocalExecutor(Executor):
    """Run shards in ``workers`` spawned processes.

    Workers open the store read-only and keep the models they loaded, so the shards of a
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

    def run(self, next_shard, on_start=None, should_stop=lambda: False):
        """Run shards as ``next_shard()`` hands them out, at most ``workers`` at once (see ``Executor.run``)."""
        running = {}
        try:
            while True:
                if should_stop():
                    return
                while len(running) < self.workers and (item := next_shard()) is not None:
                    context, task = item
                    if on_start is not None:
                        on_start(context, task)
                    pool = self._get_pool()
                    running[pool.submit(run_shard, context, task)] = (context, task, pool)
                if not running:
                    return
                done, _ = concurrent.futures.wait(running, timeout=0.5,
                                                  return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    context, task, pool = running.pop(future)
                    try:
                        yield context, future.result()
                    except concurrent.futures.process.BrokenProcessPool as exc:
                        if pool is self._pool:
                            self.close()
                        yield context, ShardResult(task.index, f"worker process died: {exc}")
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
