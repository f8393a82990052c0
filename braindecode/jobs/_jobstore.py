"""Durable job records: jobs and their shards in SQLite (``jobs.sqlite`` beside the store's metadata).

Every state change is one committed transaction (WAL, synchronous=FULL), so a crash at
any point leaves each shard pending, running, done, failed or cancelled; a restart turns
running shards back into pending ones (:meth:`JobStore.requeue_running`).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time

from braindecode._io import connect_private
from braindecode._paging import next_page_token, page_bounds
from braindecode.errors import FailedPrecondition, InvalidArgument, ResourceExhausted, quoted
from braindecode.jobs._spec import canonical_json
from braindecode.store import JOB, new_id, not_found

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, tenant TEXT NOT NULL, request_id TEXT NOT NULL, request_hash TEXT NOT NULL,
    state TEXT NOT NULL, spec TEXT NOT NULL, error TEXT NOT NULL,
    created REAL NOT NULL, started REAL, finished REAL);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_request ON jobs (tenant, request_id) WHERE request_id != '';
CREATE INDEX IF NOT EXISTS jobs_tenant ON jobs (tenant, state);
CREATE TABLE IF NOT EXISTS shards (
    job_id TEXT NOT NULL, idx INTEGER NOT NULL, recordings TEXT NOT NULL, state TEXT NOT NULL,
    failures INTEGER NOT NULL, error TEXT NOT NULL, output_id TEXT NOT NULL, seconds REAL NOT NULL,
    PRIMARY KEY (job_id, idx));
CREATE INDEX IF NOT EXISTS shards_state ON shards (state, job_id);
"""
_ACTIVE_SQL = "('queued', 'running')"

ACTIVE = ("queued", "running")
TERMINAL = ("completed", "completed_with_failures", "failed", "cancelled")
STATES = ACTIVE + TERMINAL
SHARD_STATES = ("pending", "running", "done", "failed", "cancelled")


@dataclasses.dataclass
class ShardInfo:
    """A shard's record; ``recordings`` holds ``{"id", "sha256", "subject"}`` per recording."""

    index: int
    recordings: list
    state: str
    failures: int
    error: str
    output_id: str
    seconds: float

    @property
    def recording_ids(self) -> list:
        return [r["id"] for r in self.recordings]


@dataclasses.dataclass
class JobInfo:
    """A job's record: state, checked spec, shards; times are seconds since the epoch."""

    id: str
    tenant: str
    request_id: str
    state: str
    spec: dict
    error: str
    created: float
    started: float | None
    finished: float | None
    shards: list

    def count(self, state: str) -> int:
        """Shards in ``state``."""
        return sum(s.state == state for s in self.shards)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    def throughput(self, now: float | None = None) -> tuple:
        """(finished shards per second since the job started, seconds left or -1 while unknown)."""
        finished = self.count("done") + self.count("failed")
        if self.started is None or finished == 0:
            return 0.0, -1.0
        end = self.finished if self.finished is not None else (time.time() if now is None else now)
        rate = finished / max(end - self.started, 1e-9)
        remaining = self.count("pending") + self.count("running")
        return rate, remaining / rate


