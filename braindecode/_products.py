"""Matrix products of CPU tensors through the faster BLAS of the processor.

torch's CPU build multiplies float matrices with its bundled MKL, which takes a generic
code path on AMD processors; numpy ships OpenBLAS, which does not. On the AMD EPYC of
``benchmarks/RESULTS.md`` (one thread) OpenBLAS runs float32 products 10-15 % faster and
float64 products 25 % faster; on the Intel Xeon there, MKL's own kernels run the ridge
solver's products 5-10 % faster than OpenBLAS. Either way OpenBLAS multiplies a matrix by
its own transpose with a symmetric rank-k update, half the arithmetic (torch does not), so
a Gram matrix takes half the time.

The products that dominate the ridge solvers and the RDMs go through :func:`matmul` and
:func:`gram`: CPU float tensors are handed to numpy without a copy (general products only
where the processor is not Intel's, as ``/proc/cpuinfo`` names it), with as many BLAS
threads as torch uses (``torch.set_num_threads``); tensors on other devices stay with torch.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from threadpoolctl import ThreadpoolController

_NUMPY_DTYPES = (torch.float32, torch.float64)


@functools.cache
def _blas():
    """numpy's BLAS libraries, for setting their threads."""
    return ThreadpoolController().select(user_api="blas")


@functools.cache
def _intel() -> bool:
    """Whether the processor is Intel's (``vendor_id`` of /proc/cpuinfo), where MKL runs its own kernels."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return any(line.startswith("vendor_id") and "GenuineIntel" in line for line in cpuinfo)
    except OSError:
        return False


def _on_numpy(*tensors: torch.Tensor) -> bool:
    return all(t.device.type == "cpu" and t.dtype in _NUMPY_DTYPES and not t.requires_grad for t in tensors)


def matmul(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``a @ b`` (with ``torch.matmul``'s broadcasting), written into ``out`` when given.

    Parameters
    ----------
    a : tensor of shape (..., n, k)
    b : tensor of shape (..., k, m)
        Same dtype and device as ``a``.
    out : tensor of shape (..., n, m), optional
        Contiguous, of the same dtype and device.

    Returns
    -------
    product : tensor of shape (..., n, m)
    """
    if _intel() or not _on_numpy(a, b):
        return torch.matmul(a, b, out=out)
    with _blas().limit(limits=torch.get_num_threads()):
        product = np.matmul(a.numpy(), b.numpy(), out=None if out is None else out.numpy())
    return out if out is not None else torch.from_numpy(product)


def gram(x: torch.Tensor) -> torch.Tensor:
    """``x @ x^T`` over the last two dimensions: (..., n, p) -> (..., n, n), symmetric.

    On the CPU each matrix is one symmetric rank-k update (half a general product);
    elsewhere the general product is averaged with its transpose. Either way the result
    is exactly symmetric.
    """
    if not _on_numpy(x):
        product = x @ x.transpose(-1, -2)
        return (product + product.transpose(-1, -2)) / 2
    flat = x.reshape(math.prod(x.shape[:-2]), *x.shape[-2:]).numpy()
    with _blas().limit(limits=torch.get_num_threads()):
        products = [matrix @ matrix.T for matrix in flat]  # numpy turns a @ a.T into a rank-k update
    stacked = products[0][None] if len(products) == 1 else np.stack(products)
    return torch.from_numpy(stacked).reshape(*x.shape[:-1], x.shape[-2])
