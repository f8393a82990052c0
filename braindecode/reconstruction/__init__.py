"""Reconstruct stimuli from decoded embeddings with a few-step diffusion model, in torch or ONNX Runtime.

>>> from braindecode.reconstruction import reconstruct, encode_png
>>> images = reconstruct(embeddings, n_steps=4, seed=0)          # (n, 64, 64, 3) uint8
>>> images = reconstruct(embeddings, backend="onnx", device="cuda")
"""

from braindecode.reconstruction._graphs import TorchRuntime, component_graphs
from braindecode.reconstruction._memory import check_memory, estimate_memory_bytes
from braindecode.reconstruction._metrics import (
    DEFAULT_FEATURE_LAYERS,
    evaluate_reconstructions,
    feature_identification,
    pixcorr,
    ssim,
    two_way_identification,
)
from braindecode.reconstruction._onnx import OnnxRuntime, default_cache_dir, export_onnx, weights_hash
from braindecode.reconstruction._pipeline import DEFAULT_SAMPLING, ReconstructionPipeline
from braindecode.reconstruction._prior import LatentPrior
from braindecode.reconstruction._projector import ConditionProjector
from braindecode.reconstruction._reconstruct import (
    DEFAULT_MODEL_DIR,
    ReconstructionRequest,
    check_ids,
    check_reconstruction,
    encode_png,
    load_pipeline,
    reconstruct,
    reconstruct_requests,
    seed_generators,
)
from braindecode.reconstruction._schedulers import MAX_STEPS, SCHEDULERS, make_scheduler, set_timesteps
from braindecode.reconstruction._settings import ReconstructionSettings

__all__ = [
    "DEFAULT_FEATURE_LAYERS",
    "DEFAULT_MODEL_DIR",
    "DEFAULT_SAMPLING",
    "MAX_STEPS",
    "SCHEDULERS",
    "ConditionProjector",
    "LatentPrior",
    "OnnxRuntime",
    "ReconstructionPipeline",
    "ReconstructionRequest",
    "ReconstructionSettings",
    "TorchRuntime",
    "check_ids",
    "check_memory",
    "check_reconstruction",
    "component_graphs",
    "default_cache_dir",
    "encode_png",
    "estimate_memory_bytes",
    "evaluate_reconstructions",
    "export_onnx",
    "feature_identification",
    "load_pipeline",
    "make_scheduler",
    "pixcorr",
    "reconstruct",
    "reconstruct_requests",
    "seed_generators",
    "set_timesteps",
    "ssim",
    "two_way_identification",
]
