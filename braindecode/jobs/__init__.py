"""Batch jobs: a decoder or an encoder applied to many stored recordings, one shard per recording.

>>> runner = JobRunner(store, JobSettings(workers=2)).start()       # braindecode.config.JobSettings
>>> job = runner.submit("lab-a", read_spec("job.yaml"), request_id="nightly-2026-11-21")
>>> for snapshot in runner.watch("lab-a", job.id):
...     print(snapshot.state, snapshot.count("done"), "/", len(snapshot.shards))

The spec is a :class:`JobSpec` (keys listed by :func:`job_spec_reference`); shard outputs
are described in :mod:`braindecode.jobs._shard`. ``run_batch`` / ``merge_batch`` run the same
shards with no server (SLURM array tasks).
"""

from braindecode.jobs._batch import merge_batch, merge_outputs, parse_shard, run_batch
from braindecode.jobs._jobstore import ACTIVE, STATES, TERMINAL, JobInfo, JobStore, ShardInfo
from braindecode.jobs._local import LocalExecutor
from braindecode.jobs._ray import RayExecutor
from braindecode.jobs._runner import JobRunner, job_context, make_executor, run_rounds
from braindecode.jobs._shard import (
    JobContext,
    ShardResult,
    ShardTask,
    ShardWorker,
    decode_outputs,
    encode_outputs,
    run_shard,
    shard_name,
    write_outputs,
)
from braindecode.jobs._spec import (
    JobPlan,
    JobSpec,
    ShardPlan,
    canonical_json,
    job_spec_reference,
    parse_spec,
    plan_job,
    read_spec,
)

__all__ = [
    "ACTIVE",
    "STATES",
    "TERMINAL",
    "JobContext",
    "JobInfo",
    "JobPlan",
    "JobRunner",
    "JobSpec",
    "JobStore",
    "LocalExecutor",
    "RayExecutor",
    "ShardInfo",
    "ShardPlan",
    "ShardResult",
    "ShardTask",
    "ShardWorker",
    "canonical_json",
    "decode_outputs",
    "encode_outputs",
    "job_context",
    "job_spec_reference",
    "make_executor",
    "merge_batch",
    "merge_outputs",
    "parse_shard",
    "parse_spec",
    "plan_job",
    "read_spec",
    "run_batch",
    "run_rounds",
    "run_shard",
    "shard_name",
    "write_outputs",
]
