"""Faults: a disk filling up during a write, deadlines that expire and calls that are cancelled.

Each fault must reach the client as a clear status, leave nothing half-written in the store
(no staged file, no orphan blob, no row), keep the server serving, and let a retry succeed.
"""

import errno
import io
import os
import shutil
import threading
import time

import grpc
import numpy as np
import pytest
import real_files

from braindecode import tensors
from braindecode.errors import InvalidArgument, ResourceExhausted
from braindecode.store import Store, _uploads
from braindecode.v1 import recordings_pb2, recordings_pb2_grpc

NO_SPACE = "no space left on the server's disk"
SQLITE_MAX_PAGES = 4294967294


def _enospc(path=""):
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def _under(fd_or_path, folder) -> bool:
    path = os.readlink(f"/proc/self/fd/{fd_or_path}") if isinstance(fd_or_path, int) else fd_or_path
    return str(path).startswith(str(folder) + os.sep)


class _Disk:
    """A disk with ``free`` bytes left."""

    def __init__(self, free: int):
        self.free = free


class _FileOnDisk(io.FileIO):
    """A file whose writes stop, like write(2), once its disk is full: short, then ENOSPC."""

    def __init__(self, path, mode, disk):
        super().__init__(path, mode)
        self.disk = disk

    def write(self, data):
        if self.disk.free <= 0:
            raise _enospc(self.name)
        written = super().write(memoryview(data)[:self.disk.free])
        self.disk.free -= written
        return written


def _fill_disk_while_staging(monkeypatch, store):
    """The staged upload file runs out of space after 100 kB (buffered writes, like open())."""
    disk = _Disk(100_000)
    monkeypatch.setattr(_uploads, "open", lambda path, mode: io.BufferedWriter(_FileOnDisk(path, mode, disk)),
                        raising=False)


def _fail_fsync_of_staged_file(monkeypatch, store):
    real = os.fsync

    def fsync(fd):
        if _under(fd, store.root / "tmp"):
            raise _enospc()
        return real(fd)
    monkeypatch.setattr(os, "fsync", fsync)


def _fail_rename_into_blobs(monkeypatch, store):
    real = os.replace

    def replace(src, dst, **kwargs):
        if _under(dst, store.root / "blobs"):
            raise _enospc(dst)
        return real(src, dst, **kwargs)
    monkeypatch.setattr(os, "replace", replace)


def _fail_fsync_of_blob_folder(monkeypatch, store):
    """The blob is already renamed into blobs/ when the folder's fsync fails."""
    real = os.fsync

    def fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(store.root / "blobs")):
            raise _enospc()
        return real(fd)
    monkeypatch.setattr(os, "fsync", fsync)


def _fill_database(monkeypatch, store):
    """SQLite itself reports SQLITE_FULL: the database may not grow by a single page."""
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")


# A row of this size needs new database pages (overflow pages for the events' JSON).
BIG_EVENTS = [{"onset": 0.0, "duration": 0.5, "stimulus_id": f"stimulus-{i:04d}-" + "x" * 100}  # ids of 115 chars
              for i in range(80)]

DISK_FAULTS = {
    "staged-write": _fill_disk_while_staging,
    "staged-fsync": _fail_fsync_of_staged_file,
    "rename-into-blobs": _fail_rename_into_blobs,
    "blob-folder-fsync": _fail_fsync_of_blob_folder,
    "database-full": _fill_database,
}


def _files(folder) -> set:
    return {str(p.relative_to(folder.parent)) for p in folder.rglob("*") if p.is_file()}


def _assert_only(store_root, recordings: list) -> None:
    """The store holds exactly ``recordings``: their rows and blobs, nothing staged."""
    assert list((store_root / "tmp").iterdir()) == []
    assert _files(store_root / "blobs") == {r.blob for r in recordings}
    check = Store(store_root)  # opened again, as after a restart
    try:
        rows, _ = check.list_recordings("lab-a")
        assert [r.id for r in rows] == [r.id for r in recordings]
        assert check.verify() == []
    finally:
        check.close()


