"""Admission control: a batch's memory estimate against a configured bound."""

from __future__ import annotations

import numbers

import torch
from diffusers.models.attention_processor import Attention

from braindecode.errors import InvalidArgument, ResourceExhausted

# Feature maps alive per UNet level and row: the skip connections of every
# resnet layer on the way down plus working buffers of the layer being run.
_MAPS_PER_LAYER = 2
_WORKING_MAPS = 4
# The VAE decoder holds a few maps at its widest level and full resolution.
_DECODER_MAPS = 4


def _per_level(value, n_levels: int) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value] * n_levels


def _attention_heads(block) -> int:
    """Most heads of an attention layer in a UNet block (0 without attention)."""
    return max((module.heads for module in block.modules() if isinstance(module, Attention)), default=0)


def estimate_memory_bytes(pipeline, batch_size: int, guidance_scale: float = 1.0) -> int:
    """A conservative estimate of the memory a batch of ``batch_size`` images needs, for any family.

    Counts the weights of the pipeline's modules, the UNet's feature maps and
    attention score matrices per resolution level (rows doubled under
    classifier-free guidance; scores over the level's pixels and the
    condition tokens) and the image decoder's widest full-resolution maps, at
    the pipeline's dtype. It is an upper bound meant for admission control, not
    an exact account: fused attention kernels (SDPA) need less.

    Returns
    -------
    n_bytes : int
    """
    unet = pipeline.unet
    item = torch.finfo(pipeline.dtype).bits // 8
    rows = batch_size * (2 if guidance_scale > 1 else 1)
    weights = sum(t.numel() * t.element_size() for m in pipeline.modules().values()
                  for t in [*m.parameters(), *m.buffers()])
    layers = _per_level(unet.config.layers_per_block, len(unet.down_blocks))
    h, w = pipeline.latent_size
    per_row = 0
    for level, (channels, block) in enumerate(zip(unet.config.block_out_channels, unet.down_blocks)):
        pixels = (h // 2**level) * (w // 2**level)
        per_row += (_MAPS_PER_LAYER * layers[level] + _WORKING_MAPS) * channels * pixels
        per_row += _attention_heads(block) * pixels * (pixels + pipeline.condition_tokens)
    if pipeline.autoencoder is not None:
        height, width = pipeline.image_size
        config = pipeline.autoencoder.config
        channels = getattr(config, "block_out_channels", None) or config.decoder_block_out_channels
        per_row += _DECODER_MAPS * max(channels) * height * width
    return int(weights + rows * per_row * item)


def check_memory(pipeline, batch_size: int, guidance_scale: float = 1.0, max_batch: int = 64,
                 max_bytes: int | None = None) -> int:
    """Raise ``ResourceExhausted`` when a batch exceeds ``max_batch`` images or ``max_bytes``.

    Parameters
    ----------
    max_batch : int
        Most images generated together.
    max_bytes : int, optional
        Memory bound for :func:`estimate_memory_bytes`; by default the free
        memory of the pipeline's CUDA device, and no bound on the CPU.

    Returns
    -------
    n_bytes : int
        The estimate.
    """
    for name, value in (("max_batch", max_batch), ("max_bytes", max_bytes)):
        if value is not None and (not isinstance(value, numbers.Integral) or value < 1):
            raise InvalidArgument(f"{name} must be a positive integer, got {value!r}")
    if batch_size > max_batch:
        raise ResourceExhausted(
            f"{batch_size} images in one batch exceed the limit of {max_batch}; send fewer embeddings per request"
        )
    if max_bytes is None and pipeline.device.type == "cuda":
        max_bytes = torch.cuda.mem_get_info(pipeline.device)[0]
    need = estimate_memory_bytes(pipeline, batch_size, guidance_scale)
    if max_bytes is not None and need > max_bytes:
        raise ResourceExhausted(
            f"a batch of {batch_size} images needs about {need / 2**20:.1f} MiB, above the bound of "
            f"{max_bytes / 2**20:.1f} MiB; send fewer embeddings per request or lower guidance to 1"
        )
    return need
