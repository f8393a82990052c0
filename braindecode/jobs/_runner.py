"""The job runner: checks and queues jobs, runs their shards on an executor, stores the outputs.

One coordinator thread takes the oldest queued or running job, hands its pending shards to
the executor, and registers each finished shard's folder as a "job-output" artifact before
marking the shard done. Failed attempts are retried up to ``max_attempts``; a shard that
keeps failing is marked failed and the job goes on. After a restart, shards that were
running are run again and finished ones are kept.
"""

from __future__ import annotations

import logging
import pathlib
import shutil
import threading

from braindecode.errors import BraindecodeError, InvalidArgument
from braindecode.jobs._jobstore import JobStore
from braindecode.config import JobSettings
from braindecode.jobs._shard import JobContext, ShardTask, shard_name
from braindecode.jobs._spec import plan_job
from braindecode.store import JOB_OUTPUT_ARTIFACT

log = logging.getLogger("braindecode.jobs")

MAX_REQUEST_ID = 128


def make_executor(settings: JobSettings):
    """The executor ``settings.executor`` names, sized by the settings."""
    if settings.executor == "ray":
        from braindecode.jobs._ray import RayExecutor

        return RayExecutor(settings.workers, settings.num_gpus, settings.ray_address, settings.threads_per_worker)
    from braindecode.jobs._local import LocalExecutor

    return LocalExecutor(settings.workers, settings.threads_per_worker)


def job_context(store, tenant: str, spec: dict, out_dir, settings: JobSettings) -> JobContext:
    """The inputs every shard of a checked ``spec`` shares, resolved in ``store`` for ``tenant``."""
    from braindecode.store import load_activation_set

    kind = "decoder" if "decoder" in spec["model"] else "encoder"
    model_id = spec["model"][kind]
    model = store.get_artifact(tenant, model_id, kind)
    activation_set_id = model.provenance.get("activation_set_id", "") if kind == "encoder" else ""
    candidates_path, candidate_ids = "", ()
    retrieval = spec["outputs"].get("retrieval")
    if retrieval:
        candidates = load_activation_set(store, tenant, retrieval["candidates"])
        candidates_path = candidates[retrieval["layer"]].filename
        candidate_ids = tuple(str(s) for s in candidates.stimulus_ids)
    return JobContext(
        str(store.root), tenant, model_id, str(store.artifact_dir(tenant, model_id)), spec["preprocessing"],
        spec["outputs"], str(out_dir), str(candidates_path), candidate_ids, settings.reconstruction_model,
        settings.device, kind, activation_set_id, spec["model"].get("subject", ""))


def run_rounds(executor, context, next_tasks, on_result, on_start=None, should_stop=lambda: False) -> None:
    """Run ``next_tasks()`` on ``executor`` round after round (retries) until none are left or told to stop."""
    while not should_stop():
        tasks = next_tasks()
        if not tasks:
            return
        for result in executor.map(context, tasks, on_start, should_stop):
            on_result(result)