@pytest.mark.parametrize("fault", list(DISK_FAULTS))
def test_disk_full_during_upload(server, client, monkeypatch, fault):
    kept = client.upload(real_files.FUNCTIONAL, subject="01")
    root = server.store.root
    DISK_FAULTS[fault](monkeypatch, server.store)
    with pytest.raises(grpc.RpcError) as err:
        client.upload(real_files.EXAMPLE4D, subject="02", events=BIG_EVENTS)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert NO_SPACE in err.value.details()
    assert client.health() == "SERVING"
    monkeypatch.undo()
    if fault == "database-full":
        server.store._db.execute(f"PRAGMA max_page_count = {SQLITE_MAX_PAGES}")
    _assert_only(root, [server.store.get_recording("lab-a", kept.id)])

    retried = client.upload(real_files.EXAMPLE4D, subject="02", events=BIG_EVENTS)
    assert len(retried.events) == len(BIG_EVENTS)
    assert [r.id for r in client.list()] == [kept.id, retried.id]
    _assert_only(root, [server.store.get_recording("lab-a", i) for i in (kept.id, retried.id)])


def _artifact_files(tmp_path) -> dict:
    rng = np.random.default_rng(0)
    files = {}
    for name in ("weights.npy", "bias.npy", "card.json"):
        files[name] = tmp_path / "in" / name
        files[name].parent.mkdir(exist_ok=True)
        files[name].write_bytes(rng.bytes(200_000))
    return files


def _copy_fills_disk_on_second_file(monkeypatch, store):
    real, copies = shutil.copyfile, []

    def copyfile(src, dst, **kwargs):
        if _under(dst, store.root / "tmp"):
            copies.append(src)
            if len(copies) == 2:
                with open(src, "rb") as fin, open(dst, "wb") as fout:
                    fout.write(fin.read(50_000))
                raise _enospc(dst)
        return real(src, dst, **kwargs)
    monkeypatch.setattr(shutil, "copyfile", copyfile)


ARTIFACT_FAULTS = {"copy-of-second-file": _copy_fills_disk_on_second_file, "database-full": _fill_database}


@pytest.mark.parametrize("fault", list(ARTIFACT_FAULTS))
def test_disk_full_while_adding_an_artifact(tmp_path, monkeypatch, fault):
    files = _artifact_files(tmp_path)
    root = tmp_path / "store"
    store = Store(root)
    shared = store.add_artifact("lab-a", "model", {"weights.npy": files["weights.npy"]})
    ARTIFACT_FAULTS[fault](monkeypatch, store)
    with pytest.raises(ResourceExhausted, match=NO_SPACE):
        store.add_artifact("lab-a", "model", files, meta={"notes": "y" * 20_000})
    monkeypatch.undo()
    store.close()

    assert list((root / "tmp").iterdir()) == []
    assert _files(root / "blobs") == set(shared.files.values()), "the blob shared with a kept artifact stays"
    store = Store(root)
    assert [a.id for a in store.list_artifacts("lab-a")] == [shared.id]
    assert store.verify() == []
    retried = store.add_artifact("lab-a", "model", files, meta={"notes": "y" * 20_000})
    folder = store.artifact_dir("lab-a", retried.id)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == {n: p.read_bytes() for n, p in files.items()}
    assert store.verify() == []
    store.close()


def test_artifact_with_a_bad_file_name_stores_no_blob(tmp_path):
    files = _artifact_files(tmp_path)
    store = Store(tmp_path / "store")
    with pytest.raises(InvalidArgument, match="plain name"):
        store.add_artifact("lab-a", "model", {**files, "../escape.npy": files["bias.npy"]})
    assert _files(tmp_path / "store" / "blobs") == set()
    assert list((tmp_path / "store" / "tmp").iterdir()) == []
    store.close()


