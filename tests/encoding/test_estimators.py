import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from braindecode.encoding import BandedRidgeCV, LeaveOneRunOut, RidgeCV, pearson_r
from braindecode.errors import InvalidArgument

ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_sklearn_estimator_checks():
    results = check_estimator(RidgeCV(dtype="float64"), on_fail=None)
    failed = [(result["check_name"], result["exception"]) for result in results if result["status"] == "failed"]
    assert not failed
    # only the array-API check is skipped: it needs SCIPY_ARRAY_API, and the estimator takes numpy / torch input
    assert [r["check_name"] for r in results if r["status"] == "skipped"] in ([], ["check_array_api_input"])
    assert sum(result["status"] == "passed" for result in results) >= 50


def test_attributes_and_shapes(simulate):
    X, Y, _ = simulate(80, 12, n_targets=5)
    model = RidgeCV(alphas=ALPHAS).fit(X, Y)
    assert model.coef_.shape == (12, 5) and model.coef_.dtype == np.float32
    assert model.intercept_.shape == (5,)
    assert model.best_alphas_.shape == (5,) and set(model.best_alphas_) <= set(ALPHAS)
    assert model.cv_scores_.shape == (len(ALPHAS), 5)
    assert model.n_features_in_ == 12
    assert model.predict(X).shape == (80, 5)
    per_target = model.score_per_target(X, Y)
    assert per_target.shape == (5,)
    assert model.score(X, Y) == pytest.approx(per_target.mean())


def test_one_dimensional_target(simulate):
    X, Y, _ = simulate(60, 5, n_targets=1)
    model = RidgeCV(alphas=ALPHAS).fit(X, Y[:, 0])
    assert model.coef_.shape == (5,) and np.ndim(model.intercept_) == 0
    assert model.predict(X).shape == (60,)
    assert model.best_alphas_.shape == (1,)


def test_pipeline_with_standard_scaler(simulate):
    X, Y, _ = simulate(100, 10, n_targets=4, offset=5.0)
    X[:, 0] *= 50
    pipe = make_pipeline(StandardScaler(), RidgeCV(alphas=ALPHAS, dtype="float64")).fit(X, Y)
    scaled = StandardScaler().fit_transform(X)
    direct = RidgeCV(alphas=ALPHAS, dtype="float64").fit(scaled, Y)
    np.testing.assert_allclose(pipe.predict(X), direct.predict(scaled), rtol=1e-10)
    np.testing.assert_array_equal(pipe[-1].best_alphas_, direct.best_alphas_)
    assert pipe.score(X, Y) == pytest.approx(direct.score(scaled, Y))


def test_pipeline_routes_groups_to_the_splitter(simulate):
    X, Y, _ = simulate(90, 8, n_targets=3)
    runs = np.repeat(["a", "b", "c"], 30)
    pipe = make_pipeline(StandardScaler(), RidgeCV(alphas=ALPHAS, cv=LeaveOneRunOut()))
    pipe.fit(X, Y, ridgecv__groups=runs)
    assert pipe[-1].cv_scores_.shape == (len(ALPHAS), 3)
    with pytest.raises(InvalidArgument, match="needs groups"):
        pipe.fit(X, Y)


def test_params_round_trip():
    model = RidgeCV(alphas=ALPHAS, cv=3, scoring="pearson", n_targets_batch=100)
    assert clone(model).get_params() == model.get_params()
    model.set_params(alphas=(1.0, 2.0), fit_intercept=False)
    assert model.get_params()["alphas"] == (1.0, 2.0) and model.fit_intercept is False
    banded = BandedRidgeCV(bands=[0, 0, 1], ratios=4, random_state=0)
    assert clone(banded).get_params()["bands"] == [0, 0, 1]


def test_banded_estimator_in_a_pipeline(simulate):
    X, Y, _ = simulate(80, 9, n_targets=3)
    bands = np.repeat([0, 1, 2], 3)
    pipe = make_pipeline(StandardScaler(), BandedRidgeCV(bands, alphas=ALPHAS, ratios=5, random_state=0)).fit(X, Y)
    model = pipe[-1]
    assert model.band_alphas_.shape == (3, 3) and model.best_ratios_.shape == (3, 3)
    assert model.ratios_.shape == (5, 3) and model.cv_scores_.shape == (5, len(ALPHAS), 3)
    assert pipe.score(X, Y) > 0.5
    repeat = make_pipeline(StandardScaler(), BandedRidgeCV(bands, alphas=ALPHAS, ratios=5, random_state=0)).fit(X, Y)
    np.testing.assert_array_equal(repeat[-1].coef_, model.coef_)


