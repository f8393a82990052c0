"""Benchmark: braindecode.compare against rsatoolbox 0.3.2, in one process on the same data.

Times (1) RDMs of 1,000 conditions x 5,000 features by every method (crossnobis and
Mahalanobis with a given noise precision; cosine against scipy's ``pdist``, since
rsatoolbox has no cosine RDM; Euclidean against rsatoolbox's squared Euclidean and
its square root), and (2) a bootstrap over conditions of 20 model RDMs compared with a
data RDM (1,000 samples) by Pearson r, Spearman's rho and Kendall's tau-a.
rsatoolbox's bootstrap is the loop its ``eval_bootstrap_pattern`` runs
(``subsample_pattern`` + ``compare`` per sample, without the noise ceiling), on the
same resampled conditions as ours, on a few samples whose time is extrapolated
linearly; our Kendall bootstrap is timed on ``--kendall-samples`` samples and
extrapolated the same way (its (x, y) orders, built once per call, weigh more on
fewer samples, so this overstates our time). Each of our methods first runs once on 2
samples, untimed: the compiled walks of the Spearman bootstrap are compiled (or read
from numba's cache) on a process's first call.

Each RDM is timed in the form its library returns: ours the square matrix, rsatoolbox's
the vector of its upper triangle. Ours, the peer and the floor alternate over the rounds;
in a round ours and the floor (tens of milliseconds, as long as a virtual machine's stalls)
are called 5 times, the peer once; the best of each is kept for the peer ratio, and the
floor ratio of an RDM is the median over the rounds of ours over the floor in the same round.

The floor of each figure is the work no implementation avoids at its shapes, timed in
the same run with the fastest products at hand (``braindecode._products``: MKL or
OpenBLAS, whichever suits the processor; a matrix times its own transpose as a symmetric
rank-k update): for an RDM one matrix product of the patterns
with themselves (with the precision between them for Mahalanobis, per run for
crossnobis); for a bootstrap the per-sample products, one (n_samples x n_pairs) @
(n_pairs x n_sums) matrix product of the entries' multiplicities with the RDM vectors
and their products.

Usage: python benchmarks/bench_compare.py [--quick] [--rounds 3] [--threads 1] [--device cpu]
Prints ``ratio <what> <peer_time/our_time>`` and ``limit <what> <our_time/floor_time>`` lines,
each also in CPU seconds of this process (steadier than the wall clock when other jobs crowd
the cores); every time carries the load average and CPU steal of its run.
"""

from __future__ import annotations

import argparse
import math
from importlib.metadata import version

import numpy as np
import rsatoolbox
import torch
from _measure import best, describe_machine, timed
from scipy.spatial.distance import pdist
from threadpoolctl import threadpool_info, threadpool_limits

from braindecode._products import gram, matmul
from braindecode.compare import (
    bootstrap_scores,
    compute_rdm,
    crossnobis_rdm,
    mahalanobis_rdm,
    rdm_to_vector,
)
from braindecode.compare._inference import bootstrap_counts

COMPARISONS = {"pearson": "corr", "spearman": "spearman", "kendall_tau_a": "tau-a"}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def make_data(n_conditions, n_features, n_runs, seed=0):
    """Patterns per run (float32), their mean, and a noise precision (float64, positive definite)."""
    rng = np.random.default_rng(seed)
    runs = (rng.standard_normal((1, n_conditions, n_features))
            + rng.standard_normal((n_runs, n_conditions, n_features))).astype(np.float32)
    factors = rng.standard_normal((n_features, 64)) / 8
    precision = np.eye(n_features) + factors @ factors.T
    return runs, runs.mean(axis=0), precision


def rdm_cases(runs, X, precision, device):
    """Per method: (ours, rsatoolbox or scipy, floor), each a function returning an RDM vector or None."""
    n_runs, n_conditions, n_features = runs.shape
    tensor = torch.from_numpy(X).to(device)
    runs_tensor = torch.from_numpy(runs).to(device)
    precision32 = torch.from_numpy(precision.astype(np.float32)).to(device)
    dataset = rsatoolbox.data.Dataset(X.astype(np.float64))
    run_dataset = rsatoolbox.data.Dataset(
        runs.reshape(-1, n_features).astype(np.float64),
        obs_descriptors={"condition": np.tile(np.arange(n_conditions, dtype=float), n_runs),
                         "run": np.repeat(np.arange(n_runs, dtype=float), n_conditions)},
    )

    def ours(function, *args, **kwargs):
        def run():  # the square RDM, as our functions return it; its vector is taken outside the timing
            rdm = function(*args, device=device, **kwargs)
            _sync(device)
            return rdm
        return run

    def pattern_gram():
        gram(tensor)
        _sync(device)

    def whitened_gram():
        matmul(matmul(tensor, precision32), tensor.T)
        _sync(device)

    def whitened_run_grams():
        for run in runs_tensor:
            matmul(matmul(run, precision32), run.T)
        _sync(device)

    def peer(method, **kwargs):
        return lambda: rsatoolbox.rdm.calc_rdm(dataset, method=method, **kwargs).get_vectors()[0]

    return {
        "correlation": (ours(compute_rdm, X, "correlation"), peer("correlation"), pattern_gram),
        "cosine": (ours(compute_rdm, X, "cosine"), lambda: pdist(X.astype(np.float64), "cosine"), pattern_gram),
        "sqeuclidean": (ours(compute_rdm, X, "sqeuclidean"), peer("euclidean"), pattern_gram),
        "euclidean": (ours(compute_rdm, X, "euclidean"),
                      lambda: np.sqrt(peer("euclidean")() * n_features), pattern_gram),
        "mahalanobis": (ours(mahalanobis_rdm, X, precision32), peer("mahalanobis", noise=precision), whitened_gram),
        "crossnobis": (ours(crossnobis_rdm, runs, noise=precision32),
                       lambda: rsatoolbox.rdm.calc_rdm(run_dataset, method="crossnobis", descriptor="condition",
                                                       noise=precision, cv_descriptor="run").get_vectors()[0],
                       whitened_run_grams),
    }


