"""The hostile-tenant suite's arena: attacks on a real server whose address space is capped.

One server for the whole suite, started as a child process (tests/server_process.py) under
``MEMORY_CAP``, so that a request that exhausts memory can take down only the server, never
the test machine. Two tenants: ``mallory`` attacks; ``bob`` stored recordings before the
first attack, and after every attack the server must still answer health checks and list
them. ``arena.attack(...)`` runs one attack and records its outcome; the session ends with the
suite's reliability table: attacks tried, answered with the status expected, server deaths,
and acknowledged writes lost (bob's recordings, read back in full at the end, and the uploads
of the upload/delete race).

The server runs with ``SETTINGS``: lower bounds than the defaults where an attack shows that the
server keeps to the configured value rather than to the library's default.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json

import bombs
import grpc
import mne
import numpy as np
import real_files
from grpc_health.v1 import health_pb2, health_pb2_grpc
from server_process import ServerProcess
from service_checks import trial_events, write_trial_run

from braindecode import tensors
from braindecode.store import Store, save_activation_set
from braindecode.containers import ActivationSet
from braindecode.v1 import common_pb2, decoding_pb2, decoding_pb2_grpc, jobs_pb2_grpc, recordings_pb2, recordings_pb2_grpc

SETTINGS = {"BRAINDECODE_MAX_FIT_BYTES": str(2**30), "BRAINDECODE_JOB_MAX_JOBS_PER_TENANT": "8",
            "BRAINDECODE_JOB_MAX_SHARDS_PER_TENANT": "48"}
"""The server's settings beside the defaults (see ``braindecode.config.Config``)."""
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
STIMULI = [f"stim-{i:03d}" for i in range(N_STIMULI)]
HALF = N_STIMULI // 2
GRID = (4, 4, 4)
FMRI_SPEC = {"modality": "fmri", "mask": None, "trials": {"method": "window", "window": [0, 0.5]}}
"""Preprocessing of the labs' fMRI runs (trial k one scan after onset k): 64 voxels per trial."""
EEG_SPEC = {"modality": "eeg", "epochs": {"tmin": 0.0, "tmax": 0.3, "baseline": None}}


class Tenant:
    """One tenant (``name``): its stubs on its own channel, every call carrying its API key."""

    def __init__(self, port: int, api_key: str, name: str):
        self.name = name
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

    def read(self, recording_id: str, preprocessing: dict | None = None) -> np.ndarray:
        """The stored recording's array, raw or preprocessed."""
        request = recordings_pb2.StreamDataRequest(id=recording_id, preprocessing_json=json.dumps(preprocessing)
                                                   if preprocessing else "")
        return tensors.from_chunks(self.recordings.StreamData(request, metadata=self.metadata, timeout=TIMEOUT))

    def delete(self, recording_id: str) -> None:
        self.recordings.DeleteRecording(recordings_pb2.DeleteRecordingRequest(id=recording_id),
                                        metadata=self.metadata, timeout=TIMEOUT)

    def listed(self) -> set:
        """Ids of the tenant's recordings, every page read."""
        ids, token = set(), ""
        while True:
            reply = self.recordings.ListRecordings(recordings_pb2.ListRecordingsRequest(
                page=common_pb2.PageRequest(page_size=1000, page_token=token)), metadata=self.metadata, timeout=TIMEOUT)
            ids |= {r.id for r in reply.recordings}
            if not (token := reply.next_page_token):
                return ids

    def fit(self, recording_ids, spec: dict, activation_set_id: str, decoder: str, params: dict) -> list:
        """The FitDecoder events of a fit on layer "pool" of ``activation_set_id``."""
        request = decoding_pb2.FitDecoderRequest(
            recording_ids=recording_ids, preprocessing_json=json.dumps(spec), activation_set_id=activation_set_id,
            layer="pool", decoder=decoder, params_json=json.dumps(params))
        return list(self.decoding.FitDecoder(request, metadata=self.metadata, timeout=TIMEOUT))

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
    """One attack: the status it got, whether it was one of those expected, and what it cost."""

    name: str
    expected: tuple
    code: str
    died: bool
    growth: int

    @property
    def answered(self) -> bool:
        return not self.died and self.code in self.expected


