import numpy as np
import pytest
import torch


def _simulate(n_samples=120, n_features=30, n_targets=6, noise=3.0, offset=2.0, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features)) + offset
    W = rng.standard_normal((n_features, n_targets))
    Y = X @ W + noise * rng.standard_normal((n_samples, n_targets)) - offset
    return X, Y, W


@pytest.fixture
def simulate():
    """Linear responses with known weights: returns X, Y, W for the given sizes."""
    return _simulate


@pytest.fixture
def himalaya_backend():
    """Set a himalaya backend for one test and restore numpy afterwards."""
    from himalaya.backend import set_backend

    yield set_backend
    set_backend("numpy")


@pytest.fixture(autouse=True)
def single_thread():
    """One torch thread: on these small matrices extra threads cost more than they save
    (and spinning OpenMP threads on busy cores slow small operations down many times)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
