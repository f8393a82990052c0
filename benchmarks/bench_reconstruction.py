"""Reconstruction latency: the ONNX Runtime backend against torch eager, same model, batch and seed.

    python benchmarks/bench_reconstruction.py                    # CPU provider vs torch on the CPU
    python benchmarks/bench_reconstruction.py --device cuda      # CUDA provider, fp16, I/O binding vs torch eager

Times a full reconstruction of ``--batch`` embeddings of the shipped default model, median
of ``--repeats`` after one warm-up: 1 and 4 UNet steps from the latent prior's coarse latents
at ``--strength`` (prior, projector, UNet steps, VAE decoder; 1 starts from noise), and the
prior alone (strength 0, the model's recommended setting: prior and VAE decoder). The one-off
export is timed apart. Prints ``ratio <what>: <torch_time/onnx_time>x`` lines (above 1:
onnxruntime is faster).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from braindecode.reconstruction import DEFAULT_MODEL_DIR, ReconstructionPipeline, seed_generators


def median_seconds(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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
    args = parser.parse_args(argv)
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
        times = {}
        for backend in ("torch", "onnx"):
            options = dict(cache_dir=args.cache_dir, threads=args.threads) if backend == "onnx" else {}
            times[backend] = median_seconds(lambda: pipeline(  # noqa: B023
                embeddings, n_steps, args.scheduler, strength=strength,  # noqa: B023
                generator=seed_generators(0, args.batch), backend=backend, **options), args.repeats)
            print(f"{label} {backend:5s}: {times[backend] * 1e3:8.1f} ms per batch, "
                  f"{args.batch / times[backend]:8.1f} images/s")
        print(f"ratio {label} torch/onnx: {times['torch'] / times['onnx']:.2f}x")


if __name__ == "__main__":
    main()