def test_recovers_simulated_weights_up_to_the_noise_ceiling():
    rng = np.random.default_rng(11)
    n_train, n_test, n_features = 3000, 2000, 20
    signal_to_noise = np.array([0.25, 1.0, 4.0])  # variance ratios
    W = rng.standard_normal((n_features, 3))
    noise_sd = np.sqrt((W**2).sum(0) / signal_to_noise)  # X ~ N(0, I): signal variance = ||w||^2
    X = rng.standard_normal((n_train + n_test, n_features))
    Y = X @ W + noise_sd * rng.standard_normal((n_train + n_test, 3))
    model = RidgeCV(alphas=np.logspace(-2, 4, 13)).fit(X[:n_train], Y[:n_train])
    achieved = pearson_r(Y[n_train:], model.predict(X[n_train:]))
    oracle = pearson_r(Y[n_train:], X[n_train:] @ W)  # the true weights on the same test noise
    ceiling = np.sqrt(signal_to_noise / (1 + signal_to_noise))  # corr(signal + noise, signal)
    standard_error = (1 - ceiling**2) / np.sqrt(n_test)
    assert np.all(np.abs(oracle - ceiling) < 3 * standard_error)
    assert np.all(achieved <= oracle + 1e-3) and np.all(achieved > oracle - 0.01)
    assert np.all(np.abs(achieved - ceiling) < 3 * standard_error + 0.01)
    assert np.all(np.abs(model.coef_ - W) < 4 * noise_sd / np.sqrt(n_train))


@pytest.mark.parametrize(("X", "Y", "params", "message"), [
    (np.full((20, 3), np.nan), np.zeros((20, 2)), {}, "NaN"),
    (np.zeros((20, 3)), np.full((20, 2), np.inf), {}, "infinity"),
    (np.zeros((20, 3)), np.zeros((19, 2)), {}, "inconsistent numbers of samples"),
    (np.zeros((20, 3, 2)), np.zeros((20, 2)), {}, "dim 3"),
    (np.zeros((20, 3)), np.zeros((20, 2)), {"alphas": (1.0, -1.0)}, "positive"),
    (np.zeros((20, 3)), np.zeros((20, 2)), {"scoring": "auc"}, "unknown score"),
    (np.zeros((20, 3)), np.zeros((20, 2)), {"dtype": "float16"}, "dtype"),
    (np.zeros((20, 3)), np.zeros((20, 2)), {"device": "tpu"}, "device"),
    (np.zeros((20, 3)), np.zeros((20, 2)), {"n_targets_batch": 0}, "n_targets_batch"),
    (np.zeros((4, 3)), np.zeros((4, 2)), {"cv": 5}, "5 folds need at least 5 samples"),
])
def test_bad_fit_input(X, Y, params, message):
    with pytest.raises(InvalidArgument, match=message):
        RidgeCV(**params).fit(X, Y)


def test_wrong_feature_count_at_predict(simulate):
    X, Y, _ = simulate(40, 6, n_targets=2)
    model = RidgeCV(alphas=ALPHAS).fit(X, Y)
    with pytest.raises(InvalidArgument, match="6 features"):
        model.predict(X[:, :5])
    with pytest.raises(InvalidArgument, match="NaN"):
        model.predict(np.full((3, 6), np.nan))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_estimator_matches_cpu(simulate):
    X, Y, _ = simulate(200, 30, n_targets=50)
    cpu = RidgeCV(alphas=ALPHAS, dtype="float64").fit(X, Y)
    gpu = RidgeCV(alphas=ALPHAS, dtype="float64", device="cuda", n_targets_batch=16).fit(X, Y)
    np.testing.assert_array_equal(gpu.best_alphas_, cpu.best_alphas_)
    np.testing.assert_allclose(gpu.coef_, cpu.coef_, rtol=1e-8, atol=1e-10)
