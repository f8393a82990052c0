import numpy as np
import pytest
import torch

from braindecode.compare import cka
from braindecode.errors import InvalidArgument


@pytest.fixture
def pair(rng):
    X = rng.standard_normal((30, 12))
    Y = X @ rng.standard_normal((12, 7)) + rng.standard_normal((30, 7))
    return X, Y


def _centre(X):
    return X - X.mean(axis=0)


def _hsic_unbiased(K, L):
    """Song et al. (2012), eq. 5."""
    n = len(K)
    K, L = K.copy(), L.copy()
    np.fill_diagonal(K, 0)
    np.fill_diagonal(L, 0)
    one = np.ones(n)
    return (
        np.trace(K @ L) + (one @ K @ one) * (one @ L @ one) / ((n - 1) * (n - 2)) - 2 / (n - 2) * one @ K @ L @ one
    ) / (n * (n - 3))


def _rbf_kornblith(X, threshold):
    """Kornblith et al. (2019) reference code, transcribed."""
    dot = X @ X.T
    sq_norms = np.diag(dot)
    sq_distances = -2 * dot + sq_norms[:, None] + sq_norms[None, :]
    return np.exp(-sq_distances / (2 * threshold**2 * np.median(sq_distances)))


def _cka_from_gram(K, L):
    H = np.eye(len(K)) - 1 / len(K)
    hsic = lambda A, B: np.trace(A @ H @ B @ H)  # noqa: E731
    return hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L))


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
@pytest.mark.parametrize("debiased", [False, True])
def test_same_input_scores_one(pair, kernel, debiased):
    X, _ = pair
    assert cka(X, X, kernel=kernel, debiased=debiased) == pytest.approx(1, abs=1e-5)


def test_linear_matches_feature_space_closed_form(pair):
    X, Y = pair
    Xc, Yc = _centre(X), _centre(Y)
    expected = np.linalg.norm(Yc.T @ Xc) ** 2 / (np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc))
    assert cka(X, Y, dtype="float64") == pytest.approx(expected, rel=1e-10)


def test_linear_is_invariant_to_rotation_scaling_and_offset(pair, rng):
    X, Y = pair
    rotation = np.linalg.qr(rng.standard_normal((12, 12)))[0]
    assert cka(3 * X @ rotation + 5, Y, dtype="float64") == pytest.approx(cka(X, Y, dtype="float64"), rel=1e-10)


def test_debiased_matches_song_unbiased_hsic(pair):
    X, Y = pair
    K, L = X @ X.T, Y @ Y.T
    expected = _hsic_unbiased(K, L) / np.sqrt(_hsic_unbiased(K, K) * _hsic_unbiased(L, L))
    assert cka(X, Y, debiased=True, dtype="float64") == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("threshold", [0.5, 1.0, 2.0])
def test_rbf_matches_kornblith_reference(pair, threshold):
    X, Y = pair
    expected = _cka_from_gram(_rbf_kornblith(X, threshold), _rbf_kornblith(Y, threshold))
    got = cka(X, Y, kernel="rbf", rbf_threshold=threshold, dtype="float64")
    assert got == pytest.approx(expected, rel=1e-10)


def test_batched_matches_pairwise(rng):
    X = rng.standard_normal((3, 15, 6))
    Y = rng.standard_normal((2, 15, 4))
    scores = cka(X, Y, kernel="rbf", debiased=True)
    assert scores.shape == (3, 2)
    assert scores[2, 1] == pytest.approx(cka(X[2], Y[1], kernel="rbf", debiased=True), abs=1e-6)


def test_tensor_input_gives_tensor(pair):
    X, Y = (torch.from_numpy(a) for a in pair)
    assert isinstance(cka(X, Y), torch.Tensor)


@pytest.mark.parametrize(
    "X, Y, kwargs, message",
    [
        (np.ones((5, 3)), np.eye(5), {}, "X: set 0 has no variance"),
        (np.eye(5), np.eye(4), {}, "X has 5 conditions but Y has 4"),
        (np.eye(3), np.eye(3), {"debiased": True}, "at least 4"),
        (np.eye(2), np.eye(2), {}, "at least 3"),
        (np.eye(5), np.eye(5), {"kernel": "poly"}, "unknown CKA kernel"),
        (np.eye(5), np.eye(5), {"kernel": "rbf", "rbf_threshold": 0}, "rbf_threshold"),
        (np.vstack([np.zeros((4, 2)), np.ones((1, 2))]), np.eye(5), {"kernel": "rbf"}, "median squared distance"),
        (np.full((5, 2), np.nan), np.eye(5), {}, "NaN"),
    ],
)
def test_bad_input(X, Y, kwargs, message):
    with pytest.raises(InvalidArgument, match=message):
        cka(X, Y, **kwargs)
