"""Cross-validated ridge with one alpha per target: braindecode vs himalaya vs scikit-learn.

All three select, for every target, the alpha with the best mean R^2 over the same
K contiguous folds, then refit on all samples. Times are taken in this process on
the same data, the methods alternating round after round (the machine's load drifts;
the best round of each is kept), each with the load average and CPU steal of its run.
Peak memory comes from one subprocess per method (VmHWM of /proc/self/status after
resetting it, minus the resident size before the fit), after one warm-up fit of the
same method on 8 of the targets: what a process pays once (libraries' workspaces,
compiled kernels loaded from numba's cache) is not the memory of a fit.

The floor is the work no solver avoids at these shapes, timed in the same run: the
products ``X^T X`` and ``X^T Y`` and one prediction product ``X_test @ W`` per fold.

scikit-learn's ``RidgeCV`` selects one alpha per target only with leave-one-out
(``cv=None, alpha_per_target=True``); with K folds the per-target search in
scikit-learn is a loop of multi-target ``Ridge`` fits over alphas and folds. Both
are slow at full size, so they run on the first ``--sklearn-targets`` targets, and
braindecode is timed on the same subset for the ratio.

    python benchmarks/bench_ridge.py            # 2000 x 1280 x 20000, 10 alphas, 5 folds, 3 rounds
    python benchmarks/bench_ridge.py --quick    # 1000 x 640 x 20000, 2 rounds: the same ratios in under 2 minutes

The quick run halves the samples and the features and keeps the targets: every method's
work per target (products of samples by features) shrinks alike, and so does the memory
that grows with the targets, which dominates the peaks at this number of targets (the
fixed share, libraries and the fold operators, is some 250 MiB for both at full size).

"ours" uses the default automatic target batches; "ours_one_batch" processes all targets
at once (``n_targets_batch=n_targets``, as himalaya's default).

Prints ``ratio <what> <peer/ours>`` lines, ``limit ridge <ours/floor>`` and the equality of
the selected alphas and scores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import warnings
from functools import partial

import numpy as np
import torch
from _measure import best, describe_machine, timed
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_limits

from braindecode._products import gram, matmul
from braindecode.encoding import solve_ridge_cv


def make_data(n_samples, n_features, n_targets, seed=0):
    """Correlated features (decaying spectrum) and targets of varied signal-to-noise ratio, float32."""
    generator = torch.Generator().manual_seed(seed)
    spectrum = 1.0 / torch.sqrt(1.0 + torch.arange(n_features) / 20.0)
    X = torch.randn(n_samples, n_features, generator=generator) * spectrum
    weights = torch.randn(n_features, n_targets, generator=generator) * spectrum[:, None]
    Y = X @ weights
    snr = torch.logspace(-2, 1, n_targets)
    Y *= torch.sqrt(snr / Y.var(0))
    Y += torch.randn(n_samples, n_targets, generator=generator)
    return X.contiguous(), Y.contiguous()


def run_ours(X, Y, alphas, folds, one_batch=False):
    n_targets_batch = Y.shape[1] if one_batch else None  # None: automatic batches from the cache size
    result = solve_ridge_cv(X, Y, alphas, cv=KFold(folds), scoring="r2", n_targets_batch=n_targets_batch)
    return result.best_alphas.numpy(), result.cv_scores.numpy()


def run_himalaya(X, Y, alphas, folds):
    from himalaya.backend import set_backend
    from himalaya.ridge import RidgeCV
    from himalaya.scoring import r2_score

    backend = set_backend("torch")
    model = RidgeCV(alphas=alphas, cv=KFold(folds), fit_intercept=True,
                    solver_params={"score_func": r2_score}).fit(X, Y)
    return backend.to_numpy(model.best_alphas_), backend.to_numpy(model.cv_scores_)


def run_sklearn_grid(X, Y, alphas, folds):
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score

    X, Y = X.numpy(), Y.numpy()
    splits = list(KFold(folds).split(X))
    scores = np.zeros((len(alphas), Y.shape[1]))
    for a, alpha in enumerate(alphas):
        for train, test in splits:
            predictions = Ridge(alpha=alpha).fit(X[train], Y[train]).predict(X[test])
            scores[a] += r2_score(Y[test], predictions, multioutput="raw_values") / folds
    best_index = scores.argmax(0)
    for a in np.unique(best_index):
        Ridge(alpha=alphas[a]).fit(X, Y[:, best_index == a])
    return alphas[best_index], scores


def run_sklearn_loo(X, Y, alphas, folds):
    from sklearn.linear_model import RidgeCV

    model = RidgeCV(alphas=alphas, alpha_per_target=True).fit(X.numpy(), Y.numpy())
    return np.asarray(model.alpha_), None


def run_floor(X, Y, alphas, folds, weights):
    """The unavoidable products: X^T X, X^T Y and one prediction X_test @ W per fold (the fastest
    products at hand: numpy's BLAS, X^T X as a symmetric rank-k update)."""
    gram(X.T.contiguous())
    matmul(X.T, Y)
    for _, test in KFold(folds).split(X):
        matmul(X[test], weights)
    return None, None


METHODS = {"ours": run_ours, "ours_one_batch": partial(run_ours, one_batch=True), "himalaya": run_himalaya,
           "sklearn_grid": run_sklearn_grid, "sklearn_loo": run_sklearn_loo}


def agreement(ours, theirs, scores, alphas):
    """Share of targets with the same best alpha, and how close to a tie the others are."""
    same = np.isclose(ours, theirs, rtol=1e-5)
    text = f"{same.mean():.4%} of targets"
    if not same.all():
        ours_index = np.searchsorted(alphas, ours[~same] * (1 - 1e-6))
        theirs_index = np.searchsorted(alphas, theirs[~same] * (1 - 1e-6))
        columns = np.flatnonzero(~same)
        gap = np.abs(scores[ours_index, columns] - scores[theirs_index, columns]).max()
        text += f" (the others are near-ties: CV R2 of the two alphas differ by <= {gap:.1e})"
    return text


def _status_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def measure_memory(method, data_dir, n_targets, alphas, folds):
    """Child process: peak resident memory added by one fit, in MiB."""
    X = torch.from_numpy(np.load(os.path.join(data_dir, "X.npy")))
    Y = torch.from_numpy(np.load(os.path.join(data_dir, "Y.npy"))[:, :n_targets].copy())
    METHODS[method](X, Y[:, :8].contiguous(), alphas, folds)  # the process's one-time costs, not the fit's
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset VmHWM to the current resident size
    before = _status_kib("VmRSS")
    METHODS[method](X, Y, alphas, folds)
    return (_status_kib("VmHWM") - before) / 1024


def memory_in_subprocess(method, data_dir, n_targets, args):
    command = [sys.executable, __file__, "--memory-child", method, "--data-dir", data_dir,
               "--child-targets", str(n_targets), "--alphas", str(args.alphas), "--folds", str(args.folds),
               "--threads", str(args.threads)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])["peak_mib"]


