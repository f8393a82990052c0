"""Reconstruction latency per model family: ONNX Runtime against torch eager, same model, batch and seed.

    python benchmarks/bench_reconstruction.py                                  # the shipped default model, CPU
    python benchmarks/bench_reconstruction.py --model DIR [--model DIR ...]    # any supported model directory
    python benchmarks/bench_reconstruction.py --tiny kandinsky --tiny unclip   # tiny random-weight directories
    python benchmarks/bench_reconstruction.py --architecture kandinsky22 --architecture unclip21 \\
        --image-size 512 --device cuda                                         # published architectures, random weights
    python benchmarks/bench_reconstruction.py --measure memory ...             # the memory estimate vs a measurement

For each model, times a full reconstruction of ``--batch`` embeddings (conditions, UNet steps, image
decoder; median of ``--repeats`` after one warm-up) at each of ``--steps`` (default 1 and 4) from pure
noise, with the model's recommended guidance unless ``--guidance`` is given; and, for a model with a
latent prior, the prior alone (strength 0). On the CPU both run float32 (onnxruntime's CPU provider);
with ``--device cuda`` torch runs eager float16 against onnxruntime's CUDA provider in float16 with
I/O binding. The one-off export is timed apart. Prints ``ms per batch`` and ``images/s`` per backend and
``ratio <what>: <torch_time/onnx_time>x`` lines (above 1: onnxruntime is faster). Torch and ONNX
Runtime alternate within each repeat; every time carries the load average and CPU steal.

The floor of each backend is its networks' evaluations alone: the component graphs one
reconstruction runs (conditions, UNet steps, image decoder), replayed on that backend with the
inputs they received, prepared beforehand; a reconstruction's time over it is what the pipeline
around them costs (scheduler, noise, conversions). Printed as ``limit <what> <backend>: <time/floor>x``.

``--quick``: batch 4, 2 repeats.

``--measure memory`` (or ``both``) prints, for a 1-step torch run from noise of ``--batch`` embeddings
with and without guidance, ``estimate_memory_bytes`` against the measured peak: ``torch.cuda.max_memory_allocated``
on CUDA, the weights plus the peak of live tensors on the CPU.
"""

from __future__ import annotations

import argparse
import gc
import pathlib
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
from _measure import describe_machine, timed

from braindecode.reconstruction import (
    DEFAULT_MODEL_DIR,
    estimate_memory_bytes,
    load_model_directory,
    seed_generators,
)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from architectures import ARCHITECTURES, save_architecture  # noqa: E402
from reconstruction.peak_memory import PeakTensorBytes, module_bytes  # noqa: E402
from reconstruction.tiny_models import save_tiny_kandinsky, save_tiny_stable_unclip  # noqa: E402

TINY = {"kandinsky": save_tiny_kandinsky, "unclip": save_tiny_stable_unclip}


def synced(fn):
    def run():
        result = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return result
    return run


class _Recorder:
    """Stands in for a runtime and records the graphs a reconstruction runs, with their inputs."""

    def __init__(self, runtime):
        self.runtime, self.calls = runtime, []

    def run(self, name, *inputs):
        self.calls.append((name, [x.clone() for x in inputs]))
        return self.runtime.run(name, *inputs)


def network_calls(pipeline, reconstruct, backend, options) -> list:
    """[(graph name, inputs)] of one reconstruction on ``backend``."""
    recorder = _Recorder(pipeline.runtime(backend, **options))
    pipeline.runtime = lambda *args, **kwargs: recorder  # shadows the method on this instance
    try:
        reconstruct()
    finally:
        del pipeline.runtime
    return recorder.calls


def model_directories(args, scratch: pathlib.Path) -> list:
    """(label, directory) of every model asked for; the default model when none is."""
    models = [(str(path), pathlib.Path(path)) for path in args.model]
    for family in args.tiny:
        size = args.image_size or 32
        models.append((f"tiny {family} {size} px", TINY[family](scratch / f"tiny-{family}", image_size=size)))
    for name in args.architecture:
        size = args.image_size or 512
        start = time.perf_counter()
        directory = save_architecture(name, scratch / name, image_size=size)
        print(f"built {name} (random weights, {size} px) in {time.perf_counter() - start:.1f} s")
        models.append((f"{name} architecture {size} px", directory))
    return models or [(str(DEFAULT_MODEL_DIR), DEFAULT_MODEL_DIR)]


def measured_peak_bytes(pipeline, run) -> int:
    """Peak memory of ``run()``: CUDA allocator peak, or weights plus the peak of live CPU tensors."""
    gc.collect()
    if pipeline.device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(pipeline.device)
        run()
        return torch.cuda.max_memory_allocated(pipeline.device)
    with PeakTensorBytes() as peak:
        run()
    return module_bytes(pipeline.modules().values()) + peak.peak


