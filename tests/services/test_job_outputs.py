"""A job's outputs fetched back over a real server: `jobs get --out` lays them out as `batch merge` does and
equals a local `batch run` of the same spec; the reconstructions example of the jobs docstring runs on a
140-trial run; shards with no outputs are named, not merged; another tenant's job is NOT_FOUND."""

import hashlib
import json
import re

import grpc
import numpy as np
import pytest
import yaml
from jobs.jobdata import GRID, N_VOXELS, write_bold

import braindecode.jobs._spec
from braindecode.cli import main
from braindecode.client import Client
from braindecode.config import Config
from braindecode.containers import ActivationSet
from braindecode.decoding import RidgeDecoder
from braindecode.jobs import shard_name
from braindecode.store import JOB_OUTPUT_ARTIFACT, save_activation_set, save_decoder_artifact
from services.server import BraindecodeServer

N_DIMS, N_STIMULI = 1280, 6  # the shipped reconstruction model's conditioning space
SPEC = {"modality": "fmri", "mask": None, "zscore": True, "trials": {"method": "window", "window": [3, 6]}}


def trial_events(n_trials, spacing=5.0, offset=0):
    return [{"onset": 2.0 + spacing * i, "duration": 1.0, "stimulus_id": f"stim-{(i + offset) % N_STIMULI}"}
            for i in range(n_trials)]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with pytest.MonkeyPatch.context() as env:
        env.setenv("BRAINDECODE_JOB_WORKERS", "1")
        env.setenv("BRAINDECODE_JOB_MAX_ATTEMPTS", "1")
        config = Config.load(data_dir=str(tmp_path_factory.mktemp("outputs") / "store"), port=0)
        srv = BraindecodeServer(config).start()
    yield srv
    srv.stop(grace=0)


@pytest.fixture(scope="module")
def lab(server, tmp_path_factory):
    """lab-a: two short fMRI runs, one of 140 trials, one whose last trial has no scan in its window, a ridge decoder
    into the shipped reconstruction model's space and candidate activations."""
    tmp = tmp_path_factory.mktemp("runs")
    key, _ = server.keys.create("lab-a")
    client = Client(f"127.0.0.1:{server.port}", api_key=key, timeout=120)
    short = [client.upload(write_bold(tmp / f"short-{i}.nii.gz", seed=i), subject=f"0{i}", task="images",
                           events=trial_events(6, offset=i)).id for i in range(2)]
    long = client.upload(write_bold(tmp / "long.nii.gz", n_scans=365, seed=7), subject="01", task="images",
                         events=trial_events(140, spacing=2.5)).id
    broken = client.upload(write_bold(tmp / "broken.nii.gz", seed=9), subject="03", task="images",
                           events=trial_events(6) + [{"onset": 37.0, "duration": 1.0, "stimulus_id": "stim-0"}]).id
    rng = np.random.default_rng(0)
    model = RidgeDecoder(alphas=[1.0], cv=2).fit(rng.standard_normal((24, N_VOXELS)),
                                                 rng.standard_normal((24, N_DIMS)))
    decoder = save_decoder_artifact(server.store, "lab-a", model).id
    pool = rng.standard_normal((N_STIMULI, N_DIMS)).astype(np.float32)
    candidates = save_activation_set(server.store, "lab-a", ActivationSet(
        [f"stim-{i}" for i in range(N_STIMULI)], {"pool": pool}, "test-net")).id
    yield {"client": client, "key": key, "short": short, "long": long, "broken": broken, "decoder": decoder,
           "candidates": candidates, "tmp": tmp}
    client.close()


def spec_for(lab, recordings, **outputs):
    return {"name": "outputs", "recordings": {"ids": recordings}, "preprocessing": SPEC,
            "model": {"decoder": lab["decoder"]}, "outputs": outputs or {"embeddings": True}}


def finish(client, job_id):
    events = list(client.jobs.watch(job_id, timeout=300))
    assert events[-1].result is not None
    return events[-1].result


def digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_jobs_get_lays_out_the_outputs_as_batch_merge_does(server, lab, tmp_path):
    client = lab["client"]
    spec = spec_for(lab, lab["short"], embeddings=True,
                    retrieval={"candidates": lab["candidates"], "layer": "pool", "k": 3})
    job = finish(client, client.jobs.submit(spec).id)
    assert job.state == "completed"
    out = tmp_path / "fetched"
    fetched = client.jobs.download(job.id, out)
    assert fetched["missing"] == {} and fetched["merged"] == out / "merged" and fetched["job"] == job
    assert sorted(p.name for p in out.iterdir()) == ["job.json", "merged", "shard-00000", "shard-00001"]
    record = json.loads((out / "job.json").read_text())
    assert record["job_id"] == job.id and record["spec"]["preprocessing"] == SPEC
    assert [s["recording_ids"] for s in record["shards"]] == [[r] for r in lab["short"]]
    for shard in job.shards:
        stored = server.store.artifact_dir("lab-a", shard.output_id)
        assert digests(out / shard_name(shard.index)) == digests(stored)
    merged = {p.stem: np.load(p) for p in (out / "merged").glob("*.npy")}
    assert sorted(merged) == ["embeddings", "recording_ids", "retrieval_ids", "retrieval_scores", "stimulus_ids"]
    assert list(merged["recording_ids"]) == [lab["short"][0]] * 6 + [lab["short"][1]] * 6
    assert merged["embeddings"].shape == (12, N_DIMS) and merged["retrieval_ids"].shape == (12, 3)
    manifest = json.loads((out / "merged" / "manifest.json").read_text())
    assert manifest["n_trials"] == 12 and [s["shard"] for s in manifest["shards"]] == [0, 1]

    shards = [{p.stem: np.load(p) for p in (out / shard_name(i)).glob("*.npy")} for i in range(2)]
    for name, array in merged.items():
        np.testing.assert_array_equal(array, np.concatenate([shard[name] for shard in shards]))

    before = digests(out / "merged")
    again = client.jobs.download(job.id, out)  # the shards already there are kept
    assert again["shards"] == fetched["shards"] and digests(out / "merged") == before
    listed = client.artifacts.list(kind=JOB_OUTPUT_ARTIFACT)
    assert {a.id for a in listed} >= {s.output_id for s in job.shards}
    assert all(a.id.startswith("out_") for a in listed)
    assert client.artifacts.get(job.shards[0].output_id).meta["job_id"] == job.id


def test_shards_without_outputs_are_named_and_not_merged(server, lab, tmp_path, capsys):
    client = lab["client"]
    job = finish(client, client.jobs.submit(spec_for(lab, [lab["short"][0], lab["broken"]])).id)
    assert job.state == "completed_with_failures" and job.shards[1].state == "failed"
    base = ["--server", f"127.0.0.1:{server.port}", "--api-key", lab["key"]]
    assert main(["jobs", "get", job.id, "--out", str(tmp_path / "partial"), *base]) == 1
    captured = capsys.readouterr()
    assert f"{job.id}  completed_with_failures  1 of 2 shards in" in captured.out
    assert "shard 1: no outputs (failed)" in captured.err and "not merged" in captured.err
    assert sorted(p.name for p in (tmp_path / "partial").iterdir()) == ["job.json", "shard-00000"]

    client.artifacts.delete(job.shards[0].output_id)
    fetched = client.jobs.download(job.id, tmp_path / "deleted")
    assert fetched["missing"] == {0: f"done, but its output {job.shards[0].output_id} was deleted", 1: "failed"}

    assert main(["jobs", "get", job.id, *base]) == 0  # without --out: the job as JSON
    assert json.loads(capsys.readouterr().out)["id"] == job.id
    assert main(["jobs", "status", job.id, "--out", "x", *base]) == 2
    assert "--out goes with 'jobs get'" in capsys.readouterr().err


