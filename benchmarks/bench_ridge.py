"""Cross-validated ridge with one alpha per target: braindecode vs himalaya vs scikit-learn.

All three select, for every target, the alpha with the best mean R^2 over the same
K contiguous folds, then refit on all samples. Times are taken in this process on
the same data; peak memory comes from one subprocess per method (VmHWM of
/proc/self/status after resetting it, minus the resident size before the fit).

scikit-learn's ``RidgeCV`` selects one alpha per target only with leave-one-out
(``cv=None, alpha_per_target=True``); with K folds the per-target search in
scikit-learn is a loop of multi-target ``Ridge`` fits over alphas and folds. Both
are slow at full size, so they run on the first ``--sklearn-targets`` targets, and
braindecode is timed on the same subset for the ratio.

    python benchmarks/bench_ridge.py                     # 2000 x 1280 x 20000, 10 alphas, 5 folds
    python benchmarks/bench_ridge.py --targets 2000 --sklearn-targets 200   # quick run

"ours" uses the default automatic target batches; "ours_one_batch" processes all targets
at once (``n_targets_batch=n_targets``, as himalaya's default).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from functools import partial

import numpy as np
import torch
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_limits

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
    n_targets_batch = Y.shape[1] if one_batch else None  # None: automatic batches (~32 MiB arrays)
    result = solve_ridge_cv(X, Y, alphas, cv=KFold(folds), scoring="r2", n_targets_batch=n_targets_batch)
    return result.best_alphas.numpy(), result.cv_scores.numpy()


def run_himalaya(X, Y, alphas, folds):
    from himalaya.backend import set_backend
    from himalaya.ridge import RidgeCV
    from himalaya.scoring import r2_score

    backend = set_backend("torch")
    model = RidgeCV(alphas=alphas, cv=KFold(folds), fit_intercept=True,
                    solver_params=dict(score_func=r2_score)).fit(X, Y)
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
    best = scores.argmax(0)
    for a in np.unique(best):
        Ridge(alpha=alphas[a]).fit(X, Y[:, best == a])
    return alphas[best], scores


def run_sklearn_loo(X, Y, alphas, folds):
    from sklearn.linear_model import RidgeCV

    model = RidgeCV(alphas=alphas, alpha_per_target=True).fit(X.numpy(), Y.numpy())
    return np.asarray(model.alpha_), None


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
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset VmHWM to the current resident size
    before = _status_kib("VmRSS")
    METHODS[method](X, Y, alphas, folds)
    return (_status_kib("VmHWM") - before) / 1024


def timed(method, X, Y, alphas, folds):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        best_alphas, scores = METHODS[method](X, Y, alphas, folds)
    return time.perf_counter() - start, best_alphas, scores


def memory_in_subprocess(method, data_dir, n_targets, args):
    command = [sys.executable, __file__, "--memory-child", method, "--data-dir", data_dir,
               "--child-targets", str(n_targets), "--alphas", str(args.alphas), "--folds", str(args.folds),
               "--threads", str(args.threads)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])["peak_mib"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--features", type=int, default=1280)
    parser.add_argument("--targets", type=int, default=20000)
    parser.add_argument("--alphas", type=int, default=10)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--sklearn-targets", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved runs of the full-size methods (best kept)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and BLAS threads for every method (1 suits a shared machine: "
                             "spinning OpenMP threads on busy cores slow small operations down many times)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--child-targets", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    alphas = np.logspace(-1, 8, args.alphas)
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)

    if args.memory_child:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            peak = measure_memory(args.memory_child, args.data_dir, args.child_targets, alphas, args.folds)
        print(json.dumps({"peak_mib": peak}))
        return

    X, Y = make_data(args.samples, args.features, args.targets)
    subset = min(args.sklearn_targets, args.targets)
    print(f"data: {args.samples} samples x {args.features} features x {args.targets} targets, float32; "
          f"{args.alphas} alphas, {args.folds} folds; {args.threads} thread(s) for torch and BLAS")

    results = {}
    full_size = [("ours", args.targets), ("ours_one_batch", args.targets), ("himalaya", args.targets)]
    for repeat in range(args.repeats):  # interleaved, best time kept: the machine's load drifts
        for method, n_targets in full_size:
            run = timed(method, X, Y[:, :n_targets].contiguous(), alphas, args.folds)
            print(f"time {method:<15} {n_targets:>6} targets  {run[0]:9.2f} s   (run {repeat + 1})")
            if method not in results or run[0] < results[method][0]:
                results[method] = run
    for method, n_targets in [("ours_subset", subset), ("sklearn_grid", subset), ("sklearn_loo", subset)]:
        results[method] = timed(method.removesuffix("_subset"), X, Y[:, :n_targets].contiguous(), alphas, args.folds)
        print(f"time {method:<15} {n_targets:>6} targets  {results[method][0]:9.2f} s")

    ours_time, ours_alphas, ours_scores = results["ours"]
    him_time, him_alphas, him_best = results["himalaya"]
    print(f"ratio himalaya/ours            {him_time / ours_time:6.2f}   (best of {args.repeats} each)")
    print(f"ratio himalaya/ours_one_batch  {him_time / results['ours_one_batch'][0]:6.2f}"
          f"   (all targets in one batch)")
    print(f"ratio sklearn_grid/ours        {results['sklearn_grid'][0] / results['ours_subset'][0]:6.2f}"
          f"   (on {subset} targets)")
    print(f"ratio sklearn_loo/ours         {results['sklearn_loo'][0] / results['ours_subset'][0]:6.2f}"
          f"   (on {subset} targets; leave-one-out, a different CV)")

    print(f"equal vs himalaya: best alpha agrees on {agreement(ours_alphas, him_alphas, ours_scores, alphas)}; "
          f"max |best CV R2 diff| {np.abs(ours_scores.max(0) - him_best).max():.2e}")
    _, batched_alphas, batched_scores = results["ours_one_batch"]
    print(f"equal ours vs ours_one_batch: same best alphas {np.array_equal(ours_alphas, batched_alphas)}; "
          f"max |CV R2 diff| {np.abs(ours_scores - batched_scores).max():.2e}")
    _, grid_alphas, grid_scores = results["sklearn_grid"]
    print(f"equal vs sklearn grid: best alpha agrees on "
          f"{agreement(ours_alphas[:subset], grid_alphas, ours_scores[:, :subset], alphas)}; "
          f"max |CV R2 diff| over all alphas {np.abs(ours_scores[:, :subset] - grid_scores).max():.2e}")

    if not args.no_memory:
        with tempfile.TemporaryDirectory() as data_dir:
            np.save(os.path.join(data_dir, "X.npy"), X.numpy())
            np.save(os.path.join(data_dir, "Y.npy"), Y.numpy())
            for method, n_targets in full_size + [("sklearn_grid", subset), ("sklearn_loo", subset)]:
                peak = memory_in_subprocess(method, data_dir, n_targets, args)
                print(f"peak memory {method:<15} {n_targets:>6} targets  {peak:9.1f} MiB above the loaded data")


if __name__ == "__main__":
    main()
