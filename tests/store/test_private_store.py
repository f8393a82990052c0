"""The store is its owner's alone (folders 0700, files 0600, checked and tightened at start), and
what reads and writes stage lives in its ``tmp``, not in the system's temporary folder."""

import logging
import os
import shutil
import stat
import tempfile

import bombs
import numpy as np
import pytest

from braindecode.auth import KeyStore
from braindecode.jobs import JobStore
from braindecode.store import Store, Upload, load_array, save_arrays


def modes(root) -> dict:
    """Relative path -> permission bits of ``root`` and everything in it (links left out)."""
    found = {".": stat.S_IMODE(os.stat(root).st_mode)}
    for path in root.rglob("*"):
        if not path.is_symlink():
            found[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
    return found


def _upload(store, file_name, payload):
    with Upload(store, {"subject": "01", "file_name": file_name}, max_bytes=2**30, tenant="lab-a") as upload:
        upload.write(payload)
        return upload.commit()


def test_a_new_store_is_private(tmp_path):
    root = tmp_path / "data" / "store"
    store = Store(root)
    keys, jobs = KeyStore(root), JobStore(root / "jobs.sqlite")
    info = _upload(store, "rec.zip", bombs.brainvision_zip_bomb(2**12))
    artifact = save_arrays(store, "lab-a", "rdm", {"x": np.zeros(3)})
    store.artifact_dir("lab-a", artifact.id)
    load_array(store, "lab-a", info.id)
    found = modes(root)
    assert {"meta.sqlite-wal", "keys.sqlite-shm", "jobs.sqlite", f"cache/{artifact.id}", info.blob} <= set(found)
    loose = {path: oct(mode) for path, mode in found.items()
             if mode != (0o700 if (root / path).is_dir() else 0o600)}
    assert loose == {}
    for closing in (store, keys, jobs):
        closing.close()


def test_a_store_readable_by_others_is_tightened_at_start_and_logged(tmp_path, caplog):
    store = Store(tmp_path / "store")
    info = _upload(store, "rec.zip", bombs.brainvision_zip_bomb(2**12))
    store.close()
    root = tmp_path / "store"
    os.chmod(root, 0o755)
    os.chmod(root / "blobs", 0o775)
    os.chmod(root / info.blob, 0o644)
    os.chmod(root / "meta.sqlite", 0o666)
    with caplog.at_level(logging.WARNING, logger="braindecode.store"):
        reopened = Store(root)
    assert f"the store {root} was readable by others: 4 folders and files now have modes 0700 and 0600" in caplog.text
    assert set(modes(root).values()) == {0o700, 0o600}
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="braindecode.store"):
        Store(root).close()
    assert caplog.text == ""
    reopened.close()


def test_reads_and_writes_stage_their_files_in_the_store(tmp_path, monkeypatch):
    """Unpacked recordings and staged artifact files go to the store's tmp, which every start empties."""
    payload = bombs.brainvision_zip_bomb(2**12)
    system = tmp_path / "system-tmp"
    system.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system))
    store = Store(tmp_path / "store")
    seen = []
    real_rmtree = shutil.rmtree

    def spy(path, *args, **kwargs):  # what was in the store's tmp as each folder went
        seen.append(os.path.dirname(os.path.abspath(path)))
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr("shutil.rmtree", spy)
    info = _upload(store, "rec.zip", payload)
    assert load_array(store, "lab-a", info.id).shape[0] == 4
    save_arrays(store, "lab-a", "rdm", {"x": np.zeros(3)})
    assert seen and set(seen) == {str(store.work_dir)}
    assert list(system.iterdir()) == [] and list(store.work_dir.iterdir()) == []
    store.close()


@pytest.mark.parametrize("leftover", ["braindecode-recording-abc/unzipped/rec.eeg", "tmpq1w2e3/model.onnx"])
def test_a_restart_removes_what_a_killed_read_or_write_left(tmp_path, leftover):
    Store(tmp_path / "store").close()
    path = tmp_path / "store" / "tmp" / leftover
    path.parent.mkdir(parents=True)
    path.write_bytes(b"half")
    Store(tmp_path / "store").close()
    assert list((tmp_path / "store" / "tmp").iterdir()) == []
