"""Benchmark: batch-job throughput (shards/s) with 1 and 2 workers, local process pool and Ray.

Each shard is one fMRI run (12 x 12 x 10 voxels, 150 scans, 24 trials) preprocessed by
``trials: lss`` (per-trial GLM) and decoded by a ridge decoder to 64 dimensions, with top-5
retrieval among 24 candidates: the same shard code a server job runs. A run maps ``--shards``
shards of one job through an executor (``LocalExecutor.map`` / ``RayExecutor.map``):

* local: the process pool is started and warmed first (every worker has imported the
  libraries and loaded the decoder), so the figure is the steady rate of a running server;
* ray: the Ray instance (``num_cpus`` = workers) is started first; each job builds its Ray Data
  actor pool, so its start-up (actors importing the libraries, loading the decoder) is part of
  every job's time, as it is in the server.

Usage: python benchmarks/bench_jobs.py [--shards 16] [--executors local ray]
Prints per run the job's time, when its first shard came back and its rate, then ``ratio``
lines of the rates: 2 workers / 1 worker (above 1: it scales), and Ray / local.
"""

from __future__ import annotations

import argparse
import pathlib
import tempfile
import time

import nibabel
import numpy as np

from braindecode.config import JobSettings
from braindecode.containers import ActivationSet
from braindecode.decoding import RidgeDecoder, save_decoder
from braindecode.jobs import LocalExecutor, RayExecutor, ShardTask, job_context, plan_job
from braindecode.store import Store, Upload, save_activation_set, save_directory

TENANT = "bench"
GRID, N_SCANS, N_TRIALS, N_DIMS = (12, 12, 10), 150, 24, 64
PREPROCESSING = {"modality": "fmri", "mask": None, "zscore": True, "trials": {"method": "lss"}}


def _store(folder: pathlib.Path, n_shards: int):
    """A store with ``n_shards`` BOLD runs, a ridge decoder and candidates; returns (store, spec)."""
    store = Store(folder / "store")
    rng = np.random.default_rng(0)
    ids = []
    for i in range(n_shards):
        data = 100 + rng.standard_normal(GRID + (N_SCANS,)).astype(np.float32)
        img = nibabel.Nifti1Image(data, np.diag([3.0, 3.0, 3.0, 1.0]))
        img.header.set_zooms((3.0, 3.0, 3.0, 2.0))
        path = folder / f"run-{i}_bold.nii.gz"
        nibabel.save(img, path)
        events = [{"onset": 6.0 + 12.0 * k, "duration": 2.0, "stimulus_id": f"s{k}"} for k in range(N_TRIALS)]
        with Upload(store, {"subject": f"{i % 4:02d}", "file_name": path.name, "events": events},
                    1 << 30, TENANT) as upload:
            upload.write(path.read_bytes())
            ids.append(upload.commit().id)
    model = RidgeDecoder(alphas=[1.0, 100.0], cv=2).fit(rng.standard_normal((64, int(np.prod(GRID)))),
                                                        rng.standard_normal((64, N_DIMS)))
    decoder = save_directory(store, TENANT, "decoder", save_decoder(model, folder / "decoder"))
    candidates = save_activation_set(store, TENANT, ActivationSet(
        [f"s{k}" for k in range(N_TRIALS)], {"pool": rng.standard_normal((N_TRIALS, N_DIMS)).astype(np.float32)}))
    spec = {"recordings": {"ids": ids}, "preprocessing": PREPROCESSING, "model": {"decoder": decoder.id},
            "outputs": {"embeddings": True, "retrieval": {"candidates": candidates.id, "layer": "pool", "k": 5}}}
    return store, spec


def _run(executor, context, tasks) -> tuple:
    """(seconds to map ``tasks``, seconds to the first result); every shard must succeed."""
    start = time.perf_counter()
    results, first = [], None
    for result in executor.map(context, tasks):
        results.append(result)
        first = time.perf_counter() - start if first is None else first
    seconds = time.perf_counter() - start
    failed = [r.error for r in results if not r.ok]
    if failed or len(results) != len(tasks):
        raise SystemExit(f"{len(failed)} shards failed: {failed[:1]}")
    return seconds, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--executors", nargs="+", default=["local", "ray"], choices=["local", "ray"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        store, spec = _store(folder, args.shards)
        plan = plan_job(store, TENANT, spec)
        tasks = [ShardTask(s.index, tuple(s.recordings)) for s in plan.shards]
        rates = {}
        for kind in args.executors:
            for workers in (1, 2):
                settings = JobSettings(executor=kind, workers=workers)
                context = job_context(store, TENANT, plan.spec, folder / f"out-{kind}-{workers}", settings)
                pathlib.Path(context.out_dir).mkdir()
                executor = LocalExecutor(workers) if kind == "local" else RayExecutor(workers)
                try:
                    warm, _ = _run(executor, context, tasks[:workers])  # local: pool up; ray: instance up
                    seconds, first = _run(executor, context, tasks)
                finally:
                    executor.close()
                rates[kind, workers] = len(tasks) / seconds
                print(f"{kind:<5} workers={workers}  shards={len(tasks)}  start-up+warm-up {warm:6.1f} s  "
                      f"job {seconds:6.1f} s (first shard after {first:5.1f} s)  "
                      f"{rates[kind, workers]:.3f} shards/s", flush=True)
        for kind in args.executors:
            print(f"ratio {kind} 2 workers / 1 worker: {rates[kind, 2] / rates[kind, 1]:.2f}x")
        for workers in (1, 2) if len(args.executors) == 2 else ():
            print(f"ratio ray / local, {workers} worker(s): {rates['ray', workers] / rates['local', workers]:.2f}x")
        store.close()


if __name__ == "__main__":
    main()
