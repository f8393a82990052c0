"""ArtifactService over a real server on a loopback port: list (by kind, paged), get (kind, files with the
arrays they hold, provenance, creation time), download (checked chunks), delete; ids that say their kind,
old art_ ids, other tenants' artifacts, and the `braindecode artifacts` commands."""

import hashlib
import json

import grpc
import numpy as np
import pytest
from PIL import Image

from braindecode import cli
from braindecode.client import Client
from braindecode.containers import ActivationSet
from braindecode.store import save_activation_set, save_reconstructions
from braindecode.v1 import artifacts_pb2
from service_checks import expect_error, trial_events, write_trial_run

SHAPE, N_TRIALS = (3, 3, 2), 10
SPEC = {"modality": "fmri", "mask": None, "trials": {"method": "window", "window": [0, 0.5]}}
NOT_FOUND, INVALID = grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture
def lab(server, client, tmp_path):
    """lab-a's store: two fMRI runs, an activation set, a ridge decoder fitted on them and a reconstruction."""
    rng = np.random.default_rng(3)
    ids = np.array([f"stim-{i}" for i in range(N_TRIALS)])
    pool = rng.standard_normal((N_TRIALS, 4)).astype(np.float32)
    weights = rng.standard_normal((4, int(np.prod(SHAPE)))).astype(np.float32)
    runs = []
    for run in range(2):
        path = write_trial_run(tmp_path / f"run-{run}.nii.gz", pool @ weights, SHAPE, seed=run, noise=0.1)
        runs.append(client.upload(path, subject="01", run=str(run), events=trial_events(ids)).id)
    activations = save_activation_set(server.store, "lab-a", ActivationSet(ids, {"pool": pool}, model="sim")).id
    decoder = client.fit_decoder(runs, SPEC, activations, "pool", params={"alphas": [1.0]}).decoder_id
    images = rng.integers(0, 255, (2, 5, 4, 3), dtype=np.uint8)
    reconstruction = save_reconstructions(server.store, "lab-a", ["stim-0", "stim-1"], images,
                                          {"source": "test"})[0].id
    return {"runs": runs, "activations": activations, "decoder": decoder, "reconstruction": reconstruction,
            "pool": pool, "images": images}


def test_ids_say_their_kind(lab):
    assert lab["activations"].startswith("act_") and lab["decoder"].startswith("dec_")
    assert lab["reconstruction"].startswith("img_") and all(r.startswith("rec_") for r in lab["runs"])


def test_list_by_kind_and_page(client, lab):
    listed = client.artifacts.list()
    assert [a.id for a in listed] == [lab["activations"], lab["decoder"], lab["reconstruction"]]
    assert [a.kind for a in listed] == ["activations", "decoder", "reconstruction"]
    assert [a.id for a in client.artifacts.list(kind="decoder")] == [lab["decoder"]]
    assert [a.id for a in client.artifacts.list(page_size=1)] == [a.id for a in listed]
    assert client.artifacts.list(kind="score-map") == []
    first = client.artifacts.stub.ListArtifacts(artifacts_pb2.ListArtifactsRequest(page={"page_size": 2}),
                                                metadata=client.options.metadata)
    assert len(first.artifacts) == 2 and first.next_page_token
    expect_error(lambda: client.artifacts.list(kind="decoders"), INVALID, "unknown artifact kind 'decoders'",
                 "decoder, encoder")


def test_get_describes_kind_files_arrays_and_provenance(server, client, lab):
    artifact = client.artifacts.get(lab["activations"])
    assert (artifact.kind, artifact.meta["layers"]) == ("activations", ["pool"])
    files = {f.name: f for f in artifact.files}
    assert (files["layer-000.npy"].dtype, files["layer-000.npy"].shape) == ("float32", (N_TRIALS, 4))
    assert files["stimulus_ids.npy"].shape == (N_TRIALS,)
    assert artifact.size_bytes == sum(f.size_bytes for f in artifact.files) and artifact.created.endswith("+00:00")
    images = client.artifacts.get(lab["reconstruction"])
    assert {f.name: (f.dtype, f.shape) for f in images.files if f.name.endswith(".png")} == {
        "000000.png": ("uint8", (5, 4, 3)), "000001.png": ("uint8", (5, 4, 3))}
    assert images.provenance == {"source": "test"} and images.meta["n_images"] == 2
    decoder = client.artifacts.get(lab["decoder"])
    assert [r["id"] for r in decoder.provenance["recordings"]] == lab["runs"]
    assert {f.name for f in decoder.files} >= {"config.json", "weights.safetensors"}


