"""Reconstruction latency: the ONNX Runtime backend against torch eager, same model, batch and seed.

    python benchmarks/bench_reconstruction.py                    # CPU provider vs torch on the CPU
    python benchmarks/bench_reconstruction.py --device cuda      # CUDA provider, fp16, I/O binding vs torch eager

Times a full reconstruction of ``--batch`` embeddings of the shipped default model, median
of ``--repeats`` after one warm-up: 1 and 4 UNet steps from the latent prior's coarse latents
at ``--strength`` (prior, projector, UNet steps, VAE decoder; 1 starts from noise), and the
prior alone (strength 0, the model's recommended setting: prior and VAE decoder). The one-off
export is timed apart. Torch and ONNX Runtime alternate within each repeat.

The floor of each backend is its networks' evaluations alone: the component graphs one
reconstruction runs (prior, projector, UNet steps, VAE decoder), replayed on that backend with
the inputs they received, prepared beforehand; a reconstruction's time over it is what the
pipeline around them costs (scheduler, noise, conversions).

    python benchmarks/bench_reconstruction.py --quick            # batch 4, 2 repeats

Prints ``ratio <what> torch/onnx: <torch_time/onnx_time>x`` lines (above 1: onnxruntime is
faster) and ``limit <what> <backend>: <time/floor>x`` lines; every time carries the load
average and CPU steal.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from _measure import describe_machine, timed

from braindecode.reconstruction import DEFAULT_MODEL_DIR, ReconstructionPipeline, seed_generators


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
    runtime = pipeline.runtime
    pipeline.runtime = lambda *args, **kwargs: recorder
    try:
        reconstruct()
    finally:
        pipeline.runtime = runtime
    return recorder.calls


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL_DIR))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scheduler", default="lcm")
    parser.add_argument("--strength", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=None, help="torch and onnxruntime CPU threads")
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--quick", action="store_true", help="batch 4, 2 repeats")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.repeats = min(args.batch, 4), min(args.repeats, 2)
    print(f"machine: {describe_machine()}")
    if args.threads:
        torch.set_num_threads(args.threads)
    pipeline = ReconstructionPipeline.from_pretrained(args.model, device=args.device)
    embeddings = np.random.default_rng(0).normal(size=(args.batch, pipeline.embedding_dim)).astype(np.float32)
    start = time.perf_counter()
    runtime = pipeline.runtime("onnx", cache_dir=args.cache_dir, threads=args.threads)
    print(f"onnx export + sessions: {time.perf_counter() - start:.1f} s (cached after the first run); "
          f"provider {runtime.provider}, fp16={runtime.fp16}")
    print(f"model {args.model}, device {args.device}, batch {args.batch}, scheduler {args.scheduler}, "
          f"image {pipeline.image_size}, torch threads {torch.get_num_threads()}")
    runs = [(f"1-step strength {args.strength:g}", 1, args.strength),
            (f"4-step strength {args.strength:g}", 4, args.strength)]
    runs += [("prior alone (strength 0)", 1, 0.0)] if pipeline.prior is not None else []
    for label, n_steps, strength in runs:
        calls, floors = {}, {}
        for backend in ("torch", "onnx"):
            options = {"cache_dir": args.cache_dir, "threads": args.threads} if backend == "onnx" else {}
            calls[backend] = synced(lambda b=backend, o=options, n=n_steps, s=strength: pipeline(
                embeddings, n, args.scheduler, strength=s, generator=seed_generators(0, args.batch), backend=b, **o))
            recorded = network_calls(pipeline, calls[backend], backend, options)
            runtime = pipeline.runtime(backend, **options)
            floors[backend] = synced(lambda r=runtime, c=recorded: [r.run(name, *x) for name, x in c])
        runs_of = {f"{backend} {what}": fn for backend in ("torch", "onnx")
                   for what, fn in (("pipeline", calls[backend]), ("networks", floors[backend]))}
        for fn in runs_of.values():
            fn()  # warm-up
        times = {name: [] for name in runs_of}
        for _ in range(args.repeats):  # alternating: the machine's load drifts
            for name, fn in runs_of.items():
                times[name].append(timed(fn)[1])
        median = {name: statistics.median(t.seconds for t in timings) for name, timings in times.items()}
        for name, timings in times.items():
            print(f"{label} {name:<14}: {median[name] * 1e3:8.1f} ms per batch (median), "
                  f"{args.batch / median[name]:8.1f} images/s; last {timings[-1]}")
        print(f"ratio {label} torch/onnx: {median['torch pipeline'] / median['onnx pipeline']:.2f}x")
        for backend in ("torch", "onnx"):
            print(f"limit {label} {backend}: {median[backend + ' pipeline'] / median[backend + ' networks']:.2f}x")


if __name__ == "__main__":
    main()
