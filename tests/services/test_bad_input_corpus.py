"""Every file of tests/bad_inputs/ uploaded to a real server gets its status code; nothing is stored."""

import json
import pathlib

import grpc
import pytest

from braindecode.v1 import recordings_pb2

CORPUS = pathlib.Path(__file__).resolve().parents[1] / "bad_inputs"
ENTRIES = json.loads((CORPUS / "manifest.json").read_text())["entries"]


def _upload(client, entry, declare: bool):
    payload = (CORPUS / entry["file"]).read_bytes()
    meta = recordings_pb2.RecordingMetadata(
        subject="01", file_name=entry["file"],
        format=entry["format"] if declare else "", modality=entry["modality"] if declare else "")

    def requests():
        yield recordings_pb2.UploadRecordingRequest(metadata=meta)
        for start in range(0, len(payload), 256 * 1024):
            yield recordings_pb2.UploadRecordingRequest(chunk=payload[start:start + 256 * 1024])

    return client.recordings.stub.UploadRecording(requests(), metadata=client.metadata, timeout=60)


def test_corpus_is_large_enough():
    assert len(ENTRIES) >= 30


def test_every_bad_file_gets_its_status_over_grpc(server, client):
    wrong = []
    for entry in ENTRIES:
        try:
            _upload(client, entry, declare=True)
            wrong.append((entry["file"], "stored"))
        except grpc.RpcError as exc:
            if exc.code().name != entry["code"] or entry["match"].lower() not in exc.details().lower():
                wrong.append((entry["file"], exc.code().name, exc.details()))
    assert wrong == []
    assert client.list() == [] and client.health() == "SERVING"
    assert [p for p in (server.store.root / "blobs").rglob("*") if p.is_file()] == []
    assert list((server.store.root / "tmp").iterdir()) == []


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e["code"] == "INVALID_ARGUMENT"][:10],
                         ids=lambda e: e["file"])
def test_undeclared_format_is_refused_too(client, entry):
    with pytest.raises(grpc.RpcError) as err:
        _upload(client, entry, declare=False)
    assert err.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED)
