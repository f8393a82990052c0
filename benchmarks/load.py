"""Load test over loopback: concurrent uploaders and decoders against a server in a child process.

Uploaders send real small recordings (nibabel's and nitime's NIfTI test files, pyedflib's BDF,
an EDF written by mne.export), each made unique by a header text field so that no two uploads
share a blob. Decoders send brain samples to a stored ridge decoder (Decode, one stream per call)
and compare the embeddings with the same ONNX graph run locally, so that answers mixed up
between concurrent callers count as errors. Each client runs until ``--seconds`` pass or it has
made ``--max-calls`` calls. Then every acknowledged upload is read back (GetRecording: its
sha256; StreamData: its array equals the original's), the server is stopped with SIGTERM and the
store's blobs are hashed again (``Store.verify``).

Usage: python benchmarks/load.py [--uploaders 4] [--decoders 4] [--seconds 30] [--json out.json] [--quick]
Prints calls/s, error rate and p50/p99 latency per call type, the server's peak RSS (VmHWM of
the child process) and the uploads lost; exits 1 when anything was lost or wrong.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import dataclasses
import gzip
import hashlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import threading
import time

import grpc
import mne
import nibabel
import nitime
import numpy as np
import pyedflib

from braindecode.auth import KeyStore
from braindecode.client import Client
from braindecode.config import Config
from braindecode.decoding import RidgeDecoder
from braindecode.recordings import read_recording
from braindecode.store import Store, load_decoder_artifact, save_decoder_artifact

ROOT = pathlib.Path(__file__).resolve().parents[1]
N_VOXELS, N_DIMS = 500, 64
DECODE_TENANT = "load-decode"
SAMPLES_PER_CALL = 4


@dataclasses.dataclass
class Base:
    """A real recording file that uploads are made from; ``array`` is what StreamData must return."""

    name: str
    raw: bytes  # uncompressed bytes
    text_field: slice  # a free-text header field that makes each upload unique
    array: np.ndarray

    def unique(self, tag: str) -> bytes:
        """The file with ``tag`` written into its text field (gzip again for .nii.gz)."""
        data = bytearray(self.raw)
        width = self.text_field.stop - self.text_field.start
        fill = b"\0" if self.name.endswith((".nii", ".nii.gz")) else b" "
        text = tag.encode() if fill == b"\0" else f"X X X {tag}".encode()
        data[self.text_field] = text.ljust(width, fill)
        return gzip.compress(bytes(data), 1, mtime=0) if self.name.endswith(".gz") else bytes(data)


def _bases(folder: pathlib.Path) -> list:
    nib_data = pathlib.Path(nibabel.__file__).parent / "tests" / "data"
    edf = folder / "exported.edf"
    info = mne.create_info([f"EEG{i:02d}" for i in range(8)], 256.0, "eeg")
    raw = mne.io.RawArray(np.random.default_rng(0).standard_normal((8, 1024)) * 20e-6, info, verbose="error")
    mne.export.export_raw(edf, raw, fmt="edf", overwrite=True, verbose="error")
    files = [nib_data / "functional.nii", nib_data / "example4d.nii.gz",
             pathlib.Path(nitime.__file__).parent / "data" / "fmri1.nii.gz",
             pathlib.Path(pyedflib.__file__).parent / "tests" / "data" / "test_generator.bdf", edf]
    bases = []
    for path in files:
        raw_bytes = path.read_bytes()
        if path.name.endswith(".gz"):
            raw_bytes = gzip.decompress(raw_bytes)
        field = slice(148, 228) if ".nii" in path.name else slice(8, 88)  # NIfTI descrip, EDF patient
        with read_recording(path) as recording:
            bases.append(Base(path.name, raw_bytes, field, np.asarray(recording.data())))
    return bases


class ServerProcess:
    """``braindecode serve`` on a free loopback port, in a child process."""

    def __init__(self, data_dir: pathlib.Path):
        env = dict(os.environ, PYTHONUNBUFFERED="1", BRAINDECODE_GRACE_SECONDS="5")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "braindecode.cli", "serve", "--port", "0", "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env)
        for line in self.proc.stdout:
            if "listening on" in line:
                self.target = line.split()[-1]
                break
        else:
            raise RuntimeError(f"the server did not start (exit code {self.proc.wait()})")
        self._log = threading.Thread(target=self.proc.stdout.read, daemon=True)  # keep the pipe drained
        self._log.start()

    def memory_kb(self) -> dict:
        """VmRSS and VmHWM (peak) of the server process, in kB."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            return {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in f)
                    if k in ("VmRSS", "VmHWM")}

    def reset_peak(self) -> None:
        with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
            f.write("5")  # VmHWM := VmRSS

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


