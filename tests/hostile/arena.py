"""The hostile-tenant suite's arena: attacks on a real server whose address space is capped.

One server for the whole suite, started as a child process (tests/server_process.py) under
``MEMORY_CAP``, so that a request that exhausts memory can take down only the server, never
the test machine. Two tenants: ``mallory`` attacks; ``bob`` stored recordings before the
first attack, and after every attack the server must still answer health checks and list
them. ``arena.attack(...)`` runs one attack and records its outcome; the session ends with the
suite's reliability table: attacks tried, answered with the status expected, server deaths,
and acknowledged writes lost (bob's recordings, read back in full at the end).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib

import bombs
import grpc
import numpy as np
import real_files
from grpc_health.v1 import health_pb2, health_pb2_grpc
from server_process import ServerProcess

from braindecode import tensors
from braindecode.store import Store, save_activation_set
from braindecode.containers import ActivationSet
from braindecode.recordings._workspace import PREFIX as WORKSPACE_PREFIX
from braindecode.v1 import decoding_pb2_grpc, jobs_pb2_grpc, recordings_pb2, recordings_pb2_grpc

MEMORY_CAP = 6 * 2**30
"""The server's address space (RLIMIT_AS): its idle footprint is about 2 GiB of it."""
CALL_GROWTH = 64 * 2**20
"""Most that an attack may add to the server's peak RSS (gRPC buffers, allocator slack); no
configured bound is lower (``ReadLimits.expansion_grace_bytes`` is the least of them), so an
attack refused before allocating stays well below its bound."""
TIMEOUT = 60
CHUNK_BYTES = 2**20
ATTACKER, BYSTANDER = "mallory", "bob"
N_STIMULI, N_DIMS = 48, 4


class Tenant:
    """One tenant's stubs on its own channel, every call carrying its API key."""

    def __init__(self, port: int, api_key: str):
        options = [("grpc.max_receive_message_length", 64 * 2**20), ("grpc.max_send_message_length", 64 * 2**20)]
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=options)
        self.metadata = (("authorization", f"Bearer {api_key}"),)
        self.recordings = recordings_pb2_grpc.RecordingServiceStub(self.channel)
        self.decoding = decoding_pb2_grpc.DecodingServiceStub(self.channel)
        self.jobs = jobs_pb2_grpc.JobServiceStub(self.channel)
        self._health = health_pb2_grpc.HealthStub(self.channel)

    def upload(self, file_name: str, payload: bytes, subject: str = "01", **fields) -> recordings_pb2.Recording:
        """Upload ``payload`` as ``file_name``; ``fields`` are more RecordingMetadata fields."""
        metadata = recordings_pb2.RecordingMetadata(subject=subject, file_name=file_name, **fields)

        def requests():
            yield recordings_pb2.UploadRecordingRequest(metadata=metadata)
            for start in range(0, len(payload), CHUNK_BYTES):
                yield recordings_pb2.UploadRecordingRequest(chunk=payload[start:start + CHUNK_BYTES])

        return self.recordings.UploadRecording(requests(), metadata=self.metadata, timeout=TIMEOUT)

    def read(self, recording_id: str) -> np.ndarray:
        """The stored recording's raw array."""
        return tensors.from_chunks(self.recordings.StreamData(
            recordings_pb2.StreamDataRequest(id=recording_id), metadata=self.metadata, timeout=TIMEOUT))

    def listed(self) -> set:
        """Ids of the tenant's recordings (one page: the suite stores fewer than 1,000)."""
        reply = self.recordings.ListRecordings(recordings_pb2.ListRecordingsRequest(), metadata=self.metadata,
                                               timeout=TIMEOUT)
        return {r.id for r in reply.recordings}

    def serving(self) -> bool:
        try:
            reply = self._health.Check(health_pb2.HealthCheckRequest(), timeout=10)
        except grpc.RpcError:
            return False
        return reply.status == health_pb2.HealthCheckResponse.SERVING

    def close(self) -> None:
        self.channel.close()


@dataclasses.dataclass
class Outcome:
    """One attack: the status it got, whether it was the one expected, and what it cost."""

    name: str
    expected: str
    code: str
    died: bool
    growth: int

    @property
    def answered(self) -> bool:
        return not self.died and self.code == self.expected


@dataclasses.dataclass
class Tally:
    """Every attack's outcome in the session, and bob's writes lost (counted at its end)."""

    outcomes: list = dataclasses.field(default_factory=list)
    writes_lost: int | None = None


