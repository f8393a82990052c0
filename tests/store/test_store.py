import hashlib
import json

import pytest

from braindecode.errors import InvalidArgument, NotFound
from braindecode.store import Store, recordings_of_one_modality
from braindecode.store._uploads import check_metadata


def _stage(store, payload: bytes, suffix=".bin"):
    path = store.staging_file(suffix)
    path.write_bytes(payload)
    sha = hashlib.sha256(payload).hexdigest()
    return store.put_blob(path, sha, suffix), sha


FIELDS = {"subject": "01", "task": "t", "modality": "eeg", "format": "edf", "file_name": "a.edf"}


def test_recording_round_trip_paging_and_tenants(tmp_path):
    store = Store(tmp_path)
    ids = []
    for i in range(5):
        blob, sha = _stage(store, f"payload {i}".encode())
        info = store.add_recording("lab-a", blob, sha, 9, dict(FIELDS, subject=f"{i % 2}"), {"shape": [1]}, [])
        ids.append(info.id)
    assert store.get_recording("lab-a", ids[0]).sha256 == hashlib.sha256(b"payload 0").hexdigest()
    page, token = store.list_recordings("lab-a", page_size=2)
    rest, token2 = store.list_recordings("lab-a", page_size=2, page_token=token)
    last, token3 = store.list_recordings("lab-a", page_size=2, page_token=token2)
    assert [r.id for r in page + rest + last] == ids and token3 == ""
    assert len(store.list_recordings("lab-a", subject="1")[0]) == 2
    assert store.list_recordings("lab-b")[0] == []
    with pytest.raises(NotFound):
        store.get_recording("lab-b", ids[0])
    with pytest.raises(InvalidArgument, match="page_token"):
        store.list_recordings("lab-a", page_token="x")


def test_shared_blob_survives_until_last_reference(tmp_path):
    store = Store(tmp_path)
    blob, sha = _stage(store, b"same bytes")
    blob2, _ = _stage(store, b"same bytes")
    assert blob == blob2
    a = store.add_recording("t", blob, sha, 10, dict(FIELDS, run="1"), {}, [])
    b = store.add_recording("t", blob, sha, 10, dict(FIELDS, run="2"), {}, [])
    store.delete_recording("t", a.id)
    assert store.blob_path(blob).exists()
    store.delete_recording("t", b.id)
    assert not store.blob_path(blob).exists()
    with pytest.raises(NotFound):
        store.delete_recording("t", b.id)


def test_same_bytes_and_labels_return_the_stored_recording(tmp_path):
    store = Store(tmp_path)
    blob, sha = _stage(store, b"one run")
    first = store.add_recording("t", blob, sha, 7, FIELDS, {}, [])
    again, _ = _stage(store, b"one run")
    repeated = store.add_recording("t", again, sha, 7, FIELDS, {}, [])
    assert repeated.id == first.id and repeated.already_stored and not first.already_stored
    assert [r.id for r in store.list_recordings("t")[0]] == [first.id]
    other_run = store.add_recording("t", again, sha, 7, dict(FIELDS, run="2"), {}, [])
    other_tenant = store.add_recording("u", again, sha, 7, FIELDS, {}, [])
    assert len({first.id, other_run.id, other_tenant.id}) == 3
    store.delete_recording("t", first.id)
    assert store.blob_path(blob).exists(), "still referenced by the other run and tenant"


def test_labels_are_stored_and_filtered_without_their_bids_prefix(tmp_path):
    metadata = check_metadata({"subject": "sub-01", "session": "ses-a", "task": "task-rest", "run": "run-2",
                               "file_name": "a.edf"})
    assert [metadata[f] for f in ("subject", "session", "task", "run")] == ["01", "a", "rest", "2"]
    store = Store(tmp_path)
    blob, sha = _stage(store, b"clean")
    info = store.add_recording("t", blob, sha, 5, dict(metadata, modality="eeg", format="edf"), {}, [])
    for subject in ("01", "sub-01", " sub-01"):
        assert [r.id for r in store.list_recordings("t", subject=subject)[0]] == [info.id]
    assert [r.id for r in store.list_recordings("t", modality="EEG", task="task-rest")[0]] == [info.id]
    assert store.list_recordings("t", subject="1")[0] == [], "labels are text: 1 is not 01"