@dataclasses.dataclass
class Outcome:
    kind: str
    seconds: float
    error: str = ""  # status code name, or "WRONG" for a wrong answer


def _timed(kind: str, outcomes: list, call, check=None) -> object:
    """``call()``'s result, or None when it failed or ``check(result)`` is false (a wrong answer)."""
    start = time.perf_counter()
    try:
        result = call()
    except grpc.RpcError as exc:
        outcomes.append(Outcome(kind, time.perf_counter() - start, exc.code().name))
        return None
    wrong = check is not None and not check(result)
    outcomes.append(Outcome(kind, time.perf_counter() - start, "WRONG" if wrong else ""))
    return None if wrong else result


def _uploader(index: int, target: str, key: str, bases: list, stop_at: float, max_calls: int,
              outcomes: list, acknowledged: list) -> None:
    with Client(target, api_key=key, timeout=120) as client:
        for call in range(max_calls):
            if time.monotonic() >= stop_at:
                return
            base = bases[(index + call) % len(bases)]
            payload = base.unique(f"load-{index:03d}-{call:06d}")
            rec = _timed("upload", outcomes, lambda: client.recordings.upload(
                (base.name, payload), subject=f"u{index}", chunk_bytes=256 * 1024))
            if rec is not None:
                acknowledged.append((key, rec.id, hashlib.sha256(payload).hexdigest(), base))


def _decoder(index: int, target: str, key: str, decoder_id: str, cases: list, stop_at: float,
             max_calls: int, outcomes: list) -> None:
    with Client(target, api_key=key, timeout=120) as client:
        for call in range(max_calls):
            if time.monotonic() >= stop_at:
                return
            samples, expected = cases[(index + call) % len(cases)]
            _timed("decode", outcomes, lambda: client.decoding.decode(decoder_id, samples),
                   check=lambda got: np.allclose(got, expected, rtol=1e-4, atol=1e-5))


def _read_back(target: str, item, outcomes: list) -> bool:
    """True when the acknowledged upload is listed with its sha256 and streams its original array."""
    key, rec_id, sha, base = item
    with Client(target, api_key=key, timeout=120) as client:
        rec = _timed("get", outcomes, lambda: client.recordings.get(rec_id))
        array = _timed("stream_data", outcomes, lambda: client.recordings.data(rec_id))
    return rec is not None and rec.sha256 == sha and array is not None and np.array_equal(array, base.array)


