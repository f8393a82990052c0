"""The Ray executor: Ray Data ``map_batches`` over an actor pool whose actors hold the job's decoder.

Ray is an optional extra (``pip install braindecode[ray]``), imported on first use.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from braindecode.errors import FailedPrecondition
from braindecode.jobs._shard import JobContext, ShardResult, ShardTask, ShardWorker


def _import_ray():
    try:
        import ray
        import ray.data
    except ImportError:
        raise FailedPrecondition("the ray executor needs Ray: pip install 'braindecode[ray]'") from None
    return ray


class ShardActor:
    """A Ray Data actor: loads the job's decoder once, then runs one shard per row."""

    def __init__(self, context_json: str, threads: int):
        import torch

        torch.set_num_threads(threads)
        context = json.loads(context_json)
        context["candidate_ids"] = tuple(context["candidate_ids"])
        self.worker = ShardWorker(JobContext(**context))

    def __call__(self, batch: dict) -> dict:
        results = []
        for item in batch["task"]:
            task = json.loads(item)
            result = self.worker(ShardTask(task["index"], tuple(task["recordings"])))
            results.append(json.dumps(dataclasses.asdict(result)))
        return {"result": np.array(results)}


class RayExecutor:
    """Run shards as rows of a Ray Dataset mapped by a pool of up to ``workers`` actors.

    Each job builds its pool: shards start once the first actor has loaded the decoder, and
    the pool grows to ``workers`` actors while shards wait.

    Parameters
    ----------
    workers : int
        Actors in the pool (each holds the job's decoder).
    num_gpus : float
        GPUs requested per actor (0: CPU only).
    address : str
        An existing cluster's address; empty starts a local Ray instance with ``workers`` CPUs.
        Workers read the store folder, so a cluster must share it (same path on every node).
    threads_per_worker : int
        CPUs requested per actor, and its torch threads.
    """

    def __init__(self, workers: int = 2, num_gpus: float = 0.0, address: str = "", threads_per_worker: int = 1):
        self.workers = workers
        self.num_gpus = num_gpus
        self.address = address
        self.threads_per_worker = threads_per_worker
        self._started = False

    def _connect(self):
        ray = _import_ray()
        if not ray.is_initialized():
            cpus = self.workers * self.threads_per_worker
            options = {"address": self.address} if self.address else {"num_cpus": cpus}
            ray.init(include_dashboard=False, log_to_driver=False, **options)
            self._started = True
        ray.data.DataContext.get_current().enable_progress_bars = False
        return ray

    def map(self, context, tasks, on_start=None, should_stop=lambda: False):
        """Run ``tasks`` of one job; yields a :class:`ShardResult` per task as each finishes.

        Parameters are those of ``LocalExecutor.map``; every task is handed to Ray at once.
        """
        ray = self._connect()
        items = [{"task": json.dumps({"index": t.index, "recordings": list(t.recordings)})} for t in tasks]
        dataset = ray.data.from_items(items).map_batches(
            ShardActor, fn_constructor_args=(json.dumps(dataclasses.asdict(context)), self.threads_per_worker),
            batch_size=1, compute=ray.data.ActorPoolStrategy(min_size=1, max_size=min(self.workers, len(tasks))),
            num_cpus=self.threads_per_worker, num_gpus=self.num_gpus or None)
        for task in tasks:
            if on_start is not None:
                on_start(task)
        reported = set()
        try:
            for row in dataset.iter_rows():
                result = ShardResult(**json.loads(row["result"]))
                reported.add(result.index)
                yield result
                if should_stop():
                    return
        except Exception as exc:  # noqa: BLE001 - a broken pipeline fails the shards it still held
            for task in tasks:
                if task.index not in reported:
                    yield ShardResult(task.index, f"ray pipeline failed: {type(exc).__name__}: {exc}")

    def close(self) -> None:
        """Shut down the Ray instance this executor started (a cluster it joined stays up)."""
        if self._started:
            _import_ray().shutdown()
            self._started = False
