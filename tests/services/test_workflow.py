"""A lab's first week through a real server: keys and the first run, BIDS datasets in, results out,
the upload pitfalls, TLS from the command line, SLURM arrays and the checks that fail early."""

import json
import logging
import shutil

import bids_datasets
import grpc
import mne
import pytest
import real_files
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from jobs.jobdata import add_bold, add_decoder, spec_for

from braindecode.cli import main
from braindecode.client import Client
from braindecode.config import Config
from braindecode.jobs import shard_from_environment
from services.server import BraindecodeServer

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def cli(server, *args, key=None):
    """``braindecode <args>`` against ``server``; its exit status."""
    return main([*args, "--server", f"127.0.0.1:{server.port}", "--api-key", key or server.api_key,
                 "--connect-timeout", "30"])


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


# -- issue 14.1: the first run ------------------------------------------------------------------
def test_first_run_key_command_env_client_reflection_and_health(tmp_path, caplog, capsys, monkeypatch):
    config = Config.load(data_dir=str(tmp_path / "data"), port=0)
    with caplog.at_level(logging.WARNING, logger="braindecode.server"):
        server = BraindecodeServer(config).start()
    try:
        command = f"braindecode keys create --tenant default --data-dir {server.store.root}"
        assert command in caplog.text
        address = f"127.0.0.1:{server.port}"
        with Client(address, api_key="") as anonymous:
            assert anonymous.health() == "SERVING"
            with pytest.raises(grpc.RpcError) as err:
                anonymous.list()
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "braindecode keys create --tenant TENANT --data-dir DATA_DIR" in err.value.details()
            reflection = reflection_pb2_grpc.ServerReflectionStub(anonymous.channel)
            with pytest.raises(grpc.RpcError) as err:
                list(reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED, "reflection needs a key"

        assert main(["keys", "create", "--tenant", "my-lab", "--data-dir", str(tmp_path / "data")]) == 0
        out = capsys.readouterr()
        key = out.out.strip()
        assert key.startswith("bd_") and "\n" not in key and "not shown again" in out.err
        monkeypatch.setenv("BRAINDECODE_SERVER", address)
        monkeypatch.setenv("BRAINDECODE_API_KEY", key)
        with Client() as client:
            rec = client.upload(real_files.FUNCTIONAL, subject="01")
            assert [r.id for r in client.list()] == [rec.id] and client.target == address
            reflection = reflection_pb2_grpc.ServerReflectionStub(client.channel)
            replies = list(reflection.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), metadata=client.metadata))
            names = {s.name for s in replies[0].list_services_response.service}
            assert {"braindecode.v1.RecordingService", "braindecode.v1.ExportService"} <= names
        assert main(["ls", "--quiet"]) == 0 and capsys.readouterr().out.split() == [rec.id]
    finally:
        server.stop(grace=0)


def test_keys_create_requires_a_tenant(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["keys", "create", "--data-dir", str(tmp_path)])
    assert "the following arguments are required: --tenant" in capsys.readouterr().err


# -- issue 14.2: BIDS in ------------------------------------------------------------------------
def test_bids_dataset_upload_entities_events_tr_skips_and_refusals(server, client, tmp_path, capsys):
    root = bids_datasets.write_eeg_bids(tmp_path / "ds", subjects=("01", "02"))
    bids_datasets.write_fmri_bids(root)
    bids_datasets.write_meg_bids(root, subjects=("02",))
    meg = root / "sub-02" / "meg"
    (meg / "sub-02_task-images_meg.con").write_bytes(b"KIT data")
    shutil.copyfile(root / "sub-02" / "func" / "sub-02_task-images_run-1_events.tsv",
                    root / "sub-02" / "func" / "sub-02_task-images_run-1_events.tsv.bak")

    result = client.upload_bids(root, subjects=["sub-01"], stimulus_column="trial_type")
    assert len(result.uploaded) == 4 + 2 and not result.skipped and not result.refused
    fmri = {r.run: r for r in result.uploaded if r.modality == "fmri"}
    assert {r.subject for r in result.uploaded} == {"01"} and fmri["1"].task == "images"
    assert fmri["1"].tr == pytest.approx(1.35), "RepetitionTime from the top-level sidecar"
    assert [e.stimulus_id for e in fmri["1"].events] == [k for _, _, _, k in bids_datasets.FMRI_EVENTS]
    assert fmri["1"].events[0].duration == 0.0, "n/a duration"
    formats = {r.format for r in result.uploaded if r.modality == "eeg"}
    assert formats == {"brainvision", "edf", "bdf", "eeglab"}

    assert main(["upload", "--bids", str(root), "--stim-column", "trial_type", "--server",
                 f"127.0.0.1:{server.port}", "--api-key", server.api_key]) == 1
    out = capsys.readouterr().out
    assert "6 uploaded, 6 skipped (already stored), 1 refused" in out
    assert "sub-02_task-images_meg.con: .con meg files are not read" in out
    sub02 = {r.modality: r for r in client.list(subject="sub-02") if r.modality != "eeg"}
    assert sub02["fmri"].tr == 2.0, "RepetitionTime from the subject's own sidecar"
    assert sub02["meg"].format == "fif" and [e.stimulus_id for e in client.get(sub02["meg"].id).events] == [
        "cat", "dog", "cat"]

    again = client.upload_bids(root, stimulus_column="trial_type")
    assert not again.uploaded and len(again.skipped) == 12 and len(again.refused) == 1
    other = client.upload_bids(root, subjects=["01"], stimulus_column="stim_file")
    assert len(other.refused) == 4 + 2, "EEG events lack stim_file; fMRI stored with other events"
    assert any("lacks the stimulus column 'stim_file'; found columns: onset, duration" in r.reason
               for r in other.refused)
    assert any("other events; replace its events with 'braindecode events" in r.reason for r in other.refused)
    assert len(client.list()) == 12


