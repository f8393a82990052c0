"""Fixtures: a real braindecode server on a free loopback port, in-process or as a child process, and a
test PKI (a CA, a server and a client certificate)."""

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from server_process import ServerProcess

from braindecode.client import Client
from braindecode.config import Config
from services.server import BraindecodeServer


@pytest.fixture
def server(tmp_path):
    config = Config.load(data_dir=str(tmp_path / "store"), port=0, max_upload_bytes=5 * 1024 * 1024)
    srv = BraindecodeServer(config).start()
    srv.api_key, _ = srv.keys.create("lab-a")
    yield srv
    srv.stop(grace=0)


@pytest.fixture
def client(server):
    with Client(f"127.0.0.1:{server.port}", api_key=server.api_key, timeout=60) as c:
        yield c


@pytest.fixture
def spawn_server():
    started = []

    def spawn(data_dir, **kwargs):
        process = ServerProcess(data_dir, **kwargs)
        started.append(process)
        return process

    yield spawn
    for process in started:
        if process.proc.poll() is None:
            process.kill()


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