class Arena:
    """The capped server, its tenants, and the outcome of every attack on it.

    Attributes
    ----------
    mallory, bob : Tenant
    server : ServerProcess
    tmp_dir : pathlib.Path
        The server's system temporary folder (``TMPDIR``).
    activation_set_id : str
        Mallory's stored activation set: layer "pool", ``N_STIMULI`` x ``N_DIMS``, stimulus ids
        ``stim-000`` ...
    acknowledged : dict of str -> bytes
        Bob's recordings: id -> the bytes he uploaded.
    """

    def __init__(self, data_dir, tally: Tally):
        store = Store(data_dir)
        rng = np.random.default_rng(0)
        ids = [f"stim-{i:03d}" for i in range(N_STIMULI)]
        self.activation_set_id = save_activation_set(store, ATTACKER, ActivationSet(
            ids, {"pool": rng.standard_normal((N_STIMULI, N_DIMS)).astype(np.float32)})).id
        store.close()
        self.tally = tally
        self.tmp_dir = data_dir.with_name(data_dir.name + "-tmp")
        self.tmp_dir.mkdir()
        env = {"BRAINDECODE_GRACE_SECONDS": "1", "TMPDIR": str(self.tmp_dir)}
        self.server = ServerProcess(data_dir, env, tenants=(ATTACKER, BYSTANDER), memory_limit=MEMORY_CAP)
        self._connect()
        self.acknowledged = {}
        for name, payload in [("functional.nii", real_files.FUNCTIONAL.read_bytes()),
                              ("example4d.nii.gz", real_files.EXAMPLE4D.read_bytes()),
                              ("generator.bdf", real_files.BDF.read_bytes()),
                              ("rec.zip", bombs.brainvision_zip_bomb(2**16))]:
            self.acknowledged[self.bob.upload(name, payload).id] = payload

    def _connect(self) -> None:
        keys = self.server.api_keys
        self.mallory, self.bob = Tenant(self.server.port, keys[ATTACKER]), Tenant(self.server.port, keys[BYSTANDER])

    def attack(self, name: str, call, code: grpc.StatusCode, *fragments: str, max_growth: int = CALL_GROWTH) -> str:
        """Run ``call`` (a request) and check its answer; returns its details.

        The call must fail with ``code`` and details holding every fragment, the server must
        still serve bob, its peak RSS must have grown by less than ``max_growth``, and nothing
        may be left in the store's ``tmp`` nor any workspace in the server's temporary folder.
        A server that died is restarted on the same store, for the attacks after this one.
        """
        return self.barrage(name, [call], code, *fragments, threads=1, max_growth=max_growth)[0]

    def barrage(self, name: str, calls: list, code: grpc.StatusCode, *fragments: str, threads: int = 4,
                max_growth: int | None = None) -> list:
        """``attack`` with ``calls`` made ``threads`` at a time (each one an attack of the tally);
        returns their details. ``max_growth`` (``threads * CALL_GROWTH`` by default) bounds the
        peak of them all."""
        self.server.reset_peak()
        before = self.server.memory()["VmRSS"]
        with concurrent.futures.ThreadPoolExecutor(threads) as pool:
            answers = list(pool.map(_answer, calls))
        died = self.server.proc.poll() is not None or not self.bob.serving()
        growth = 0 if died else self.server.memory()["VmHWM"] - before
        self.tally.outcomes += [Outcome(name, code.name, got.name, died, growth) for got, _ in answers]
        if died:
            self._close_tenants()
            self.server.kill()
            self.server.start()
            self._connect()
        assert not died, f"{name}: the server died\n{self.server.log()[-4000:]}"
        for got, details in answers:
            assert got == code, f"{name}: {got.name} {details[:500]}"
            for fragment in fragments:
                assert fragment in details, f"{name}: {details[:500]}"
        max_growth = threads * CALL_GROWTH if max_growth is None else max_growth
        assert growth < max_growth, f"{name}: peak RSS grew by {growth / 2**20:.0f} MiB"
        left = [*self.tmp_dir.glob(f"{WORKSPACE_PREFIX}*"), *(self.server.data_dir / "tmp").iterdir()]
        assert left == [], f"{name}: left behind {left}"
        assert set(self.acknowledged) <= self.bob.listed()
        return [details for _, details in answers]

    def writes_lost(self) -> int:
        """Bob's acknowledged recordings that are not listed or do not read back as uploaded."""
        lost = 0
        listed = self.bob.listed()
        for recording_id, payload in self.acknowledged.items():
            try:
                stored = self.bob.recordings.GetRecording(recordings_pb2.GetRecordingRequest(id=recording_id),
                                                          metadata=self.bob.metadata, timeout=TIMEOUT)
                self.bob.read(recording_id)
            except grpc.RpcError:
                lost += 1
                continue
            lost += recording_id not in listed or stored.sha256 != hashlib.sha256(payload).hexdigest()
        return lost

    def _close_tenants(self) -> None:
        for tenant in (self.mallory, self.bob):
            tenant.close()

    def close(self) -> None:
        self._close_tenants()
        if self.server.proc.poll() is None:
            self.server.terminate()


def _answer(call) -> tuple:
    """(status code, details) that ``call()`` ended with."""
    try:
        call()
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""
