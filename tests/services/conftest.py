"""Fixtures: a real braindecode server on a free loopback port, in-process or as a child process."""

import pytest
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
