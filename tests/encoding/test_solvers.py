import warnings

import numpy as np
import pytest
import sklearn.linear_model as sk
import torch
from sklearn.metrics import r2_score as sk_r2
from sklearn.model_selection import KFold, LeaveOneOut, TimeSeriesSplit, cross_val_predict

from braindecode.encoding import RidgeCV, RunKFold, solve_ridge, solve_ridge_cv
from braindecode.encoding._solvers import EIGH_MIN_ALPHAS, RegularizedGram

ALPHAS = np.logspace(-2, 4, 9)
# (n_samples, n_features): primal folds (features <= train samples) and dual folds (kernel form)
SHAPES = {"primal": (120, 30), "dual": (60, 100)}


def _himalaya_fit(X, Y, fit_intercept, scoring, alphas):
    import himalaya.ridge as hr
    from himalaya.backend import get_backend
    from himalaya.scoring import correlation_score, r2_score

    score_func = {"r2": r2_score, "pearson": correlation_score}[scoring]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # n_samples < n_features advice
        model = hr.RidgeCV(alphas=alphas, cv=KFold(5), fit_intercept=fit_intercept,
                           solver_params=dict(score_func=score_func)).fit(X, Y)
    backend = get_backend()
    return (backend.to_numpy(model.predict(X)), backend.to_numpy(model.best_alphas_),
            backend.to_numpy(model.cv_scores_))


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize(("backend", "fit_intercept", "scoring", "n_alphas"), [
    ("numpy", True, "r2", len(ALPHAS)), ("numpy", False, "r2", len(ALPHAS)), ("numpy", True, "pearson", len(ALPHAS)),
    ("torch", True, "r2", len(ALPHAS)), ("torch", False, "pearson", len(ALPHAS)),
    ("numpy", True, "r2", EIGH_MIN_ALPHAS),  # one eigendecomposition per fold instead of a Cholesky per alpha
])
def test_matches_himalaya_ridgecv(himalaya_backend, simulate, backend, shape, fit_intercept, scoring, n_alphas):
    himalaya_backend(backend)
    alphas = np.logspace(-2, 4, n_alphas)
    X, Y, _ = simulate(*SHAPES[shape], n_targets=7, seed=1)
    predictions, best_alphas, best_scores = _himalaya_fit(X, Y, fit_intercept, scoring, alphas)

    ours = RidgeCV(alphas=alphas, cv=KFold(5), fit_intercept=fit_intercept, scoring=scoring, dtype="float64").fit(X, Y)

    np.testing.assert_allclose(ours.best_alphas_, best_alphas, rtol=1e-9)
    np.testing.assert_allclose(ours.predict(X), predictions, rtol=1e-8, atol=1e-8)
    # himalaya adds 1e-10 * log(alpha) to break ties toward large alphas
    np.testing.assert_allclose(ours.cv_scores_.max(0), best_scores, atol=1e-8)


@pytest.mark.parametrize("shape", [(40, 8), (30, 40)])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_matches_sklearn_leave_one_out_alpha_per_target(simulate, shape, fit_intercept):
    X, Y, _ = simulate(*shape, n_targets=5, seed=2)
    reference = sk.RidgeCV(alphas=ALPHAS, alpha_per_target=True, fit_intercept=fit_intercept).fit(X, Y)

    ours = RidgeCV(alphas=ALPHAS, cv=LeaveOneOut(), fit_intercept=fit_intercept, scoring="neg_mse",
                   dtype="float64").fit(X, Y)

    np.testing.assert_allclose(ours.best_alphas_, reference.alpha_, rtol=1e-12)
    np.testing.assert_allclose(ours.cv_scores_.max(0), reference.best_score_, rtol=1e-8)
    np.testing.assert_allclose(ours.coef_, reference.coef_.T, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.predict(X), reference.predict(X), rtol=1e-8, atol=1e-8)