def quiet(function, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--features", type=int, default=1280)
    parser.add_argument("--targets", type=int, default=20000)
    parser.add_argument("--alphas", type=int, default=10)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--sklearn-targets", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the full-size methods (best kept)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and BLAS threads for every method (1 suits a shared machine: "
                             "spinning OpenMP threads on busy cores slow small operations down many times)")
    parser.add_argument("--quick", action="store_true",
                        help="half the samples and features, 2 rounds, scikit-learn on a quarter of its targets, "
                             "memory of ours and himalaya only")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--child-targets", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.samples, args.features = args.samples // 2, args.features // 2
        args.rounds, args.sklearn_targets = min(args.rounds, 2), args.sklearn_targets // 4
    alphas = np.logspace(-1, 8, args.alphas)
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)

    if args.memory_child:
        peak = quiet(measure_memory, args.memory_child, args.data_dir, args.child_targets, alphas, args.folds)
        print(json.dumps({"peak_mib": peak}))
        return

    X, Y = make_data(args.samples, args.features, args.targets)
    weights = torch.randn(args.features, args.targets, generator=torch.Generator().manual_seed(1))
    subset = min(args.sklearn_targets, args.targets)
    print(f"machine: {describe_machine()}; torch {torch.__version__}")
    print(f"data: {args.samples} samples x {args.features} features x {args.targets} targets, float32; "
          f"{args.alphas} alphas, {args.folds} folds; {args.threads} thread(s) for torch and BLAS")

    timings, results = {}, {}
    full_size = ["ours", "ours_one_batch", "himalaya", "floor"]
    for round_ in range(args.rounds):  # alternating: the machine's load drifts
        for method in full_size:
            if method == "floor":
                _, timing = timed(run_floor, X, Y, alphas, args.folds, weights)
            else:
                results[method], timing = timed(quiet, METHODS[method], X, Y, alphas, args.folds)
            timings.setdefault(method, []).append(timing)
            print(f"time {method:<15} {args.targets:>6} targets {timing}   (round {round_ + 1})", flush=True)
    Y_subset = Y[:, :subset].contiguous()
    for method in ["ours", "sklearn_grid", "sklearn_loo"]:
        results[method + "_subset"], timing = timed(quiet, METHODS[method], X, Y_subset, alphas, args.folds)
        timings[method + "_subset"] = [timing]
        print(f"time {method + '_subset':<15} {subset:>6} targets {timing}", flush=True)

    seconds = {method: best(runs).seconds for method, runs in timings.items()}
    print(f"ratio himalaya/ours              {seconds['himalaya'] / seconds['ours']:6.2f}   "
          f"(best of {args.rounds} each)")
    print(f"ratio ours_one_batch/ours        {seconds['ours_one_batch'] / seconds['ours']:6.2f}   "
          f"(automatic target batches against all targets in one batch)")
    print(f"ratio himalaya/ours_one_batch    {seconds['himalaya'] / seconds['ours_one_batch']:6.2f}")
    print(f"ratio sklearn_grid/ours          {seconds['sklearn_grid_subset'] / seconds['ours_subset']:6.2f}"
          f"   (on {subset} targets)")
    print(f"ratio sklearn_loo/ours           {seconds['sklearn_loo_subset'] / seconds['ours_subset']:6.2f}"
          f"   (on {subset} targets; leave-one-out, a different CV)")
    print(f"limit ridge                      {seconds['ours'] / seconds['floor']:6.2f}   "
          f"(ours / X^T X, X^T Y and one prediction product per fold: {seconds['floor']:.2f} s)")

    ours_alphas, ours_scores = results["ours"]
    him_alphas, him_best = results["himalaya"]
    print(f"equal vs himalaya: best alpha agrees on {agreement(ours_alphas, him_alphas, ours_scores, alphas)}; "
          f"max |best CV R2 diff| {np.abs(ours_scores.max(0) - him_best).max():.2e}")
    batched_alphas, batched_scores = results["ours_one_batch"]
    print(f"equal ours vs ours_one_batch: best alpha agrees on "
          f"{agreement(ours_alphas, batched_alphas, ours_scores, alphas)}; "
          f"max |CV R2 diff| {np.abs(ours_scores - batched_scores).max():.2e}")
    grid_alphas, grid_scores = results["sklearn_grid_subset"]
    print(f"equal vs sklearn grid: best alpha agrees on "
          f"{agreement(ours_alphas[:subset], grid_alphas, ours_scores[:, :subset], alphas)}; "
          f"max |CV R2 diff| over all alphas {np.abs(ours_scores[:, :subset] - grid_scores).max():.2e}")

    if not args.no_memory:
        measured = [("ours", args.targets), ("himalaya", args.targets)]
        if not args.quick:
            measured += [("ours_one_batch", args.targets), ("sklearn_grid", subset), ("sklearn_loo", subset)]
        peaks = {}
        with tempfile.TemporaryDirectory() as data_dir:
            np.save(os.path.join(data_dir, "X.npy"), X.numpy())
            np.save(os.path.join(data_dir, "Y.npy"), Y.numpy())
            for method, n_targets in measured:
                peaks[method] = memory_in_subprocess(method, data_dir, n_targets, args)
                print(f"peak memory {method:<15} {n_targets:>6} targets  {peaks[method]:9.1f} MiB above the loaded data")
        print(f"ratio memory himalaya/ours       {peaks['himalaya'] / peaks['ours']:6.2f}   (peak memory)")


if __name__ == "__main__":
    main()
