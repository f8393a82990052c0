"""Fixtures: a small lab store (three BOLD runs of two subjects, candidate activations)."""

import pytest
from jobs.jobdata import add_bold, add_candidates

from braindecode.store import Store


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A store with three BOLD runs of two subjects and an activation set, for tenant lab-a."""
    tmp = tmp_path_factory.mktemp("lab")
    store = Store(tmp / "store")
    recordings = [add_bold(store, tmp, "01", 0), add_bold(store, tmp, "01", 1), add_bold(store, tmp, "02", 2)]
    candidates, aset = add_candidates(store)
    yield {"store": store, "tmp": tmp, "recordings": recordings, "candidates": candidates, "aset": aset}
    store.close()
