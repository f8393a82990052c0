"""JobService over a real server: submit, watch, get, list, cancel; bad input, limits, tenants; kill -9."""

import hashlib
import json

import grpc
import numpy as np
import pytest
import real_files
from jobs.jobdata import BILLION_LAUGHS, add_bold, add_decoder, spec_for

from braindecode.cli import main
from braindecode.client import Client
from braindecode.config import Config
from braindecode.decoding import RidgeDecoder, save_decoder
from braindecode.jobs import JobStore, run_batch, shard_name
from braindecode.store import JOB_OUTPUT_ARTIFACT, Store, load_arrays, load_responses, save_directory
from braindecode.v1 import jobs_pb2
from services.server import BraindecodeServer

PREPROCESSING = {"modality": "eeg", "h_freq": 40.0, "epochs": {"tmin": 0.0, "tmax": 0.25, "baseline": None}}
INVALID, NOT_FOUND = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND


@pytest.fixture(scope="module")
def jobs_server(tmp_path_factory):
    """One server for the module: one job worker, two attempts per shard, two active jobs per tenant."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("BRAINDECODE_JOB_WORKERS", "1")
        env.setenv("BRAINDECODE_JOB_MAX_ATTEMPTS", "2")
        config = Config.load(data_dir=str(tmp_path_factory.mktemp("jobs") / "store"), port=0,
                             jobs={"max_jobs_per_tenant": 2})
        server = BraindecodeServer(config).start()
    yield server
    server.stop(grace=0)


def connect(server, tenant):
    key, _ = server.keys.create(tenant)
    return Client(f"127.0.0.1:{server.port}", api_key=key, timeout=120)


@pytest.fixture(scope="module")
def lab(jobs_server, tmp_path_factory):
    """lab-a: four EEG recordings uploaded through the client and a ridge decoder of their epochs."""
    tmp = tmp_path_factory.mktemp("eeg")
    client = connect(jobs_server, "lab-a")
    recordings = []
    for seed in range(4):
        path = tmp / f"sub-{seed}_raw.fif"
        real_files.make_raw(seed=seed).save(path, verbose="error")
        events = [{"onset": 0.5 + 0.8 * i, "duration": 0.1, "stimulus_id": f"stim-{(i + seed) % 3}"} for i in range(4)]
        recordings.append(client.upload(path, subject=f"0{seed % 2}", task="images", events=events))
    shape = load_responses(jobs_server.store, "lab-a", [recordings[0].id], PREPROCESSING).data.shape[1:]
    rng = np.random.default_rng(0)
    model = RidgeDecoder(alphas=[1.0, 10.0], cv=2, modality="eeg").fit(
        rng.standard_normal((20,) + shape), rng.standard_normal((20, 4)))
    decoder = save_directory(jobs_server.store, "lab-a", "decoder", save_decoder(model, tmp / "decoder"))
    yield {"client": client, "recordings": recordings, "model": model, "decoder": decoder, "tmp": tmp}
    client.close()


def eeg_spec(lab, recordings=None, **extra):
    ids = [r.id for r in (lab["recordings"] if recordings is None else recordings)]
    return {"name": "eeg", "recordings": {"ids": ids}, "preprocessing": PREPROCESSING,
            "model": {"decoder": lab["decoder"].id}, "outputs": {"embeddings": True}, **extra}


def rpc_error(call, *args, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as err:
        result = call(*args, **kwargs)
        if hasattr(result, "__next__"):
            list(result)
    return err.value


def finish(client, job_id):
    """The job's last watch event (its result)."""
    events = list(client.watch_job(job_id, timeout=240))
    assert events[-1].result is not None
    return events


