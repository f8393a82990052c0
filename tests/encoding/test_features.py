import numpy as np
import pytest
from mne.decoding.receptive_field import _delay_time_series
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from braindecode.encoding import Delayer, LagFeatures, RidgeCV, lag_features, make_delays, times_to_lags
from braindecode.errors import InvalidArgument


def test_delays_shift_forward_with_zero_padding():
    X = np.arange(1, 6, dtype=np.float32)[:, None] * np.float32([1, 10])
    out = make_delays(X, delays=(0, 1, 2))
    assert out.shape == (5, 6) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, 0:2], X)
    np.testing.assert_array_equal(out[:, 2], [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(out[:, 3], [0, 10, 20, 30, 40])
    np.testing.assert_array_equal(out[:, 4], [0, 0, 1, 2, 3])


def test_negative_delays_look_ahead():
    out = make_delays(np.arange(1.0, 6.0), delays=(-2,))
    np.testing.assert_array_equal(out[:, 0], [3, 4, 5, 0, 0])


def test_default_fir_delays_shape():
    X = np.random.default_rng(0).standard_normal((50, 7))
    out = make_delays(X)
    assert out.shape == (50, 28)
    np.testing.assert_array_equal(out[4:, 21:28], X[:-4])


def test_delays_do_not_cross_runs():
    X = np.arange(1.0, 9.0)
    runs = np.array([0, 0, 0, 1, 1, 1, 1, 2])
    out = make_delays(X, delays=(1, 3), runs=runs)
    np.testing.assert_array_equal(out[:, 0], [0, 1, 2, 0, 4, 5, 6, 0])
    np.testing.assert_array_equal(out[:, 1], [0, 0, 0, 0, 0, 0, 4, 0])


def test_runs_need_not_be_contiguous():
    X = np.arange(1.0, 7.0)
    interleaved = make_delays(X, delays=(1,), runs=np.array(["a", "b", "a", "b", "a", "b"]))
    np.testing.assert_array_equal(interleaved[:, 0], [0, 0, 1, 2, 3, 4])


@pytest.mark.parametrize(("tmin", "tmax", "sfreq"), [(-0.1, 0.2, 10.0), (0.0, 0.25, 100.0), (0.05, 0.05, 40.0)])
def test_lags_match_mne_receptive_field(tmin, tmax, sfreq):
    X = np.random.default_rng(1).standard_normal((60, 3))
    ours = lag_features(X, tmin, tmax, sfreq)
    theirs = _delay_time_series(X, tmin, tmax, sfreq)  # (n_times, n_features, n_lags)
    np.testing.assert_allclose(ours, theirs.transpose(0, 2, 1).reshape(len(X), -1), rtol=1e-6)
    assert ours.shape[1] == 3 * len(times_to_lags(tmin, tmax, sfreq))


def test_lags_per_epoch_match_mne_on_each_epoch():
    epochs = np.random.default_rng(2).standard_normal((4, 30, 2))  # (n_epochs, n_times, n_features)
    ours = lag_features(epochs.reshape(-1, 2), 0.0, 0.05, 100.0, runs=np.repeat(np.arange(4), 30))
    theirs = _delay_time_series(epochs.transpose(1, 0, 2), 0.0, 0.05, 100.0)  # (n_times, n_epochs, n_features, n_lags)
    expected = theirs.transpose(1, 0, 3, 2).reshape(120, -1)
    np.testing.assert_allclose(ours, expected, rtol=1e-6)


def test_transformers_in_a_pipeline():
    rng = np.random.default_rng(3)
    stimulus = rng.standard_normal((300, 2))
    response = make_delays(stimulus, (2,)) @ np.array([[1.0], [-2.0]]) + 0.1 * rng.standard_normal((300, 1))
    pipe = make_pipeline(Delayer(delays=(1, 2, 3)), RidgeCV(alphas=(0.1, 1.0, 10.0)))
    pipe.fit(stimulus, response)
    coef = pipe[-1].coef_[:, 0]
    np.testing.assert_allclose(coef[2:4], [1.0, -2.0], atol=0.05)
    np.testing.assert_allclose(coef[[0, 1, 4, 5]], 0.0, atol=0.05)
    assert pipe.score(stimulus, response) > 0.99


def test_transformer_runs_and_params():
    X = np.arange(1.0, 7.0)[:, None]
    runs = np.array([0, 0, 0, 1, 1, 1])
    lagger = LagFeatures(tmin=0.0, tmax=0.01, sfreq=100.0)
    out = lagger.fit_transform(X, runs=runs)
    np.testing.assert_array_equal(out[:, 1], [0, 1, 2, 0, 4, 5])
    assert clone(lagger).get_params() == {"tmin": 0.0, "tmax": 0.01, "sfreq": 100.0}
    with pytest.raises(InvalidArgument, match="2 features"):
        lagger.transform(np.zeros((6, 2)))


@pytest.mark.parametrize("call", [
    lambda: make_delays(np.zeros((5, 2)), delays=(0.5,)),
    lambda: make_delays(np.zeros((5, 2)), delays=()),
    lambda: make_delays(np.full((5, 2), np.nan)),
    lambda: make_delays(np.zeros((5, 2)), runs=np.zeros(4)),
    lambda: make_delays(np.zeros((2, 2, 2))),
    lambda: lag_features(np.zeros((5, 2)), 0.2, 0.1, 100.0),
    lambda: lag_features(np.zeros((5, 2)), 0.0, 0.1, 0.0),
    lambda: Delayer(delays=("a",)).fit(np.zeros((5, 2))),
])
def test_bad_feature_arguments(call):
    with pytest.raises(InvalidArgument):
        call()