@dataclasses.dataclass
class Tally:
    """Every attack's outcome in the session, bob's writes lost (counted at its end), and the rounds
    of the upload/delete race with the acknowledged uploads they lost."""

    outcomes: list = dataclasses.field(default_factory=list)
    writes_lost: int | None = None
    race_rounds: int = 0
    race_lost: int = 0


class Arena:
    """The capped server, its tenants, and the outcome of every attack on it.

    Attributes
    ----------
    mallory, bob : Tenant
    server : ServerProcess
    tmp_dir : pathlib.Path
        The system temporary folder (``TMPDIR``) the server was started with: nothing may be left
        there (a server keeps its temporary files in its store).
    activation_sets : dict of str -> str
        Each tenant's stored activation set: layer "pool", ``N_STIMULI`` x ``N_DIMS``, stimulus
        ids ``stim-000`` ...
    legacy_id : str
        Mallory's recording stored before names were checked (its file name and subject hold
        control characters).
    acknowledged : dict of str -> bytes
        Bob's recordings: id -> the bytes he uploaded.
    """

    def __init__(self, data_dir, tally: Tally):
        store = Store(data_dir)
        rng = np.random.default_rng(0)
        ids = [f"stim-{i:03d}" for i in range(N_STIMULI)]
        layer = rng.standard_normal((N_STIMULI, N_DIMS)).astype(np.float32)
        self.activation_sets = {tenant: save_activation_set(store, tenant, ActivationSet(ids, {"pool": layer})).id
                                for tenant in (ATTACKER, BYSTANDER)}
        self.legacy_id = _store_legacy_recording(store)
        store.close()
        self.tally = tally
        self.tmp_dir = data_dir.with_name(data_dir.name + "-tmp")
        self.tmp_dir.mkdir()
        env = {"BRAINDECODE_GRACE_SECONDS": "1", "TMPDIR": str(self.tmp_dir), **SETTINGS}
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
        self.mallory, self.bob = (Tenant(self.server.port, keys[name], name) for name in (ATTACKER, BYSTANDER))

    def attack(self, name: str, call, code, *fragments: str, max_growth: int = CALL_GROWTH) -> str:
        """Run ``call`` (a request) and check its answer; returns its details.

        The call must end with ``code`` (a status, or a tuple of those allowed) and details holding
        every fragment, the server must still serve bob, its peak RSS must have grown by less than
        ``max_growth``, and nothing may be left in the store's ``tmp`` nor any workspace in the
        server's temporary folder. A server that died is restarted on the same store, for the
        attacks after this one.
        """
        return self.barrage(name, [call], code, *fragments, threads=1, max_growth=max_growth)[0]

    def barrage(self, name: str, calls: list, code, *fragments: str, threads: int = 4,
                max_growth: int | None = None) -> list:
        """``attack`` with ``calls`` made ``threads`` at a time (each one an attack of the tally);
        returns their details. ``max_growth`` (``threads * CALL_GROWTH`` by default) bounds the
        peak of them all."""
        codes = code if isinstance(code, tuple) else (code,)
        self.server.reset_peak()
        before = self.server.memory()["VmRSS"]
        with concurrent.futures.ThreadPoolExecutor(threads) as pool:
            answers = list(pool.map(_answer, calls))
        died = self.server.proc.poll() is not None or not self.bob.serving()
        growth = 0 if died else self.server.memory()["VmHWM"] - before
        self.tally.outcomes += [Outcome(name, tuple(c.name for c in codes), got.name, died, growth)
                                for got, _ in answers]
        if died:
            self.restart(kill=True)
        assert not died, f"{name}: the server died\n{self.server.log()[-4000:]}"
        for got, details in answers:
            assert got in codes, f"{name}: {got.name} {details[:500]}"
            for fragment in fragments:
                assert fragment in details, f"{name}: {details[:500]}"
        max_growth = threads * CALL_GROWTH if max_growth is None else max_growth
        assert growth < max_growth, f"{name}: peak RSS grew by {growth / 2**20:.0f} MiB"
        left = [*self.tmp_dir.iterdir(), *(self.server.data_dir / "tmp").iterdir()]
        assert left == [], f"{name}: left behind {left}"
        assert set(self.acknowledged) <= self.bob.listed()
        return [details for _, details in answers]

    def restart(self, kill: bool) -> None:
        """Stop the server (kill -9, or SIGTERM) and start it again on the same store."""
        self._close_tenants()
        if kill:
            self.server.kill()
        else:
            self.server.terminate()
        self.server.start()
        self._connect()

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


