"""Limits: upload size at and past its bound, gRPC message size, per-tenant calls, memory under a
large upload, and a short run of the loopback load test (benchmarks/load.py)."""

import hashlib
import json
import pathlib
import subprocess
import sys
import threading
import time

import grpc
import nibabel
import numpy as np
import pytest
import real_files

from braindecode.client import Client
from braindecode.config import Config
from braindecode.errors import InvalidArgument
from braindecode.v1 import recordings_pb2
from services.server import BraindecodeServer

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def make_server(tmp_path):
    """Start servers with config overrides; each has its own store under tmp_path."""
    started = []

    def make(**overrides):
        config = Config.load(data_dir=str(tmp_path / f"store-{len(started)}"), port=0, **overrides)
        started.append(BraindecodeServer(config).start())
        return started[-1]

    yield make
    for server in started:
        server.stop(grace=0)


@pytest.fixture
def release():
    event = threading.Event()
    yield event
    event.set()


def _client(server, tenant: str) -> Client:
    key, _ = server.keys.create(tenant)
    return Client(f"127.0.0.1:{server.port}", api_key=key, timeout=30)


def _requests(name: str, payload: bytes, chunk: int, hold: threading.Event | None = None):
    """Upload messages: metadata, then ``payload`` in ``chunk``-byte pieces (after ``hold`` is set)."""
    yield recordings_pb2.UploadRecordingRequest(metadata=recordings_pb2.RecordingMetadata(subject="01", file_name=name))
    for start in range(0, len(payload), chunk):
        yield recordings_pb2.UploadRecordingRequest(chunk=payload[start:start + chunk])
        if hold is not None:
            hold.wait(60)


def _staged(server) -> list:
    return list((server.store.root / "tmp").iterdir())


def _wait_staged(server, n: int, timeout: float = 30.0) -> None:
    """Wait until ``n`` uploads are staged: they are in the server's hands (and hold call slots)."""
    deadline = time.monotonic() + timeout
    while len(_staged(server)) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_staged(server)) == n


def test_upload_size_limit_holds_exactly_at_the_limit(make_server):
    payload = real_files.FUNCTIONAL.read_bytes()
    server = make_server(max_upload_bytes=len(payload))
    with _client(server, "lab-a") as client:
        rec = client.recordings.stub.UploadRecording(_requests("functional.nii", payload, 16384),
                                                     metadata=client.metadata, timeout=30)
        assert rec.size_bytes == len(payload) and rec.sha256 == hashlib.sha256(payload).hexdigest()
        with pytest.raises(grpc.RpcError) as err:
            client.recordings.stub.UploadRecording(_requests("functional.nii", payload + b"\0", 16384),
                                                   metadata=client.metadata, timeout=30)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert f"upload exceeds the size limit of {len(payload)} bytes" in err.value.details()
        assert [r.id for r in client.list()] == [rec.id]
        assert client.health() == "SERVING"
    assert _staged(server) == []


def test_message_over_max_message_bytes_is_refused_by_grpc(make_server):
    limit = 256 * 1024
    server = make_server(max_message_bytes=limit)
    chunk_at_limit = limit - (recordings_pb2.UploadRecordingRequest(chunk=b"x" * limit).ByteSize() - limit)
    assert recordings_pb2.UploadRecordingRequest(chunk=b"x" * chunk_at_limit).ByteSize() == limit
    with _client(server, "lab-a") as client:
        rec = client.upload(real_files.EXAMPLE4D, subject="01", chunk_bytes=chunk_at_limit)
        with pytest.raises(grpc.RpcError) as err:
            client.upload(real_files.EXAMPLE4D, subject="02", chunk_bytes=chunk_at_limit + 1)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert f"larger than max ({limit + 1} vs. {limit})" in err.value.details()
        assert [r.id for r in client.list()] == [rec.id]
        # StreamData keeps its chunks under the server's send limit whatever the client asks for.
        request = recordings_pb2.StreamDataRequest(id=rec.id, chunk_bytes=10 * limit)
        chunks = list(client.recordings.stub.StreamData(request, metadata=client.metadata, timeout=30))
        assert len(chunks) > 1 and max(c.ByteSize() for c in chunks) <= limit
        np.testing.assert_allclose(client.stream_data(rec.id),
                                   nibabel.load(real_files.EXAMPLE4D).get_fdata(dtype=np.float32), rtol=1e-6)
        assert client.health() == "SERVING"
    assert _staged(server) == []


def test_tenant_at_its_call_limit_is_refused_while_another_is_served(make_server, release):
    server = make_server(max_workers=4, max_concurrent_calls_per_tenant=2)
    payload = real_files.FUNCTIONAL.read_bytes()
    with _client(server, "lab-a") as a, _client(server, "lab-b") as b:
        held = [a.recordings.stub.UploadRecording.future(_requests("functional.nii", payload, 8192, release),
                                                         metadata=a.metadata, timeout=60) for _ in range(2)]
        _wait_staged(server, 2)
        for call in (a.list, lambda: a.upload(real_files.FUNCTIONAL, subject="02")):
            with pytest.raises(grpc.RpcError) as err:
                call()
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "tenant lab-a already has 2 calls in flight" in err.value.details()
        assert b.list() == []
        theirs = b.upload(real_files.FUNCTIONAL, subject="99")
        assert b.health() == "SERVING"
        release.set()
        mine = [call.result(timeout=60) for call in held]
        assert {r.id for r in a.list()} == {r.id for r in mine}
        assert [r.id for r in b.list()] == [theirs.id]


