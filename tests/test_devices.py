import pytest
import torch

from braindecode._devices import resolve_device, resolve_dtype
from braindecode.errors import InvalidArgument


@pytest.mark.parametrize("device, expected", [("cpu", torch.device("cpu")), (torch.device("cpu"), torch.device("cpu"))])
def test_cpu_resolves(device, expected):
    assert resolve_device(device) == expected


@pytest.mark.parametrize("device, message", [
    ("tpu", "unknown device 'tpu'"),
    (3.5, "unknown device 3.5"),
    ("meta", "unsupported device 'meta'"),
    ("x" * 10_000, r"unknown device 'x+'\.\.\. \(10000 characters\)"),
])
def test_bad_devices_are_named(device, message):
    with pytest.raises(InvalidArgument, match=message):
        resolve_device(device)


def test_cuda_without_a_gpu_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InvalidArgument, match="device 'cuda:1' requested but CUDA is not available"):
        resolve_device("cuda:1")


@pytest.mark.parametrize("dtype, expected", [("float32", torch.float32), ("float64", torch.float64),
                                             (torch.float64, torch.float64)])
def test_float_dtypes_resolve(dtype, expected):
    assert resolve_dtype(dtype) is expected


@pytest.mark.parametrize("dtype", ["float16", torch.int64, None, "double"])
def test_other_dtypes_are_refused(dtype):
    with pytest.raises(InvalidArgument, match="unsupported dtype .*use 'float32' or 'float64'"):
        resolve_dtype(dtype)
