"""ONNX export of the pipeline's components, cached by weights hash, and an ONNX Runtime backend."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import pathlib
import shutil
import tempfile
import warnings

import numpy as np
import torch

from braindecode._devices import resolve_device
from braindecode.onnxrt import active_provider, create_session
from braindecode.reconstruction._graphs import keeps_float32

log = logging.getLogger("braindecode.reconstruction")

OPSET = 17
CACHE_ENV = "BRAINDECODE_ONNX_CACHE"


def default_cache_dir() -> pathlib.Path:
    """``$BRAINDECODE_ONNX_CACHE`` or ``~/.cache/braindecode/onnx``."""
    return pathlib.Path(os.environ.get(CACHE_ENV) or pathlib.Path.home() / ".cache" / "braindecode" / "onnx")


def weights_hash(graph, fp16: bool = False, opset: int = OPSET) -> str:
    """SHA-256 of a graph's class, inputs and their shapes, configs, export settings and every weight's bytes."""
    digest = hashlib.sha256()
    configs = {name: dict(module.config) for name, module in graph.named_children() if hasattr(module, "config")}
    header = {"graph": type(graph).__name__, "inputs": graph.input_names, "shapes": graph.input_shapes,
              "configs": configs, "fp16": fp16, "opset": opset, "torch": torch.__version__.split("+")[0]}
    digest.update(json.dumps(header, sort_keys=True, default=str).encode())
    for name, tensor in sorted(graph.state_dict().items()):
        tensor = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def _export(graph, inputs, path: pathlib.Path, opset: int) -> None:
    # The TorchScript-based exporter: on these UNets it is ~10x faster than the
    # torch.export-based one and its graphs run identically in onnxruntime.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph, tuple(inputs), str(path), input_names=list(graph.input_names), output_names=["output"],
            opset_version=opset, dynamo=False, do_constant_folding=True,
            dynamic_axes={name: {0: "batch"} for name in [*graph.input_names, "output"]},
        )


def export_pipeline_onnx(pipeline, cache_dir=None, fp16: bool = False, opset: int = OPSET) -> dict:
    """Export each component graph to ONNX once per weights hash.

    Parameters
    ----------
    pipeline : EmbeddingPipeline
        A pipeline of any family.
    cache_dir : path, optional
        Where exports live (``<cache_dir>/<component>-<hash>/model.onnx``); see :func:`default_cache_dir`.
    fp16 : bool
        Export float16 graphs (for the CUDA provider); timesteps stay float32.
    opset : int
        ONNX opset (>= 17: LayerNormalization is one node).

    Returns
    -------
    paths : dict of str -> pathlib.Path
        The ONNX file of each component graph (see ``pipeline.component_graphs()``).
    """
    cache_dir = pathlib.Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, graph in pipeline.component_graphs().items():
        dtype = torch.float16 if fp16 else torch.float32
        graph = copy.deepcopy(graph).to(dtype=dtype)
        target = cache_dir / f"{name}-{weights_hash(graph, fp16, opset)[:24]}"
        if not (target / "model.onnx").is_file():
            log.info("exporting %s to %s", name, target)
            staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{name}-", dir=cache_dir))
            try:
                inputs = [x.to(pipeline.device) for x in pipeline.example_inputs(name, batch=2, dtype=dtype)]
                _export(graph, inputs, staging / "model.onnx", opset)
                os.replace(staging, target)
            except OSError:
                if not (target / "model.onnx").is_file():  # not a concurrent export of the same weights
                    raise
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        paths[name] = target / "model.onnx"
    return paths


class OnnxRuntime:
    """Runs the component graphs with ONNX Runtime: the drop-in for :class:`TorchRuntime`.

    Parameters
    ----------
    pipeline : EmbeddingPipeline
    device : {"cpu", "cuda", "cuda:N"}
        On CUDA, inputs and outputs stay on the GPU through I/O binding.
    cache_dir : path, optional
        Export cache, see :func:`export_pipeline_onnx`.
    fp16 : bool, optional
        float16 graphs; default True on CUDA, False on CPU.
    tensorrt : bool
        Prefer the TensorRT provider where onnxruntime has it.
    threads : int, optional
        Intra-op threads of the CPU provider.
    """

    backend = "onnx"

    def __init__(self, pipeline, device="cpu", cache_dir=None, fp16=None, tensorrt=False, threads=None):
        self.device = resolve_device(device)
        self.fp16 = self.device.type == "cuda" if fp16 is None else bool(fp16)
        self.paths = export_pipeline_onnx(pipeline, cache_dir, fp16=self.fp16)
        self.graphs = pipeline.component_graphs()
        self.sessions = {
            name: create_session(path, device=str(self.device), tensorrt=tensorrt, threads=threads)
            for name, path in self.paths.items()
        }

    @property
    def provider(self) -> str:
        """The execution provider the denoiser runs on, e.g. "CPUExecutionProvider"."""
        return active_provider(self.sessions["unet"])

    def _dtype(self, name: str, index: int) -> torch.dtype:
        return torch.float16 if self.fp16 and not keeps_float32(self.graphs[name], index) else torch.float32

    def run(self, name: str, *inputs: torch.Tensor) -> torch.Tensor:
        """Output of graph ``name`` for ``inputs`` (torch tensors), as float32 on ``inputs[0].device``."""
        session = self.sessions[name]
        names = self.graphs[name].input_names
        inputs = [x.to(self._dtype(name, i)).contiguous() for i, x in enumerate(inputs)]
        if inputs[0].device.type != "cuda":
            feeds = {n: x.cpu().numpy() for n, x in zip(names, inputs)}
            return torch.from_numpy(session.run(None, feeds)[0]).float().to(inputs[0].device)
        out = torch.empty(self.graphs[name].output_shape(*inputs), dtype=torch.float16 if self.fp16 else torch.float32,
                          device=inputs[0].device)
        binding = session.io_binding()
        index = inputs[0].device.index or 0
        for n, x in zip(names, inputs):
            binding.bind_input(n, "cuda", index, _numpy_dtype(x.dtype), tuple(x.shape), x.data_ptr())
        binding.bind_output("output", "cuda", index, _numpy_dtype(out.dtype), tuple(out.shape), out.data_ptr())
        torch.cuda.current_stream(inputs[0].device).synchronize()
        session.run_with_iobinding(binding)
        return out.float()


def _numpy_dtype(dtype: torch.dtype):
    return {torch.float16: np.float16, torch.float32: np.float32}[dtype]