def test_submit_watch_get_list_end_to_end(jobs_server, lab):
    client = lab["client"]
    job = client.submit_job(eeg_spec(lab), request_id="e2e")
    assert job.state in ("queued", "running") and job.shards_total == 4 and job.request_id == "e2e"
    assert json.loads(job.spec.preprocessing_json) == PREPROCESSING and job.spec.model.decoder == lab["decoder"].id
    events = finish(client, job.id)
    assert all(e.progress is not None for e in events[:-1])
    done = [e.shards_done for e in events]
    assert done == sorted(done) and events[0].progress.fraction <= events[-2].progress.fraction
    result = events[-1].result
    assert result.state == "completed" and result.shards_done == 4 and events[-1].shards_per_second > 0
    assert events[-1].eta_seconds == 0 and result.finished >= result.started >= result.created
    for shard, rec in zip(result.shards, lab["recordings"]):
        responses = load_responses(jobs_server.store, "lab-a", [rec.id], PREPROCESSING)
        arrays = load_arrays(jobs_server.store, "lab-a", shard.output_id, JOB_OUTPUT_ARTIFACT)
        np.testing.assert_allclose(arrays["embeddings"], lab["model"].predict(responses.data), rtol=1e-5, atol=1e-7)
        assert list(shard.recording_ids) == [rec.id] and shard.state == "done"
    assert client.get_job(job.id) == result
    assert job.id in [j.id for j in client.list_jobs()]
    assert [j.id for j in client.list_jobs(state="completed")].count(job.id) == 1

    yaml_path = lab["tmp"] / "job.yaml"
    yaml_path.write_text(
        "name: eeg\n"
        f"recordings: {{ids: [{', '.join(r.id for r in lab['recordings'])}]}}\n"
        "preprocessing:\n  modality: eeg\n  h_freq: 40.0\n"
        "  epochs: {tmin: 0.0, tmax: 0.25, baseline: null}\n"
        f"model: {{decoder: {lab['decoder'].id}}}\noutputs: {{embeddings: true}}\n")
    assert client.submit_job(yaml_path, request_id="e2e").id == job.id  # the same spec, as a YAML file
    assert client.submit_job(eeg_spec(lab), request_id="e2e").id == job.id
    assert [j.id for j in client.list_jobs()].count(job.id) == 1

    structured = jobs_pb2.JobSpec(
        recordings=jobs_pb2.RecordingSelection(filter=jobs_pb2.RecordingFilter(subject="01", modality="eeg")),
        preprocessing_json=json.dumps(PREPROCESSING), model=jobs_pb2.ModelRef(decoder=lab["decoder"].id),
        outputs=jobs_pb2.JobOutputs(embeddings=True), shard_by="subject")
    by_subject = client.submit_job(structured)
    assert by_subject.shards_total == 1 and len(by_subject.shards[0].recording_ids) == 2
    assert finish(client, by_subject.id)[-1].result.state == "completed"