def _fold_scores_sklearn(predictions, Y, splits, scoring):
    per_fold = []
    for _, test in splits:
        if scoring == "r2":
            per_fold.append(sk_r2(Y[test], predictions[test], multioutput="raw_values"))
        else:
            per_fold.append([np.corrcoef(Y[test, j], predictions[test, j])[0, 1] for j in range(Y.shape[1])])
    return np.mean(per_fold, axis=0)


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("scoring", ["r2", "pearson"])
def test_cv_scores_match_sklearn_cross_val_predict(simulate, shape, scoring):
    X, Y, _ = simulate(*SHAPES[shape], n_targets=4, seed=3)
    cv = KFold(5)
    ours = RidgeCV(alphas=ALPHAS, cv=cv, scoring=scoring, dtype="float64").fit(X, Y)

    expected = np.stack([
        _fold_scores_sklearn(cross_val_predict(sk.Ridge(alpha=alpha), X, Y, cv=cv), Y, list(cv.split(X)), scoring)
        for alpha in ALPHAS
    ])
    np.testing.assert_allclose(ours.cv_scores_, expected, rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(ours.best_alphas_, ALPHAS[expected.argmax(0)])


@pytest.mark.parametrize("n_features", [10, 80])
def test_splits_that_do_not_cover_all_samples(simulate, n_features):
    X, Y, _ = simulate(60, n_features, n_targets=3, seed=4)
    splits = list(TimeSeriesSplit(n_splits=3, gap=2).split(X))
    result = solve_ridge_cv(X, Y, ALPHAS, cv=splits, dtype="float64")

    expected = np.zeros((len(ALPHAS), Y.shape[1]))
    for a, alpha in enumerate(ALPHAS):
        for train, test in splits:
            model = sk.Ridge(alpha=alpha).fit(X[train], Y[train])
            expected[a] += sk_r2(Y[test], model.predict(X[test]), multioutput="raw_values") / len(splits)
    np.testing.assert_allclose(result.cv_scores.numpy(), expected, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("shape", [(50, 12), (20, 50)])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_solve_ridge_matches_sklearn_ridge(simulate, shape, fit_intercept):
    X, Y, _ = simulate(*shape, n_targets=3, seed=5)
    alphas = np.array([0.5, 10.0, 300.0])
    coef, intercept = solve_ridge(X, Y, alphas, fit_intercept=fit_intercept, dtype="float64")
    reference = sk.Ridge(alpha=alphas, fit_intercept=fit_intercept).fit(X, Y)
    np.testing.assert_allclose(coef.numpy(), reference.coef_.T, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(intercept.numpy(), reference.intercept_ if fit_intercept else 0.0, atol=1e-8)


def test_target_batches_give_the_same_result(simulate):
    X, Y, _ = simulate(80, 20, n_targets=9, seed=6)
    whole = solve_ridge_cv(X, Y, ALPHAS, dtype="float64")
    batched = solve_ridge_cv(X, Y, ALPHAS, n_targets_batch=4, dtype="float64")
    for a, b in zip(whole, batched):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("scoring", ["r2", "pearson"])
def test_float32_is_close_to_float64(simulate, scoring):
    X, Y, _ = simulate(100, 25, n_targets=5, seed=7)
    single = solve_ridge_cv(X, Y, ALPHAS, scoring=scoring)
    double = solve_ridge_cv(X, Y, ALPHAS, scoring=scoring, dtype="float64")
    assert single.coef.dtype == torch.float32
    np.testing.assert_allclose(single.cv_scores.numpy(), double.cv_scores.numpy(), atol=1e-4)
    np.testing.assert_allclose(single.coef.numpy(), double.coef.numpy(), rtol=1e-3, atol=1e-4)


def test_groups_fold_whole_runs(simulate):
    X, Y, _ = simulate(90, 10, n_targets=2, seed=8)
    runs = np.repeat(["r1", "r2", "r3"], 30)
    by_groups = solve_ridge_cv(X, Y, ALPHAS, cv=3, groups=runs, dtype="float64")
    explicit = solve_ridge_cv(X, Y, ALPHAS, cv=list(RunKFold(3).split(X, groups=runs)), dtype="float64")
    np.testing.assert_array_equal(by_groups.cv_scores.numpy(), explicit.cv_scores.numpy())
    contiguous = solve_ridge_cv(X, Y, ALPHAS, cv=KFold(3), dtype="float64")
    np.testing.assert_array_equal(by_groups.cv_scores.numpy(), contiguous.cv_scores.numpy())


def test_constant_target_gets_the_largest_alpha(simulate):
    X, Y, _ = simulate(60, 10, n_targets=2, seed=9)
    Y[:, 1] = 3.0
    result = solve_ridge_cv(X, Y, ALPHAS, dtype="float64")
    assert result.best_alphas[1] == ALPHAS.max()
    np.testing.assert_allclose(result.intercept[1].item(), 3.0)
    np.testing.assert_allclose(result.coef[:, 1].numpy(), 0.0, atol=1e-12)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_cuda_matches_cpu(simulate, shape):
    X, Y, _ = simulate(*SHAPES[shape], n_targets=6, seed=10)
    cpu = solve_ridge_cv(X, Y, ALPHAS, dtype="float64")
    gpu = solve_ridge_cv(X, Y, ALPHAS, dtype="float64", device="cuda", n_targets_batch=4)
    assert gpu.coef.device.type == "cpu"
    np.testing.assert_array_equal(gpu.best_alphas.numpy(), cpu.best_alphas.numpy())
    np.testing.assert_allclose(gpu.cv_scores.numpy(), cpu.cv_scores.numpy(), atol=1e-10)
    np.testing.assert_allclose(gpu.coef.numpy(), cpu.coef.numpy(), rtol=1e-8, atol=1e-10)


def _psd(eigenvalues, seed=11):
    basis, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((len(eigenvalues), len(eigenvalues))))
    return basis, torch.as_tensor(basis @ np.diag(eigenvalues) @ basis.T)


@pytest.mark.parametrize("n_alphas", [3, EIGH_MIN_ALPHAS])  # a Cholesky per alpha, one eigendecomposition
def test_regularized_gram_products_and_solves(n_alphas):
    _, gram = _psd([3.0, 2.0, 1.0, 0.0])
    alphas = np.logspace(-1, 1, n_alphas)
    inverse = RegularizedGram(gram, alphas)
    assert inverse.eigen_for_all == (n_alphas >= EIGH_MIN_ALPHAS)
    left = torch.as_tensor(np.random.default_rng(0).standard_normal((2, 4)))
    expected = [left.numpy() @ np.linalg.inv(gram.numpy() + alpha * np.eye(4)) for alpha in alphas]
    np.testing.assert_allclose(inverse.right_products(left, torch.float64).numpy(), expected, rtol=1e-10)
    rhs = torch.as_tensor(np.random.default_rng(1).standard_normal((4, 3)))
    chosen = torch.as_tensor(alphas[[0, -1, 0]])
    expected = [np.linalg.solve(gram.numpy() + a * np.eye(4), rhs[:, t].numpy()) for t, a in enumerate(chosen.tolist())]
    np.testing.assert_allclose(inverse.solve(rhs, chosen).numpy(), np.array(expected).T, rtol=1e-10)


def test_regularized_gram_falls_back_to_clamped_eigenvalues():
    # a rounding-level negative eigenvalue larger than alpha: Cholesky fails, eigenvalues are clamped
    basis, gram = _psd([3.0, 2.0, 1.0, -1e-3])
    inverse = RegularizedGram(gram, [1e-4, 1.0])
    assert inverse.uses_eigen(1e-4) and not inverse.uses_eigen(1.0)
    rhs = torch.as_tensor(np.random.default_rng(2).standard_normal((4, 2)))
    clamped = basis @ np.diag(1 / (np.array([3.0, 2.0, 1.0, 0.0]) + 1e-4)) @ basis.T
    regular = np.linalg.inv(gram.numpy() + np.eye(4))
    solution = inverse.solve(rhs, torch.tensor([1e-4, 1.0], dtype=torch.float64)).numpy()
    np.testing.assert_allclose(solution[:, 0], clamped @ rhs[:, 0].numpy(), rtol=1e-8)
    np.testing.assert_allclose(solution[:, 1], regular @ rhs[:, 1].numpy(), rtol=1e-8)
    products = inverse.right_products(rhs.T.contiguous(), torch.float64).numpy()
    np.testing.assert_allclose(products[0], rhs.T.numpy() @ clamped, rtol=1e-8)
    np.testing.assert_allclose(products[1], rhs.T.numpy() @ regular, rtol=1e-8)


@pytest.mark.parametrize("each", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_compressed_operators_reconstruct_every_alpha(simulate, dtype, each):
    from braindecode.encoding._solvers import compress_operators

    X, _, _ = simulate(200, 40, n_targets=1, seed=12)
    X = torch.as_tensor(X - X.mean(0))
    left = X[:40]
    alphas = np.logspace(-2, 10, 25)
    operators = RegularizedGram(X[40:].T @ X[40:], alphas).right_products(left, torch.float64)
    basis, mixing = compress_operators(operators, dtype, each)
    assert basis.dtype == mixing.dtype == dtype
    # neighbouring alphas are redundant at float32 precision; float64 operators are kept whole
    assert (basis.shape[0] < len(alphas)) == (dtype == torch.float32)
    rebuilt = torch.einsum("aj,jnw->anw", mixing.double(), basis.double())
    norms = operators.flatten(1).norm(dim=1)
    # each alpha to its own precision, or every alpha to that of the largest operator
    error = (rebuilt - operators).flatten(1).norm(dim=1) / (norms if each else norms.max())
    assert error.max() < 10 * torch.finfo(dtype).eps
    if dtype == torch.float32:
        assert compress_operators(operators, dtype, each=False)[0].shape[0] <= compress_operators(operators, dtype)[0].shape[0]


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("shape", [(120, 30), (60, 100)])
@pytest.mark.parametrize("splits", ["kfold", "time_series", "repeated_train"])
def test_downdated_and_direct_folds_agree(simulate, monkeypatch, fit_intercept, shape, splits):
    # the Woodbury downdate of the full Gram matrix and a factorization of each fold's own
    X, Y, _ = simulate(*shape, n_targets=4, seed=13)
    cv = {"kfold": list(KFold(4).split(X)), "time_series": list(TimeSeriesSplit(3, gap=2).split(X)),
          "repeated_train": [(np.r_[np.arange(20, 60), np.arange(20, 30)], np.arange(20))]}[splits]
    results = {}
    for downdate in (True, False):
        monkeypatch.setattr("braindecode.encoding._solvers._downdate_is_cheaper", lambda *args, d=downdate: d)
        results[downdate] = solve_ridge_cv(X, Y, ALPHAS, cv=cv, fit_intercept=fit_intercept, dtype="float64")
    np.testing.assert_allclose(results[True].cv_scores.numpy(), results[False].cv_scores.numpy(), rtol=1e-9, atol=1e-11)
    expected = np.zeros((len(ALPHAS), Y.shape[1]))
    for a, alpha in enumerate(ALPHAS):
        for train, test in cv:
            model = sk.Ridge(alpha=alpha, fit_intercept=fit_intercept).fit(X[train], Y[train])
            expected[a] += sk_r2(Y[test], model.predict(X[test]), multioutput="raw_values") / len(cv)
    np.testing.assert_allclose(results[True].cv_scores.numpy(), expected, rtol=1e-8, atol=1e-10)


def test_rank_deficient_design_matches_sklearn(simulate):
    # duplicated and constant features: the solution lives in the row space of X
    X, Y, _ = simulate(80, 12, n_targets=3, seed=14)
    X = np.hstack([X, X[:, :4], np.full((80, 2), 3.0)])
    ours = RidgeCV(alphas=ALPHAS, cv=KFold(5), dtype="float64").fit(X, Y)
    for t in range(Y.shape[1]):
        reference = sk.Ridge(alpha=ours.best_alphas_[t]).fit(X, Y[:, t])
        np.testing.assert_allclose(ours.coef_[:, t], reference.coef_, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(ours.intercept_[t], reference.intercept_, rtol=1e-8)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_constant_design_predicts_the_training_means(simulate, dtype):
    _, Y, _ = simulate(40, 3, n_targets=2, seed=15)
    result = solve_ridge_cv(np.full((40, 3), 2.0), Y, ALPHAS, cv=KFold(4), dtype=dtype)
    expected = np.mean([sk_r2(Y[test], np.broadcast_to(Y[train].mean(0), Y[test].shape), multioutput="raw_values")
                        for train, test in KFold(4).split(Y)], axis=0)
    np.testing.assert_allclose(result.cv_scores.numpy(), np.broadcast_to(expected, result.cv_scores.shape), atol=1e-5)
    np.testing.assert_array_equal(result.coef.numpy(), 0)
    np.testing.assert_allclose(result.intercept.numpy(), Y.mean(0), rtol=1e-5)


def test_automatic_target_batches(monkeypatch):
    from braindecode.encoding import _solvers

    assert _solvers._cpu_list_length("0-3,8,10-11\n") == 7
    size, sharing = _solvers.last_level_cache()
    assert size > 0 and sharing >= 1
    assert _solvers._available_memory() > 0
    monkeypatch.setattr(_solvers, "last_level_cache", lambda: (32 * 2**20, 2))
    monkeypatch.setattr(_solvers, "_available_memory", lambda: 16 * 2**30)  # other processes move it
    cpu = torch.device("cpu")
    torch.set_num_threads(2)  # two threads share the cache
    assert _solvers.auto_targets_batch(16 * 2**10, cpu) == 1024
    torch.set_num_threads(1)  # one thread has it all
    assert _solvers.auto_targets_batch(16 * 2**10, cpu) == 2048
    assert _solvers.auto_targets_batch(10**6, cpu) == _solvers.AUTO_BATCH_MIN
    # never more than a quarter of the available memory
    assert _solvers.auto_targets_batch(16 * 2**30 // 8, cpu) == 2