def bench_model(label, directory, args) -> None:
    half = args.dtype == "float16" or (args.dtype == "auto" and args.device.startswith("cuda"))
    dtype = torch.float16 if half else torch.float32
    start = time.perf_counter()
    pipeline = load_model_directory(directory, device=args.device, dtype=dtype)
    described = pipeline.describe()
    print(f"\n== {label}: {described.family}, {described.embedding_dim}-d {described.encoder_output} of "
          f"{described.encoder}, image {described.image_size}, torch {dtype}; loaded in "
          f"{time.perf_counter() - start:.1f} s")
    guidance = pipeline.sampling["guidance_scale"] if args.guidance is None else args.guidance
    print(f"device {args.device}, batch {args.batch}, scheduler {args.scheduler}, guidance {guidance:g}, "
          f"torch threads {torch.get_num_threads()}")
    embeddings = np.random.default_rng(0).normal(size=(args.batch, pipeline.embedding_dim)).astype(np.float32)
    if args.measure in ("speed", "both"):
        bench_speed(label, pipeline, embeddings, guidance, args)
    if args.measure in ("memory", "both"):
        for scale in (1.0, max(guidance, 2.0)):
            peak = measured_peak_bytes(pipeline, lambda: pipeline(  # noqa: B023
                embeddings, 1, args.scheduler, guidance_scale=scale, strength=1.0,  # noqa: B023
                generator=seed_generators(0, args.batch)))
            estimate = estimate_memory_bytes(pipeline, args.batch, scale)
            print(f"memory {label} batch {args.batch} guidance {scale:g} {dtype}: estimate {estimate / 2**20:.0f} "
                  f"MiB, measured peak {peak / 2**20:.0f} MiB, estimate/measured {estimate / peak:.2f}")


def bench_speed(label, pipeline, embeddings, guidance, args) -> None:
    start = time.perf_counter()
    runtime = pipeline.runtime("onnx", cache_dir=args.cache_dir, threads=args.threads)
    print(f"onnx export + sessions: {time.perf_counter() - start:.1f} s (cached after the first run); "
          f"provider {runtime.provider}, fp16={runtime.fp16}")
    runs = [(f"{n}-step", n, 1.0) for n in args.steps]
    runs += [("prior alone (strength 0)", 1, 0.0)] if getattr(pipeline, "prior", None) is not None else []
    for what, n_steps, strength in runs:
        calls, floors = {}, {}
        for backend in ("torch", "onnx"):
            options = {"cache_dir": args.cache_dir, "threads": args.threads} if backend == "onnx" else {}
            calls[backend] = synced(lambda b=backend, o=options, n=n_steps, s=strength: pipeline(
                embeddings, n, args.scheduler, guidance_scale=guidance, strength=s,
                generator=seed_generators(0, args.batch), backend=b, **o))
            recorded = network_calls(pipeline, calls[backend], backend, options)
            runtime = pipeline.runtime(backend, **options)
            floors[backend] = synced(lambda r=runtime, c=recorded: [r.run(name, *x) for name, x in c])
        runs_of = {f"{backend} {kind}": fn for backend in ("torch", "onnx")
                   for kind, fn in (("pipeline", calls[backend]), ("networks", floors[backend]))}
        for fn in runs_of.values():
            fn()  # warm-up
        times = {name: [] for name in runs_of}
        for _ in range(args.repeats):  # alternating: the machine's load drifts
            for name, fn in runs_of.items():
                times[name].append(timed(fn)[1])
        median = {name: statistics.median(t.seconds for t in timings) for name, timings in times.items()}
        for name, timings in times.items():
            print(f"{what} {name:<14}: {median[name] * 1e3:9.1f} ms per batch (median), "
                  f"{args.batch / median[name]:8.2f} images/s; last {timings[-1]}")
        print(f"ratio {label} {what} torch/onnx: {median['torch pipeline'] / median['onnx pipeline']:.2f}x")
        for backend in ("torch", "onnx"):
            print(f"limit {label} {what} {backend}: "
                  f"{median[backend + ' pipeline'] / median[backend + ' networks']:.2f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", default=[], help="a model directory (repeatable)")
    parser.add_argument("--tiny", action="append", default=[], choices=sorted(TINY),
                        help="a tiny random-weight directory of this family (repeatable)")
    parser.add_argument("--architecture", action="append", default=[], choices=sorted(ARCHITECTURES),
                        help="a published architecture with random weights (repeatable)")
    parser.add_argument("--image-size", type=int, default=None, help="for --tiny (default 32) and --architecture (512)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=("auto", "float32", "float16"), default="auto",
                        help="torch dtype; auto: float16 on CUDA, float32 on the CPU")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--scheduler", default="ddim")
    parser.add_argument("--guidance", type=float, default=None, help="default: the model's recommended guidance")
    parser.add_argument("--threads", type=int, default=None, help="torch and onnxruntime CPU threads")
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--measure", choices=("speed", "memory", "both"), default="speed",
                        help="torch against onnxruntime latency, the memory estimate against a measured peak, or both")
    parser.add_argument("--quick", action="store_true", help="batch 4, 2 repeats")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.repeats = min(args.batch, 4), min(args.repeats, 2)
    print(f"machine: {describe_machine()}")
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="bench-reconstruction-") as scratch:
        for label, directory in model_directories(args, pathlib.Path(scratch)):
            bench_model(label, directory, args)


if __name__ == "__main__":
    main()
