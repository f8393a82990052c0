"""One torch thread for tests of tiny tensors and networks: faster than two threads on contended cores.

Import ``one_torch_thread`` (per test) or ``one_torch_thread_per_module`` into a test module or a
conftest.py to use it there; both are autouse fixtures.
"""

import contextlib

import pytest
import torch


@contextlib.contextmanager
def single_torch_thread():
    """Run the body with ``torch.set_num_threads(1)``, then restore the thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def one_torch_thread():
    with single_torch_thread():
        yield


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread_per_module():
    with single_torch_thread():
        yield