def test_bad_input_lists_every_problem_and_stores_nothing(jobs_server, lab):
    client, store = lab["client"], jobs_server.store
    before = ([j.id for j in client.list_jobs()], [a.id for a in store.list_artifacts("lab-a")])
    spec = eeg_spec(lab, outputs={"embeddings": True, "score_maps": True}, shard_by="site")
    spec["recordings"]["ids"].append("rec_missing")
    spec["preprocessing"] = {"modality": "eeg", "l_freq": 1.0, "filter_order": 4}
    err = rpc_error(client.submit_job, spec)
    assert err.code() == INVALID and "job spec has 5 problems" in err.details()
    for words in ("recording 'rec_missing' not found", "unknown key 'preprocessing.filter_order'",
                  "needs a 'epochs' step", "'outputs.score_maps' needs an encoder", "'shard_by' must be one of"):
        assert words in err.details(), words

    err = rpc_error(client.submit_job, dict(eeg_spec(lab), model={"decoder": "art_nope"}))
    assert err.code() == NOT_FOUND and "decoder 'art_nope' not found" in err.details()
    err = rpc_error(client.jobs.stub.SubmitJob, jobs_pb2.SubmitJobRequest(spec_document="outputs: [unclosed"),
                    metadata=client.metadata)
    assert err.code() == INVALID and "spec_document is not valid YAML" in err.details()
    err = rpc_error(client.jobs.stub.SubmitJob, jobs_pb2.SubmitJobRequest(spec_document=BILLION_LAUGHS),
                    metadata=client.metadata)
    assert err.code() == INVALID and "spec_document uses the alias *a: YAML aliases are not allowed" in err.details()
    err = rpc_error(client.jobs.stub.SubmitJob, jobs_pb2.SubmitJobRequest(), metadata=client.metadata)
    assert err.code() == INVALID and "needs a spec or a spec_document" in err.details()
    err = rpc_error(client.submit_job, jobs_pb2.JobSpec(preprocessing_json="{modality"))
    assert err.code() == INVALID and "spec.preprocessing_json is not valid JSON" in err.details()
    client.submit_job(eeg_spec(lab, recordings=lab["recordings"][:1]), request_id="once")
    err = rpc_error(client.submit_job, eeg_spec(lab), request_id="once")
    assert err.code() == INVALID and "request_id 'once' was already used" in err.details()
    err = rpc_error(client.submit_job, eeg_spec(lab), request_id="x" * 200)
    assert err.code() == INVALID and "request_id is longer than 128" in err.details()
    for call in (client.get_job, client.cancel_job, client.watch_job):
        assert rpc_error(call, "job_unknown").code() == NOT_FOUND
    assert rpc_error(client.list_jobs, state="sleeping").code() == INVALID

    jobs = [j.id for j in client.list_jobs()]
    assert jobs[:-1] == before[0] and len(jobs) == len(before[0]) + 1  # only the "once" job
    finish(client, jobs[-1])
    outputs = {a.id for a in store.list_artifacts("lab-a")} - set(before[1])
    assert [store.get_artifact("lab-a", a).kind for a in outputs] == [JOB_OUTPUT_ARTIFACT]
    assert client.health() == "SERVING"


def test_active_jobs_per_tenant_are_limited(jobs_server, lab):
    store = jobs_server.store
    recordings = [add_bold(store, lab["tmp"], "01", seed, tenant="lab-c") for seed in range(3)]
    decoder, _ = add_decoder(store, lab["tmp"], tenant="lab-c")
    spec = spec_for([r.id for r in recordings], decoder.id)
    with connect(jobs_server, "lab-c") as client:
        first, second = client.submit_job(spec), client.submit_job(spec)
        err = rpc_error(client.submit_job, spec)
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "tenant lab-c already has 2 queued or running jobs (the limit is 2)" in err.details()
        assert client.submit_job(spec, request_id=first.request_id).id == first.id  # a resubmit is no new job
        assert client.cancel_job(second.id).state == "cancelled"
        third = client.submit_job(spec)
        for job in (first, third):
            assert finish(client, job.id)[-1].result.state == "completed"


def test_another_tenant_gets_not_found(jobs_server, lab):
    job = lab["client"].submit_job(eeg_spec(lab, recordings=lab["recordings"][:1]))
    with connect(jobs_server, "lab-b") as other:
        for call in (other.get_job, other.cancel_job, other.watch_job):
            err = rpc_error(call, job.id)
            assert err.code() == NOT_FOUND and job.id in err.details()
        err = rpc_error(other.submit_job, eeg_spec(lab))
        assert err.code() == NOT_FOUND
        assert all(r.id in err.details() for r in lab["recordings"]) and lab["decoder"].id in err.details()
        assert other.list_jobs() == []
    assert finish(lab["client"], job.id)[-1].result.state == "completed"


def test_cancel_mid_job_through_the_client(jobs_server, lab):
    client = lab["client"]
    more = [add_bold(jobs_server.store, lab["tmp"], "09", seed) for seed in range(6)]
    decoder, _ = add_decoder(jobs_server.store, lab["tmp"], tenant="lab-a", seed=3)
    spec = spec_for([r.id for r in more], decoder.id)
    job = client.submit_job(spec)
    for event in client.watch_job(job.id, timeout=240):
        if event.shards_done >= 1:
            cancelled = client.cancel_job(job.id)
            break
    assert cancelled.state == "cancelled" and any(s.state == "cancelled" for s in cancelled.shards)
    last = finish(client, job.id)[-1].result
    assert last.state == "cancelled" and 1 <= last.shards_done < 6
    assert client.cancel_job(job.id).state == "cancelled"
    done = client.submit_job(eeg_spec(lab, recordings=lab["recordings"][:1]))
    finish(client, done.id)
    err = rpc_error(client.cancel_job, done.id)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and "already ended (completed)" in err.details()


