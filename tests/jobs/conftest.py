"""Fixtures: a small lab store (three BOLD runs, a decoder, candidates) and a runner over it."""

import pytest
from jobs.jobdata import add_bold, add_candidates, add_decoder

from braindecode.config import JobSettings
from braindecode.jobs import JobRunner
from braindecode.store import Store


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A store with three BOLD runs of two subjects, a decoder and candidates, for tenant lab-a."""
    tmp = tmp_path_factory.mktemp("lab")
    store = Store(tmp / "store")
    recordings = [add_bold(store, tmp, "01", 0), add_bold(store, tmp, "01", 1), add_bold(store, tmp, "02", 2)]
    decoder, model = add_decoder(store, tmp)
    candidates, aset = add_candidates(store)
    yield {"store": store, "tmp": tmp, "recordings": recordings, "decoder": decoder, "model": model,
           "candidates": candidates, "aset": aset, "reconstruction_model": tmp / "tiny-reconstruction"}
    store.close()


@pytest.fixture(scope="module")
def runner(lab):
    """A started runner over the lab store: one local worker process, two attempts per shard,
    reconstructions by the model at ``lab["reconstruction_model"]`` (saved by the tests that use it)."""
    settings = JobSettings(workers=1, max_attempts=2, reconstruction_model=str(lab["reconstruction_model"]))
    job_runner = JobRunner(lab["store"], settings).start()
    yield job_runner
    job_runner.stop()
