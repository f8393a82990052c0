"""Benchmark: Decode round-trip latency over gRPC on loopback, concurrent clients, one sample each,
against the transport floor and the Open Inference Protocol's ModelInfer; and the wait policy of the
serving toolkit (services/_batching.py) that batches them.

Setup: a store in a temporary folder with two decoders fitted on random data, 5,000 voxels ->
1,280 dims: a ridge decoder and an MLP decoder (hidden 1,024, 2 residual blocks), stored by
``save_decoder_artifact`` (weights + ONNX graph). The server runs in a subprocess
(``services.server.serve``, what ``braindecode serve`` runs: a ``grpc.aio`` server whose event loop
runs Decode, batches going to ONNX Runtime in a worker thread; made with the echo service) with one
tenant allowed twice as many calls as there are clients. The clients run in this process on one asyncio
loop: each has its own channel (its own TCP connection) and its own Decode stream, sends one sample,
waits for its embedding and sends the next (closed loop, the server saturated); the round trip is
timed from the write to the read of the reply. A second load sends in bursts: every 100 ms all clients
send one sample at the same moment. Each run warms up first and is time-boxed.

The floor (first server only, ridge decoder, ``--clients`` clients, closed loop), three configurations
in turn on that one server: the echo stream (services/_echo.py: each client sends the bytes of its
Decode request and gets back as many bytes as a Decode reply holds, through the same interceptors and
event loop, with no model and no parsing: the transport floor), our Decode stream, ModelInfer
through ``tritonclient.grpc.aio`` (a client each, one ``infer`` call per sample) and, to show what a
unary call costs beyond a stream message, the same echo as one unary call per sample. Each prints p50,
p99 and throughput, and ``limit <configuration> p99 / echo floor p99: <x>`` (goals: Decode 1.5x,
ModelInfer 2x).
``--floor-only`` runs only this part.

The same load is run for each batch wait in ``--delays`` (a server each: a batch waits up to that
long for the streams whose next sample is due, ``WaitPolicy(max_delay)``; the server's default is
``MAX_BATCH_DELAY``), and with ``--compare-unbatched`` once more with at most one sample per ONNX
Runtime run and no wait. In-process peers: one decoder call on ONNX Runtime and on torch (one
thread), for one sample and for a batch of 32, best of 200 calls made in turn.

One-shot callers (the shape of Reconstruct calls): in this process, calls of one sample each arrive
at random (Poisson, ``--rate`` per second) at a ``Batcher`` whose run is the ridge decoder's
``predict_each`` on one worker thread, once per window in ``--windows``
(``WaitPolicy(window, window=True)``: the first call of an idle key waits that long for others);
a call is timed from its arrival to its result.

Usage: python benchmarks/bench_decode_latency.py [--clients 32] [--seconds 10] [--warmup 3]
       [--delays 4] [--compare-unbatched] [--windows 0,4,20] [--rate 300] [--floor-only]
Prints the settings it runs with, then p50 / p99 / throughput per configuration, with the share
of the machine's CPU time taken by its hypervisor meanwhile (steal, from /proc/stat: on a virtual
machine the tail follows it), and ``ratio <what>: <x>`` and ``limit <what>: <x>`` lines.
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

import grpc
import numpy as np
import torch
import tritonclient.grpc.aio as triton

from braindecode.auth import KeyStore
from braindecode.decoding import MLPDecoder, RidgeDecoder, TrainingConfig, load_decoder
from braindecode.store import Store, load_decoder_artifact, save_decoder_artifact
from braindecode.tensors import from_tensor, to_tensor
from braindecode.v1 import decoding_pb2, decoding_pb2_grpc
from services._batching import Batcher, WaitPolicy
from services._echo import REPLY_BYTES
from services._echo import SERVICE as ECHO_SERVICE
from services.decoding import MAX_BATCH_DELAY, MAX_BATCH_SAMPLES

ROOT = pathlib.Path(__file__).resolve().parents[1]
N_VOXELS, N_DIMS, N_TRAIN = 5000, 1280, 256
BURST_PERIOD = 0.1  # seconds between the bursts in which every client sends one sample at once
TENANT = "bench"
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]  # a client's channel gets a TCP connection of its own
# The server process: ``braindecode serve`` with the echo service, the calls a tenant may hold, and the
# batch limit, from argv.
SERVER = """
import sys
import services.decoding
from braindecode.config import Config
from services.server import serve
calls = int(sys.argv[2])
services.decoding.MAX_BATCH_SAMPLES = int(sys.argv[3])
services.decoding.MAX_BATCH_DELAY = float(sys.argv[4])
serve(Config.load(data_dir=sys.argv[1], port=0, max_concurrent_calls_per_tenant=calls, max_workers=calls + 16),
      echo=True)
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
        self.log = pathlib.Path(data_dir) / f"server-{max_batch_samples}-{max_batch_delay}.log"
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


