"""Benchmark: Decode round-trip latency over gRPC on loopback, concurrent clients, one sample each.

Setup: a store in a temporary folder with two decoders fitted on random data, 5,000 voxels ->
1,280 dims: a ridge decoder and an MLP decoder (hidden 1,024, 2 residual blocks), stored by
``save_decoder_artifact`` (weights + ONNX graph). The server runs in a subprocess
(``services.server.serve``, what ``braindecode serve`` runs: a ``grpc.aio`` server whose event loop
runs Decode, batches going to ONNX Runtime in a worker thread) with one tenant allowed twice as many
calls as there are clients. The clients run in this process on one asyncio loop: each has its own channel
(its own TCP connection) and its own Decode stream, sends one sample, waits for its embedding
and sends the next (closed loop, the server saturated); the round trip is timed from the write to
the read of the reply. A second load sends in bursts: every 100 ms all clients send one sample at
the same moment. Each run warms up first and is time-boxed.

The same load is run with the server's batching of concurrent callers on (the default: a batch
waits up to ``MAX_BATCH_DELAY`` for the streams whose next sample is due) and off (``--compare-unbatched``:
at most one sample per ONNX Runtime run, no wait), and once with a single client. In-process
peers: one decoder call on ONNX Runtime and on torch (one thread), for one sample and for a batch
of 32, best of 200 calls made in turn.

Usage: python benchmarks/bench_decode_latency.py [--clients 32] [--seconds 10] [--warmup 3]
       [--compare-unbatched] [--quick]
Prints p50 / p99 / throughput per configuration, with the share of the machine's CPU time taken
by its hypervisor meanwhile (steal, from /proc/stat: on a virtual machine the tail follows it), and
``ratio <what>: <x>`` lines.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

from braindecode.auth import KeyStore
from braindecode.decoding import (
    MLPDecoder,
    RidgeDecoder,
    TrainingConfig,
    load_decoder,
    load_decoder_artifact,
    save_decoder_artifact,
)
from braindecode.recordings import Store
from braindecode.tensors import from_tensor, to_tensor
from braindecode.v1 import decoding_pb2, decoding_pb2_grpc
from services.decoding import MAX_BATCH_DELAY

ROOT = pathlib.Path(__file__).resolve().parents[1]
N_VOXELS, N_DIMS, N_TRAIN = 5000, 1280, 256
BURST_PERIOD = 0.1  # seconds between the bursts in which every client sends one sample at once
TENANT = "bench"
# The server process: ``braindecode serve`` with the calls a tenant may hold, and the batch limit, from argv.
SERVER = """
import sys
import services.decoding
from braindecode.config import Config
from services.server import serve
calls = int(sys.argv[2])
services.decoding.MAX_BATCH_SAMPLES = int(sys.argv[3])
services.decoding.MAX_BATCH_DELAY = float(sys.argv[4])
serve(Config.load(data_dir=sys.argv[1], port=0, max_concurrent_calls_per_tenant=calls, max_workers=calls + 16))
"""


def _fit_decoders(store: Store) -> dict:
    """{name: decoder id} of a ridge and an MLP decoder, 5,000 voxels -> 1,280 dims, in the store."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N_TRAIN, N_VOXELS)).astype(np.float32)
    Y = (X[:, :N_DIMS] + 0.5 * rng.standard_normal((N_TRAIN, N_DIMS))).astype(np.float32)
    models = {
        "ridge": RidgeDecoder(alphas=(1.0, 100.0, 10000.0), cv=2),
        "mlp": MLPDecoder(training=TrainingConfig(max_epochs=2, val_fraction=0.0, mixco_fraction=0.0)),
    }
    return {name: save_decoder_artifact(store, TENANT, model.fit(X, Y)).id for name, model in models.items()}


def _interleaved(functions: dict, repeats: int) -> dict:
    """Best seconds per call of each function, called in turn (so that they share the machine's load)."""
    for function in functions.values():
        function()
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}


