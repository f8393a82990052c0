"""Authentication: no key, a wrong key and a revoked key are denied; health stays open."""

import grpc
import pytest
import real_files

from braindecode.auth import KeyStore
from braindecode.client import Client
from braindecode.errors import InvalidArgument


def _denied(server, key):
    with Client(f"127.0.0.1:{server.port}", api_key=key, timeout=30) as c:
        assert c.health() == "SERVING"
        with pytest.raises(grpc.RpcError) as err:
            c.list()
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as err:
            c.upload(real_files.FUNCTIONAL, subject="01")
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as err:
            c.stream_data("rec_x")
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_no_wrong_or_revoked_key_is_denied(server, client):
    client.upload(real_files.FUNCTIONAL, subject="01")
    _denied(server, None)
    _denied(server, "bd_0000000000000000_nope")
    key_id = server.api_key.split("_")[1]
    _denied(server, f"bd_{key_id}_wrongsecret")
    server.keys.revoke(key_id)
    _denied(server, server.api_key)
    assert server.store.list_recordings("lab-a")[0], "nothing was deleted by denied calls"


def test_keys_are_stored_hashed_and_validated(tmp_path):
    keys = KeyStore(tmp_path)
    key, record = keys.create("lab-b", "analysis")
    assert keys.authenticate(key) == "lab-b"
    assert key.split("_", 2)[2].encode() not in (tmp_path / "keys.sqlite").read_bytes()
    assert [k.key_id for k in keys.list("lab-b")] == [record.key_id]
    with pytest.raises(InvalidArgument):
        keys.create("../evil")


def test_tenants_see_only_their_own_recordings(server, client):
    mine = client.upload(real_files.FUNCTIONAL, subject="01")
    other_key, _ = server.keys.create("lab-b")
    with Client(f"127.0.0.1:{server.port}", api_key=other_key, timeout=30) as other:
        assert other.list() == []
        theirs = other.upload(real_files.EDF, subject="99")
        for call in (other.get, other.delete, other.stream_data):
            with pytest.raises(grpc.RpcError) as err:
                call(mine.id)
            assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert [r.id for r in client.list()] == [mine.id]
    with pytest.raises(grpc.RpcError) as err:
        client.get(theirs.id)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_revoked_key_stops_the_streams_it_opened(server, monkeypatch):
    """A stream checks its key again as its messages flow (here at every message): an upload whose
    key is revoked half-way ends UNAUTHENTICATED and stores nothing."""
    import threading

    from braindecode.v1 import recordings_pb2

    monkeypatch.setattr("services._auth.KEY_RECHECK_SECONDS", 0.0)
    key, record = server.keys.create("lab-r")
    payload = real_files.FUNCTIONAL.read_bytes()
    opened, revoked = threading.Event(), threading.Event()
    authenticate = server.keys.authenticate

    def authenticate_and_tell(candidate):
        tenant = authenticate(candidate)
        if tenant == "lab-r":
            opened.set()
        return tenant

    monkeypatch.setattr(server.keys, "authenticate", authenticate_and_tell)

    def requests():
        yield recordings_pb2.UploadRecordingRequest(
            metadata=recordings_pb2.RecordingMetadata(subject="01", file_name="functional.nii"))
        yield recordings_pb2.UploadRecordingRequest(chunk=payload[:1024])
        assert opened.wait(30)  # the server let the call in: what follows tests the check mid-stream
        server.keys.revoke(record.key_id)
        revoked.set()
        yield recordings_pb2.UploadRecordingRequest(chunk=payload[1024:])

    with Client(f"127.0.0.1:{server.port}", api_key=key, timeout=30) as c:
        with pytest.raises(grpc.RpcError) as err:
            c.recordings.stub.UploadRecording(requests(), metadata=c.metadata, timeout=30)
    assert revoked.is_set() and err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert err.value.details() == "the API key was revoked while this call was open"
    assert server.store.list_recordings("lab-r")[0] == []
