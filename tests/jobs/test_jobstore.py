"""The SQLite job store: idempotent creation, per-tenant limits, isolation, shard states, durability."""

import pytest

from braindecode.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted
from braindecode.jobs import JobPlan, JobStore, ShardPlan

SPEC = {"recordings": {"ids": ["rec_a", "rec_b"]}, "outputs": {"embeddings": True}}


def plan(n_shards=2):
    return JobPlan(dict(SPEC, shard_by="recording"),
                   [ShardPlan(i, [{"id": f"rec_{i}", "sha256": "0" * 64, "subject": "01"}]) for i in range(n_shards)],
                   {"n_dims": 4})


@pytest.fixture
def jobs(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite")
    yield store
    store.close()


def test_create_is_idempotent_per_tenant_and_request_id(jobs):
    first = jobs.create("lab-a", "req-1", SPEC, plan(), max_active=4)
    assert first.state == "queued" and [s.state for s in first.shards] == ["pending", "pending"]
    assert first.spec == plan().spec and first.shards[1].recording_ids == ["rec_1"]
    again = jobs.create("lab-a", "req-1", SPEC, plan(), max_active=4)
    assert again.id == first.id and jobs.find("lab-a", "req-1", SPEC).id == first.id
    other_tenant = jobs.create("lab-b", "req-1", SPEC, plan(), max_active=4)
    assert other_tenant.id != first.id
    assert jobs.create("lab-a", "", SPEC, plan(), 4).id != jobs.create("lab-a", "", SPEC, plan(), 4).id
    with pytest.raises(InvalidArgument, match="already used for job .* with a different spec"):
        jobs.create("lab-a", "req-1", dict(SPEC, name="other"), plan(), max_active=4)
    assert jobs.find("lab-a", "req-2", SPEC) is None
    assert len(jobs.list("lab-a")[0]) == 3 and len(jobs.list("lab-b")[0]) == 1


def test_active_jobs_per_tenant_are_limited(jobs):
    for i in range(2):
        jobs.create("lab-a", f"r{i}", SPEC, plan(), max_active=2)
    with pytest.raises(ResourceExhausted, match="already has 2 queued or running jobs"):
        jobs.create("lab-a", "r2", SPEC, plan(), max_active=2)
    assert jobs.create("lab-a", "r0", SPEC, plan(), max_active=2).request_id == "r0"  # a resubmit is no new job
    jobs.create("lab-b", "r0", SPEC, plan(), max_active=2)
    first = jobs.list("lab-a")[0][0]
    jobs.cancel("lab-a", first.id)
    jobs.create("lab-a", "r2", SPEC, plan(), max_active=2)


def test_other_tenants_jobs_are_not_found(jobs):
    job = jobs.create("lab-a", "", SPEC, plan(), 4)
    with pytest.raises(NotFound, match=f"job '{job.id}' not found"):
        jobs.get("lab-b", job.id)
    with pytest.raises(NotFound):
        jobs.cancel("lab-b", job.id)
    assert jobs.get("lab-a", job.id).state == "queued"


def test_shards_retry_then_fail_and_the_job_ends_with_failures(jobs):
    job = jobs.create("lab-a", "", SPEC, plan(3), 4)
    jobs.start(job.id)
    assert jobs.tenants_with_pending_shards() == ["lab-a"] and jobs.next_pending_shard("lab-a")[0] == job.id
    jobs.shard_running(job.id, 0)
    jobs.shard_done(job.id, 0, "art_0", 1.5)
    assert jobs.shard_failed(job.id, 1, "ValueError: bad", 0.1, max_attempts=2) == "pending"
    assert jobs.shard_failed(job.id, 1, "ValueError: worse", 0.1, max_attempts=2) == "failed"
    jobs.shard_done(job.id, 2, "art_2", 1.0)
    assert jobs.finish(job.id) == "completed_with_failures"
    ended = jobs.get("lab-a", job.id)
    assert [(s.state, s.failures, s.output_id) for s in ended.shards] == [
        ("done", 0, "art_0"), ("failed", 2, ""), ("done", 0, "art_2")]
    assert ended.shards[1].error == "ValueError: worse" and ended.terminal and ended.finished >= ended.started
    rate, eta = ended.throughput()
    assert rate > 0 and eta == 0
    assert jobs.tenants_with_pending_shards() == [] and jobs.next_pending_shard("lab-a") is None
    with pytest.raises(FailedPrecondition, match="already ended"):
        jobs.cancel("lab-a", job.id)


def test_cancel_marks_unfinished_shards_and_is_repeatable(jobs):
    job = jobs.create("lab-a", "", SPEC, plan(3), 4)
    jobs.start(job.id)
    jobs.shard_done(job.id, 0, "art_0", 1.0)
    jobs.shard_running(job.id, 1)
    cancelled = jobs.cancel("lab-a", job.id)
    assert cancelled.state == "cancelled" and [s.state for s in cancelled.shards] == ["done", "cancelled", "cancelled"]
    assert jobs.cancel("lab-a", job.id).state == "cancelled"
    assert jobs.finish(job.id) == "cancelled"


def test_running_shards_are_pending_again_after_a_restart(tmp_path):
    jobs = JobStore(tmp_path / "jobs.sqlite")
    job = jobs.create("lab-a", "", SPEC, plan(3), 4)
    jobs.start(job.id)
    jobs.shard_done(job.id, 0, "art_0", 1.0)
    jobs.shard_running(job.id, 1)
    jobs.close()  # as after a crash: nothing else is written

    reopened = JobStore(tmp_path / "jobs.sqlite")
    assert reopened.requeue_running() == [(job.id, "lab-a", 1)]
    back = reopened.get("lab-a", job.id)
    assert back.state == "running" and [s.state for s in back.shards] == ["done", "pending", "pending"]
    assert reopened.next_pending_shard("lab-a")[1].index == 1 and reopened.unfinished_shards(job.id) == 2
    reopened.close()


def test_listing_pages_and_filters_by_state(jobs):
    made = [jobs.create("lab-a", "", SPEC, plan(1), 10).id for _ in range(5)]
    jobs.cancel("lab-a", made[1])
    page, token = jobs.list("lab-a", page_size=2)
    assert [j.id for j in page] == made[:2] and token
    rest, token = jobs.list("lab-a", page_size=10, page_token=token)
    assert [j.id for j in rest] == made[2:] and token == ""
    assert [j.id for j in jobs.list("lab-a", state="cancelled")[0]] == [made[1]]
    with pytest.raises(InvalidArgument, match="unknown job state"):
        jobs.list("lab-a", state="sleeping")
    with pytest.raises(InvalidArgument, match="page_token"):
        jobs.list("lab-a", page_token="x")


def test_concurrent_submits_with_one_request_id_make_one_job(jobs):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda _: jobs.create("lab-a", "same", SPEC, plan(), max_active=4).id, range(16)))
    assert len(set(made)) == 1 and len(jobs.list("lab-a")[0]) == 1