def _store_decoder(store: Store, tenant: str, seed: int = 0) -> tuple:
    """(id, local ONNX twin) of a ridge decoder (N_VOXELS -> N_DIMS) stored for ``tenant``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((120, N_VOXELS)).astype(np.float32)
    Y = (X @ rng.standard_normal((N_VOXELS, N_DIMS)) / np.sqrt(N_VOXELS)).astype(np.float32)
    model = RidgeDecoder(alphas=(1.0, 10.0, 100.0)).fit(X, Y)
    decoder_id = save_decoder_artifact(store, tenant, model).id
    return decoder_id, load_decoder_artifact(store, tenant, decoder_id)


def _percentile_ms(values: list, q: float) -> float:
    return float(np.percentile(values, q) * 1e3) if values else float("nan")


def _summary(outcomes: list, window: float) -> dict:
    by_kind = collections.defaultdict(list)
    for outcome in outcomes:
        by_kind[outcome.kind].append(outcome)
    table = {}
    for kind, items in by_kind.items():
        errors = collections.Counter(o.error for o in items if o.error)
        ok = [o.seconds for o in items if not o.error]
        table[kind] = {"calls": len(items), "errors": sum(errors.values()), "error_codes": dict(errors),
                       "error_rate": sum(errors.values()) / len(items), "calls_per_s": len(items) / window,
                       "p50_ms": _percentile_ms(ok, 50), "p99_ms": _percentile_ms(ok, 99)}
    return table


def run(uploaders: int, decoders: int, seconds: float, max_calls: int, data_dir: pathlib.Path,
        work_dir: pathlib.Path) -> dict:
    """Run the load test; returns the summary (also what ``--json`` writes)."""
    bases = _bases(work_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    keys = KeyStore(data_dir)
    upload_keys = [keys.create(f"load-upload-{i}")[0] for i in range(uploaders)]
    decode_key = keys.create(DECODE_TENANT)[0]  # one decoder shared by every decoding client
    keys.close()
    decoder_id, cases = "", []
    if decoders:
        store = Store(data_dir)
        decoder_id, local = _store_decoder(store, DECODE_TENANT)
        store.close()
        rng = np.random.default_rng(1)
        for _ in range(8):
            samples = rng.standard_normal((SAMPLES_PER_CALL, N_VOXELS)).astype(np.float32)
            cases.append((samples, local.predict(samples)))

    server = ServerProcess(data_dir)
    try:
        with Client(server.target, timeout=60) as client:
            client.wait_ready()
        idle = server.memory_kb()["VmRSS"]
        server.reset_peak()
        outcomes, acknowledged = [], []
        start = time.monotonic()
        stop_at = start + seconds
        threads = [threading.Thread(target=_uploader, args=(i, server.target, upload_keys[i], bases,
                                                              stop_at, max_calls, outcomes, acknowledged))
                   for i in range(uploaders)]
        threads += [threading.Thread(target=_decoder, args=(i, server.target, decode_key, decoder_id, cases,
                                                             stop_at, max_calls, outcomes))
                    for i in range(decoders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        window = time.monotonic() - start
        load_peak = server.memory_kb()["VmHWM"]

        read_outcomes, read_start = [], time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max(uploaders, 1)) as pool:
            intact = list(pool.map(lambda item: _read_back(server.target, item, read_outcomes), acknowledged))
        read_window = time.monotonic() - read_start
        read_peak = server.memory_kb()["VmHWM"]
    finally:
        exit_code = server.stop()
    store = Store(data_dir)
    try:
        stored = sum(len(store.list_recordings(f"load-upload-{i}", page_size=1000)[0]) for i in range(uploaders))
        bad_blobs = store.verify()
    finally:
        store.close()
    calls = _summary(outcomes, window)
    return {
        "uploaders": uploaders, "decoders": decoders, "seconds": window,
        "calls": calls, "read_back": _summary(read_outcomes, read_window), "read_back_seconds": read_window,
        "errors": sum(v["errors"] for v in calls.values()),
        "uploads_acknowledged": len(acknowledged), "uploads_intact": sum(intact),
        "uploads_lost": len(acknowledged) - sum(intact), "rows_stored": stored, "bad_blobs": len(bad_blobs),
        "server_rss_mb": {"idle": idle / 1024, "peak_load": load_peak / 1024, "peak_read_back": read_peak / 1024},
        "server_exit_code": exit_code,
    }


def _print(summary: dict) -> None:
    print(f"load: {summary['uploaders']} uploaders, {summary['decoders']} decoders, "
          f"{summary['seconds']:.1f} s over loopback; read-back after it: {summary['read_back_seconds']:.1f} s")
    print(f"{'call':<12}{'n':>7}{'errors':>8}{'calls/s':>9}{'p50 ms':>9}{'p99 ms':>9}")
    for section in ("calls", "read_back"):
        for kind, row in summary[section].items():
            print(f"{kind:<12}{row['calls']:>7}{row['errors']:>8}{row['calls_per_s']:>9.1f}"
                  f"{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}  {row['error_codes'] or ''}")
    rss = summary["server_rss_mb"]
    print(f"server RSS: idle {rss['idle']:.0f} MB, peak under load {rss['peak_load']:.0f} MB, "
          f"peak while reading back {rss['peak_read_back']:.0f} MB")
    print(f"uploads: {summary['uploads_acknowledged']} acknowledged, {summary['uploads_intact']} read back "
          f"intact, {summary['uploads_lost']} lost; {summary['rows_stored']} rows stored; "
          f"{summary['bad_blobs']} blobs failing their hash; server exit code {summary['server_exit_code']}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploaders", type=int, default=4)
    parser.add_argument("--decoders", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0, help="time box of the load phase")
    parser.add_argument("--max-calls", type=int, default=2000, help="most calls per client")
    parser.add_argument("--json", help="also write the summary to this file")
    parser.add_argument("--quick", action="store_true", help="a 10-second load phase, at most 500 calls per client")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.max_calls = min(args.seconds, 10.0), min(args.max_calls, 500)
    if args.uploaders + args.decoders < 1:
        parser.error("need at least one uploader or decoder")
    per_tenant = Config.load().max_concurrent_calls_per_tenant
    if args.decoders > per_tenant:
        parser.error(f"the decoders share one tenant, which may hold {per_tenant} calls at once")
    with tempfile.TemporaryDirectory(prefix="braindecode-load-") as tmp:
        summary = run(args.uploaders, args.decoders, args.seconds, args.max_calls,
                      pathlib.Path(tmp) / "store", pathlib.Path(tmp))
    _print(summary)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(summary, indent=2))
    clean = (summary["errors"] == 0 and summary["uploads_lost"] == 0 and summary["bad_blobs"] == 0
             and summary["rows_stored"] == summary["uploads_acknowledged"])
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