# -- deadlines and cancellation --------------------------------------------------------------
def _wait_until(condition, timeout=15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _stalling_upload(payload: bytes, sent: threading.Event, release: threading.Event):
    """Metadata and the first 64 kB, then nothing until ``release`` (a client gone quiet)."""
    yield recordings_pb2.UploadRecordingRequest(
        metadata=recordings_pb2.RecordingMetadata(subject="02", file_name="example4d.nii.gz"))
    for start in range(0, 65536, 16384):
        yield recordings_pb2.UploadRecordingRequest(chunk=payload[start:start + 16384])
    sent.set()
    release.wait(30)


@pytest.fixture
def release():
    event = threading.Event()
    yield event
    event.set()


def _staged(server) -> list:
    return list((server.store.root / "tmp").iterdir())


@pytest.mark.parametrize("ending", ["deadline", "cancel"])
def test_upload_that_ends_early_leaves_nothing(server, client, release, ending):
    kept = client.upload(real_files.FUNCTIONAL, subject="01")
    sent = threading.Event()
    requests = _stalling_upload(real_files.EXAMPLE4D.read_bytes(), sent, release)
    call = client.recordings.stub.UploadRecording.future(requests, metadata=client.metadata,
                                                         timeout=1.5 if ending == "deadline" else 60)
    assert sent.wait(30)
    assert _wait_until(lambda: len(_staged(server)) == 1), "the upload is staged while in flight"
    if ending == "cancel":
        call.cancel()
    with pytest.raises(grpc.FutureCancelledError if ending == "cancel" else grpc.RpcError) as err:
        call.result(timeout=30)
    if ending == "deadline":
        assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert _wait_until(lambda: _staged(server) == []), "the server stopped the upload and removed its bytes"
    assert [r.id for r in client.list()] == [kept.id]
    _assert_only(server.store.root, [server.store.get_recording("lab-a", kept.id)])
    assert client.health() == "SERVING"


@pytest.fixture
def counted_chunks(monkeypatch):
    """Wrap the chunking StreamData uses: how many chunks it made, and whether it was closed."""
    state = {"made": 0, "total": 0, "closed": threading.Event()}
    real = tensors.to_chunks

    def to_chunks(array, chunk_bytes=tensors.DEFAULT_CHUNK_BYTES):
        state["total"] = -(-np.asarray(array).nbytes // chunk_bytes)
        try:
            for message in real(array, chunk_bytes):
                state["made"] += 1
                yield message
        finally:
            state["closed"].set()
    monkeypatch.setattr(tensors, "to_chunks", to_chunks)
    return state


@pytest.mark.parametrize("ending", ["deadline", "cancel"])
def test_stream_data_stops_when_the_client_goes(server, client, counted_chunks, ending):
    rec = client.upload(real_files.EDF, subject="01")  # 11 x 120000 float64: 10.5 MB
    request = recordings_pb2.StreamDataRequest(id=rec.id, chunk_bytes=4096)
    # A fixed 64 kB flow-control window: a client that stops reading stops the server's sends.
    with grpc.insecure_channel(f"127.0.0.1:{server.port}", options=[("grpc.http2.bdp_probe", 0)]) as channel:
        stub = recordings_pb2_grpc.RecordingServiceStub(channel)
        call = stub.StreamData(request, metadata=client.metadata, timeout=1.0 if ending == "deadline" else 60)
        received = [next(call), next(call)]
        if ending == "cancel":
            call.cancel()
        else:
            time.sleep(1.5)
        with pytest.raises(grpc.RpcError) as err:
            received.extend(call)
    expected = grpc.StatusCode.CANCELLED if ending == "cancel" else grpc.StatusCode.DEADLINE_EXCEEDED
    assert err.value.code() == expected
    assert counted_chunks["closed"].wait(15), "the server's stream was closed"
    assert counted_chunks["made"] < counted_chunks["total"] // 4, "the server stopped well before the end"
    assert client.health() == "SERVING"
    assert client.stream_data(rec.id).shape == (11, 120000)
