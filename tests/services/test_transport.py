"""Transport: mutual TLS round trip, clients without a certificate refused, loopback-only plaintext."""

import grpc
import pytest
import real_files

from braindecode.client import Client
from braindecode.config import Config
from braindecode.errors import InvalidArgument
from services.server import BraindecodeServer


def test_mutual_tls_round_trip_and_refusal(tmp_path, pki):
    folder, files = pki
    config = Config.load(data_dir=str(tmp_path / "store"), port=0, tls_cert=str(folder / "server.pem"),
                         tls_key=str(folder / "server.key"), tls_client_ca=str(folder / "ca.pem"))
    server = BraindecodeServer(config).start()
    key, _ = server.keys.create("lab-a")
    target = f"localhost:{server.port}"
    try:
        with Client(target, api_key=key, root_certificates=files["ca.pem"],
                    certificate_chain=files["client.pem"], private_key=files["client.key"],
                    timeout=30) as c:
            rec = c.upload(real_files.FUNCTIONAL, subject="01")
            assert [r.id for r in c.list()] == [rec.id]
        with Client(target, api_key=key, root_certificates=files["ca.pem"], timeout=10) as anonymous:
            with pytest.raises(grpc.RpcError) as err:
                anonymous.list()
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        with Client(target, api_key=key, timeout=10) as plaintext:
            with pytest.raises(grpc.RpcError):
                plaintext.list()
    finally:
        server.stop(grace=0)


def test_plaintext_binds_loopback_only(tmp_path, caplog):
    config = Config.load(data_dir=str(tmp_path / "s"), port=0, host="0.0.0.0")
    with pytest.raises(InvalidArgument, match="refusing to serve plaintext on 0.0.0.0"):
        BraindecodeServer(config)
    loud = Config.load(data_dir=str(tmp_path / "s"), port=0, host="0.0.0.0", allow_insecure_remote=True)
    server = BraindecodeServer(loud)
    assert "SERVING WITHOUT TLS" in caplog.text
    server.stop(grace=0)