def test_recover_removes_staged_and_orphaned_files(tmp_path):
    store = Store(tmp_path)
    kept_blob, sha = _stage(store, b"kept")
    store.add_recording("t", kept_blob, sha, 4, FIELDS, {}, [])
    store.staging_file().write_bytes(b"half an upload")
    orphan, _ = _stage(store, b"renamed but never committed")
    store.close()
    reopened = Store(tmp_path)
    assert list((tmp_path / "tmp").iterdir()) == []
    assert not (tmp_path / orphan).exists() and (tmp_path / kept_blob).exists()
    assert reopened.verify() == []
    (tmp_path / kept_blob).write_bytes(b"bit rot")
    assert reopened.verify() == [kept_blob]


def test_artifacts_are_tenant_scoped_and_materialise(tmp_path):
    store = Store(tmp_path)
    (tmp_path / "w.json").write_text(json.dumps({"a": 1}))
    art = store.add_artifact("lab-a", "decoder", {"config.json": tmp_path / "w.json"}, {"dim": 3},
                             {"recordings": ["rec_1"]})
    folder = store.artifact_dir("lab-a", art.id)
    assert json.loads((folder / "config.json").read_text()) == {"a": 1}
    assert [a.id for a in store.list_artifacts("lab-a", "decoder")] == [art.id]
    with pytest.raises(NotFound):
        store.get_artifact("lab-b", art.id)
    with pytest.raises(NotFound):
        store.get_artifact("lab-a", art.id, kind="encoder")
    with pytest.raises(InvalidArgument):
        store.add_artifact("lab-a", "x", {"../evil": tmp_path / "w.json"})
    store.delete_artifact("lab-a", art.id)
    assert not folder.exists() and store.verify() == []


def test_artifact_pages_follow_creation_order_within_kind_and_tenant(tmp_path):
    store = Store(tmp_path)
    (tmp_path / "w.json").write_text("{}")
    ids = [store.add_artifact("lab-a", kind, {"w.json": tmp_path / "w.json"}).id
           for kind in ("decoder", "encoder", "decoder", "decoder")]
    store.add_artifact("lab-b", "decoder", {"w.json": tmp_path / "w.json"})
    page, token = store.list_artifacts_page("lab-a", "decoder", page_size=2)
    rest, token2 = store.list_artifacts_page("lab-a", "decoder", page_size=2, page_token=token)
    assert [a.id for a in page + rest] == [ids[0], ids[2], ids[3]] and token2 == ""
    everything, token3 = store.list_artifacts_page("lab-a", page_size=0)
    assert [a.id for a in everything] == ids and token3 == ""
    assert [a.id for a in store.list_artifacts("lab-a")] == ids
    with pytest.raises(InvalidArgument, match="page_token"):
        store.list_artifacts_page("lab-a", page_token="x")
    with pytest.raises(InvalidArgument, match="page_size must be between 0 and 1000, got 1001"):
        store.list_artifacts_page("lab-a", page_size=1001)


def test_recordings_of_one_modality_checks_ids_and_modality(tmp_path):
    store = Store(tmp_path)
    blob, sha = _stage(store, b"bytes")
    eeg = [store.add_recording("t", blob, sha, 5, dict(FIELDS, run=str(run)), {}, []).id for run in range(2)]
    meg = store.add_recording("t", blob, sha, 5, dict(FIELDS, run="2", modality="meg"), {}, []).id
    assert [info.id for info in recordings_of_one_modality(store, "t", reversed(eeg))] == eeg[::-1]
    with pytest.raises(InvalidArgument, match="no recording ids given"):
        recordings_of_one_modality(store, "t", [])
    with pytest.raises(InvalidArgument, match=f"recording ids given more than once: {eeg[0]}"):
        recordings_of_one_modality(store, "t", [eeg[0], eeg[1], eeg[0]])
    with pytest.raises(InvalidArgument, match="the recordings mix modalities eeg, meg; use one modality"):
        recordings_of_one_modality(store, "t", [eeg[0], meg])
    with pytest.raises(NotFound):
        recordings_of_one_modality(store, "other", eeg)
    assert len(recordings_of_one_modality(store, "t", [meg], ("meg",))) == 1
    with pytest.raises(InvalidArgument, match="cannot fit eeg recordings; fits take fmri, meg"):
        recordings_of_one_modality(store, "t", eeg, ("fmri", "meg"),
                                   "cannot fit {modality} recordings; fits take {supported}")
