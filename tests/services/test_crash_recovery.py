"""kill -9 of the server in the middle of an upload leaves no trace; stored blobs stay intact."""

import threading
import time

import grpc
import real_files

from braindecode.store import Store
from braindecode.v1 import recordings_pb2


def test_kill_during_upload_then_restart(tmp_path, spawn_server):
    data_dir = tmp_path / "store"
    first = spawn_server(data_dir)
    with first.client(timeout=60) as c:
        kept = c.upload(real_files.EXAMPLE4D, subject="01")

    payload = real_files.FMRI1.read_bytes()
    sent = threading.Event()
    outcome = {}

    def slow_requests():
        yield recordings_pb2.UploadRecordingRequest(
            metadata=recordings_pb2.RecordingMetadata(subject="02", file_name="fmri1.nii.gz"))
        for start in range(0, len(payload), 4096):
            yield recordings_pb2.UploadRecordingRequest(chunk=payload[start:start + 4096])
            if start >= 8192:
                sent.set()
            time.sleep(0.05)

    def upload():
        with first.client() as c:
            try:
                c.recordings.stub.UploadRecording(slow_requests(), metadata=c.metadata, timeout=60)
                outcome["result"] = "stored"
            except grpc.RpcError as exc:
                outcome["result"] = exc.code()

    thread = threading.Thread(target=upload)
    thread.start()
    assert sent.wait(30)
    staged = list((data_dir / "tmp").iterdir())
    assert staged, "the upload should be staged in tmp/ while in flight"
    first.kill()
    thread.join(30)
    assert outcome["result"] == grpc.StatusCode.UNAVAILABLE

    second = spawn_server(data_dir)
    with second.client(timeout=60) as c:
        assert [r.id for r in c.list()] == [kept.id]
        assert c.get(kept.id).sha256 == kept.sha256
        retried = c.upload(real_files.FMRI1, subject="02")
        assert retried.sha256 and len(c.list()) == 2
    assert list((data_dir / "tmp").iterdir()) == []
    second.kill()
    store = Store(data_dir)
    assert store.verify() == []
    blobs = [p for p in (data_dir / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 2