def bench_rdms(runs, X, precision, rounds: int, device: str, calls: int = 5) -> None:
    """Every RDM method: ours, the peer and the floor alternate over ``rounds``; in each round ours and
    the floor, which take tens of milliseconds, are called ``calls`` times (a virtual machine's stalls
    last that long), the peer once; the best of each is kept. The floor ratio is the median over the
    rounds of ours over the floor within a round (their best of ``calls`` each), so that it compares
    timings taken under the same load."""
    cases = rdm_cases(runs, X, precision, device)
    values, round_best = {}, {}
    for round_ in range(rounds):  # ours, the peer and the floor alternate: the machine's load drifts
        for method, functions in cases.items():
            for who, function in zip(("ours", "peer", "floor"), functions):
                round_timings = []
                for _ in range(1 if who == "peer" else calls):
                    values[method, who], timing = timed(function)
                    round_timings.append(timing)
                round_best.setdefault((method, who), []).append(best(round_timings))
                print(f"time rdm {method:<12} {who:<5} {best(round_timings)}   (round {round_ + 1}, best of "
                      f"{len(round_timings)})", flush=True)
    for method in cases:
        ours, peer, floor = (best(round_best[method, who]) for who in ("ours", "peer", "floor"))
        error = np.abs(rdm_to_vector(values[method, "ours"]) - values[method, "peer"]).max()
        print(f"ratio rdm {method:<12} {peer.seconds / ours.seconds:7.2f}   (ours {ours.seconds:.3f} s, peer "
              f"{peer.seconds:.3f} s; in CPU seconds {peer.cpu_seconds / ours.cpu_seconds:.2f}; "
              f"max abs difference {error:.1e})")
        paired = [(mine.seconds / base.seconds, mine.cpu_seconds / base.cpu_seconds)
                  for mine, base in zip(round_best[method, "ours"], round_best[method, "floor"])]
        wall, cpu = (float(np.median(values_)) for values_ in zip(*paired))
        print(f"limit rdm {method:<12} {wall:7.2f}   (median over {len(paired)} rounds of ours / floor within a "
              f"round; best floor {floor.seconds:.3f} s; in CPU seconds {cpu:.2f})")


def _peer_bootstrap(data, models, counts, method):
    n_conditions = counts.shape[1]
    descriptors = {"index": np.arange(n_conditions)}
    peer_data = rsatoolbox.rdm.RDMs(data[None].astype(np.float64), pattern_descriptors=descriptors)
    peer_models = rsatoolbox.rdm.RDMs(models.astype(np.float64), pattern_descriptors=descriptors)
    scores = []
    for count in counts:
        drawn = np.repeat(np.arange(n_conditions), count)
        sample = peer_data.subsample_pattern("index", drawn)
        predicted = peer_models.subsample_pattern("index", drawn)
        scores.append(rsatoolbox.rdm.compare(predicted, sample, method=method)[:, 0])
    return np.array(scores)


