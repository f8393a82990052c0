"""ONNX Runtime sessions with an explicit, verified execution provider.

onnxruntime-gpu lists the CUDA and TensorRT providers even on machines where
they cannot run, and silently falls back to the CPU when a GPU provider fails
to load. ``create_session`` asks for the providers explicitly, checks which one
the session really uses, and logs it in one line.
"""

from __future__ import annotations

import logging
import os

import onnxruntime as ort

from braindecode.errors import InvalidArgument

log = logging.getLogger("braindecode.onnxrt")

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"


def _cuda_usable() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:  # pragma: no cover - torch is a dependency
        return False


def select_providers(device: str = "auto", tensorrt: bool = False) -> list:
    """Providers to request, best first.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}
        "auto" uses CUDA only where a CUDA device is really present.
    tensorrt : bool
        Put TensorRT ahead of CUDA when it is available.
    """
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise InvalidArgument(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'")
    available = ort.get_available_providers()
    if device == "cpu" or (device == "auto" and not _cuda_usable()):
        return [CPU]
    if CUDA not in available or not _cuda_usable():
        raise InvalidArgument("device 'cuda' requested but no usable CUDA execution provider")
    index = int(device.split(":")[1]) if ":" in device else 0
    providers = [(CUDA, {"device_id": index})]
    if tensorrt and TENSORRT in available:
        providers.insert(0, (TENSORRT, {"device_id": index}))
    return providers + [CPU]


def create_session(model, device: str = "auto", tensorrt: bool = False, threads: int | None = None):
    """An ``InferenceSession`` on the best usable provider, with a log line naming it.

    Parameters
    ----------
    model : str, os.PathLike or bytes
        ONNX file path or serialized model.
    device : {"auto", "cpu", "cuda", "cuda:N"}
    threads : int, optional
        Intra-op threads for the CPU provider.
    """
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    requested = select_providers(device, tensorrt)
    if isinstance(model, os.PathLike):
        model = os.fspath(model)
    session = ort.InferenceSession(model, sess_options=options, providers=requested)
    active = session.get_providers()[0]
    wanted = requested[0] if isinstance(requested[0], str) else requested[0][0]
    if active != wanted:
        log.warning("onnxruntime: %s requested but %s is running", wanted, active)
    log.info("onnxruntime: running on %s", active)
    return session


def active_provider(session) -> str:
    """Name of the provider a session runs on first, e.g. 'CPUExecutionProvider'."""
    return session.get_providers()[0]
