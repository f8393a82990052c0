"""Reconstruct stimuli from decoded embeddings with a diffusion model, in torch or ONNX Runtime.

Model families behind one interface (:class:`EmbeddingPipeline`): braindecode's own
``ReconstructionPipeline`` (the shipped default), Kandinsky 2.2 decoders and Stable unCLIP,
each loaded from its directory by the ``_class_name`` of its ``model_index.json``.

>>> from braindecode.reconstruction import describe_model, reconstruct, encode_png
>>> images = reconstruct(embeddings, n_steps=4, seed=0)          # (n, 64, 64, 3) uint8
>>> images = reconstruct(embeddings, backend="onnx", device="cuda")
>>> describe_model("kandinsky-2-2-decoder").embedding_dim         # 1280: CLIP ViT-bigG/14 image_embeds
"""

from braindecode.reconstruction._families import FAMILIES, load_model_directory
from braindecode.reconstruction._graphs import TorchRuntime
from braindecode.reconstruction._kandinsky import KandinskyV22Family
from braindecode.reconstruction._memory import check_memory, estimate_memory_bytes
from braindecode.reconstruction._metrics import (
    DEFAULT_FEATURE_LAYERS,
    evaluate_reconstructions,
    feature_identification,
    pearson_two_way_identification,
    pixcorr,
    ssim,
)
from braindecode.reconstruction._onnx import OnnxRuntime, default_cache_dir, export_pipeline_onnx, weights_hash
from braindecode.reconstruction._pipeline import BACKENDS, EmbeddingPipeline, ModelDescription
from braindecode.reconstruction._prior import LatentPrior
from braindecode.reconstruction._projector import ConditionProjector
from braindecode.reconstruction._reconstruct import (
    DEFAULT_MODEL_DIR,
    ReconstructionRequest,
    check_ids,
    check_reconstruction,
    describe_model,
    encode_png,
    load_pipeline,
    reconstruct,
    reconstruct_requests,
    seed_generators,
)
from braindecode.reconstruction._reconstruction_pipeline import DEFAULT_SAMPLING, ReconstructionPipeline
from braindecode.reconstruction._schedulers import MAX_STEPS, SCHEDULERS, make_scheduler, set_timesteps
from braindecode.reconstruction._unclip import StableUnCLIPFamily

__all__ = [
    "BACKENDS",
    "DEFAULT_FEATURE_LAYERS",
    "DEFAULT_MODEL_DIR",
    "DEFAULT_SAMPLING",
    "FAMILIES",
    "MAX_STEPS",
    "SCHEDULERS",
    "ConditionProjector",
    "EmbeddingPipeline",
    "KandinskyV22Family",
    "LatentPrior",
    "ModelDescription",
    "OnnxRuntime",
    "ReconstructionPipeline",
    "ReconstructionRequest",
    "StableUnCLIPFamily",
    "TorchRuntime",
    "check_ids",
    "check_memory",
    "check_reconstruction",
    "default_cache_dir",
    "describe_model",
    "encode_png",
    "estimate_memory_bytes",
    "evaluate_reconstructions",
    "export_pipeline_onnx",
    "feature_identification",
    "load_model_directory",
    "load_pipeline",
    "make_scheduler",
    "pearson_two_way_identification",
    "pixcorr",
    "reconstruct",
    "reconstruct_requests",
    "seed_generators",
    "set_timesteps",
    "ssim",
    "weights_hash",
]