# -- issue 14.3: derivatives out through the server -------------------------------------------------
def test_export_through_the_server_and_the_cli(server, client, tmp_path, capsys):
    out = client.export_bids_derivatives(tmp_path / "empty")
    assert json.loads((out / "dataset_description.json").read_text())["GeneratedBy"][0]["Name"] == "braindecode"
    assert bids_datasets.validate(out) == []
    assert cli(server, "export", "--bids-derivatives", str(out)) == 2
    assert "already exists and is not an empty folder" in one_line_error(capsys)
    assert cli(server, "export", "--bids-derivatives", str(tmp_path / "x"), "--artifact", "art_nope") == 1
    assert "NOT_FOUND" in capsys.readouterr().err and not (tmp_path / "x").exists()


# -- issue 19.4: upload pitfalls -----------------------------------------------------------------------
@pytest.fixture
def runs(tmp_path):
    """Two real fMRI runs and an events file for each, one with BIDS n/a values."""
    first, second = tmp_path / "run-01_bold.nii.gz", tmp_path / "run-02_bold.nii.gz"
    shutil.copyfile(real_files.FMRI1, first)
    shutil.copyfile(real_files.NITIME_DATA / "fmri2.nii.gz", second)
    events = [tmp_path / "run-01_events.tsv", tmp_path / "run-02_events.tsv"]
    events[0].write_text("onset\tduration\ttrial_type\n2\tn/a\tcat\n10\t1\tn/a\n20\t1\tdog\n")
    events[1].write_text("onset\tduration\ttrial_type\n4\t1\tbird\n")
    return [first, second], events


def test_per_file_options_go_once_per_file(server, client, runs, capsys):
    files, events = runs
    assert cli(server, "upload", *map(str, files), "--subject", "01", "--run", "1", "--events", str(events[0])) == 2
    assert "--run was given 1 time(s) for 2 files: give it once per file" in one_line_error(capsys)
    assert client.list() == []
    assert cli(server, "upload", *map(str, files), "--subject", "01", "--run", "1", "--run", "2",
               "--events", str(events[0]), "--events", str(events[1])) == 0
    stored = {r.run: r for r in client.list()}
    assert [e.stimulus_id for e in stored["1"].events] == ["cat", "dog"]
    assert [e.stimulus_id for e in stored["2"].events] == ["bird"]
    assert stored["1"].file_name == files[0].name and stored["2"].file_name == files[1].name


def test_a_reupload_returns_the_stored_recording(server, client, capsys):
    first = client.upload(real_files.FUNCTIONAL, subject="01", run="1")
    again = client.upload(real_files.FUNCTIONAL, subject="sub-01", run="1")
    assert again.id == first.id and again.already_stored and not first.already_stored
    assert cli(server, "upload", str(real_files.FUNCTIONAL), "--subject", "01", "--run", "1") == 0
    assert capsys.readouterr().out.rstrip().endswith("(already stored)")
    assert len(client.list()) == 1
    assert client.upload(real_files.FUNCTIONAL, subject="01", run="2").id != first.id


