import numpy as np
import pytest
import rsatoolbox
from rsatoolbox.data.noise import cov_from_residuals, prec_from_residuals

from braindecode.compare import (
    NOISE_METHODS,
    compute_rdm,
    crossnobis_rdm,
    mahalanobis_rdm,
    noise_covariance,
    noise_precision,
    rdm_to_vector,
)
from braindecode.errors import InvalidArgument

N_RUNS, N_CONDITIONS, N_FEATURES = 4, 8, 20


@pytest.fixture
def runs(rng):
    """Per-run patterns (n_runs, n_conditions, n_features): condition signal plus correlated noise."""
    signal = rng.standard_normal((1, N_CONDITIONS, N_FEATURES))
    mixing = np.eye(N_FEATURES) + 0.3 * rng.standard_normal((N_FEATURES, N_FEATURES))
    return signal + rng.standard_normal((N_RUNS, N_CONDITIONS, N_FEATURES)) @ mixing


def _residuals(runs):
    return (runs - runs.mean(axis=0)).reshape(-1, runs.shape[-1])


@pytest.mark.parametrize("method", NOISE_METHODS)
def test_covariance_matches_rsatoolbox(runs, method):
    residuals = _residuals(runs)
    dof = N_CONDITIONS * (N_RUNS - 1)
    expected = cov_from_residuals(residuals, dof=dof, method=method)
    got = noise_covariance(residuals, method, dof=dof, dtype="float64")
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12)


def test_precision_matches_rsatoolbox_with_default_dof(runs):
    residuals = _residuals(runs)
    expected = prec_from_residuals(residuals, method="shrinkage_diag")
    np.testing.assert_allclose(noise_precision(residuals, dtype="float64"), expected, rtol=1e-6)


def _rsatoolbox_crossnobis(runs, precision):
    n_runs, n_conditions, n_features = runs.shape
    dataset = rsatoolbox.data.Dataset(
        runs.reshape(-1, n_features),
        obs_descriptors={
            "condition": np.tile(np.arange(n_conditions, dtype=float), n_runs),
            "run": np.repeat(np.arange(n_runs, dtype=float), n_conditions),
        },
    )
    rdm = rsatoolbox.rdm.calc_rdm(
        dataset, method="crossnobis", descriptor="condition", noise=precision, cv_descriptor="run"
    )
    return rdm.get_vectors()[0]


@pytest.mark.parametrize("method", ["shrinkage_diag", "shrinkage_eye"])
def test_crossnobis_matches_rsatoolbox_with_shrinkage_noise(runs, method):
    precision = prec_from_residuals(_residuals(runs), dof=N_CONDITIONS * (N_RUNS - 1), method=method)
    got = rdm_to_vector(crossnobis_rdm(runs, noise=method, dtype="float64"))
    np.testing.assert_allclose(got, _rsatoolbox_crossnobis(runs, precision), rtol=1e-6, atol=1e-12)


def test_crossnobis_identity_and_given_precision_match_rsatoolbox(runs, rng):
    np.testing.assert_allclose(
        rdm_to_vector(crossnobis_rdm(runs, noise=None, dtype="float64")),
        _rsatoolbox_crossnobis(runs, None), rtol=1e-6, atol=1e-12,
    )
    root = rng.standard_normal((N_FEATURES, N_FEATURES))
    precision = root @ root.T + N_FEATURES * np.eye(N_FEATURES)
    np.testing.assert_allclose(
        rdm_to_vector(crossnobis_rdm(runs, noise=precision, dtype="float64")),
        _rsatoolbox_crossnobis(runs, precision), rtol=1e-6, atol=1e-12,
    )


def test_crossnobis_is_unbiased_for_identical_conditions(rng):
    # pure noise: the squared-distance estimates scatter around zero (some negative)
    runs = rng.standard_normal((6, 10, 30))
    rdm = crossnobis_rdm(runs, noise=None, dtype="float64")
    vector = rdm_to_vector(rdm)
    assert (vector < 0).any() and abs(vector.mean()) < 3 * vector.std() / np.sqrt(vector.size)
    np.testing.assert_array_equal(rdm, rdm.T)
    np.testing.assert_array_equal(np.diag(rdm), 0)


@pytest.mark.parametrize("with_noise", [True, False])
def test_mahalanobis_matches_rsatoolbox(runs, with_noise):
    patterns = runs.mean(axis=0) + 3
    precision = prec_from_residuals(_residuals(runs), method="shrinkage_diag") if with_noise else None
    expected = rsatoolbox.rdm.calc_rdm(
        rsatoolbox.data.Dataset(patterns), method="mahalanobis", noise=precision
    ).get_vectors()[0]
    got = rdm_to_vector(mahalanobis_rdm(patterns, noise=precision, dtype="float64"))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12)


def test_mahalanobis_with_identity_is_squared_euclidean_and_batches(runs):
    rdms = mahalanobis_rdm(runs)
    assert rdms.shape == (N_RUNS, N_CONDITIONS, N_CONDITIONS) and rdms.dtype == np.float32
    np.testing.assert_allclose(rdms, compute_rdm(runs, "sqeuclidean"), rtol=1e-5, atol=1e-6)
    precisions = np.stack([np.eye(N_FEATURES), 2 * np.eye(N_FEATURES)] * 2)
    np.testing.assert_allclose(mahalanobis_rdm(runs, precisions)[1], 2 * rdms[1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "X, noise, message",
    [
        (np.ones((2, 3)), None, "at least 3"),
        (np.ones((4, 3)), np.eye(4), "noise precision has shape"),
        (np.ones((2, 4, 3)), np.ones((3, 3, 3)), "noise precision has shape"),
        (np.ones((4, 3)), np.full((3, 3), np.nan), "NaN or infinite"),
    ],
)
def test_mahalanobis_bad_input(X, noise, message):
    with pytest.raises(InvalidArgument, match=message):
        mahalanobis_rdm(X, noise=noise)


def test_batched_crossnobis_matches_single_sets(runs):
    batch = np.stack([runs, 2 * runs[::-1]])
    rdms = crossnobis_rdm(batch, dtype="float64")
    np.testing.assert_allclose(rdms[1], crossnobis_rdm(2 * runs[::-1], dtype="float64"), rtol=1e-10)


@pytest.mark.parametrize(
    "patterns, noise, message",
    [
        (np.ones((1, 4, 3)), None, "at least 2 runs"),
        (np.ones((3, 2, 3)), None, "at least 3"),
        (np.ones((3, 4, 3)), np.eye(4), "noise precision has shape"),
        (np.ones((3, 4, 3)), "ledoit", "unknown noise method"),
        (np.full((3, 4, 3), np.inf), None, "NaN or infinite"),
    ],
)
def test_crossnobis_bad_input(patterns, noise, message):
    with pytest.raises(InvalidArgument, match=message):
        crossnobis_rdm(patterns, noise=noise)


def test_zero_variance_feature_is_rejected(runs):
    runs = runs.copy()
    runs[:, :, 3] = 5.0
    with pytest.raises(InvalidArgument, match="feature 3 has zero residual variance"):
        crossnobis_rdm(runs, noise="shrinkage_diag")


def test_singular_full_covariance_is_rejected(rng):
    with pytest.raises(InvalidArgument, match="not positive definite"):
        noise_precision(rng.standard_normal((5, 10)), method="full")


def test_bad_dof_is_rejected(rng):
    with pytest.raises(InvalidArgument, match="dof"):
        noise_covariance(rng.standard_normal((5, 3)), dof=0)