class JobStore:
    """Jobs and shards of every tenant in one SQLite file; safe to share between threads."""

    def __init__(self, path):
        self.path = path
        self._lock = threading.RLock()
        self._db = connect_private(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # -- reading --------------------------------------------------------------------------
    def _job(self, row) -> JobInfo:
        shards = [ShardInfo(idx, json.loads(recs), state, failures, error, output_id, seconds)
                  for idx, recs, state, failures, error, output_id, seconds in self._db.execute(
                      "SELECT idx, recordings, state, failures, error, output_id, seconds FROM shards "
                      "WHERE job_id=? ORDER BY idx", (row[0],))]
        return JobInfo(row[0], row[1], row[2], row[4], json.loads(row[5]), row[6], row[7], row[8], row[9],
                       shards)

    def get(self, tenant: str, job_id: str) -> JobInfo:
        """The job, or NotFound (also when it belongs to another tenant)."""
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id=? AND tenant=?", (job_id, tenant)).fetchone()
            if row is None:
                raise not_found(JOB, job_id)
            return self._job(row)

    def list(self, tenant: str, state: str = "", page_size: int = 100, page_token: str = "") -> tuple:
        """(jobs, next_page_token), oldest first, optionally of one state."""
        if state and state not in STATES:
            raise InvalidArgument(f"unknown job state {quoted(state)}; states: {', '.join(STATES)}")
        page_size, offset = page_bounds(page_size, page_token)
        query, args = "SELECT * FROM jobs WHERE tenant=?", [tenant]
        if state:
            query, args = query + " AND state=?", args + [state]
        with self._lock:
            rows = self._db.execute(query + " ORDER BY rowid LIMIT ? OFFSET ?",
                                    (*args, page_size + 1, offset)).fetchall()
            jobs = [self._job(r) for r in rows[:page_size]]
        return jobs, next_page_token(rows, page_size, offset)

    def tenants_with_pending_shards(self) -> list:
        """Tenants whose queued or running jobs have shards waiting to run."""
        with self._lock:
            return [tenant for (tenant,) in self._db.execute(
                f"SELECT DISTINCT j.tenant FROM shards s JOIN jobs j ON j.id = s.job_id "
                f"WHERE s.state='pending' AND j.state IN {_ACTIVE_SQL}")]

    def next_pending_shard(self, tenant: str) -> tuple | None:
        """(job id, ShardInfo) of the first pending shard of the tenant's oldest queued or running job
        that has one, or None."""
        with self._lock:
            row = self._db.execute(
                f"SELECT s.job_id, s.idx, s.recordings, s.state, s.failures, s.error, s.output_id, s.seconds "
                f"FROM shards s JOIN jobs j ON j.id = s.job_id WHERE j.tenant=? AND s.state='pending' "
                f"AND j.state IN {_ACTIVE_SQL} ORDER BY j.rowid, s.idx LIMIT 1", (tenant,)).fetchone()
        if row is None:
            return None
        job_id, idx, recordings, *rest = row
        return job_id, ShardInfo(idx, json.loads(recordings), *rest)

    def settled_jobs(self) -> list:
        """Ids of the queued or running jobs none of whose shards is pending or running (a restart
        can find some: stopped after their last shard, before they ended)."""
        with self._lock:
            return [job_id for (job_id,) in self._db.execute(
                f"SELECT id FROM jobs WHERE state IN {_ACTIVE_SQL} AND NOT EXISTS (SELECT 1 FROM shards "
                "WHERE shards.job_id = jobs.id AND shards.state IN ('pending', 'running'))")]

    def unfinished_shards(self, job_id: str) -> int:
        """The job's shards that are pending or running."""
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM shards WHERE job_id=? AND state IN ('pending', 'running')",
                                    (job_id,)).fetchone()[0]

    def _earlier(self, tenant: str, request_id: str, request: dict) -> JobInfo | None:
        row = self._db.execute("SELECT * FROM jobs WHERE tenant=? AND request_id=? AND request_id!=''",
                               (tenant, request_id)).fetchone()
        if row is not None and row[3] != canonical_json(request):
            raise InvalidArgument(f"request_id {quoted(request_id)} was already used for job {row[0]} with a different spec")
        return None if row is None else self._job(row)

    def find(self, tenant: str, request_id: str, request: dict) -> JobInfo | None:
        """The job an earlier submit of ``request`` with ``request_id`` made, if any.

        Raises InvalidArgument when ``request_id`` was used for a different spec.
        """
        with self._lock:
            return self._earlier(tenant, request_id, request)

    # -- writing --------------------------------------------------------------------------
    def create(self, tenant: str, request_id: str, request: dict, plan, max_active: int,
               max_shards: int | None = None) -> JobInfo:
        """Queue a planned job, or return the job an earlier submit with ``request_id`` made.

        Raises ResourceExhausted when the tenant already holds ``max_active`` queued or running
        jobs, or when the job's shards would bring the pending and running shards of the tenant's
        jobs past ``max_shards`` (no bound when None); InvalidArgument when ``request_id`` was used
        for a different spec.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                earlier = self._earlier(tenant, request_id, request)
                if earlier is not None:
                    self._db.execute("COMMIT")
                    return earlier
                (active,) = self._db.execute(
                    "SELECT COUNT(*) FROM jobs WHERE tenant=? AND state IN ('queued', 'running')",
                    (tenant,)).fetchone()
                if active >= max_active:
                    raise ResourceExhausted(f"tenant {tenant} already has {active} queued or running jobs "
                                            f"(the limit is {max_active}); wait for one to finish or cancel one")
                (held,) = self._db.execute(
                    f"SELECT COUNT(*) FROM shards s JOIN jobs j ON j.id = s.job_id WHERE j.tenant=? "
                    f"AND j.state IN {_ACTIVE_SQL} AND s.state IN ('pending', 'running')", (tenant,)).fetchone()
                if max_shards is not None and held + len(plan.shards) > max_shards:
                    raise ResourceExhausted(
                        f"tenant {tenant} already has {held} queued or running shards and this job adds "
                        f"{len(plan.shards)}, more than the limit max_shards_per_tenant={max_shards}; wait for "
                        "shards to finish or cancel a job")
                job_id = new_id(JOB)
                self._db.execute("INSERT INTO jobs VALUES (?,?,?,?,?,?,?,?,?,?)",
                                 (job_id, tenant, request_id, canonical_json(request), "queued", json.dumps(plan.spec),
                                  "", time.time(), None, None))
                self._db.executemany("INSERT INTO shards VALUES (?,?,?,?,?,?,?,?)",
                                     [(job_id, s.index, json.dumps(s.recordings), "pending", 0, "", "", 0.0)
                                      for s in plan.shards])
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            return self.get(tenant, job_id)

    def start(self, job_id: str) -> None:
        """Mark a queued job running (its first start time is kept across restarts)."""
        with self._lock:
            self._db.execute("UPDATE jobs SET state='running', started=COALESCE(started, ?) "
                             "WHERE id=? AND state='queued'", (time.time(), job_id))

    def finish(self, job_id: str, error: str = "") -> str:
        """End a job from its shards' states (or as failed with ``error``); returns the final state."""
        with self._lock:
            states = [s for (s,) in self._db.execute("SELECT state FROM shards WHERE job_id=?", (job_id,))]
            if error or states.count("failed") == len(states):
                state = "failed"
            else:
                state = "completed_with_failures" if "failed" in states else "completed"
            self._db.execute("UPDATE jobs SET state=?, error=?, finished=? WHERE id=? AND state IN "
                             "('queued', 'running')", (state, error, time.time(), job_id))
            return self._db.execute("SELECT state FROM jobs WHERE id=?", (job_id,)).fetchone()[0]

    def cancel(self, tenant: str, job_id: str) -> JobInfo:
        """Cancel a queued or running job: its unfinished shards become cancelled."""
        job = self.get(tenant, job_id)
        if job.state in TERMINAL and job.state != "cancelled":
            raise FailedPrecondition(f"job {job_id} already ended ({job.state})")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("UPDATE jobs SET state='cancelled', finished=COALESCE(finished, ?) WHERE id=?",
                             (time.time(), job_id))
            self._db.execute("UPDATE shards SET state='cancelled' WHERE job_id=? AND state IN ('pending', 'running')",
                             (job_id,))
            self._db.execute("COMMIT")
        return self.get(tenant, job_id)

    def shard_running(self, job_id: str, index: int) -> None:
        with self._lock:
            self._db.execute("UPDATE shards SET state='running' WHERE job_id=? AND idx=? AND state='pending'",
                             (job_id, index))

    def shard_done(self, job_id: str, index: int, output_id: str, seconds: float) -> None:
        with self._lock:
            self._db.execute("UPDATE shards SET state='done', output_id=?, seconds=?, error='' "
                             "WHERE job_id=? AND idx=?", (output_id, seconds, job_id, index))

    def shard_failed(self, job_id: str, index: int, error: str, seconds: float, max_attempts: int) -> str:
        """Count a failed attempt: the shard is pending again, or failed after ``max_attempts``."""
        with self._lock:
            self._db.execute(
                "UPDATE shards SET failures=failures+1, error=?, seconds=?, "
                "state=CASE WHEN failures+1 >= ? THEN 'failed' ELSE 'pending' END WHERE job_id=? AND idx=?",
                (error, seconds, max_attempts, job_id, index))
            return self._db.execute("SELECT state FROM shards WHERE job_id=? AND idx=?",
                                    (job_id, index)).fetchone()[0]

    def requeue_running(self) -> list:
        """After a restart: running shards become pending; returns their (job id, tenant, index)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            rows = self._db.execute("SELECT s.job_id, j.tenant, s.idx FROM shards s JOIN jobs j ON j.id = s.job_id "
                                    "WHERE s.state='running'").fetchall()
            self._db.execute("UPDATE shards SET state='pending' WHERE state='running'")
            self._db.execute("COMMIT")
        return rows
