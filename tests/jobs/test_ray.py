"""The Ray executor: Ray Data map_batches over an actor pool, on a local Ray instance of 2 CPUs."""

import sys

import numpy as np
import pytest
from jobs.jobdata import PREPROCESSING, TENANT, add_bold, spec_for, wait

from braindecode.config import JobSettings
from braindecode.decoding import retrieve
from braindecode.errors import FailedPrecondition
from braindecode.jobs import JobContext, JobRunner, RayExecutor, ShardTask
from braindecode.store import load_arrays, load_responses


def test_a_missing_ray_is_a_failed_precondition(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    context = JobContext("", TENANT, "", "", {}, {"embeddings": True}, "")
    with pytest.raises(FailedPrecondition, match=r"pip install 'braindecode\[ray\]'"):
        list(RayExecutor().map(context, [ShardTask(0, ())]))


@pytest.mark.slow
def test_jobs_run_on_a_local_ray_actor_pool(lab):
    import ray

    store, model, aset = lab["store"], lab["model"], lab["aset"]
    odd = add_bold(store, lab["tmp"], "03", 7, grid=(2, 4, 3))
    ids = [r.id for r in lab["recordings"]] + [odd.id]
    runner = JobRunner(store, JobSettings(executor="ray", workers=2, max_attempts=2)).start()
    try:
        job = wait(runner, TENANT, runner.submit(TENANT, spec_for(ids, lab["decoder"].id, lab["candidates"].id)).id)
        assert ray.is_initialized() and ray.cluster_resources()["CPU"] == 2
    finally:
        runner.stop()
    assert not ray.is_initialized()
    assert job.state == "completed_with_failures"
    assert [s.state for s in job.shards] == ["done", "done", "done", "failed"]
    assert job.shards[3].failures == 2 and "got (24,)" in job.shards[3].error
    for shard, rec in zip(job.shards, lab["recordings"]):
        expected = model.predict(load_responses(store, TENANT, [rec.id], PREPROCESSING).data)
        arrays = load_arrays(store, TENANT, shard.output_id)
        np.testing.assert_allclose(arrays["embeddings"], expected, rtol=1e-5, atol=1e-6)
        ids_, _ = retrieve(expected, aset["pool"], aset.stimulus_ids, k=3)
        np.testing.assert_array_equal(arrays["retrieval_ids"], ids_)