def test_events_attached_later_replaced_and_checked(server, client, runs, capsys):
    files, events = runs
    rec = client.upload(files[0], subject="01")
    assert rec.events == ()
    assert cli(server, "events", rec.id, str(events[0])) == 0
    assert [e.stimulus_id for e in client.get(rec.id).events] == ["cat", "dog"]
    assert client.set_events(rec.id, events[1]).events[0].stimulus_id == "bird"
    with pytest.raises(grpc.RpcError) as err:
        client.set_events(rec.id, [{"onset": 999.0, "duration": 1.0, "stimulus_id": "late"}])
    assert err.value.code() == INVALID and "after the recording ends" in err.value.details()
    assert [e.stimulus_id for e in client.get(rec.id).events] == ["bird"], "nothing changed"
    assert cli(server, "events", rec.id, "--clear") == 0 and client.get(rec.id).events == ()
    with Client(f"127.0.0.1:{server.port}", api_key=server.keys.create("lab-b")[0]) as other:
        with pytest.raises(grpc.RpcError) as err:
            other.set_events(rec.id, events[0])
        assert err.value.code() == grpc.StatusCode.NOT_FOUND, "another tenant's recording"
    with pytest.raises(grpc.RpcError) as err:
        client.upload(files[0], subject="01", events=events[1])
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS and f"braindecode events {rec.id}" in err.value.details()


def test_rm_deletes_recordings(server, client, capsys):
    rec = client.upload(real_files.EDF, subject="02")
    assert cli(server, "rm", rec.id) == 0 and client.list() == []
    assert cli(server, "rm", rec.id) == 1 and "NOT_FOUND" in capsys.readouterr().err


def test_labels_are_normalised_in_uploads_and_filters(server, client, capsys):
    eeg = client.upload(real_files.EDF, subject="sub-01", session="ses-a")
    assert (eeg.subject, eeg.session) == ("01", "a")
    for subject in ("01", "sub-01"):
        assert [r.id for r in client.list(subject=subject)] == [eeg.id]
    assert [r.id for r in client.list(modality="EEG")] == [eeg.id]
    assert cli(server, "ls", "--subject", "1") == 0
    captured = capsys.readouterr()
    assert "no recording matches subject '1'; stored: subject 01" in captured.err and eeg.id not in captured.out


def test_na_values_in_events_are_read_as_bids_defines_them(server, client, runs, capsys):
    files, events = runs
    assert cli(server, "upload", str(files[0]), "--subject", "01", "--events", str(events[0])) == 0
    (rec,) = client.list()
    assert [(e.onset, e.duration, e.stimulus_id) for e in rec.events] == [(2.0, 0.0, "cat"), (20.0, 1.0, "dog")]


def test_user_errors_are_one_line(server, client, runs, tmp_path, capsys):
    files, _ = runs
    assert cli(server, "upload", str(tmp_path / "missing.nii.gz"), "--subject", "01") == 2
    assert "missing.nii.gz: no such file" in one_line_error(capsys)
    vhdr = real_files.export_eeg(tmp_path, "brainvision")
    vhdr.with_suffix(".vmrk").unlink()
    assert cli(server, "upload", str(vhdr), "--subject", "01") == 2
    assert "eeg.vhdr needs eeg.vmrk beside it" in one_line_error(capsys)
    csv_events = tmp_path / "events.csv"
    csv_events.write_text("onset,duration,trial_type\n1,1,cat\n")
    assert cli(server, "upload", str(files[0]), "--subject", "01", "--events", str(csv_events)) == 2
    assert "looks comma-separated; events files are tab-separated" in one_line_error(capsys)
    no_stimulus = tmp_path / "events.tsv"
    no_stimulus.write_text("onset\tduration\tcondition\n1\t1\tcat\n")
    assert cli(server, "upload", str(files[0]), "--subject", "01", "--events", str(no_stimulus)) == 2
    error = one_line_error(capsys)
    assert "stimulus_id, stim_file, trial_type, value" in error and "found columns: onset, duration, condition" in error
    assert cli(server, "upload", str(files[0]), "--subject", "01", "--events", str(no_stimulus),
               "--stim-column", "image") == 2
    assert "lacks the stimulus column 'image'" in one_line_error(capsys)
    assert client.list() == []


