"""Hostile tenant, part three: the store itself. Its folder and files are its owner's alone, a
server killed in the middle of a read leaves nothing outside it (and a restart removes what it
left inside), and a delete racing another tenant's upload of the same bytes loses no
acknowledged write, round after round, over the wire."""

import os
import stat
import threading
import time

import bombs
import grpc
import numpy as np
import pytest
from hostile.arena import BYSTANDER, TIMEOUT

from braindecode.recordings._workspace import PREFIX as WORKSPACE_PREFIX

RACE_ROUNDS = 300


def _loose(root) -> dict:
    """Paths under ``root`` (itself included) whose mode is not 0700 (folders) or 0600 (files)."""
    found = {}
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if not path.is_symlink() and mode != (0o700 if path.is_dir() else 0o600):
            found[str(path.relative_to(root))] = oct(mode)
    return found


def test_the_store_is_readable_by_its_owner_only(arena, lab):
    root = arena.server.data_dir
    names = {path.name for path in root.iterdir()}
    assert {"meta.sqlite", "meta.sqlite-wal", "meta.sqlite-shm", "keys.sqlite", "keys.sqlite-wal",
            "jobs.sqlite", "blobs", "cache"} <= names
    assert _loose(root) == {}


def _wait_for(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
    return condition()


def test_a_server_killed_while_reading_leaves_nothing_outside_its_store(arena):
    """kill -9 while a BrainVision zip (28 MiB unpacked) is being read: the workspace is in the
    store's tmp, none is in the system's temporary folder, and the restart removes it; the restart
    also finds the store made readable by others meanwhile, tightens it and says so."""
    rec = arena.mallory.upload("big.zip", bombs.brainvision_zip_bomb(28 * 2**20))
    tmp = arena.server.data_dir / "tmp"
    reader = threading.Thread(target=lambda: pytest.raises(grpc.RpcError, arena.mallory.read, rec.id), daemon=True)
    reader.start()
    assert _wait_for(lambda: any(p.name.startswith(WORKSPACE_PREFIX) for p in tmp.iterdir()))
    arena.server.kill()
    reader.join(TIMEOUT)
    assert list(arena.tmp_dir.iterdir()) == []
    assert any(p.name.startswith(WORKSPACE_PREFIX) for p in tmp.iterdir())
    root = arena.server.data_dir
    os.chmod(root, 0o755)
    os.chmod(root / "meta.sqlite", 0o644)
    os.chmod(root / "keys.sqlite", 0o644)
    log_start = len(arena.server.log())
    arena.restart(kill=True)
    assert list(tmp.iterdir()) == [] and _loose(root) == {}
    assert f"the store {root} was readable by others: 3 folders and files now have modes 0700 and 0600" in \
        arena.server.log()[log_start:]
    assert arena.mallory.read(rec.id).shape[0] == 4
    arena.mallory.delete(rec.id)


def _nifti_bytes() -> bytes:
    import gzip

    import nibabel

    image = nibabel.Nifti1Image(np.arange(2 * 2 * 2 * 3, dtype=np.float32).reshape(2, 2, 2, 3), np.eye(4))
    return gzip.compress(image.to_bytes(), mtime=0)


@pytest.mark.slow
def test_deletes_racing_another_tenants_uploads_of_the_same_bytes_lose_nothing(arena):
    """Round after round, mallory deletes her copy of some bytes while bob uploads the same bytes:
    bob's acknowledged upload must read back (the tally counts the rounds and what they lost)."""
    payload = _nifti_bytes()
    lost = []
    for _ in range(RACE_ROUNDS):
        mine = arena.mallory.upload("run.nii.gz", payload)
        start = threading.Barrier(2)
        theirs = {}

        def delete():
            start.wait()
            arena.mallory.delete(mine.id)

        def upload():
            start.wait()
            theirs["recording"] = arena.bob.upload("run.nii.gz", payload)

        threads = [threading.Thread(target=delete), threading.Thread(target=upload)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        try:
            assert arena.bob.read(theirs["recording"].id).shape == (2, 2, 2, 3)
        except grpc.RpcError as exc:
            lost.append((theirs["recording"].id, exc.code().name, exc.details()))
        arena.bob.delete(theirs["recording"].id)
        arena.tally.race_rounds += 1
    arena.tally.race_lost += len(lost)
    assert lost == [], f"{len(lost)} of {RACE_ROUNDS} acknowledged uploads of {BYSTANDER} lost: {lost[:3]}"