class JobRunner:
    """Batch decoding and encoding jobs over a store: submit, watch, cancel; the shards run in the background.

    Parameters
    ----------
    store : braindecode.store.Store
        Jobs are kept in ``jobs.sqlite`` in its folder; shards write below ``job-work/``.
    settings : braindecode.config.JobSettings, optional
    executor : LocalExecutor or RayExecutor, optional
        Default: the one ``settings.executor`` names.
    """

    def __init__(self, store, settings: JobSettings | None = None, executor=None):
        self.store = store
        self.settings = settings or JobSettings()
        self.executor = executor or make_executor(self.settings)
        self.jobs = JobStore(self.store.root / "jobs.sqlite")
        self.work_root = self.store.root / "job-work"
        self._changed = threading.Condition()
        self._version = 0
        self._lock = threading.Lock()  # registering a shard's outputs vs cancelling its job
        self._cancelled = set()
        self._stopping = False
        self._thread = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> "JobRunner":
        """Pick up the jobs a previous run left, then start the coordinator thread."""
        self._recover()
        self._thread = threading.Thread(target=self._loop, name="braindecode-jobs", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the coordinator and the workers; unfinished shards run again after the next start."""
        self._stopping = True
        self._notify()
        if self._thread is not None:
            self._thread.join()
        self.executor.close()
        self.jobs.close()

    def _notify(self) -> None:
        with self._changed:
            self._version += 1
            self._changed.notify_all()

    def _recover(self) -> None:
        requeued = {}
        for job_id, tenant, index in self.jobs.requeue_running():
            requeued.setdefault(tenant, set()).add((job_id, index))
        for tenant, keys in requeued.items():  # outputs stored just before a crash marked them done
            for artifact in self.store.list_artifacts(tenant, JOB_OUTPUT_ARTIFACT):
                key = (artifact.provenance.get("job_id"), artifact.provenance.get("shard"))
                if key in keys:
                    self.jobs.shard_done(key[0], key[1], artifact.id, 0.0)
        shutil.rmtree(self.work_root, ignore_errors=True)  # every done shard's files are artifacts

    # -- calls ----------------------------------------------------------------------------
    def submit(self, tenant: str, spec, request_id: str = ""):
        """Check ``spec`` (every problem listed at once) and queue the job.

        Parameters
        ----------
        tenant : str
        spec : dict
            A job spec (see ``braindecode.jobs.plan_job``).
        request_id : str
            Idempotency key: a second submit of the same spec with the same key returns
            the first job instead of a new one.

        Returns
        -------
        job : JobInfo
        """
        if len(request_id) > MAX_REQUEST_ID:
            raise InvalidArgument(f"request_id is longer than {MAX_REQUEST_ID} characters")
        earlier = self.jobs.find(tenant, request_id, spec) if request_id else None
        if earlier is not None:
            return earlier
        plan = plan_job(self.store, tenant, spec, self.settings.reconstruction_model)
        job = self.jobs.create(tenant, request_id, spec, plan, self.settings.max_jobs_per_tenant)
        self._notify()
        return job

    def get(self, tenant: str, job_id: str):
        return self.jobs.get(tenant, job_id)

    def list(self, tenant: str, state: str = "", page_size: int = 100, page_token: str = "") -> tuple:
        """(jobs, next_page_token), oldest first."""
        return self.jobs.list(tenant, state, page_size, page_token)

    def cancel(self, tenant: str, job_id: str):
        """Cancel a queued or running job; shards already done keep their outputs."""
        with self._lock:
            job = self.jobs.cancel(tenant, job_id)
            self._cancelled.add(job_id)
        self._notify()
        return job

    def watch(self, tenant: str, job_id: str, is_active=lambda: True, poll: float = 1.0):
        """Yield the job (JobInfo) now and whenever its state or a shard's state changes.

        Ends after yielding the job in a final state, or when ``is_active()`` turns false
        or the runner stops.
        """
        last = None
        while True:
            with self._changed:
                version = self._version
            job = self.jobs.get(tenant, job_id)
            key = (job.state, tuple((s.state, s.failures) for s in job.shards))
            if key != last:
                last = key
                yield job
            if job.terminal or not is_active() or self._stopping:
                return
            with self._changed:
                self._changed.wait_for(lambda: self._version != version or self._stopping, timeout=poll)

    # -- coordinator ----------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping:
            with self._changed:
                version = self._version
            job = self.jobs.next_runnable()
            if job is None:
                with self._changed:
                    self._changed.wait_for(lambda: self._version != version or self._stopping, timeout=5.0)
                continue
            try:
                self._run(job)
            except Exception as exc:  # noqa: BLE001 - keep serving the other jobs
                log.exception("job %s failed", job.id)
                self.jobs.finish(job.id, error=f"internal error: {type(exc).__name__}: {exc}")
                self._notify()

    def _run(self, job) -> None:
        self.jobs.start(job.id)
        self._notify()
        out_dir = self.work_root / job.id
        out_dir.mkdir(parents=True, exist_ok=True)
        try:
            context = job_context(self.store, job.tenant, job.spec, out_dir, self.settings)
        except BraindecodeError as exc:  # the model or candidates were deleted since the submit
            self._finish(job, f"cannot start: {exc}")
            return

        def next_tasks():
            return [ShardTask(s.index, tuple(s.recordings)) for s in self.jobs.shards(job.id, "pending")]

        def on_start(task):
            self.jobs.shard_running(job.id, task.index)
            self._notify()

        run_rounds(self.executor, context, next_tasks, lambda result: self._record(job, out_dir, result),
                   on_start, lambda: self._stopping or job.id in self._cancelled)
        if not self._stopping:
            self._finish(job)

    def _record(self, job, out_dir: pathlib.Path, result) -> None:
        folder = out_dir / shard_name(result.index)
        with self._lock:
            if job.id in self._cancelled:
                shutil.rmtree(folder, ignore_errors=True)
                return
            error = result.error
            if result.ok:
                try:
                    artifact = self._store_outputs(job, result.index, folder)
                except (OSError, BraindecodeError) as exc:
                    error = f"cannot store outputs: {type(exc).__name__}: {exc}"
                else:
                    self.jobs.shard_done(job.id, result.index, artifact.id, result.seconds)
                shutil.rmtree(folder, ignore_errors=True)
            if error:
                state = self.jobs.shard_failed(job.id, result.index, error, result.seconds,
                                               self.settings.max_attempts)
                log.warning("job %s shard %d attempt failed (%s): %s", job.id, result.index, state, error)
        self._notify()

    def _store_outputs(self, job, index: int, folder: pathlib.Path):
        shard = next(s for s in job.shards if s.index == index)
        files = {p.name: p for p in sorted(folder.iterdir())}
        meta = {"job_id": job.id, "shard": index, "recording_ids": shard.recording_ids, "files": sorted(files)}
        provenance = {"job_id": job.id, "shard": index, "recordings": shard.recordings,
                      "model": job.spec["model"], "spec": job.spec}
        return self.store.add_artifact(job.tenant, JOB_OUTPUT_ARTIFACT, files, meta, provenance)

    def _finish(self, job, error: str = "") -> None:
        state = self.jobs.finish(job.id, error)
        self._cancelled.discard(job.id)
        shutil.rmtree(self.work_root / job.id, ignore_errors=True)
        log.info("job %s ended: %s", job.id, state)
        self._notify()
