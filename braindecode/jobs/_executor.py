"""What the executors share: shards handed out one at a time as workers free up."""

from __future__ import annotations

import abc
import collections


class Executor(abc.ABC):
    """Runs shards on ``workers`` workers (processes, Ray tasks).

    :meth:`run` asks for a shard each time a worker is free, so that whoever hands them out (the
    job runner, sharing the workers between tenants) decides shard by shard; :meth:`map` runs the
    shards of one job.
    """

    workers: int

    @abc.abstractmethod
    def run(self, next_shard, on_start=None, should_stop=lambda: False):
        """Run shards as ``next_shard()`` hands them out; yields ``(context, ShardResult)`` as each finishes.

        Parameters
        ----------
        next_shard : callable() -> (JobContext, ShardTask) or None
            Called whenever a worker is free (and again while none is left to start); None means
            nothing to start now. The iteration ends once nothing runs and nothing is handed out.
        on_start : callable(JobContext, ShardTask), optional
            Called as a shard is handed to a worker.
        should_stop : callable() -> bool
            Polled; when true, the iteration ends and shards running are abandoned.
        """

    def map(self, context, tasks, on_start=None, should_stop=lambda: False):
        """Run ``tasks`` of one job (``context``); yields a :class:`ShardResult` per task as each finishes.

        ``on_start(task)`` is called as a task is handed to a worker; ``should_stop`` as for :meth:`run`.
        """
        waiting = collections.deque(tasks)
        started = None if on_start is None else (lambda _, task: on_start(task))
        for _, result in self.run(lambda: (context, waiting.popleft()) if waiting else None, started, should_stop):
            yield result

    def close(self) -> None:
        """Stop the workers; shards they were running are abandoned."""
