"""SIGTERM: new calls are refused, calls in flight drain, an unfinished upload is discarded."""

import threading
import time

import grpc
import real_files

from braindecode.store import Store
from braindecode.v1 import recordings_pb2


def test_sigterm_drains_and_discards_unfinished_upload(tmp_path, spawn_server):
    data_dir = tmp_path / "store"
    server = spawn_server(data_dir, extra_env={"BRAINDECODE_GRACE_SECONDS": "2"})
    with server.client(timeout=30) as c:
        kept = c.upload(real_files.FUNCTIONAL, subject="01")
    payload = real_files.FMRI1.read_bytes()
    started, outcome = threading.Event(), {}

    def endless_upload():
        yield recordings_pb2.UploadRecordingRequest(
            metadata=recordings_pb2.RecordingMetadata(subject="02", file_name="fmri1.nii.gz"))
        for start in range(0, len(payload), 1024):
            yield recordings_pb2.UploadRecordingRequest(chunk=payload[start:start + 1024])
            started.set()
            time.sleep(0.2)

    def upload():
        with server.client() as c:
            try:
                c.recordings.stub.UploadRecording(endless_upload(), metadata=c.metadata, timeout=60)
                outcome["code"] = "stored"
            except grpc.RpcError as exc:
                outcome["code"] = exc.code()

    thread = threading.Thread(target=upload)
    thread.start()
    assert started.wait(30)
    t0 = time.monotonic()
    assert server.terminate(timeout=30) == 0
    assert time.monotonic() - t0 < 15
    thread.join(30)
    assert outcome["code"] in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
    assert list((data_dir / "tmp").iterdir()) == []
    store = Store(data_dir)
    assert [r.id for r in store.list_recordings("lab-a")[0]] == [kept.id]
    assert store.verify() == []
