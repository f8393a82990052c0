import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from braindecode import _products
from braindecode._products import gram, matmul


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matmul_and_gram_equal_torch(dtype):
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(3, 7, 5, generator=generator, dtype=dtype)
    b = torch.randn(5, 4, generator=generator, dtype=dtype)
    tolerance = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 1e-12}
    torch.testing.assert_close(matmul(a, b), a @ b, **tolerance)  # broadcast over the leading axis
    torch.testing.assert_close(matmul(a[0].T, a[1]), a[0].T @ a[1], **tolerance)  # transposed views
    out = torch.empty(7, 4, dtype=dtype)
    assert matmul(a[2], b, out=out) is out
    torch.testing.assert_close(out, a[2] @ b, **tolerance)
    products = gram(a)
    torch.testing.assert_close(products, a @ a.transpose(-1, -2), **tolerance)
    assert torch.equal(products, products.transpose(-1, -2))
    assert gram(torch.zeros(2, 3, 0, dtype=dtype)).shape == (2, 3, 3)


def test_other_dtypes_stay_with_torch():
    a = torch.arange(6).reshape(2, 3)
    assert torch.equal(matmul(a, a.T), a @ a.T) and torch.equal(gram(a), a @ a.T)


def test_products_use_as_many_blas_threads_as_torch(monkeypatch):
    seen = []

    original = np.matmul

    def recording(*args, **kwargs):
        seen.append({info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"})
        return original(*args, **kwargs)

    monkeypatch.setattr(_products.np, "matmul", recording)
    monkeypatch.setattr(_products, "_intel", lambda: False)  # where general products go to numpy's BLAS
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        matmul(torch.ones(2, 2), torch.ones(2, 2))
    finally:
        torch.set_num_threads(threads)
    assert seen == [{1}]