def test_cli_submits_watches_lists_and_cancels(jobs_server, lab, capsys):
    spec_path = lab["tmp"] / "cli-job.json"
    spec_path.write_text(json.dumps(eeg_spec(lab, recordings=lab["recordings"][:2])))
    key, _ = jobs_server.keys.create("lab-a")
    server = ["--server", f"127.0.0.1:{jobs_server.port}", "--api-key", key]
    assert main(["jobs", "submit", str(spec_path), "--request-id", "cli-1", "--watch"] + server) == 0
    out = capsys.readouterr().out
    job_id = out.split()[0]
    assert "2 shards" in out and f"{job_id}  completed  2 done, 0 failed of 2 shards" in out
    assert main(["jobs", "status", job_id] + server) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "completed"
    assert main(["jobs", "watch", job_id] + server) == 0
    assert main(["jobs", "list", "--state", "completed"] + server) == 0
    assert job_id in capsys.readouterr().out
    assert main(["jobs", "cancel", job_id] + server) == 1
    assert "FAILED_PRECONDITION" in capsys.readouterr().err
    assert main(["jobs", "status"] + server) == 2
    assert "jobs status needs a job id" in capsys.readouterr().err


def digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.slow
def test_kill_9_mid_job_then_restart_completes_with_identical_outputs(tmp_path, spawn_server):
    data_dir = tmp_path / "store"
    store = Store(data_dir)
    recordings = [add_bold(store, tmp_path, f"{i:02d}", i, tenant="lab-a") for i in range(8)]
    decoder, _ = add_decoder(store, tmp_path, tenant="lab-a")
    store.close()
    spec = spec_for([r.id for r in recordings], decoder.id)
    env = {"BRAINDECODE_JOB_WORKERS": "1"}

    first = spawn_server(data_dir, extra_env=env)
    with first.client(timeout=120) as client:
        job = client.submit_job(spec)
        for event in client.watch_job(job.id, timeout=300):
            if event.shards_done >= 1:
                break
    first.kill()
    jobs = JobStore(data_dir / "jobs.sqlite")
    at_kill = jobs.get("lab-a", job.id)
    jobs.close()
    kept = {s.index: s.output_id for s in at_kill.shards if s.state == "done"}
    assert at_kill.state == "running" and 1 <= len(kept) < 8

    second = spawn_server(data_dir, extra_env=env)
    with second.client(timeout=120) as client:
        result = finish(client, job.id)[-1].result
        assert result.state == "completed"
        assert {s.index: s.output_id for s in result.shards if s.index in kept} == kept
        out = tmp_path / "uninterrupted"
        assert run_batch(spec, data_dir, out, (0, 1), "lab-a")["done"] == list(range(8))
    second.terminate()
    store = Store(data_dir)
    outputs = [a for a in store.list_artifacts("lab-a", JOB_OUTPUT_ARTIFACT) if a.provenance["job_id"] == job.id]
    assert sorted(a.provenance["shard"] for a in outputs) == list(range(8))
    for shard in result.shards:
        assert digests(store.artifact_dir("lab-a", shard.output_id)) == digests(out / shard_name(shard.index))
    store.close()


def test_encoder_specs_travel_as_proto():
    from services.jobs import spec_message

    spec = {"name": "scores", "recordings": {"ids": ["rec_a"]}, "preprocessing": {"modality": "fmri"},
            "model": {"encoder": "art_e"}, "outputs": {"score_maps": True, "predictions": False}}
    message = spec_message(spec)
    assert message.model.encoder == "art_e" and message.model.decoder == ""
    assert message.outputs.score_maps and not message.outputs.predictions