def test_download_writes_checked_files(server, client, lab, tmp_path):
    written = client.artifacts.download(lab["activations"], tmp_path / "acts")
    assert sorted(written) == ["layer-000.npy", "stimulus_ids.npy"]
    np.testing.assert_array_equal(np.load(written["layer-000.npy"]), lab["pool"])
    described = {f.name: f.sha256 for f in client.artifacts.get(lab["activations"]).files}
    assert {n: hashlib.sha256(p.read_bytes()).hexdigest() for n, p in written.items()} == described
    assert sorted(p.name for p in (tmp_path / "acts").iterdir()) == sorted(written), "no partial files left"
    one = client.artifacts.download(lab["reconstruction"], tmp_path / "img", files=["000001.png"])
    with Image.open(one["000001.png"]) as image:
        np.testing.assert_array_equal(np.asarray(image.convert("RGB")), lab["images"][1])
    chunks = list(client.artifacts.stub.DownloadArtifact(
        artifacts_pb2.DownloadArtifactRequest(id=lab["activations"], files=["layer-000.npy"], chunk_bytes=50),
        metadata=client.options.metadata))
    assert chunks[0].file == "layer-000.npy" and all(not c.file for c in chunks[1:]) and len(chunks) > 2
    assert b"".join(c.data for c in chunks) == written["layer-000.npy"].read_bytes()
    expect_error(lambda: client.artifacts.download(lab["reconstruction"], tmp_path / "x", files=["nope.png"]),
                 INVALID, "has no file 'nope.png'", "000000.png")


def test_delete_removes_the_artifact_and_its_blobs(server, client, lab, tmp_path):
    blobs = server.store.get_artifact("lab-a", lab["reconstruction"]).files.values()
    assert client.artifacts.delete(lab["reconstruction"]) is True
    assert not any((server.store.root / rel).exists() for rel in blobs)
    assert [a.id for a in client.artifacts.list()] == [lab["activations"], lab["decoder"]]
    for call in (client.artifacts.get, client.artifacts.delete,
                 lambda i: client.artifacts.download(i, tmp_path / "gone")):
        expect_error(lambda: call(lab["reconstruction"]), NOT_FOUND, f"artifact {lab['reconstruction']!r} not found")


def test_not_found_names_the_kind_of_the_id(server, client, lab):
    expect_error(lambda: client.retrieve(np.zeros((1, 4), np.float32), activation_set_id=lab["decoder"],
                                         layer="pool"), NOT_FOUND,
                 f"activations {lab['decoder']!r} not found: it is a decoder, not an activation set")
    expect_error(lambda: client.decode("dec_0123", np.zeros((1, 18), np.float32)), NOT_FOUND,
                 "decoder 'dec_0123' not found")
    expect_error(lambda: client.decode("enc_0123", np.zeros((1, 18), np.float32)), NOT_FOUND,
                 "decoder 'enc_0123' not found: 'enc_' ids are those of encoders")
    expect_error(lambda: client.artifacts.get(lab["runs"][0]), NOT_FOUND, "'rec_' ids are those of recordings")
    expect_error(lambda: client.get(lab["decoder"]), NOT_FOUND, "it is a decoder, not a recording")
    expect_error(lambda: client.jobs.get(lab["activations"]), NOT_FOUND, "'act_' ids are those of activation sets")
    expect_error(lambda: client.artifacts.get("job_0123"), NOT_FOUND, "'job_' ids are those of jobs")


def test_old_art_ids_keep_working(server, client, lab, tmp_path):
    """A store written before ids said their kind: its art_ ids are listed, read, used and named by kind."""
    server.store._db.execute("UPDATE artifacts SET id='art_0123456789abcdef0123' WHERE id=?", (lab["decoder"],))
    old = "art_0123456789abcdef0123"
    assert client.artifacts.get(old).kind == "decoder"
    assert "config.json" in client.artifacts.download(old, tmp_path / "old")
    assert client.decode(old, np.zeros((2, int(np.prod(SHAPE))), np.float32)).shape == (2, 4)
    expect_error(lambda: client.retrieve(np.zeros((1, 4), np.float32), activation_set_id=old, layer="pool"),
                 NOT_FOUND, f"activations {old!r} not found: it is a decoder, not an activation set")
    expect_error(lambda: client.get(old), NOT_FOUND, "it is a decoder, not a recording")


def test_other_tenants_artifacts_are_not_found(server, client, lab, tmp_path):
    key, _ = server.keys.create("lab-b")
    with Client(f"127.0.0.1:{server.port}", api_key=key, timeout=30) as other:
        assert other.artifacts.list() == []
        for call in (other.artifacts.get, other.artifacts.delete,
                     lambda i: other.artifacts.download(i, tmp_path / "stolen")):
            details = expect_error(lambda: call(lab["decoder"]), NOT_FOUND, f"artifact {lab['decoder']!r} not found")
            assert "it is" not in details
    assert not (tmp_path / "stolen").exists()
    assert client.artifacts.get(lab["decoder"]).kind == "decoder"


def test_cli_ls_show_get_rm(server, client, lab, tmp_path, capsys):
    base = ["--server", f"127.0.0.1:{server.port}", "--api-key", server.api_key]
    assert cli.main(["artifacts", "ls", "--kind", "decoder", *base]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["id", "kind", "files"] and lines[1].split()[:2] == [lab["decoder"], "decoder"]
    assert cli.main(["artifacts", "show", lab["activations"], *base]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["kind"] == "activations" and shown["files"][0]["shape"] == [N_TRIALS, 4]
    assert cli.main(["artifacts", "get", lab["activations"], "--out", str(tmp_path / "got"), *base]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "got" / "layer-000.npy"), lab["pool"])
    assert cli.main(["artifacts", "rm", lab["activations"], *base]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"deleted {lab['activations']}"
    assert cli.main(["artifacts", "show", lab["activations"], *base]) == 1
    assert f"NOT_FOUND: artifact {lab['activations']!r} not found" in capsys.readouterr().err
