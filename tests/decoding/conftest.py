import numpy as np
import pytest

from braindecode.decoding import EEGDecoder, MLPDecoder, RidgeDecoder, TrainingConfig
from torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)


def simulate_fmri(n_samples, n_voxels=120, n_dims=16, noise=3.0, seed=0):
    """Embeddings E and responses X = E @ W + noise with known linear weights W."""
    rng = np.random.default_rng(seed)
    E = rng.standard_normal((n_samples, n_dims)).astype(np.float32)
    W = rng.standard_normal((n_dims, n_voxels)).astype(np.float32)
    X = E @ W + noise * rng.standard_normal((n_samples, n_voxels)).astype(np.float32)
    return X, E


def simulate_eeg(n_trials, n_channels=8, n_times=64, n_dims=4, noise=1.0, seed=0):
    """Epochs where embedding dimension k scales a planted spatio-temporal pattern.

    Pattern k is a spatial topography a_k (n_channels,) times a windowed oscillation
    s_k (n_times,) at its own latency and frequency:
    X[i] = sum_k E[i, k] * outer(a_k, s_k) + noise.
    """
    rng = np.random.default_rng(seed)
    E = rng.standard_normal((n_trials, n_dims)).astype(np.float32)
    t = np.arange(n_times) / n_times
    topographies = rng.standard_normal((n_dims, n_channels))
    latencies = np.linspace(0.2, 0.8, n_dims)
    waveforms = np.stack([np.exp(-((t - lat) / 0.08) ** 2) * np.sin(2 * np.pi * (4 + 2 * k) * t)
                          for k, lat in enumerate(latencies)])
    patterns = np.einsum("kc,kt->kct", topographies, waveforms)
    X = np.einsum("nk,kct->nct", E, patterns) + noise * rng.standard_normal((n_trials, n_channels, n_times))
    return X.astype(np.float32), E


@pytest.fixture(scope="session")
def fmri_data():
    return simulate_fmri(900, noise=8.0)


@pytest.fixture(scope="session")
def eeg_data():
    return simulate_eeg(700)


@pytest.fixture(scope="session")
def make_fmri():
    return simulate_fmri


@pytest.fixture(scope="session")
def make_eeg():
    return simulate_eeg


@pytest.fixture(scope="session")
def fitted_decoders():
    """One small fitted decoder of each kind (and modality), keyed by name."""
    X, E = simulate_fmri(80, n_voxels=20, n_dims=4)
    epochs, E_eeg = simulate_eeg(80, n_channels=3, n_times=24, n_dims=4)
    config = TrainingConfig(max_epochs=2, batch_size=16)
    return {
        "ridge": (RidgeDecoder(cv=3).fit(X, E), X),
        "ridge-eeg": (RidgeDecoder(cv=3, modality="eeg").fit(epochs, E_eeg), epochs),
        "mlp": (MLPDecoder(hidden_dim=16, training=config).fit(X, E), X),
        "eeg": (EEGDecoder(n_filters=2, temporal_kernel=5, pool_size=4, training=config).fit(epochs, E_eeg), epochs),
    }
