"""Torch modules of the decoders: input standardization, residual MLP, temporal-spatial ConvNet."""

from __future__ import annotations

import torch
from torch import nn

from braindecode.errors import InvalidArgument


class Standardize(nn.Module):
    """``(x - mean) / scale`` with the statistics stored as buffers.

    Parameters
    ----------
    mean, scale : tensor broadcastable to one sample, e.g. (n_features,) or (n_channels, 1)
    """

    def __init__(self, mean: torch.Tensor, scale: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("scale", scale)

    @classmethod
    def from_data(cls, X: torch.Tensor, dims: tuple) -> "Standardize":
        """Statistics of ``X`` over ``dims`` (0 is the sample axis); constant features get scale 1."""
        mean = X.mean(dim=dims, keepdim=True)[0]
        scale = X.std(dim=dims, keepdim=True, unbiased=False)[0]
        return cls(mean, torch.where(scale > 0, scale, torch.ones_like(scale)))

    def forward(self, x):
        return (x - self.mean) / self.scale


def _block(n_in: int, n_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, n_out), nn.LayerNorm(n_out), nn.GELU(), nn.Dropout(dropout))


class ResidualMLP(nn.Module):
    """MindEye-style MLP: linear in, residual blocks (Linear, LayerNorm, GELU, dropout), linear out.

    Parameters
    ----------
    n_inputs, n_outputs : int
    hidden_dim : int
    n_blocks : int
        Residual blocks ``h + block(h)``.
    dropout : float
        Dropout in the residual blocks.
    input_dropout : float
        Dropout after the input layer.

    Shapes: (batch, n_inputs) -> (batch, n_outputs).
    """

    def __init__(self, n_inputs: int, n_outputs: int, hidden_dim: int, n_blocks: int, dropout: float,
                 input_dropout: float):
        super().__init__()
        self.input = _block(n_inputs, hidden_dim, input_dropout)
        self.blocks = nn.ModuleList(_block(hidden_dim, hidden_dim, dropout) for _ in range(n_blocks))
        self.output = nn.Linear(hidden_dim, n_outputs)

    def forward(self, x):
        h = self.input(x)
        for block in self.blocks:
            h = h + block(h)
        return self.output(h)


class TemporalSpatialConvNet(nn.Module):
    """EEGNet/ShallowConvNet-style network: temporal conv, depthwise spatial conv, pooling, projection.

    Parameters
    ----------
    n_channels, n_times : int
        Epoch shape.
    n_outputs : int
    n_filters : int
        Temporal filters.
    temporal_kernel : int
        Temporal kernel length in samples (odd; zero-padded to keep ``n_times``).
    depth_multiplier : int
        Spatial filters per temporal filter.
    pool_size : int
        Average-pooling window over time.
    dropout : float

    Shapes: (batch, n_channels, n_times) -> (batch, n_outputs).
    """

    def __init__(self, n_channels: int, n_times: int, n_outputs: int, n_filters: int,
                 temporal_kernel: int, depth_multiplier: int, pool_size: int, dropout: float):
        super().__init__()
        if temporal_kernel < 1 or temporal_kernel % 2 == 0 or temporal_kernel > n_times:
            raise InvalidArgument(
                f"temporal_kernel must be odd and at most n_times={n_times}, got {temporal_kernel}")
        if not 1 <= pool_size <= n_times:
            raise InvalidArgument(f"pool_size must be between 1 and n_times={n_times}, got {pool_size}")
        n_spatial = n_filters * depth_multiplier
        self.temporal = nn.Sequential(
            nn.Conv2d(1, n_filters, (1, temporal_kernel), padding=(0, temporal_kernel // 2), bias=False),
            nn.BatchNorm2d(n_filters),
        )
        self.spatial = nn.Sequential(
            nn.Conv2d(n_filters, n_spatial, (n_channels, 1), groups=n_filters, bias=False),
            nn.BatchNorm2d(n_spatial),
            nn.ELU(),
            nn.AvgPool2d((1, pool_size)),
            nn.Dropout(dropout),
        )
        self.output = nn.Linear(n_spatial * (n_times // pool_size), n_outputs)

    def forward(self, x):
        h = self.spatial(self.temporal(x.unsqueeze(1)))
        return self.output(h.flatten(1))


def linear_adapter(standardize: Standardize, n_outputs: int) -> nn.Sequential:
    """One subject's adapter: its voxels standardized (statistics of shape (n_voxels,)), then a linear map.

    Shapes: (batch, n_voxels) -> (batch, n_outputs).
    """
    return nn.Sequential(standardize, nn.Linear(standardize.mean.shape[-1], n_outputs))


class SubjectAdapters(nn.Module):
    """Per-subject adapters applied to packed samples of several subjects.

    A packed sample is one row: the index of its subject's adapter (column 0), then the
    subject's voxels, zero-padded to the widest subject.

    Parameters
    ----------
    adapters : list of nn.Sequential
        From ``linear_adapter``, one per subject, all with the same output size.

    Shapes: (batch, 1 + max n_voxels) -> (batch, n_outputs).
    """

    def __init__(self, adapters: list):
        super().__init__()
        self.adapters = nn.ModuleList(adapters)

    @staticmethod
    def pack(X: list, device) -> torch.Tensor:
        """Samples of each subject, list of arrays of shape (n_samples_s, n_voxels_s), packed in one tensor."""
        width = max(x.shape[1] for x in X)
        packed = torch.zeros((sum(len(x) for x in X), 1 + width), device=device)
        start = 0
        for index, x in enumerate(X):
            packed[start:start + len(x), 0] = index
            packed[start:start + len(x), 1:1 + x.shape[1]] = torch.as_tensor(x, device=device)
            start += len(x)
        return packed

    def forward(self, x):
        index = x[:, 0].long()
        out = x.new_zeros((len(x), self.adapters[0][1].out_features))
        for i, adapter in enumerate(self.adapters):
            rows = index == i
            out[rows] = adapter(x[rows, 1:1 + adapter[1].in_features])
        return out