def _floor_products(n_samples: int, n_pairs: int, n_sums: int, device: str):
    """The per-sample products, as chunks of one (n_samples, n_pairs) @ (n_pairs, n_sums) product."""
    chunk = min(n_samples, max(1, (1 << 25) // n_pairs))
    generator = torch.Generator().manual_seed(1)
    weights = torch.randint(0, 5, (chunk, n_pairs), generator=generator).float().to(device)
    vectors = torch.rand((n_pairs, n_sums), generator=generator).to(device)

    def run():
        for _ in range(math.ceil(n_samples / chunk)):
            matmul(weights, vectors)
        _sync(device)

    return run


def bench_bootstrap(data, models, args) -> None:
    n_conditions = round((1 + np.sqrt(1 + 8 * data.size)) / 2)
    seed = 0
    counts = bootstrap_counts(n_conditions, args.n_bootstrap, torch.Generator().manual_seed(seed)).numpy()
    n_sums = 2 * (1 + len(models)) + len(models)  # sums of each vector, of its square, of data x model
    floor = best(timed(_floor_products(args.n_bootstrap, data.size, n_sums, args.device))[1]
                 for _ in range(args.rounds))
    print(f"time bootstrap floor        {floor}   ({args.n_bootstrap} samples x {n_sums} sums, best of {args.rounds})")
    for ours, theirs in COMPARISONS.items():
        n_ours = min(args.kendall_samples, args.n_bootstrap) if ours == "kendall_tau_a" else args.n_bootstrap
        def run_ours(method=ours, n_samples=n_ours):
            scores = bootstrap_scores(data, models, method, n_bootstrap=n_samples, seed=seed, device=args.device)
            _sync(args.device)
            return scores

        run_ours(n_samples=2)  # compile, untimed
        our_times, peer_times = [], []
        for _ in range(args.rounds):  # alternating, best kept, as for the RDMs
            samples, timing = timed(run_ours)
            our_times.append(timing)
            peer_scores, timing = timed(_peer_bootstrap, data, models, counts[:args.peer_samples], theirs)
            peer_times.append(timing)
        our_time, peer_time = best(our_times), best(peer_times)
        ours_total = our_time.seconds * args.n_bootstrap / n_ours
        peer_total = peer_time.seconds * args.n_bootstrap / args.peer_samples
        cpu_ratio = (peer_time.cpu_seconds / args.peer_samples) / (our_time.cpu_seconds / n_ours)
        error = np.abs(samples[:args.peer_samples] - peer_scores).max()
        print(f"time bootstrap {ours:<13} ours  {our_time}   ({n_ours} samples)")
        print(f"time bootstrap {ours:<13} peer  {peer_time}   ({args.peer_samples} samples)")
        print(f"ratio bootstrap {ours:<13} {peer_total / ours_total:7.1f}   ({args.n_bootstrap} samples x "
              f"{len(models)} models, {n_conditions} conditions: ours {ours_total:.1f} s"
              + ("" if n_ours == args.n_bootstrap else f" extrapolated from {n_ours}")
              + f", rsatoolbox {peer_total:.0f} s extrapolated from {args.peer_samples}; "
              f"in CPU seconds {cpu_ratio:.1f}; max abs difference {error:.1e})")
        print(f"limit bootstrap {ours:<13} {ours_total / floor.seconds:7.1f}   (floor {floor.seconds:.2f} s; "
              f"in CPU seconds {our_time.cpu_seconds * args.n_bootstrap / n_ours / floor.cpu_seconds:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-conditions", type=int, default=1000)
    parser.add_argument("--n-features", type=int, default=5000)
    parser.add_argument("--n-runs", type=int, default=4, help="runs of the crossnobis patterns")
    parser.add_argument("--bootstrap-conditions", type=int, default=1000, help="conditions of the bootstrapped RDMs")
    parser.add_argument("--n-models", type=int, default=20)
    parser.add_argument("--n-bootstrap", type=int, default=1000)
    parser.add_argument("--peer-samples", type=int, default=3, help="rsatoolbox bootstrap samples timed")
    parser.add_argument("--kendall-samples", type=int, default=100, help="our Kendall bootstrap samples timed")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of every timing (best kept)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch and BLAS threads, ours and the peers' (default: the libraries' choice)")
    parser.add_argument("--quick", action="store_true",
                        help="2,500 features; bootstrap of 500 conditions, 200 samples (Kendall 32), 2 peer samples")
    args = parser.parse_args()
    if args.quick:
        args.n_features = min(args.n_features, 2500)
        args.bootstrap_conditions, args.n_bootstrap = min(args.bootstrap_conditions, 500), min(args.n_bootstrap, 200)
        args.kendall_samples, args.peer_samples = min(args.kendall_samples, 32), min(args.peer_samples, 2)
    if args.threads:
        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    runs, X, precision = make_data(args.n_conditions, args.n_features, args.n_runs)
    n_pairs = args.bootstrap_conditions * (args.bootstrap_conditions - 1) // 2
    models = np.random.default_rng(1).random((args.n_models, n_pairs)).astype(np.float32)
    print(f"machine: {describe_machine()}; torch {torch.__version__}, {torch.get_num_threads()} thread(s), BLAS "
          f"{max((pool['num_threads'] for pool in threadpool_info()), default=0)}; "
          f"device {args.device}")
    print(f"braindecode.compare vs rsatoolbox {version('rsatoolbox')}: {args.n_conditions} conditions x "
          f"{args.n_features} features ({args.n_runs} runs for crossnobis); ours in float32, peers in float64")
    bench_rdms(runs, X, precision, args.rounds, args.device)
    data = rdm_to_vector(compute_rdm(make_data(args.bootstrap_conditions, args.n_features, 1)[1], "correlation"))
    bench_bootstrap(data, models, args)


if __name__ == "__main__":
    main()
