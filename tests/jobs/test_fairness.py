"""The runner shares its workers between tenants shard by shard, and bounds the shards a tenant
may queue: one tenant's long jobs never hold back another tenant's short one."""

import pytest
from jobs.jobdata import TENANT, add_bold, add_decoder, spec_for, wait

from braindecode.config import JobSettings
from braindecode.errors import ResourceExhausted
from braindecode.jobs import JobRunner, write_outputs
from braindecode.jobs._executor import Executor
from braindecode.jobs._shard import ShardResult, shard_name

OTHER = "lab-b"


class InlineExecutor(Executor):
    """Runs shards in the calling thread, ``workers`` "at once": it takes shards until its workers
    are busy, then finishes the one it took first; ``started`` lists (tenant, job id, shard index)."""

    def __init__(self, workers: int):
        self.workers = workers
        self.started = []

    def run(self, next_shard, on_start=None, should_stop=lambda: False):
        running = []
        while not should_stop():
            while len(running) < self.workers and (item := next_shard()) is not None:
                context, task = item
                self.started.append((context.tenant, context.job_id, task.index))
                running.append(item)
            if not running:
                return
            context, task = running.pop(0)
            folder = write_outputs(f"{context.out_dir}/{shard_name(task.index)}", {"x": [task.index]}, {})
            yield context, ShardResult(task.index, "" if folder.is_dir() else "not written")


@pytest.fixture(scope="module")
def tenants(lab):
    """Twelve more runs and the decoder of ``TENANT``; one run and a decoder of ``OTHER``."""
    store, tmp = lab["store"], lab["tmp"]
    runs = [add_bold(store, tmp, f"1{i}", 10 + i).id for i in range(12)]
    other_run = add_bold(store, tmp, "21", 40, tenant=OTHER).id
    other_decoder, _ = add_decoder(store, tmp, tenant=OTHER)
    return {"runs": runs, "other_runs": [other_run], "other_decoder": other_decoder.id}


def _run(lab, tenants, settings, jobs_of_a: int, shards_of_b: int = 1):
    """Queue ``jobs_of_a`` jobs of 12 shards for ``TENANT`` and one of ``shards_of_b`` for ``OTHER``,
    then start the runner; returns the executor and the jobs (TENANT's, then OTHER's)."""
    executor = InlineExecutor(settings.workers)
    runner = JobRunner(lab["store"], settings, executor)
    submitted = [runner.submit(TENANT, spec_for(tenants["runs"], lab["decoder"].id)) for _ in range(jobs_of_a)]
    other_runs = (tenants["other_runs"] * shards_of_b)[:shards_of_b]
    submitted.append(runner.submit(OTHER, spec_for(other_runs, tenants["other_decoder"])))
    runner.start()
    try:
        done = [wait(runner, job.tenant, job.id, timeout=120) for job in submitted]
    finally:
        runner.stop()
    return executor, done


def test_a_short_job_does_not_wait_for_another_tenants_long_jobs(lab, tenants):
    executor, jobs = _run(lab, tenants, JobSettings(workers=2), jobs_of_a=4)
    assert all(job.state == "completed" for job in jobs) and len(executor.started) == 49
    position = [tenant for tenant, _, _ in executor.started].index(OTHER)
    assert position < 2, executor.started[:4]
    assert [index for tenant, job_id, index in executor.started if tenant == TENANT][:12] == list(range(12))


def test_tenants_take_turns_while_both_have_shards(lab, tenants):
    executor, jobs = _run(lab, tenants, JobSettings(workers=1), jobs_of_a=2)
    order = [tenant for tenant, _, _ in executor.started]
    assert order.count(OTHER) == 1 and order.index(OTHER) <= 1
    assert {tenant for tenant, _, _ in executor.started[:2]} == {TENANT, OTHER}


def test_a_tenant_may_queue_a_bounded_number_of_shards(lab, tenants):
    settings = JobSettings(workers=1, max_jobs_per_tenant=10, max_shards_per_tenant=24)
    runner = JobRunner(lab["store"], settings, InlineExecutor(1))
    queued = [runner.submit(TENANT, spec_for(tenants["runs"], lab["decoder"].id)) for _ in range(2)]
    with pytest.raises(ResourceExhausted) as err:
        runner.submit(TENANT, spec_for(tenants["runs"][:1], lab["decoder"].id))
    assert str(err.value) == (f"tenant {TENANT} already has 24 queued or running shards and this job adds 1, more "
                              "than the limit max_shards_per_tenant=24; wait for shards to finish or cancel a job")
    other = runner.submit(OTHER, spec_for(tenants["other_runs"], tenants["other_decoder"]))
    runner.cancel(TENANT, queued[0].id)
    runner.submit(TENANT, spec_for(tenants["runs"][:1], lab["decoder"].id))  # the cancelled shards left the count
    runner.start()
    try:
        assert wait(runner, OTHER, other.id, timeout=120).state == "completed"
    finally:
        runner.stop()