LEGACY_NAMES = {"subject": "01\x1b[2J\x1b[31m", "file_name": "run\n\x00\x1b]0;pwned\x07.edf"}
"""The control characters of mallory's legacy recording: clear the screen, red text, a newline, NUL,
and set the terminal's title."""


def _store_legacy_recording(store: Store) -> str:
    """Store a recording for mallory the way an earlier server did, without checking its names."""
    payload = bombs.edf_bomb(2, 64)
    staged = store.staging_file(".edf")
    staged.write_bytes(payload)
    sha = hashlib.sha256(payload).hexdigest()
    fields = dict(LEGACY_NAMES, modality="eeg", format="edf")
    meta = {"modality": "eeg", "format": "edf", "shape": [2, 64], "sampling_rate": 64.0, "ch_names": ["S0", "S1"],
            "ch_types": ["eeg", "eeg"], "duration": 1.0}
    return store.add_recording(ATTACKER, store.put_blob(staged, sha, ".edf"), sha, len(payload), fields, meta, []).id


def events(rows) -> list:
    """Event messages of dicts with onset, duration and stimulus_id."""
    return [common_pb2.Event(**row) for row in rows]


def fmri_run(tenant, folder, run: int, stimulus_ids, seed: int):
    """Upload a simulated fMRI run (``GRID``, trial k at k + 1 s) of ``stimulus_ids``; its Recording."""
    responses = np.random.default_rng(seed).standard_normal((len(stimulus_ids), 64))
    path = write_trial_run(folder / f"{tenant.name}-run-{run}.nii.gz", responses, GRID, seed=seed)
    return tenant.upload(path.name, path.read_bytes(), run=str(run), events=events(trial_events(stimulus_ids)))


def make_lab(arena, tenant, folder) -> dict:
    """A tenant's trials on the arena's stimuli: two fMRI runs, two EEG runs, and a ridge decoder
    fitted on the fMRI runs (loaded into the server by one Decode call)."""
    rng = np.random.default_rng(1)
    fmri, eeg = [], []
    for run in range(2):
        ids = STIMULI[run * HALF:(run + 1) * HALF]
        fmri.append(fmri_run(tenant, folder, run, ids, seed=run))
        raw = mne.io.RawArray(rng.standard_normal((4, 50 * (HALF + 2))) * 1e-6,
                              mne.create_info(["Fz", "Cz", "Pz", "Oz"], 100.0, "eeg"), verbose="error")
        path = folder / f"{tenant.name}-run-{run}_raw.fif"
        raw.save(path, verbose="error")
        rows = [{"onset": (k + 1) * 0.5, "duration": 0.1, "stimulus_id": sid} for k, sid in enumerate(ids)]
        eeg.append(tenant.upload(path.name, path.read_bytes(), run=str(run), events=events(rows)))
    fmri_ids, eeg_ids = [r.id for r in fmri], [r.id for r in eeg]
    decoder_id = tenant.fit(fmri_ids, FMRI_SPEC, arena.activation_sets[tenant.name], "ridge",
                            {"alphas": [1.0, 10.0]})[-1].result.decoder_id
    request = decoding_pb2.DecodeRequest(decoder_id=decoder_id, samples=tensors.to_tensor(np.zeros((2, 64), np.float32)))
    (reply,) = tenant.decoding.Decode(iter([request]), metadata=tenant.metadata, timeout=60)
    assert list(reply.embeddings.shape) == [2, N_DIMS]
    return {"fmri": fmri_ids, "eeg": eeg_ids, "decoder": decoder_id, "folder": folder}


def _answer(call) -> tuple:
    """(status code, details) that ``call()`` ended with."""
    try:
        call()
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""