def test_a_folder_of_another_job_is_refused_and_other_tenants_get_not_found(server, lab, tmp_path):
    client = lab["client"]
    first = finish(client, client.jobs.submit(spec_for(lab, lab["short"][:1])).id)
    second = finish(client, client.jobs.submit(spec_for(lab, lab["short"][1:])).id)
    client.jobs.download(first.id, tmp_path / "out")
    with pytest.raises(Exception, match="holds the outputs of another job"):
        client.jobs.download(second.id, tmp_path / "out")
    key, _ = server.keys.create("lab-b")
    with Client(f"127.0.0.1:{server.port}", api_key=key, timeout=30) as other:
        with pytest.raises(grpc.RpcError) as err:
            other.jobs.download(first.id, tmp_path / "stolen")
        assert err.value.code() == grpc.StatusCode.NOT_FOUND and f"job {first.id!r} not found" in err.value.details()
        with pytest.raises(grpc.RpcError) as err:
            other.artifacts.download(first.shards[0].output_id, tmp_path / "stolen")
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert not (tmp_path / "stolen").exists()


def docstring_spec() -> dict:
    """The example spec of ``braindecode.jobs``' spec module, as a dict."""
    block = re.search(r"A spec is a mapping.*?::\n\n((?: {4}.*\n|\n)+)", braindecode.jobs._spec.__doc__).group(1)
    return yaml.safe_load("\n".join(line[4:] for line in block.splitlines()))


@pytest.mark.slow
def test_the_docstring_example_with_reconstructions_runs_and_equals_a_local_batch_run(server, lab, tmp_path,
                                                                                       capsys):
    """Submit, watch and `jobs get` through the CLI; the outputs equal `batch run` + `batch merge` of the spec."""
    spec = docstring_spec()
    assert spec["outputs"]["reconstructions"] == {"model": "default", "seed": 0}  # the model's recommended sampling
    spec["recordings"]["ids"] = [lab["long"], lab["short"][0]]
    spec["model"]["decoder"] = lab["decoder"]
    spec["outputs"]["retrieval"]["candidates"] = lab["candidates"]
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(spec))
    base = ["--server", f"127.0.0.1:{server.port}", "--api-key", lab["key"]]
    assert main(["jobs", "submit", str(path), "--watch", *base]) == 0
    job_id = capsys.readouterr().out.split()[0]
    fetched = tmp_path / "fetched"
    assert main(["jobs", "get", job_id, "--out", str(fetched), *base]) == 0
    assert f"merged outputs in {fetched / 'merged'}" in capsys.readouterr().out

    local = tmp_path / "local"
    store = str(server.store.root)
    assert main(["batch", "run", str(path), "--data-dir", store, "--out", str(local), "--tenant", "lab-a"]) == 0
    assert main(["batch", "merge", "--out", str(local)]) == 0
    assert digests(fetched / "merged") == digests(local / "merged")
    for index in range(2):
        assert digests(fetched / shard_name(index)) == digests(local / shard_name(index))
    merged = {p.stem: np.load(p) for p in (fetched / "merged").glob("*.npy")}
    assert merged["reconstructions"].shape == (146, 64, 64, 3) and merged["reconstructions"].dtype == np.uint8
    assert merged["embeddings"].shape == (146, N_DIMS) and merged["retrieval_ids"].shape == (146, 5)


def test_a_spec_that_cannot_run_is_refused_at_submit(server, lab, tmp_path):
    """Every voxel of a 4 x 4 x 3 run goes to a decoder of 10 inputs: refused, with the reason, before it runs."""
    rng = np.random.default_rng(1)
    narrow = save_decoder_artifact(server.store, "lab-a", RidgeDecoder(alphas=[1.0], cv=2).fit(
        rng.standard_normal((12, 10)), rng.standard_normal((12, N_DIMS)))).id
    spec = dict(spec_for(lab, lab["short"]), model={"decoder": narrow})
    with pytest.raises(grpc.RpcError) as err:
        lab["client"].jobs.submit(spec)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"have {int(np.prod(GRID))} voxels but the decoder takes inputs of shape (10,)" in err.value.details()