def _in_process(store: Store, decoder_ids: dict) -> dict:
    """Best single-call seconds of ONNX Runtime and torch (one thread each), for 1 and 32 samples."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(1)
    best = {}
    for name, decoder_id in decoder_ids.items():
        onnx = load_decoder_artifact(store, TENANT, decoder_id, threads=1)  # as the server runs it
        module = load_decoder(store.artifact_dir(TENANT, decoder_id)).module_
        for n in (1, 32):
            X = rng.standard_normal((n, N_VOXELS)).astype(np.float32)

            def torch_call(X=X):
                with torch.inference_mode():
                    return module(torch.from_numpy(X)).numpy()

            best[name, n] = _interleaved({"onnxruntime": lambda X=X: onnx.predict(X), "torch": torch_call}, 200)
            print(f"{name} {n} sample(s) in process, best of 200: onnxruntime "
                  f"{best[name, n]['onnxruntime'] * 1e3:.2f} ms, torch 1 thread {best[name, n]['torch'] * 1e3:.2f} ms")
            print(f"ratio {name} {n} sample(s) torch / onnxruntime: "
                  f"{best[name, n]['torch'] / best[name, n]['onnxruntime']:.2f}x")
    return best


class _Server:
    """The server in a subprocess on a free loopback port."""

    def __init__(self, data_dir, calls_per_tenant: int, max_batch_samples: int, max_batch_delay: float):
        self.log = pathlib.Path(data_dir) / f"server-{max_batch_samples}.log"
        with open(self.log, "w") as log:  # a file, not a pipe: nothing blocks the server's logging
            self.proc = subprocess.Popen(
                [sys.executable, "-c", SERVER, str(data_dir), str(calls_per_tenant), str(max_batch_samples),
                 str(max_batch_delay)],
                stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=dict(os.environ, PYTHONUNBUFFERED="1"))
        deadline = time.monotonic() + 120
        while self.proc.poll() is None and time.monotonic() < deadline:
            for line in self.log.read_text().splitlines():
                if "listening on" in line:
                    self.target = line.rsplit(" ", 1)[1].strip()
                    return
            time.sleep(0.1)
        self.proc.kill()
        raise RuntimeError(f"server did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


async def _client(target, metadata, decoder_id, sample, warm_until, stop_at, period, latencies) -> None:
    import grpc

    options = [("grpc.use_local_subchannel_pool", 1)]  # a TCP connection of its own
    async with grpc.aio.insecure_channel(target, options=options) as channel:
        call = decoding_pb2_grpc.DecodingServiceStub(channel).Decode(metadata=metadata)
        request = decoding_pb2.DecodeRequest(decoder_id=decoder_id, samples=to_tensor(sample))
        while (start := time.perf_counter()) < stop_at:
            await call.write(request)
            reply = await call.read()
            end = time.perf_counter()
            if start >= warm_until:
                latencies.append(end - start)
            request = decoding_pb2.DecodeRequest(samples=request.samples)
            if period:  # every client sends at the next multiple of ``period``: all at the same moment
                await asyncio.sleep(period - (time.perf_counter() - warm_until) % period)
        await call.done_writing()
        assert await call.code() == grpc.StatusCode.OK  # the server ends the stream: no cancellation
        assert from_tensor(reply.embeddings).shape == (1, N_DIMS)


async def _load(target, api_key, decoder_id, clients: int, warmup: float, seconds: float,
                period: float = 0.0) -> tuple:
    metadata = (("authorization", f"Bearer {api_key}"),)
    rng = np.random.default_rng(2)
    latencies = []
    warm_until = time.perf_counter() + warmup
    stop_at = warm_until + seconds
    await asyncio.gather(*[
        _client(target, metadata, decoder_id, rng.standard_normal((1, N_VOXELS)).astype(np.float32),
                warm_until, stop_at, period, latencies)
        for _ in range(clients)])
    return np.asarray(latencies), seconds


def _cpu_ticks() -> tuple:
    """(all, stolen) CPU ticks of the machine since boot; (0, 0) where /proc/stat is missing."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(t) for t in f.readline().split()[1:9]]
    except OSError:
        return 0, 0
    return sum(ticks), ticks[7]


def _measured(load) -> tuple:
    """(latencies, seconds, steal share) of ``load`` (a coroutine) run to completion."""
    before = _cpu_ticks()
    latencies, seconds = asyncio.run(load)
    ticks, stolen = (after - first for after, first in zip(_cpu_ticks(), before))
    return latencies, seconds, stolen / ticks if ticks else float("nan")


def _report(label: str, latencies: np.ndarray, seconds: float, steal: float) -> dict:
    stats = {"p50": np.percentile(latencies, 50) * 1e3, "p99": np.percentile(latencies, 99) * 1e3,
             "throughput": len(latencies) / seconds}
    print(f"{label}: p50 {stats['p50']:.2f} ms, p99 {stats['p99']:.2f} ms, "
          f"{stats['throughput']:.0f} samples/s ({len(latencies)} round trips), cpu steal {steal:.0%}")
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per configuration")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--compare-unbatched", action="store_true",
                        help="also run the load with one sample per ONNX Runtime run")
    parser.add_argument("--quick", action="store_true", help="3 measured seconds, 1 s warm-up per configuration")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.warmup = min(args.seconds, 3.0), min(args.warmup, 1.0)
    with tempfile.TemporaryDirectory() as folder:
        store = Store(folder)
        keys = KeyStore(store.root)
        api_key, _ = keys.create(TENANT)
        keys.close()
        decoder_ids = _fit_decoders(store)
        single = _in_process(store, decoder_ids)
        store.close()
        settings = [("batched", 256, MAX_BATCH_DELAY)] + ([("unbatched", 1, 0.0)] if args.compare_unbatched else [])
        for mode, max_batch, max_delay in settings:
            server = _Server(folder, calls_per_tenant=2 * args.clients, max_batch_samples=max_batch,
                             max_batch_delay=max_delay)
            try:
                for name, decoder_id in decoder_ids.items():
                    for clients in (1, args.clients):
                        stats = _report(f"{name} {mode}, {clients} client(s)", *_measured(
                            _load(server.target, api_key, decoder_id, clients, args.warmup, args.seconds)))
                        print(f"ratio {name} {mode} {clients} client(s) p50 round trip / best in-process "
                              f"onnxruntime 1 sample: {stats['p50'] / (single[name, 1]['onnxruntime'] * 1e3):.2f}x")
                    _report(f"{name} {mode}, {args.clients} client(s) in bursts", *_measured(
                        _load(server.target, api_key, decoder_id, args.clients, args.warmup, args.seconds,
                              period=BURST_PERIOD)))
            finally:
                server.stop()


if __name__ == "__main__":
    main()