async def _timed(round_trip, warm_until: float, stop_at: float, period: float, latencies: list):
    """Await ``round_trip()`` again and again until ``stop_at``, timing those that start after
    ``warm_until``; with a ``period``, each starts at the next multiple of it (all clients at once).
    Returns the last round trip's result."""
    while (start := time.perf_counter()) < stop_at:
        reply = await round_trip()
        end = time.perf_counter()
        if start >= warm_until:
            latencies.append(end - start)
        if period:
            await asyncio.sleep(period - (time.perf_counter() - warm_until) % period)
    return reply


async def _decode_client(target, api_key, decoder_id, sample, timing) -> None:
    """One Decode stream, one sample per message."""
    async with grpc.aio.insecure_channel(target, options=OWN_CONNECTION) as channel:
        call = decoding_pb2_grpc.DecodingServiceStub(channel).Decode(
            metadata=(("authorization", f"Bearer {api_key}"),))
        requests = [decoding_pb2.DecodeRequest(decoder_id=decoder_id, samples=to_tensor(sample))]

        async def round_trip():
            await call.write(requests[0])
            requests[0] = decoding_pb2.DecodeRequest(samples=requests[0].samples)
            return await call.read()

        reply = await _timed(round_trip, *timing)
        await call.done_writing()
        assert await call.code() == grpc.StatusCode.OK  # the server ends the stream: no cancellation
        assert from_tensor(reply.embeddings).shape == (1, N_DIMS)


def _decode_reply_bytes() -> int:
    """The size of a Decode reply of one sample: what the echo answers with."""
    return decoding_pb2.DecodeResponse(embeddings=to_tensor(np.zeros((1, N_DIMS), np.float32))).ByteSize()


async def _echo_client(target, api_key, decoder_id, sample, timing) -> None:
    """One echo stream: a Decode request's bytes out, a Decode reply's size back."""
    request = decoding_pb2.DecodeRequest(samples=to_tensor(sample)).SerializeToString()
    reply_bytes = _decode_reply_bytes()
    async with grpc.aio.insecure_channel(target, options=OWN_CONNECTION) as channel:
        call = channel.stream_stream(f"/{ECHO_SERVICE}/Stream")(
            metadata=(("authorization", f"Bearer {api_key}"), (REPLY_BYTES, str(reply_bytes))))

        async def round_trip():
            await call.write(request)
            return await call.read()

        reply = await _timed(round_trip, *timing)
        await call.done_writing()
        assert await call.code() == grpc.StatusCode.OK and len(reply) == reply_bytes


async def _echo_call_client(target, api_key, decoder_id, sample, timing) -> None:
    """One channel of unary echo calls: a Decode request's bytes out, a Decode reply's size back."""
    request = decoding_pb2.DecodeRequest(samples=to_tensor(sample)).SerializeToString()
    reply_bytes = _decode_reply_bytes()
    metadata = (("authorization", f"Bearer {api_key}"), (REPLY_BYTES, str(reply_bytes)))
    async with grpc.aio.insecure_channel(target, options=OWN_CONNECTION) as channel:
        call = channel.unary_unary(f"/{ECHO_SERVICE}/Call")
        reply = await _timed(lambda: call(request, metadata=metadata), *timing)
        assert len(reply) == reply_bytes


async def _infer_client(target, api_key, decoder_id, sample, timing) -> None:
    """One tritonclient.grpc.aio client, one ModelInfer call per sample."""
    client = triton.InferenceServerClient(target, channel_args=OWN_CONNECTION)
    tensor = triton.InferInput("brain", list(sample.shape), "FP32")
    tensor.set_data_from_numpy(sample)
    headers = {"authorization": f"Bearer {api_key}"}
    try:
        result = await _timed(lambda: client.infer(decoder_id, [tensor], headers=headers), *timing)
        assert result.as_numpy("embedding").shape == (1, N_DIMS)
    finally:
        await client.close()


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) that process ``pid`` has used; nan where /proc is missing."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _load(target, api_key, decoder_id, clients: int, warmup: float, seconds: float,
                period: float = 0.0, client=_decode_client, server_pid: int | None = None) -> tuple:
    """(latencies, seconds, CPU seconds of the server and of this process after the warm-up)."""
    rng = np.random.default_rng(2)
    latencies = []
    warm_until = time.perf_counter() + warmup
    timing = (warm_until, warm_until + seconds, period, latencies)
    cpu = lambda: np.array([_process_cpu(server_pid) if server_pid else np.nan, time.process_time()])  # noqa: E731

    async def cpu_after_warmup():
        await asyncio.sleep(warmup)
        return cpu()

    warm_cpu, *_ = await asyncio.gather(cpu_after_warmup(), *[
        client(target, api_key, decoder_id, rng.standard_normal((1, N_VOXELS)).astype(np.float32), timing)
        for _ in range(clients)])
    return np.asarray(latencies), seconds, cpu() - warm_cpu


