"""Reduce one layer's output to a row of features per stimulus."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from braindecode.errors import InvalidArgument

POOLINGS = ("none", "avg", "grid")


def check_pooling(pooling: str, grid: int) -> None:
    """``InvalidArgument`` for an unknown pooling or a grid that is not a positive int."""
    if pooling not in POOLINGS:
        raise InvalidArgument(f"unknown pooling {pooling!r}; use one of {', '.join(POOLINGS)}")
    if pooling == "grid" and (isinstance(grid, bool) or not isinstance(grid, int) or grid < 1):
        raise InvalidArgument(f"grid must be a positive int, got {grid!r}")


def _pool_tokens(x, mask, pooling, n_tokens, layer):
    keep = mask.to(x.dtype).unsqueeze(-1)
    if pooling == "avg":
        return (x * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1)
    if pooling == "none":
        x = x * keep
        if n_tokens is None:
            n_tokens = x.shape[1]
        x = F.pad(x[:, :n_tokens], (0, 0, 0, n_tokens - min(n_tokens, x.shape[1])))
        return x.reshape(x.shape[0], -1)
    raise InvalidArgument(f"layer {layer!r} holds token states {tuple(x.shape)}; "
                          "grid pooling needs a spatial layer, use 'avg' or 'none'")


def _pool_spatial(x, pooling, grid, layer):
    if pooling == "none" or x.ndim == 2:
        return x.reshape(x.shape[0], -1)
    if pooling == "avg":
        return x.mean(dim=tuple(range(2, x.ndim)))
    spatial = x.shape[2:]
    if len(spatial) not in (1, 2):
        raise InvalidArgument(f"grid pooling needs 1-D or 2-D maps; layer {layer!r} has shape {tuple(x.shape)}")
    if min(spatial) < grid:
        raise InvalidArgument(f"layer {layer!r} maps are {tuple(spatial)}, smaller than a {grid}x{grid} grid")
    pooled = F.adaptive_avg_pool1d(x, grid) if len(spatial) == 1 else F.adaptive_avg_pool2d(x, grid)
    return pooled.reshape(x.shape[0], -1)


def pool_layer(x: torch.Tensor, pooling="avg", grid=2, mask=None, n_tokens=None, layer="") -> torch.Tensor:
    """Pool one layer output into features.

    Parameters
    ----------
    x : tensor of shape (n, C, ...) channel-first maps, (n, n_tokens, D) token states, or (n, D)
    pooling : {"none", "avg", "grid"}
        "none" flattens; "avg" averages over spatial or (unmasked) token positions; "grid"
        averages each of ``grid`` x ``grid`` spatial cells (``grid`` cells for 1-D maps).
        Maps whose spatial size is 1 are treated as vectors.
    grid : int
    mask : tensor of shape (n, n_tokens), optional
        Attention mask: marks ``x`` as token states; padded positions are ignored.
    n_tokens : int, optional
        With ``pooling="none"`` on token states, the token count to pad or cut to, so that
        batches of different lengths give equally wide rows.
    layer : str
        Layer name for error messages.

    Returns
    -------
    features : tensor of shape (n, n_features), float32
        Channel-major: for "grid", features ``c * grid * grid + cell``.
    """
    x = x.float()
    if x.ndim > 2 and x.shape[2:].numel() == 1 and mask is None:
        x = x.reshape(x.shape[0], -1)
    if mask is not None and x.ndim == 3:
        return _pool_tokens(x, mask, pooling, n_tokens, layer)
    return _pool_spatial(x, pooling, grid, layer)
