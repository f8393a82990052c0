"""``braindecode serve`` in a child process on a free loopback port: for kill -9, signals, and
attacks under a memory cap, where only the server may run out of memory, never the test machine."""

import functools
import os
import pathlib
import resource
import subprocess
import sys
import time

from braindecode.auth import KeyStore
from braindecode.client import Client

ROOT = pathlib.Path(__file__).resolve().parents[1]


def memory(pid: int) -> dict:
    """``VmRSS`` (resident now) and ``VmHWM`` (peak resident) of process ``pid``, in bytes."""
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return {name: int(fields[name].split()[0]) * 1024 for name in ("VmRSS", "VmHWM")}


def reset_peak(pid: int) -> None:
    """Set ``VmHWM`` of process ``pid`` to its ``VmRSS`` (Linux ``clear_refs``)."""
    pathlib.Path(f"/proc/{pid}/clear_refs").write_text("5")


def _cap_address_space(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class ServerProcess:
    """A server on the store at ``data_dir``, listening once the constructor returns.

    Parameters
    ----------
    data_dir : path-like
    extra_env : dict, optional
        Environment variables for the server (``BRAINDECODE_*`` settings).
    tenants : sequence of str
        Tenants given an API key (``api_keys``); the first one's is ``api_key``.
    memory_limit : int, optional
        The server's address-space cap in bytes (``RLIMIT_AS``): past it, its allocations fail.

    The server writes its output to ``log_path`` (``<data_dir>.log``), read by ``log()``.
    """

    def __init__(self, data_dir, extra_env=None, tenants=("lab-a",), memory_limit=None):
        keys = KeyStore(data_dir)
        self.api_keys = {tenant: keys.create(tenant)[0] for tenant in tenants}
        keys.close()
        self.api_key = self.api_keys[tenants[0]]
        self.data_dir = pathlib.Path(data_dir)
        self.log_path = self.data_dir.with_name(self.data_dir.name + ".log")
        self.memory_limit = memory_limit
        self.env = dict(os.environ, PYTHONUNBUFFERED="1", **(extra_env or {}))
        self.start()

    def start(self, timeout: float = 60) -> None:
        """Start the server (again, after it stopped) and wait until it listens."""
        cap = None if self.memory_limit is None else functools.partial(_cap_address_space, self.memory_limit)
        with open(self.log_path, "a") as log:
            start = log.tell()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "braindecode.cli", "serve", "--port", "0", "--data-dir", str(self.data_dir)],
                stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=self.env, preexec_fn=cap)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            for line in self.log(start).splitlines():
                if "listening on" in line:
                    self.port = int(line.rsplit(":", 1)[1])
                    return
            time.sleep(0.1)
        self.proc.kill()
        raise RuntimeError(f"server did not start:\n{self.log(start)}")

    def log(self, start: int = 0) -> str:
        """What the server wrote, from byte ``start`` of the log on."""
        return self.log_path.read_bytes()[start:].decode(errors="replace")

    def client(self, **kwargs):
        return Client(f"127.0.0.1:{self.port}", api_key=self.api_key, **kwargs)

    def memory(self) -> dict:
        """``memory`` of the server process."""
        return memory(self.proc.pid)

    def reset_peak(self) -> None:
        """``reset_peak`` of the server process."""
        reset_peak(self.proc.pid)

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def terminate(self, timeout=30):
        self.proc.terminate()
        return self.proc.wait(timeout)
