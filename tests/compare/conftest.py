import warnings

import numpy as np
import pytest
import torch


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def rsatoolbox_name():
    """rsatoolbox's names of the RDM comparison methods we share with it."""
    return {
        "pearson": "corr",
        "spearman": "spearman",
        "kendall_tau_a": "tau-a",
        "cosine": "cosine",
        "whitened_cosine": "cosine_cov",
        "whitened_pearson": "corr_cov",
    }


@pytest.fixture(autouse=True)
def _quiet_rsatoolbox():
    # rsatoolbox warns that its tau noise ceilings pool averaged ranks: the definition we match
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Noise ceiling for tau")
        yield


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # the test tensors are tiny: one thread avoids waiting on busy cores for every small op
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
