import pytest

from braindecode.datasets import make_default_dataset

#: The small configuration the fast tests share: 60 stimuli, one subject, two runs.
SMALL = dict(n_stimuli=60, n_test=12, n_subjects=1, n_runs=2, n_repeats=3, seed=0)


@pytest.fixture(scope="session")
def small_config():
    return dict(SMALL)


@pytest.fixture(scope="session")
def small_progress():
    """The ``progress(stage, done, total)`` calls made while generating ``small_dataset``."""
    return []


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory, small_progress):
    return make_default_dataset(
        tmp_path_factory.mktemp("datasets") / "small", **SMALL,
        progress=lambda stage, done, total: small_progress.append((stage, done, total)),
    )
