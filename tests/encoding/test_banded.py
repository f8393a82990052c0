import warnings

import numpy as np
import pytest
from sklearn.model_selection import KFold

from braindecode.encoding import BandedRidgeCV, RidgeCV, band_ratio_candidates, solve_banded_ridge_cv
from braindecode.errors import InvalidArgument

ALPHAS = np.logspace(-1, 4, 6)


def _two_bands(n_samples=90, sizes=(12, 6), n_targets=6, seed=0):
    rng = np.random.default_rng(seed)
    Xs = [rng.standard_normal((n_samples, size)) for size in sizes]
    # the first targets depend on band 0 only, the others on band 1
    W0 = rng.standard_normal((sizes[0], n_targets)) * (np.arange(n_targets) < n_targets // 2)
    W1 = rng.standard_normal((sizes[1], n_targets)) * (np.arange(n_targets) >= n_targets // 2)
    Y = Xs[0] @ W0 + Xs[1] @ W1 + 1.5 * rng.standard_normal((n_samples, n_targets))
    bands = np.repeat(["low", "high"], sizes)
    return np.hstack(Xs), Xs, Y, bands


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize(("n_samples", "sizes"), [(90, (12, 6)), (50, (30, 25))])  # primal, dual folds
def test_matches_himalaya_banded_random_search(himalaya_backend, backend, n_samples, sizes):
    from himalaya.backend import get_backend
    from himalaya.ridge import solve_group_ridge_random_search
    from himalaya.scoring import r2_score

    himalaya_backend(backend)
    X, Xs, Y, bands = _two_bands(n_samples, sizes)
    ratios = band_ratio_candidates(2, 6, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        deltas, coef, cv_scores, intercept = solve_group_ridge_random_search(
            Xs, Y, n_iter=ratios, alphas=ALPHAS, fit_intercept=True, score_func=r2_score, cv=KFold(5),
            return_weights=True, progress_bar=False)
    backend_ = get_backend()
    deltas, coef, cv_scores, intercept = map(backend_.to_numpy, (deltas, coef, cv_scores, intercept))

    ours = solve_banded_ridge_cv(X, Y, bands, ALPHAS, ratios=ratios, cv=KFold(5), dtype="float64")

    np.testing.assert_allclose(ours.band_alphas.numpy(), np.exp(-deltas), rtol=1e-9)
    np.testing.assert_allclose(ours.cv_scores.numpy().max(1), cv_scores, atol=1e-8)
    np.testing.assert_allclose(ours.coef.numpy(), coef, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ours.intercept.numpy(), intercept, rtol=1e-7, atol=1e-9)


def test_band_regularization_follows_the_informative_band():
    X, _, Y, bands = _two_bands(n_samples=200, n_targets=6, seed=1)
    grid = np.array([[0.5, 0.5], [0.99, 0.01], [0.01, 0.99]])
    model = BandedRidgeCV(bands, alphas=ALPHAS, ratios=grid, dtype="float64").fit(X, Y)
    assert model.band_labels_.tolist() == ["low", "high"]
    low, high = model.band_alphas_
    assert np.all(low[:3] < high[:3]) and np.all(high[3:] < low[3:])
    assert model.cv_scores_.shape == (3, len(ALPHAS), 6)
    assert model.score(X, Y) > 0.5


def test_one_band_equals_ridgecv():
    X, _, Y, _ = _two_bands(seed=2)
    banded = BandedRidgeCV(np.zeros(X.shape[1]), alphas=ALPHAS, ratios=1, dtype="float64").fit(X, Y)
    ridge = RidgeCV(alphas=ALPHAS, dtype="float64").fit(X, Y)
    np.testing.assert_allclose(banded.cv_scores_[0], ridge.cv_scores_, rtol=1e-12)
    np.testing.assert_allclose(banded.coef_, ridge.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(banded.best_alphas_, ridge.best_alphas_)


def test_interleaved_bands_equal_contiguous_bands():
    X, _, Y, bands = _two_bands(seed=3)
    order = np.random.default_rng(0).permutation(X.shape[1])
    ratios = band_ratio_candidates(2, 4, random_state=1)
    contiguous = solve_banded_ridge_cv(X, Y, bands, ALPHAS, ratios=ratios, dtype="float64")
    shuffled = solve_banded_ridge_cv(X[:, order], Y, bands[order], ALPHAS, ratios=ratios, dtype="float64")
    np.testing.assert_allclose(shuffled.coef.numpy(), contiguous.coef.numpy()[order], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(shuffled.cv_scores.numpy(), contiguous.cv_scores.numpy(), rtol=1e-10)


def test_zero_ratio_switches_a_band_off():
    X, _, Y, bands = _two_bands(seed=4)
    result = solve_banded_ridge_cv(X, Y, bands, ALPHAS, ratios=np.array([[1.0, 0.0]]), dtype="float64")
    assert np.all(result.coef.numpy()[bands == "high"] == 0)
    assert np.all(np.isinf(result.band_alphas.numpy()[1]))


def test_candidates_are_seeded_and_on_the_simplex():
    first = band_ratio_candidates(3, 10, random_state=0)
    np.testing.assert_array_equal(first, band_ratio_candidates(3, 10, random_state=0))
    np.testing.assert_allclose(first.sum(1), 1.0)
    np.testing.assert_allclose(first[0], 1 / 3)
    assert np.all(first >= 0)


@pytest.mark.parametrize("bad", [
    dict(bands=np.zeros(3)),
    dict(ratios=np.array([[1.0, -0.5]])),
    dict(ratios=np.array([[1.0, 0.0, 0.0]])),
    dict(ratios=np.array([[0.0, 0.0]])),
    dict(concentration=-1.0),
])
def test_bad_band_arguments(bad):
    X, _, Y, bands = _two_bands()
    arguments = dict(bands=bands, ratios=3, concentration=(0.1, 1.0)) | bad
    with pytest.raises(InvalidArgument):
        solve_banded_ridge_cv(X, Y, arguments["bands"], ALPHAS, ratios=arguments["ratios"],
                              concentration=arguments["concentration"])