# -- issue 19.5: TLS from the command line ---------------------------------------------------------
def test_cli_reaches_a_mutual_tls_server_with_flags_or_environment(tmp_path, pki, spawn_server, capsys,
                                                                   monkeypatch):
    folder, _ = pki
    tls = {"BRAINDECODE_TLS_CERT": str(folder / "server.pem"), "BRAINDECODE_TLS_KEY": str(folder / "server.key"),
           "BRAINDECODE_TLS_CLIENT_CA": str(folder / "ca.pem")}
    server = spawn_server(tmp_path / "store", extra_env=tls)
    assert "braindecode serving mutual TLS (client certificates required), listening on" in server.log()
    address = ["--server", f"localhost:{server.port}", "--api-key", server.api_key]
    flags = ["--tls-ca", str(folder / "ca.pem"), "--tls-cert", str(folder / "client.pem"),
             "--tls-key", str(folder / "client.key")]
    assert main(["upload", str(real_files.EDF), "--subject", "01", *address, *flags]) == 0
    rec_id = capsys.readouterr().out.split()[0]
    assert main(["ls", "--quiet", *address, *flags]) == 0 and capsys.readouterr().out.split() == [rec_id]
    assert main(["ls", *address, "--connect-timeout", "3"]) == 2
    assert "a server that uses TLS needs --tls-ca" in one_line_error(capsys)
    monkeypatch.setenv("BRAINDECODE_CLIENT_TLS_CA", str(folder / "ca.pem"))
    monkeypatch.setenv("BRAINDECODE_CLIENT_TLS_CERT", str(folder / "client.pem"))
    monkeypatch.setenv("BRAINDECODE_CLIENT_TLS_KEY", str(folder / "client.key"))
    assert main(["ls", "--quiet", *address]) == 0 and capsys.readouterr().out.split() == [rec_id]


def test_a_plaintext_server_says_so_at_start(tmp_path, spawn_server):
    assert "braindecode serving plaintext (no TLS), listening on" in spawn_server(tmp_path / "store").log()


# -- issue 19.6: SLURM arrays and the tenant searched ------------------------------------------------
def test_batch_run_takes_its_shards_from_a_slurm_array_numbered_from_one(server, tmp_path, capsys, monkeypatch):
    store = server.store
    recordings = [add_bold(store, tmp_path, f"0{i}", i, tenant="lab-a") for i in range(3)]
    decoder, _ = add_decoder(store, tmp_path, tenant="lab-a")
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps(spec_for([r.id for r in recordings], decoder.id)))
    out = tmp_path / "out"
    for task in (1, 2):
        monkeypatch.setenv("SLURM_ARRAY_TASK_ID", str(task))
        monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "1")
        monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "2")
        assert shard_from_environment() == (task - 1, 2)
        assert main(["batch", "run", str(spec), "--data-dir", str(store.root), "--out", str(out), "--tenant", "lab-a",
                     "--workers", "1"]) == 0
    assert "shards 0/2: 2 done" in capsys.readouterr().out
    assert main(["batch", "merge", "--out", str(out)]) == 0, "the two array tasks covered every shard"
    assert main(["batch", "run", str(spec), "--data-dir", str(store.root), "--out", str(tmp_path / "o2")]) == 2
    error = one_line_error(capsys)
    assert f"recording '{recordings[0].id}' not found (searched tenant 'default')" in error
    with pytest.raises(grpc.RpcError) as err:
        server_client = Client(f"127.0.0.1:{server.port}", api_key=server.keys.create("lab-b")[0])
        server_client.submit_job(spec_for([recordings[0].id], decoder.id))
    assert "(searched tenant 'lab-b')" in err.value.details()


# -- issue 19.7: late failures ---------------------------------------------------------------------
def test_specs_are_checked_whole_at_submit_and_client_arguments_by_type(server, client, tmp_path):
    recording = add_bold(server.store, tmp_path, "01", 0, tenant="lab-a")
    decoder, _ = add_decoder(server.store, tmp_path, tenant="lab-a")
    spec = spec_for([recording.id], decoder.id)
    spec["preprocessing"] = dict(spec["preprocessing"], trials={"method": "glm"})
    with pytest.raises(grpc.RpcError) as err:
        client.submit_job(spec)
    assert err.value.code() == INVALID and "'preprocessing.trials.method' must be one of" in err.value.details()
    assert client.list_jobs() == []
    with pytest.raises(TypeError, match="model_rdm_ids must be a dict of model name -> RDM id, got list"):
        client.compare(["art_brain"], ["art_model"])
    with pytest.raises(TypeError, match="subject must be a str"):
        client.upload(real_files.EDF, subject=1)
    assert len(client.list()) == 1


def test_mne_exported_brainvision_reuploads_to_the_same_recording(server, client, tmp_path):
    vhdr = real_files.export_eeg(tmp_path, "brainvision")
    first = client.upload(vhdr, subject="01")
    for member in (".vhdr", ".vmrk", ".eeg"):  # the same files touched later pack to the same bytes
        vhdr.with_suffix(member).touch()
    assert client.upload(vhdr, subject="01").id == first.id
    assert mne.io.read_raw_brainvision(vhdr, verbose="error").n_times == first.shape[1]
