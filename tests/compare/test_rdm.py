import numpy as np
import pytest
import rsatoolbox
import torch
from scipy.spatial.distance import pdist

from braindecode.compare import compute_rdm, rdm_to_vector, vector_to_rdm
from braindecode.errors import InvalidArgument


@pytest.mark.parametrize("ours, theirs", [("correlation", "correlation"), ("sqeuclidean", "euclidean")])
def test_matches_rsatoolbox_calc_rdm(rng, ours, theirs):
    X = rng.standard_normal((12, 40)) + 3
    expected = rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(X), method=theirs).get_vectors()[0]
    got = rdm_to_vector(compute_rdm(X, ours, dtype="float64"))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12)


def test_euclidean_is_the_root_of_rsatoolbox_squared_euclidean(rng):
    X = rng.standard_normal((12, 40)) + 3
    squared = rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(X), method="euclidean").get_vectors()[0]
    got = rdm_to_vector(compute_rdm(X, "euclidean", dtype="float64"))
    np.testing.assert_allclose(got, np.sqrt(squared * X.shape[1]), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("method", ["cosine", "euclidean"])
def test_matches_scipy_pdist(rng, method):
    X = rng.standard_normal((12, 40))
    np.testing.assert_allclose(rdm_to_vector(compute_rdm(X, method, dtype="float64")), pdist(X, method), rtol=1e-6)


@pytest.mark.parametrize("method", ["correlation", "cosine", "euclidean", "sqeuclidean"])
def test_batched_rdms_are_symmetric_with_zero_diagonal_and_match_single(rng, method):
    X = rng.standard_normal((3, 9, 25)).astype(np.float32)
    rdms = compute_rdm(X, method)
    assert rdms.shape == (3, 9, 9) and rdms.dtype == np.float32
    np.testing.assert_array_equal(rdms, rdms.transpose(0, 2, 1))
    np.testing.assert_array_equal(np.diagonal(rdms, axis1=1, axis2=2), 0)
    assert np.all(rdm_to_vector(rdms) > 0)
    np.testing.assert_allclose(rdms[1], compute_rdm(X[1], method), rtol=1e-5, atol=1e-6)


def test_tensor_in_tensor_out(rng):
    X = torch.from_numpy(rng.standard_normal((5, 8)))
    rdm = compute_rdm(X, "euclidean", dtype="float64")
    assert isinstance(rdm, torch.Tensor) and rdm.dtype == torch.float64


def test_vector_round_trip_follows_squareform_order(rng):
    vectors = rng.random((4, 15))
    square = vector_to_rdm(vectors)
    assert square.shape == (4, 6, 6)
    np.testing.assert_array_equal(rdm_to_vector(square), vectors)
    np.testing.assert_array_equal(square[0][0, 1:], vectors[0, :5])


@pytest.mark.parametrize(
    "X, method, message",
    [
        (np.ones((2, 5)), "euclidean", "at least 3"),
        (np.array([[0, 1.0], [1, np.nan], [2, 3]]), "euclidean", "NaN"),
        (np.array([[1.0, 1, 1], [1, 2, 3], [3, 1, 2]]), "correlation", "condition 0 has zero variance"),
        (np.array([[1.0, 2, 3], [0, 0, 0], [3, 1, 2]]), "cosine", "condition 1 has an all-zero"),
        (np.ones((4, 3)), "manhattan", "unknown RDM method"),
        (np.ones((4, 3)), "crossnobis", "crossnobis_rdm"),
        (np.ones(4), "euclidean", "2-D or 3-D"),
    ],
)
def test_bad_input(X, method, message):
    with pytest.raises(InvalidArgument, match=message):
        compute_rdm(X, method)


def test_constant_pattern_with_rounding_noise_is_rejected():
    X = np.array([[0.1] * 7, [1, 2, 3, 4, 5, 6, 7], [7, 1, 3, 2, 5, 4, 6]], dtype=np.float32)
    with pytest.raises(InvalidArgument, match="zero variance"):
        compute_rdm(X, "correlation")


def test_non_triangular_vector_length_is_rejected():
    with pytest.raises(InvalidArgument, match="not n\\*\\(n-1\\)/2"):
        vector_to_rdm(np.ones(7))
