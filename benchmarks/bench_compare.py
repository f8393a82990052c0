"""Benchmark: braindecode.compare against rsatoolbox 0.3.2, in one process on the same data.

Times (1) RDM computation from 1,000 conditions x 5,000 features and (2) a bootstrap
over conditions of 20 model RDMs compared with a data RDM (1,000 samples), for
Pearson and Spearman. rsatoolbox's bootstrap is the loop its
``eval_bootstrap_pattern`` runs (``subsample_pattern`` + ``compare`` per sample,
without the noise ceiling); it runs on the same resampled conditions as ours,
on a subset of the samples, and its time is extrapolated linearly to all of them.

Usage: python benchmarks/bench_compare.py [--n-conditions 1000] [--n-features 5000]
       [--n-models 20] [--n-bootstrap 1000] [--peer-samples 5] [--repeats 3] [--threads N] [--device cpu]
Prints ``ratio <what>: <peer_time/our_time>x`` lines.
"""

from __future__ import annotations

import argparse
import time
from importlib.metadata import version

import numpy as np
import rsatoolbox
import torch

from braindecode.compare import bootstrap_scores, compute_rdm, rdm_to_vector
from braindecode.compare._inference import bootstrap_counts

RDM_METHODS = {"correlation": "correlation", "sqeuclidean": "euclidean"}
COMPARISONS = {"pearson": "corr", "spearman": "spearman"}


def _timed(function):
    start = time.perf_counter()
    value = function()
    return value, time.perf_counter() - start


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _best_of(repeats: int, function):
    """The last result and the shortest of ``repeats`` timings."""
    timings = []
    for _ in range(repeats):
        value, seconds = _timed(function)
        timings.append(seconds)
    return value, min(timings)


def bench_rdms(X: np.ndarray, device: str, repeats: int) -> np.ndarray:
    dataset = rsatoolbox.data.Dataset(X.astype(np.float64))
    data_rdm = None
    for ours, theirs in RDM_METHODS.items():
        rdm, our_time = _best_of(repeats, lambda: (compute_rdm(X, ours, device=device), _sync(device))[0])
        peer, peer_time = _best_of(repeats, lambda: rsatoolbox.rdm.calc_rdm(dataset, method=theirs))
        error = np.abs(rdm_to_vector(rdm) - peer.get_vectors()[0]).max()
        print(
            f"rdm {ours} (best of {repeats}): ours {our_time:.3f} s, rsatoolbox {peer_time:.3f} s, "
            f"max abs difference {error:.1e}"
        )
        print(f"ratio rdm {ours}: {peer_time / our_time:.1f}x")
        if ours == "correlation":
            data_rdm = rdm_to_vector(rdm)
    return data_rdm


def bench_bootstrap(data: np.ndarray, models: np.ndarray, n_bootstrap: int, peer_samples: int, device: str) -> None:
    n_conditions = int(round((1 + np.sqrt(1 + 8 * data.size)) / 2))
    seed = 0
    counts = bootstrap_counts(n_conditions, n_bootstrap, torch.Generator().manual_seed(seed)).numpy()
    descriptors = {"index": np.arange(n_conditions)}
    peer_data = rsatoolbox.rdm.RDMs(data[None].astype(np.float64), pattern_descriptors=descriptors)
    peer_models = rsatoolbox.rdm.RDMs(models.astype(np.float64), pattern_descriptors=descriptors)
    for ours, theirs in COMPARISONS.items():
        samples, our_time = _timed(
            lambda: (
                bootstrap_scores(data, models, ours, n_bootstrap=n_bootstrap, seed=seed, device=device),
                _sync(device),
            )[0]
        )
        peer_scores = []
        start = time.perf_counter()
        for count in counts[:peer_samples]:
            drawn = np.repeat(np.arange(n_conditions), count)
            sample = peer_data.subsample_pattern("index", drawn)
            predicted = peer_models.subsample_pattern("index", drawn)
            peer_scores.append(rsatoolbox.rdm.compare(predicted, sample, method=theirs)[:, 0])
        peer_time = (time.perf_counter() - start) * n_bootstrap / peer_samples
        error = np.abs(samples[:peer_samples] - np.array(peer_scores)).max()
        print(
            f"bootstrap {ours} ({n_bootstrap} samples x {len(models)} models, {n_conditions} conditions): "
            f"ours {our_time:.2f} s, rsatoolbox {peer_time:.1f} s "
            f"(extrapolated linearly from {peer_samples} samples), max abs difference {error:.1e}"
        )
        print(f"ratio bootstrap {ours}: {peer_time / our_time:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-conditions", type=int, default=1000)
    parser.add_argument("--n-features", type=int, default=5000)
    parser.add_argument("--n-models", type=int, default=20)
    parser.add_argument("--n-bootstrap", type=int, default=1000)
    parser.add_argument("--peer-samples", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3, help="RDM timings: best of this many runs")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.n_conditions, args.n_features)).astype(np.float32)
    n_pairs = args.n_conditions * (args.n_conditions - 1) // 2
    models = rng.random((args.n_models, n_pairs)).astype(np.float32)
    print(
        f"braindecode.compare vs rsatoolbox {version('rsatoolbox')}: {args.n_conditions} conditions x "
        f"{args.n_features} features, device {args.device}, torch threads {torch.get_num_threads()}; "
        "ours in float32, rsatoolbox in float64"
    )
    data = bench_rdms(X, args.device, args.repeats)
    bench_bootstrap(data, models, args.n_bootstrap, args.peer_samples, args.device)


if __name__ == "__main__":
    main()