def _list_when_free(client, timeout: float = 15.0) -> list:
    """``client.list()`` once the tenant's call slot is free again."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return client.list()
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.parametrize("rpc", ["upload", "stream_data"])
@pytest.mark.parametrize("ending", ["cancel", "deadline"])
def test_a_call_that_ends_early_frees_its_tenant_slot(make_server, release, rpc, ending):
    server = make_server(max_workers=4, max_concurrent_calls_per_tenant=1)
    with _client(server, "lab-a") as client:
        rec = client.upload(real_files.EDF, subject="01")
        timeout = 1.0 if ending == "deadline" else 60
        if rpc == "upload":
            call = client.recordings.stub.UploadRecording.future(
                _requests("edf.edf", real_files.EDF.read_bytes(), 8192, release), metadata=client.metadata,
                timeout=timeout)
            _wait_staged(server, 1)
        else:
            call = client.recordings.stub.StreamData(
                recordings_pb2.StreamDataRequest(id=rec.id, chunk_bytes=1024), metadata=client.metadata,
                timeout=timeout)
            next(call)
        with pytest.raises(grpc.RpcError) as err:
            client.list()
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, "the call holds lab-a's one slot"
        if ending == "cancel":
            call.cancel()
        assert [r.id for r in _list_when_free(client)] == [rec.id]
    assert _staged(server) == []


def test_one_tenant_cannot_be_allowed_every_worker(tmp_path):
    with pytest.raises(InvalidArgument, match=r"max_concurrent_calls_per_tenant \(4\) must be below max_workers \(4\)"):
        BraindecodeServer(Config.load(data_dir=str(tmp_path), port=0, max_workers=4,
                                      max_concurrent_calls_per_tenant=4))
    defaults = Config.load(data_dir=str(tmp_path))
    assert defaults.max_concurrent_calls_per_tenant < defaults.max_workers


def _large_nifti(n_volumes: int, digest, staged_sizes: list, staging: pathlib.Path):
    """Upload messages of a valid float32 NIfTI of 64 x 64 x 64 x n_volumes, one 1 MiB volume per
    message, made as they are sent; notes the size of the server's staged file half-way."""
    header = nibabel.Nifti1Header()
    header.set_data_shape((64, 64, 64, n_volumes))
    header.set_data_dtype(np.float32)
    header.set_zooms((3.0, 3.0, 3.0, 2.0))
    header.set_xyzt_units("mm", "sec")
    header.set_sform(np.diag([3.0, 3.0, 3.0, 1.0]), code=1)
    header["vox_offset"] = 352
    head = header.binaryblock + b"\0" * 4
    yield recordings_pb2.UploadRecordingRequest(metadata=recordings_pb2.RecordingMetadata(
        subject="01", file_name="large.nii"))
    digest.update(head)
    yield recordings_pb2.UploadRecordingRequest(chunk=head)
    for t in range(n_volumes):
        volume = np.full(64**3, t, dtype=np.float32).tobytes()
        digest.update(volume)
        yield recordings_pb2.UploadRecordingRequest(chunk=volume)
        if t == n_volumes // 2:
            staged_sizes.extend(p.stat().st_size for p in staging.iterdir())


def test_large_upload_streams_to_disk_in_bounded_memory(tmp_path, spawn_server):
    n_volumes = 300  # 300 MiB in 1 MiB messages
    server = spawn_server(tmp_path / "store")
    digest, staged = hashlib.sha256(), []
    with server.client(timeout=300) as client:
        client.list()
        server.reset_peak()
        before = server.memory()["VmRSS"]
        rec = client.recordings.stub.UploadRecording(
            _large_nifti(n_volumes, digest, staged, tmp_path / "store" / "tmp"), metadata=client.metadata,
            timeout=300)
        growth_mb = (server.memory()["VmHWM"] - before) / 2**20
        assert tuple(rec.shape) == (64, 64, 64, n_volumes) and rec.sha256 == digest.hexdigest()
        assert rec.size_bytes == 352 + n_volumes * 2**20
        assert staged and max(staged) > 100 * 2**20, "half-way, the bytes received are already on disk"
        assert growth_mb < 100, f"server peak RSS grew by {growth_mb:.0f} MB during a 300 MB upload"
        assert client.delete(rec.id)


def test_load_script_loses_nothing(tmp_path):
    out = tmp_path / "load.json"
    done = subprocess.run([sys.executable, "benchmarks/load.py", "--uploaders", "2", "--decoders", "2",
                           "--seconds", "3", "--max-calls", "25", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(out.read_text())
    assert summary["uploads_acknowledged"] > 0 and summary["calls"]["decode"]["calls"] > 0
    assert summary["errors"] == 0 and summary["uploads_lost"] == 0 and summary["bad_blobs"] == 0
    assert summary["rows_stored"] == summary["uploads_acknowledged"]
    assert summary["read_back"]["stream_data"]["errors"] == 0
    assert summary["server_exit_code"] == 0
