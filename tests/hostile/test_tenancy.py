"""Hostile tenant, part four: one tenant against the others over time. A revoked key stops the
streams it opened, and a tenant's long jobs neither hold back another tenant's short one nor
queue more shards than the configured bound."""

import json
import time

import grpc
import numpy as np
import pytest
from hostile.arena import ATTACKER, FMRI_SPEC, SETTINGS, STIMULI, TIMEOUT, Tenant, fmri_run

from braindecode import tensors
from braindecode.auth import KeyStore
from braindecode.v1 import decoding_pb2, jobs_pb2
from services._auth import KEY_RECHECK_SECONDS

GAP = 0.25
"""Seconds between the samples of a Decode stream."""


def test_a_revoked_key_stops_an_open_decode_stream(arena, lab):
    keys = KeyStore(arena.server.data_dir)
    key, record = keys.create(ATTACKER, "revoked while decoding")
    tenant = Tenant(arena.server.port, key, ATTACKER)
    sample = tensors.to_tensor(np.zeros((1, 64), np.float32))
    answered = []

    def requests():
        for i in range(int(4 * KEY_RECHECK_SECONDS / GAP) + 8):
            if i == 4:  # once the first four samples are answered
                deadline = time.monotonic() + TIMEOUT
                while len(answered) < 4 and time.monotonic() < deadline:
                    time.sleep(0.01)
                keys.revoke(record.key_id)
                answered.append("revoked")
            yield decoding_pb2.DecodeRequest(decoder_id=lab["decoder"] if i == 0 else "", samples=sample)
            time.sleep(GAP)

    def decode():
        for _ in tenant.decoding.Decode(requests(), metadata=tenant.metadata, timeout=TIMEOUT):
            answered.append("reply")

    try:
        arena.attack("Decode stream whose key is revoked while it is open", decode, grpc.StatusCode.UNAUTHENTICATED,
                     "the API key was revoked while this call was open")
    finally:
        tenant.close()
        keys.close()
    after = answered[answered.index("revoked") + 1:]
    assert answered[:4] == ["reply"] * 4 and len(after) <= KEY_RECHECK_SECONDS / GAP + 1


def _spec(recording_ids, decoder_id) -> str:
    return json.dumps({"name": "fairness", "recordings": {"ids": list(recording_ids)}, "preprocessing": FMRI_SPEC,
                       "model": {"decoder": decoder_id}, "outputs": {"embeddings": True}})


def _submit(tenant, document):
    return tenant.jobs.SubmitJob(jobs_pb2.SubmitJobRequest(spec_document=document), metadata=tenant.metadata,
                                 timeout=TIMEOUT)


def _job(tenant, job_id):
    return tenant.jobs.GetJob(jobs_pb2.GetJobRequest(id=job_id), metadata=tenant.metadata, timeout=TIMEOUT)


def _until_ended(tenant, job_id, timeout: float = 600):
    deadline = time.monotonic() + timeout
    while (job := _job(tenant, job_id)).state in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
    return job


@pytest.mark.slow
def test_a_short_job_does_not_wait_for_another_tenants_long_ones(arena, lab, bob_lab):
    """Mallory queues four jobs of 12 shards (the 48 shards the server lets a tenant queue: a fifth
    job is refused), then bob one job of one shard: the workers take bob's shard before mallory's
    first job is done."""
    limit = int(SETTINGS["BRAINDECODE_JOB_MAX_SHARDS_PER_TENANT"])
    runs = [fmri_run(arena.mallory, lab["folder"], 10 + i, STIMULI[:24], seed=10 + i).id for i in range(12)]
    long_jobs = [_submit(arena.mallory, _spec(runs, lab["decoder"])).id for _ in range(limit // 12)]
    arena.attack("SubmitJob past the tenant's queued shards", lambda: _submit(arena.mallory, _spec(runs[:1],
                 lab["decoder"])), grpc.StatusCode.RESOURCE_EXHAUSTED,
                 f"already has {limit} queued or running shards", f"max_shards_per_tenant={limit}")
    def mallory_finished() -> int:
        return sum(s.state in ("done", "failed") for job_id in long_jobs for s in _job(arena.mallory, job_id).shards)

    before = mallory_finished()
    bob_job = _submit(arena.bob, _spec(bob_lab["fmri"][:1], bob_lab["decoder"])).id
    deadline = time.monotonic() + 600
    while _job(arena.bob, bob_job).shards[0].state == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)
    finished = mallory_finished() - before  # mallory's shards that ended while bob's one waited to start
    short = _until_ended(arena.bob, bob_job)
    for job_id in long_jobs:
        try:
            arena.mallory.jobs.CancelJob(jobs_pb2.CancelJobRequest(id=job_id), metadata=arena.mallory.metadata,
                                         timeout=TIMEOUT)
        except grpc.RpcError as err:  # a job may finish its last shard between the count and the cancel
            assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and "already ended" in err.details()
    assert short.state == "completed", short.shards[0].error
    assert finished < 12, f"bob's one shard waited for {finished} of mallory's"
    assert {_until_ended(arena.mallory, job_id).state for job_id in long_jobs} <= {"cancelled", "completed"}
    for recording_id in runs:
        arena.mallory.delete(recording_id)
