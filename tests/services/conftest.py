"""Fixtures: a real braindecode server on a free loopback port, in-process or as a child process."""

import os
import pathlib
import subprocess
import sys
import time

import pytest

from braindecode.auth import KeyStore
from braindecode.client import Client
from braindecode.config import Config
from services.server import BraindecodeServer

ROOT = pathlib.Path(__file__).resolve().parents[2]


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


class ServerProcess:
    """``braindecode serve`` in a child process (for kill -9 and signal tests)."""

    def __init__(self, data_dir, extra_env=None):
        keys = KeyStore(data_dir)
        self.api_key, _ = keys.create("lab-a")
        keys.close()
        env = dict(os.environ, PYTHONUNBUFFERED="1", **(extra_env or {}))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "braindecode.cli", "serve", "--port", "0", "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if "listening on" in line:
                self.port = int(line.rsplit(":", 1)[1])
                return
            if not line and self.proc.poll() is not None:
                break
        self.proc.kill()
        raise RuntimeError("server did not start")

    def client(self, **kwargs):
        return Client(f"127.0.0.1:{self.port}", api_key=self.api_key, **kwargs)

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def terminate(self, timeout=30):
        self.proc.terminate()
        return self.proc.wait(timeout)


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
