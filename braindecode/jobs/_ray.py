"""The Ray executor: one Ray task per shard, on a local Ray instance or an existing cluster.

Ray is an optional extra (``pip install braindecode[ray]``), imported on first use.
"""

from __future__ import annotations

import dataclasses
import json

from braindecode.errors import FailedPrecondition
from braindecode.jobs._executor import Executor
from braindecode.jobs._shard import JobContext, ShardResult, ShardTask, run_shard


def _import_ray():
    try:
        import ray
    except ImportError:
        raise FailedPrecondition("the ray executor needs Ray: pip install 'braindecode[ray]'") from None
    return ray


def _ray_shard(context_json: str, task_json: str, threads: int) -> str:
    """Run one shard in a Ray worker (JSON in and out); the worker process keeps the models it loaded."""
    import torch

    torch.set_num_threads(threads)
    context = json.loads(context_json)
    context["candidate_ids"] = tuple(context["candidate_ids"])
    task = json.loads(task_json)
    result = run_shard(JobContext(**context), ShardTask(task["index"], tuple(task["recordings"])))
    return json.dumps(dataclasses.asdict(result))


class RayExecutor(Executor):
    """Run shards as Ray tasks, at most ``workers`` at once.

    Ray reuses its worker processes, which keep the decoders and encoders they loaded, so the
    shards of a job after the first on a worker reuse its model.

    Parameters
    ----------
    workers : int
        Shards in flight at once.
    num_gpus : float
        GPUs requested per task (0: CPU only).
    address : str
        An existing cluster's address; empty starts a local Ray instance with ``workers`` CPUs.
        Workers read the store folder, so a cluster must share it (same path on every node).
    threads_per_worker : int
        CPUs requested per task, and its torch threads.
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
        return ray

    def run(self, next_shard, on_start=None, should_stop=lambda: False):
        """Run shards as ``next_shard()`` hands them out, at most ``workers`` at once (see ``Executor.run``)."""
        ray = self._connect()
        remote = ray.remote(num_cpus=self.threads_per_worker, num_gpus=self.num_gpus or None,
                            max_retries=0)(_ray_shard)
        running = {}
        try:
            while True:
                if should_stop():
                    return
                while len(running) < self.workers and (item := next_shard()) is not None:
                    context, task = item
                    if on_start is not None:
                        on_start(context, task)
                    ref = remote.remote(json.dumps(dataclasses.asdict(context)),
                                        json.dumps({"index": task.index, "recordings": list(task.recordings)}),
                                        self.threads_per_worker)
                    running[ref] = item
                if not running:
                    return
                done, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
                for ref in done:
                    context, task = running.pop(ref)
                    try:
                        result = ShardResult(**json.loads(ray.get(ref)))
                    except Exception as exc:  # noqa: BLE001 - a worker that died fails the shard it held
                        result = ShardResult(task.index, f"ray task failed: {type(exc).__name__}: {exc}")
                    yield context, result
        finally:
            for ref in running:
                ray.cancel(ref)

    def close(self) -> None:
        """Shut down the Ray instance this executor started (a cluster it joined stays up)."""
        if self._started:
            _import_ray().shutdown()
            self._started = False
