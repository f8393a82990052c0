"""The job runner: checks and queues jobs, runs their shards on an executor, stores the outputs.

One coordinator thread hands shards to the executor one at a time, as its workers free up, and
shares them fairly between tenants: the next shard goes to the tenant with the fewest shards
running (among equals, the one served longest ago), from that tenant's oldest job. A tenant's
queued jobs may hold at most ``max_shards_per_tenant`` shards, so one tenant's long jobs never
hold back another's short one. Each finished shard's folder is registered as a "job-output"
artifact before the shard is marked done. Failed attempts are retried up to ``max_attempts``; a
shard that keeps failing is marked failed and the job goes on. After a restart, shards that were
running are run again and finished ones are kept.
"""

from __future__ import annotations

import collections
import itertools
import logging
import pathlib
import shutil
import threading

from braindecode._io import private_dir
from braindecode.errors import BraindecodeError, InvalidArgument
from braindecode.jobs._jobstore import JobStore
from braindecode.config import DEFAULT_RECONSTRUCTION_MODEL, JobSettings, ReconstructionSettings
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


def job_context(store, tenant: str, spec: dict, out_dir, settings: JobSettings, job_id: str = "",
                reconstruction: ReconstructionSettings | None = None) -> JobContext:
    """The inputs every shard of a checked ``spec`` shares, resolved in ``store`` for ``tenant``
    (``job_id``: the server's job, if any; the reconstruction model the spec names among
    ``reconstruction``'s models)."""
    from braindecode.store import load_activation_set, model_selection

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
    reconstructions = spec["outputs"].get("reconstructions")
    reconstruction_model = ((reconstruction or ReconstructionSettings()).directory(
        reconstructions.get("model", DEFAULT_RECONSTRUCTION_MODEL)) if reconstructions else "")
    return JobContext(
        str(store.root), tenant, model_id, str(store.artifact_dir(tenant, model_id)), spec["preprocessing"],
        spec["outputs"], str(out_dir), str(candidates_path), candidate_ids, reconstruction_model,
        settings.device, kind, activation_set_id, store.limits.max_request_bytes, job_id,
        model_selection(None, model.provenance).document(), spec["model"].get("subject", ""))


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
    reconstruction : braindecode.config.ReconstructionSettings, optional
        The reconstruction models that specs name by ``outputs.reconstructions.model``; default: the
        shipped model only, as ``default``.
    """

    def __init__(self, store, settings: JobSettings | None = None, executor=None,
                 reconstruction: ReconstructionSettings | None = None):
        self.store = store
        self.settings = settings or JobSettings()
        self.reconstruction = reconstruction or ReconstructionSettings()
        self.executor = executor or make_executor(self.settings)
        self.jobs = JobStore(self.store.root / "jobs.sqlite")
        self.work_root = self.store.root / "job-work"
        self._changed = threading.Condition()
        self._version = 0
        self._lock = threading.Lock()  # registering a shard's outputs vs cancelling its job
        self._cancelled = set()
        self._stopping = False
        self._thread = None
        # the coordinator's own: contexts of the jobs under way, shards in flight, when each tenant was served
        self._contexts = {}
        self._in_flight = collections.Counter()
        self._running = collections.Counter()
        self._served = {}
        self._turns = itertools.count()

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
        for job_id in self.jobs.settled_jobs():
            self._finish(job_id)

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
        plan = plan_job(self.store, tenant, spec, self.reconstruction)
        job = self.jobs.create(tenant, request_id, spec, plan, self.settings.max_jobs_per_tenant,
                               self.settings.max_shards_per_tenant)
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
            try:
                for context, result in self.executor.run(self._next_shard, should_stop=lambda: self._stopping):
                    self._record(context, result)
            except Exception as exc:  # noqa: BLE001 - fail the jobs under way and keep serving
                log.exception("the executor failed")
                for job_id in list(self._contexts) or self._oldest_runnable():
                    self._in_flight.pop(job_id, None)
                    self._finish(job_id, f"internal error: {type(exc).__name__}: {exc}")
                self._running.clear()
            self._settle_cancelled()
            with self._changed:
                self._changed.wait_for(lambda: self._version != version or self._stopping, timeout=5.0)

    def _oldest_runnable(self) -> list:
        """The job whose shard would run next, as a list (empty when none waits)."""
        tenants = self.jobs.tenants_with_pending_shards()
        found = self.jobs.next_pending_shard(tenants[0]) if tenants else None
        return [] if found is None else [found[0]]

    def _next_shard(self):
        """(JobContext, ShardTask) of the shard to start on the worker that is free, or None.

        The tenant with the fewest shards running goes first (among equals, the one served longest
        ago); its oldest job with a pending shard gives the shard, now marked running.
        """
        self._settle_cancelled()
        while tenants := self.jobs.tenants_with_pending_shards():
            tenant = min(tenants, key=lambda t: (self._running[t], self._served.get(t, -1)))
            found = self.jobs.next_pending_shard(tenant)
            if found is None:  # its last pending shard was cancelled meanwhile
                continue
            job_id, shard = found
            context = self._context(tenant, job_id)
            if context is None:
                continue
            self.jobs.shard_running(job_id, shard.index)
            self._in_flight[job_id] += 1
            self._running[tenant] += 1
            self._served[tenant] = next(self._turns)
            self._notify()
            return context, ShardTask(shard.index, tuple(shard.recordings))
        return None

    def _context(self, tenant: str, job_id: str) -> JobContext | None:
        """The job's shared inputs, resolved when its first shard starts; None when it cannot start
        (the model or the candidates were deleted since the submit), which fails the job."""
        if job_id not in self._contexts:
            job = self.jobs.get(tenant, job_id)
            out_dir = private_dir(self.work_root / job_id)
            try:
                self._contexts[job_id] = job_context(self.store, tenant, job.spec, out_dir, self.settings, job_id,
                                                     self.reconstruction)
            except BraindecodeError as exc:
                self._finish(job_id, f"cannot start: {exc}")
                return None
            self.jobs.start(job_id)
        return self._contexts[job_id]

    def _record(self, context: JobContext, result) -> None:
        job_id = context.job_id
        self._in_flight[job_id] -= 1
        self._running[context.tenant] -= 1
        folder = pathlib.Path(context.out_dir) / shard_name(result.index)
        with self._lock:
            if job_id in self._cancelled:
                shutil.rmtree(folder, ignore_errors=True)
            else:
                self._register(context, result, folder)
        if self._in_flight[job_id] == 0 and job_id not in self._cancelled and self.jobs.unfinished_shards(job_id) == 0:
            self._finish(job_id)
        self._settle_cancelled()
        self._notify()

    def _register(self, context: JobContext, result, folder: pathlib.Path) -> None:
        """Store a finished shard's outputs and mark it done, or count its failed attempt."""
        error = result.error
        if result.ok:
            try:
                artifact = self._store_outputs(self.jobs.get(context.tenant, context.job_id), result.index, folder)
            except (OSError, BraindecodeError) as exc:
                error = f"cannot store outputs: {type(exc).__name__}: {exc}"
            else:
                self.jobs.shard_done(context.job_id, result.index, artifact.id, result.seconds)
            shutil.rmtree(folder, ignore_errors=True)
        if error:
            state = self.jobs.shard_failed(context.job_id, result.index, error, result.seconds,
                                           self.settings.max_attempts)
            log.warning("job %s shard %d attempt failed (%s): %s", context.job_id, result.index, state, error)

    def _settle_cancelled(self) -> None:
        """End the cancelled jobs whose last shard in flight has come back."""
        with self._lock:
            settled = [job_id for job_id in self._cancelled if self._in_flight[job_id] == 0]
        for job_id in settled:
            self._finish(job_id)

    def _store_outputs(self, job, index: int, folder: pathlib.Path):
        shard = next(s for s in job.shards if s.index == index)
        files = {p.name: p for p in sorted(folder.iterdir())}
        meta = {"job_id": job.id, "shard": index, "recording_ids": shard.recording_ids, "files": sorted(files)}
        provenance = {"job_id": job.id, "shard": index, "recordings": shard.recordings,
                      "model": job.spec["model"], "spec": job.spec}
        return self.store.add_artifact(job.tenant, JOB_OUTPUT_ARTIFACT, files, meta, provenance)

    def _finish(self, job_id: str, error: str = "") -> None:
        """End the job (from its shards' states, or failed with ``error``) and drop its work folder."""
        state = self.jobs.finish(job_id, error)
        with self._lock:
            self._cancelled.discard(job_id)
        self._contexts.pop(job_id, None)
        self._in_flight.pop(job_id, None)
        shutil.rmtree(self.work_root / job_id, ignore_errors=True)
        log.info("job %s ended: %s", job_id, state)
        self._notify()
