import warnings

import numpy as np
import pytest

from torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)


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