def _cpu_model() -> str:
    """The CPU's model name, as ``lscpu`` gives it (from /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    except OSError:
        names = []
    return f"CPU {names[0]} x {len(names)}" if names else "CPU unknown"


def _cpu_ticks() -> tuple:
    """(all, stolen) CPU ticks of the machine since boot; (0, 0) where /proc/stat is missing."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(t) for t in f.readline().split()[1:9]]
    except OSError:
        return 0, 0
    return sum(ticks), ticks[7]


def _measured(load) -> tuple:
    """(latencies, seconds, steal share, CPU seconds of the server and the clients) of ``load`` (a
    ``_load`` coroutine) run to completion."""
    before = _cpu_ticks()
    latencies, seconds, cpu = asyncio.run(load)
    ticks, stolen = (after - first for after, first in zip(_cpu_ticks(), before))
    return latencies, seconds, stolen / ticks if ticks else float("nan"), cpu


def _report(label: str, latencies: np.ndarray, seconds: float, steal: float, cpu=None) -> dict:
    stats = {"p50": np.percentile(latencies, 50) * 1e3, "p99": np.percentile(latencies, 99) * 1e3,
             "throughput": len(latencies) / seconds}
    per_trip = "" if cpu is None else (f", CPU per round trip: server {cpu[0] / len(latencies) * 1e3:.2f} ms, "
                                       f"clients {cpu[1] / len(latencies) * 1e3:.2f} ms")
    print(f"{label}: p50 {stats['p50']:.2f} ms, p99 {stats['p99']:.2f} ms, "
          f"{stats['throughput']:.0f} samples/s ({len(latencies)} round trips), cpu steal {steal:.0%}{per_trip}")
    return stats


async def _one_shot_load(decoder, window: float, rate: float, warmup: float, seconds: float) -> tuple:
    """(latencies, seconds, mean batch size) of one-sample calls arriving at ``rate`` per second
    (Poisson) at a batcher with a ``window`` (seconds) wait."""
    batcher = Batcher(lambda model, blocks, progress: model.predict_each(blocks), WaitPolicy(window, window=True),
                      MAX_BATCH_SAMPLES, name="bench-batch")
    rng = np.random.default_rng(3)
    sample = rng.standard_normal((1, N_VOXELS)).astype(np.float32)
    latencies = []
    warm_until = time.perf_counter() + warmup
    stop_at = warm_until + seconds

    async def call():
        start = time.perf_counter()
        await batcher.submit(decoder, sample)
        if start >= warm_until:
            latencies.append(time.perf_counter() - start)

    calls, arrival = [], time.perf_counter()
    while arrival < stop_at:  # arrivals on a schedule of their own, so that late wake-ups do not add up
        await asyncio.sleep(max(arrival - time.perf_counter(), 0))
        calls.append(asyncio.ensure_future(call()))
        arrival += rng.exponential(1 / rate)
    await asyncio.gather(*calls)
    batcher.close()
    sizes = batcher.batch_sizes
    return np.asarray(latencies), seconds, sum(sizes) / len(sizes)


def _one_shot(store: Store, decoder_id: str, windows: list, rate: float, warmup: float, seconds: float) -> None:
    decoder = load_decoder_artifact(store, TENANT, decoder_id, threads=1)  # as the server runs it
    p50 = {}
    for window in windows:
        before = _cpu_ticks()
        latencies, measured, mean_batch = asyncio.run(_one_shot_load(decoder, window / 1e3, rate, warmup, seconds))
        ticks, stolen = (after - first for after, first in zip(_cpu_ticks(), before))
        stats = _report(f"ridge one-shot calls at {rate:g}/s, window {window:g} ms (mean batch {mean_batch:.1f})",
                        latencies, measured, stolen / ticks if ticks else float("nan"))
        p50[window] = stats["p50"]
        if window != windows[0]:
            print(f"ratio ridge one-shot p50 window {window:g} ms / window {windows[0]:g} ms: "
                  f"{p50[window] / p50[windows[0]]:.2f}x")


