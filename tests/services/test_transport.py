"""Transport: mutual TLS round trip, clients without a certificate refused, loopback-only plaintext."""

import datetime

import grpc
import pytest
import real_files
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from braindecode.client import Client
from braindecode.config import Config
from braindecode.errors import InvalidArgument
from services.server import BraindecodeServer


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _certificate(name, issuer_key, issuer_name, key, ca=False, san=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
               .issuer_name(issuer_name).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture
def pki(tmp_path):
    import ipaddress

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test lab CA")])
    ca = _certificate("test lab CA", ca_key, ca_name, ca_key, ca=True)
    files = {"ca.pem": ca.public_bytes(serialization.Encoding.PEM)}
    for who, san in (("server", [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                     ("client", None)):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(who, ca_key, ca_name, key, san=san)
        files[f"{who}.pem"] = cert.public_bytes(serialization.Encoding.PEM)
        files[f"{who}.key"] = _pem_key(key)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path, files


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
