"""Jobs with no server: run a subset of a job's shards against a store folder (one SLURM array
task each), then merge the shard folders.

``run_batch(spec, data_dir, out, shard=(i, n))`` runs shards i, i + n, i + 2n, ... and writes
``out/job.json`` plus one ``out/shard-XXXXX/`` folder per shard, with the files a server job
stores as its "job-output" artifacts. ``merge_outputs`` concatenates shard folders (from a
batch run, or a server job's output artifacts) in shard order.
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import uuid

import numpy as np

from braindecode._io import fsync_dir
from braindecode.errors import FailedPrecondition, InvalidArgument
from braindecode.jobs._runner import job_context, make_executor, run_rounds
from braindecode.config import JobSettings
from braindecode.jobs._shard import SUMMARY, ShardTask, shard_name, write_outputs
from braindecode.jobs._spec import plan_job
from braindecode.store import DEFAULT_TENANT, ReadOnlyStore

JOB_FILE = "job.json"
MANIFEST = "manifest.json"
MERGED = "merged"


def parse_shard(text: str) -> tuple:
    """``"i/n"`` as (i, n), with 0 <= i < n (SLURM: ``$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT``)."""
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise InvalidArgument(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
    if not 0 <= i < n:
        raise InvalidArgument(f"--shard {text}: need 0 <= i < n")
    return i, n


def _write_job_file(out: pathlib.Path, record: dict) -> None:
    """``out/job.json`` with ``record``; an existing one must describe the same job."""
    path = out / JOB_FILE
    text = json.dumps(record, sort_keys=True, indent=2) + "\n"
    if path.exists():
        if json.loads(path.read_text()) != record:
            raise FailedPrecondition(f"{out} holds the outputs of another job spec ({JOB_FILE} differs); "
                                     "use another --out folder")
        return
    stage = out / f".{JOB_FILE}.{uuid.uuid4().hex}"
    stage.write_text(text)
    stage.replace(path)
    fsync_dir(out)


def run_batch(spec: dict, data_dir, out_dir, shard: tuple = (0, 1), tenant: str = DEFAULT_TENANT,
              settings: JobSettings | None = None, executor=None) -> dict:
    """Run one subset of a job's shards directly against a store folder.

    Shards whose folder is already complete are skipped, so a re-queued array task
    finishes only what is missing.

    Parameters
    ----------
    spec : dict
        A job spec (see ``braindecode.jobs.plan_job``); checked in full first.
    data_dir : str or os.PathLike
        The store folder, opened read-only (a server may be using it).
    out_dir : str or os.PathLike
        Where ``job.json`` and the ``shard-XXXXX/`` folders go; shared by all subsets.
    shard : (int, int)
        ``(i, n)``: this run takes the shards whose index is ``i`` modulo ``n``.
    tenant : str
        Whose recordings and artifacts the spec names.
    settings : braindecode.config.JobSettings, optional
        Executor, workers, retries; default: the defaults of ``JobSettings``.
    executor : optional
        An executor to use instead of the one ``settings`` names (left open).

    Returns
    -------
    report : dict
        ``{"done": [indices], "skipped": [indices], "failed": {index: error}}``.
    """
    i, n = shard
    if not 0 <= i < n:
        raise InvalidArgument(f"shard ({i}, {n}): need 0 <= i < n")
    settings = settings or JobSettings()
    out = pathlib.Path(out_dir)
    with contextlib.closing(ReadOnlyStore(data_dir, links_dir=out)) as store:
        out.mkdir(parents=True, exist_ok=True)
        plan = plan_job(store, tenant, spec, settings.reconstruction_model)
        _write_job_file(out, {"spec": plan.spec, "tenant": tenant,
                              "shards": [{"index": s.index, "recordings": s.recordings} for s in plan.shards]})
        mine = [s for s in plan.shards if s.index % n == i]
        skipped = [s.index for s in mine if (out / shard_name(s.index) / SUMMARY).is_file()]
        tasks = [ShardTask(s.index, tuple(s.recordings)) for s in mine if s.index not in skipped]
        context = job_context(store, tenant, plan.spec, out, settings)
        runner = executor or make_executor(settings)
        try:
            done, errors = _run_with_retries(runner, context, tasks, settings.max_attempts)
        finally:
            if executor is None:
                runner.close()
    return {"done": done, "skipped": skipped, "failed": errors}


def _run_with_retries(executor, context, tasks: list, max_attempts: int) -> tuple:
    """(indices done, {index: last error} of the shards that failed ``max_attempts`` times)."""
    left = {t.index: t for t in tasks}
    failures, errors, done = {}, {}, []

    def on_result(result):
        if result.ok:
            done.append(result.index)
            del left[result.index]
            errors.pop(result.index, None)
            return
        failures[result.index] = failures.get(result.index, 0) + 1
        errors[result.index] = result.error
        if failures[result.index] >= max_attempts:
            del left[result.index]

    run_rounds(executor, context, lambda: list(left.values()), on_result)
    return sorted(done), dict(sorted(errors.items()))


def merge_outputs(folders, directory) -> dict:
    """Concatenate shard folders, in the given order, into ``directory``.

    Parameters
    ----------
    folders : list of path
        Shard folders (``shard-XXXXX/`` of a batch run, or ``Store.artifact_dir`` of a
        server job's "job-output" artifacts), each with a ``shard.json``.
    directory : path
        Receives one ``<name>.npy`` per per-trial output (the summaries' ``files``), rows of all
        shards in order, and ``manifest.json``; per-shard files (scores) stay in the shard folders.

    Returns
    -------
    manifest : dict
        The shards' summaries and the total trial count.
    """
    folders = [pathlib.Path(f) for f in folders]
    if not folders:
        raise InvalidArgument("no shard folders to merge")
    summaries = [json.loads((f / SUMMARY).read_text()) for f in folders]
    names = {tuple(s["files"]) for s in summaries}
    if len(names) != 1:
        raise InvalidArgument(f"shards hold different outputs: {sorted(names)}")
    arrays = {}
    for name in summaries[0]["files"]:  # per-trial arrays; per-shard files stay in the shards' folders
        parts = [np.load(f / name, allow_pickle=False) for f in folders]
        arrays[pathlib.Path(name).stem] = np.concatenate(parts)
    manifest = {"shards": summaries, "n_trials": sum(s["n_trials"] for s in summaries),
                "files": summaries[0]["files"]}
    write_outputs(directory, arrays, manifest, MANIFEST)
    return manifest


def merge_batch(out_dir) -> dict:
    """Merge a batch run's shard folders into ``out_dir/merged/`` once every shard is there.

    Raises FailedPrecondition naming the shards still missing.
    """
    out = pathlib.Path(out_dir)
    try:
        job = json.loads((out / JOB_FILE).read_text())
    except FileNotFoundError:
        raise FailedPrecondition(f"{out} has no {JOB_FILE}: run 'braindecode batch run' first") from None
    indices = [s["index"] for s in job["shards"]]
    missing = [i for i in indices if not (out / shard_name(i) / SUMMARY).is_file()]
    if missing:
        raise FailedPrecondition(f"{len(missing)} of {len(indices)} shards have no outputs yet: "
                                 f"{', '.join(str(i) for i in missing[:20])}")
    return merge_outputs([out / shard_name(i) for i in indices], out / MERGED)