#: The floor's configurations: (label, client, p99 goal as a multiple of the echo floor's p99). The
#: unary echo (one call per sample, as ModelInfer makes) shows what a call costs beyond a stream message.
FLOOR_LOADS = (("echo floor (stream)", _echo_client, None),
               ("Decode (stream)", _decode_client, 1.5),
               ("ModelInfer (tritonclient.grpc.aio)", _infer_client, 2.0),
               ("echo (unary calls)", _echo_call_client, None))


def _floor(server: _Server, api_key: str, decoder_id: str, clients: int, warmup: float, seconds: float) -> None:
    """The echo floor, Decode and ModelInfer on one server and one decoder, in turn."""
    floor = None
    for label, client, goal in FLOOR_LOADS:
        stats = _report(f"ridge {label}, {clients} client(s)", *_measured(
            _load(server.target, api_key, decoder_id, clients, warmup, seconds, client=client,
                  server_pid=server.proc.pid)))
        if floor is None:
            floor = stats
            continue
        goal = f" (goal {goal:g}x)" if goal else ""
        print(f"limit ridge {label} {clients} client(s) p99 / echo floor p99: {stats['p99'] / floor['p99']:.2f}x"
              f"{goal}; p50 / echo floor p50: {stats['p50'] / floor['p50']:.2f}x")


def _milliseconds(text: str) -> list:
    return [float(value) for value in text.split(",") if value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per configuration")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--delays", type=_milliseconds, default=[MAX_BATCH_DELAY * 1e3],
                        help="batch waits of the Decode server to run, in ms, comma-separated")
    parser.add_argument("--compare-unbatched", action="store_true",
                        help="also run the load with one sample per ONNX Runtime run")
    parser.add_argument("--windows", type=_milliseconds, default=[0.0, 4.0, 20.0],
                        help="windows of the one-shot load, in ms, comma-separated (empty: skip it)")
    parser.add_argument("--rate", type=float, default=300.0, help="one-shot calls per second")
    parser.add_argument("--floor-only", action="store_true",
                        help="only the echo floor, Decode and ModelInfer on the first server (ridge decoder)")
    args = parser.parse_args()
    if args.floor_only:
        args.windows, args.delays, args.compare_unbatched = [], args.delays[:1], False
    settings = [(f"batched, wait {delay:g} ms", MAX_BATCH_SAMPLES, delay / 1e3) for delay in args.delays]
    settings += [("unbatched", 1, 0.0)] if args.compare_unbatched else []
    one_shot = (f"{args.rate:g} calls/s, windows {', '.join(f'{w:g}' for w in args.windows)} ms"
                if args.windows else "not run")
    print(f"settings: {args.clients} clients, {args.seconds:g} s measured after {args.warmup:g} s warm-up; "
          f"servers: {'; '.join(f'{mode} (max batch {size})' for mode, size, _ in settings)}; "
          f"floor: echo, Decode and ModelInfer on the first server; "
          f"{'nothing else' if args.floor_only else 'in-process peers, one-shot: ' + one_shot}; "
          f"decode workers {os.cpu_count()}; {_cpu_model()}")
    with tempfile.TemporaryDirectory() as folder:
        store = Store(folder)
        keys = KeyStore(store.root)
        api_key, _ = keys.create(TENANT)
        keys.close()
        decoder_ids = _fit_decoders(store)
        single = None if args.floor_only else _in_process(store, decoder_ids)
        if args.windows:
            _one_shot(store, decoder_ids["ridge"], args.windows, args.rate, args.warmup, args.seconds)
        store.close()
        for index, (mode, max_batch, max_delay) in enumerate(settings):
            server = _Server(folder, calls_per_tenant=2 * args.clients, max_batch_samples=max_batch,
                             max_batch_delay=max_delay)
            try:
                if index == 0:
                    _floor(server, api_key, decoder_ids["ridge"], args.clients, args.warmup, args.seconds)
                for name, decoder_id in {} if args.floor_only else decoder_ids.items():
                    for clients in (1, args.clients):
                        stats = _report(f"{name} {mode}, {clients} client(s)", *_measured(
                            _load(server.target, api_key, decoder_id, clients, args.warmup, args.seconds,
                                  server_pid=server.proc.pid)))
                        print(f"ratio {name} {mode} {clients} client(s) p50 round trip / best in-process "
                              f"onnxruntime 1 sample: {stats['p50'] / (single[name, 1]['onnxruntime'] * 1e3):.2f}x")
                    _report(f"{name} {mode}, {args.clients} client(s) in bursts", *_measured(
                        _load(server.target, api_key, decoder_id, args.clients, args.warmup, args.seconds,
                              period=BURST_PERIOD, server_pid=server.proc.pid)))
            finally:
                server.stop()


if __name__ == "__main__":
    main()
