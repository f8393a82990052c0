"""Batch runs with no server (SLURM array tasks): shard subsets, merge, the same files as a server job."""

import hashlib
import json
import os
import stat

import numpy as np
import pytest
from jobs.jobdata import PREPROCESSING, TENANT, add_bold, add_decoder, save_tiny_reconstruction_model, spec_for, wait

from braindecode.cli import main
from braindecode.errors import FailedPrecondition, InvalidArgument
from braindecode.jobs import merge_batch, parse_shard, run_batch, shard_name
from braindecode.store import load_responses


def digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _readable_by_others(root) -> dict:
    """Paths under ``root`` (itself included) whose mode is not 0700 (folders) or 0600 (files)."""
    modes = {path: stat.S_IMODE(path.stat().st_mode) for path in [root, *root.rglob("*")]}
    return {str(path): oct(mode) for path, mode in modes.items() if mode != (0o700 if path.is_dir() else 0o600)}


@pytest.fixture
def usual_umask():
    """The usual umask (022), under which new files are readable by others unless made private."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_subsets_cover_every_shard_with_the_files_of_a_server_job(lab, runner, tmp_path, usual_umask):
    """Batch outputs equal a server job's, written private (folders 0700, files 0600)."""
    store, ids = lab["store"], [r.id for r in lab["recordings"]]
    spec = spec_for(ids, lab["decoder"].id, lab["candidates"].id)
    out = tmp_path / "out"
    first = run_batch(spec, store.root, out, (0, 2), TENANT, executor=runner.executor)
    assert first == {"done": [0, 2], "skipped": [], "failed": {}}
    with pytest.raises(FailedPrecondition, match="1 of 3 shards have no outputs yet: 1"):
        merge_batch(out)
    assert run_batch(spec, store.root, out, (1, 2), TENANT, executor=runner.executor)["done"] == [1]
    assert run_batch(spec, store.root, out, (0, 2), TENANT, executor=runner.executor)["skipped"] == [0, 2]

    job = wait(runner, TENANT, runner.submit(TENANT, spec).id)
    for shard in job.shards:
        assert digests(out / shard_name(shard.index)) == digests(store.artifact_dir(TENANT, shard.output_id))

    assert main(["batch", "merge", "--out", str(out)]) == 0
    merged = {p.stem: np.load(p) for p in (out / "merged").glob("*.npy")}
    expected = [lab["model"].predict(load_responses(store, TENANT, [i], PREPROCESSING).data) for i in ids]
    np.testing.assert_allclose(merged["embeddings"], np.concatenate(expected), rtol=1e-5, atol=1e-6)
    assert list(merged["recording_ids"]) == [i for i in ids for _ in range(6)]
    assert merged["retrieval_ids"].shape == (18, 3)
    manifest = json.loads((out / "merged" / "manifest.json").read_text())
    assert manifest["n_trials"] == 18 and [s["shard"] for s in manifest["shards"]] == [0, 1, 2]
    assert _readable_by_others(out) == {}

    with pytest.raises(FailedPrecondition, match="outputs of another job spec"):
        run_batch(dict(spec, name="other"), store.root, out, (0, 1), TENANT, executor=runner.executor)


def test_cli_run_reports_failed_shards_and_merge_names_the_missing(lab, tmp_path, capsys):
    store = lab["store"]
    odd = add_bold(store, lab["tmp"], "05", 20, late_trial=True)
    spec = spec_for([lab["recordings"][0].id, odd.id], lab["decoder"].id)
    path = tmp_path / "job.json"
    path.write_text(json.dumps(spec))
    out = tmp_path / "out"
    code = main(["batch", "run", str(path), "--shard", "0/1", "--data-dir", str(store.root), "--out", str(out),
                 "--tenant", TENANT, "--max-attempts", "1"])
    captured = capsys.readouterr()
    assert code == 1 and "1 done, 0 already done, 1 failed" in captured.out
    assert "shard 1: InvalidArgument: 1 trials have no scan in the window [3.0, 6.0] s after onset" in captured.err
    assert main(["batch", "merge", "--out", str(out)]) == 2
    assert "1 of 2 shards have no outputs yet: 1" in capsys.readouterr().err
    assert main(["batch", "run", str(path), "--shard", "2/2", "--data-dir", str(store.root),
                 "--out", str(out)]) == 2
    assert "--shard 2/2: i counts from 0 to n - 1 (here 0 to 1)" in capsys.readouterr().err


def test_cli_run_reconstructs_with_a_model_its_config_names(lab, tmp_path, capsys):
    store = lab["store"]
    model_dir = save_tiny_reconstruction_model(tmp_path / "tiny", embedding_dim=3, seed=2)
    decoder, _ = add_decoder(store, lab["tmp"], n_dims=3, seed=6)
    spec = spec_for([lab["recordings"][0].id], decoder.id)
    spec["outputs"] = {"reconstructions": {"model": "tiny", "n_steps": 1}}
    (tmp_path / "job.json").write_text(json.dumps(spec))
    (tmp_path / "config.yaml").write_text(f"reconstruction:\n  models:\n    tiny: {model_dir}\n")
    args = ["batch", "run", str(tmp_path / "job.json"), "--data-dir", str(store.root), "--tenant", TENANT]
    assert main(args + ["--out", str(tmp_path / "out"), "--config", str(tmp_path / "config.yaml")]) == 0
    assert np.load(tmp_path / "out" / shard_name(0) / "reconstructions.npy").shape == (6, 8, 8, 3)
    job = json.loads((tmp_path / "out" / "job.json").read_text())
    assert job["spec"]["outputs"]["reconstructions"] == {"model": "tiny", "n_steps": 1, "seed": 0, "guidance": 1.0,
                                                         "scheduler": "lcm"}
    capsys.readouterr()
    assert main(args + ["--out", str(tmp_path / "out-2")]) == 2  # without the config: only "default" is served
    assert "no reconstruction model 'tiny'; served models: default" in capsys.readouterr().err


def test_shard_arguments_and_store_folders_are_checked(tmp_path):
    assert parse_shard("3/8") == (3, 8)
    for text in ("3", "a/b", "8/8", "-1/2"):
        with pytest.raises(InvalidArgument):
            parse_shard(text)
    from braindecode.errors import NotFound

    with pytest.raises(NotFound, match="no braindecode store"):
        run_batch({}, tmp_path, tmp_path / "out")


def test_the_read_only_store_reads_without_writing(lab, tmp_path):
    import sqlite3

    from braindecode.store import ReadOnlyStore

    store = lab["store"]
    config = (store.artifact_dir(TENANT, lab["decoder"].id) / "config.json").read_bytes()
    before = sorted(p.relative_to(store.root) for p in store.root.rglob("*") if "job-work" not in p.parts)
    reader = ReadOnlyStore(store.root, work_dir=tmp_path)
    rec = lab["recordings"][0]
    assert reader.get_recording(TENANT, rec.id).sha256 == rec.sha256
    folder = reader.artifact_dir(TENANT, lab["decoder"].id)
    assert folder.parent.parent == tmp_path and sorted(p.name for p in folder.iterdir()) == [
        "config.json", "weights.safetensors"]
    assert (folder / "config.json").read_bytes() == config
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.delete_recording(TENANT, rec.id)
    reader.close()
    assert not folder.exists() and store.get_recording(TENANT, rec.id).id == rec.id
    after = sorted(p.relative_to(store.root) for p in store.root.rglob("*") if "job-work" not in p.parts)
    assert after == before
