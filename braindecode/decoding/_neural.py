"""Neural decoders trained with one loop: a residual MLP for fMRI, a ConvNet for EEG epochs."""

from __future__ import annotations

import abc
import math

import torch
from torch import nn

from braindecode._devices import resolve_device
from braindecode.decoding._base import MAX_FIT_BYTES, PREDICT_BATCH, BaseDecoder, seeded_rng_devices
from braindecode.decoding._networks import ResidualMLP, Standardize, TemporalSpatialConvNet
from braindecode.decoding._training import TrainingConfig, train_network
from braindecode.decoding._validation import Interval, check_embeddings, check_input
from braindecode.errors import InvalidArgument

#: Copies of the parameters a fit holds: weights, gradients, AdamW's two moments, the best epoch's.
_PARAMETER_COPIES = 5
_ITEMSIZE = 4  # float32


class _NeuralDecoder(BaseDecoder):
    """Standardized inputs -> ``_network`` -> embeddings, fitted by ``train_network``."""

    #: Axes of (n_samples, *input_shape) the input statistics are pooled over.
    _standardize_dims = (0,)

    @abc.abstractmethod
    def _network(self, input_shape: tuple, n_dims: int) -> nn.Module:
        """The untrained network: (batch, *input_shape) -> (batch, n_dims)."""

    def _config(self) -> TrainingConfig:
        config = TrainingConfig() if self.training is None else self.training
        if not isinstance(config, TrainingConfig):
            raise InvalidArgument(f"training must be a TrainingConfig, got {type(config).__name__}")
        return config.check()

    def fit(self, X, Y, groups=None, progress=None, max_fit_bytes: int = MAX_FIT_BYTES):
        """Train the network.

        Parameters
        ----------
        X : array of shape (n_samples, *input_shape)
        Y : array of shape (n_samples, n_dims)
            Target embeddings.
        groups : array of shape (n_samples,), optional
            Samples held out together in the validation split (e.g. stimulus ids).
        progress : callable, optional
            Called with a dict after every epoch (see ``train_network``).
        max_fit_bytes : int
            Past this ``fit_footprint``, ``ResourceExhausted`` before anything is allocated.

        Returns
        -------
        self
        """
        self._check_params()
        config = self._config()
        X = check_input(X, self.modality)
        Y = check_embeddings(Y, len(X), name="target embeddings")
        self._check_footprint(len(X), X.shape[1:], Y.shape[1], max_fit_bytes)
        with torch.random.fork_rng(devices=seeded_rng_devices(self.device)):
            torch.manual_seed(config.seed)
            X_t = torch.as_tensor(X, device=self.device)
            module = nn.Sequential(Standardize.from_data(X_t, self._standardize_dims),
                                   self._network(X.shape[1:], Y.shape[1])).to(self.device)
            self.history_ = train_network(module, X_t, torch.as_tensor(Y, device=self.device), config,
                                          groups, progress)
        self.module_ = module
        self.input_shape_ = tuple(X.shape[1:])
        self.n_dims_ = Y.shape[1]
        return self

    def fit_footprint(self, n_samples: int, input_shape: tuple, n_dims: int) -> int:
        """Bytes a fit holds at its peak (``training_bytes``), from the network built on torch's meta
        device (``network_size``)."""
        with torch.device("meta"):
            network = self._network(tuple(input_shape), n_dims)
        n_parameters, outputs = network_size(network, tuple(input_shape))
        return training_bytes(n_parameters, math.prod(input_shape) + outputs, n_samples, self._config())

    def _fitted_info(self) -> dict:
        return {"history": self.history_}

    def _restore(self, tensors: dict, info: dict) -> None:
        module = nn.Sequential(Standardize(tensors["0.mean"], tensors["0.scale"]),
                               self._network(self.input_shape_, self.n_dims_))
        module.load_state_dict(tensors)
        self.module_ = module.to(resolve_device(self.device)).eval()
        self.history_ = info["history"]


class MLPDecoder(_NeuralDecoder):
    """MindEye-style residual MLP decoder: fMRI responses -> embeddings.

    Trained with a contrastive (InfoNCE or soft-CLIP) + MSE loss, BiMixCo for the
    first epochs and early stopping (see ``TrainingConfig``). The ranges below are
    ``MLPDecoder.param_ranges``, which ``fit`` enforces.

    Parameters
    ----------
    hidden_dim : int in [1, 8192]
    n_blocks : int in [0, 16]
        Residual blocks (Linear, LayerNorm, GELU, dropout).
    dropout : float in [0, 1)
        Dropout inside the residual blocks.
    input_dropout : float in [0, 1)
        Dropout after the input layer (MindEye uses 0.5 on ~15k voxels).
    training : TrainingConfig, optional
    device : str
        Torch device of training and prediction.

    Attributes
    ----------
    module_ : torch.nn.Module
        Standardization + network, in eval mode.
    input_shape_ : tuple of int
        ``(n_voxels,)``.
    n_dims_ : int
    history_ : list of dict
        One record per epoch (losses, validation top-1, temperature).
    """

    modality = "fmri"
    param_ranges = {
        "hidden_dim": Interval(int, 1, 8192),
        "n_blocks": Interval(int, 0, 16),
        "dropout": Interval(float, 0, 1, "left"),
        "input_dropout": Interval(float, 0, 1, "left"),
    }

    def __init__(self, hidden_dim: int = 1024, n_blocks: int = 2, dropout: float = 0.15,
                 input_dropout: float = 0.5, training: TrainingConfig | None = None, device: str = "cpu"):
        self.hidden_dim = hidden_dim
        self.n_blocks = n_blocks
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.training = training
        self.device = device

    def _network(self, input_shape, n_dims):
        return ResidualMLP(input_shape[0], n_dims, self.hidden_dim, self.n_blocks, self.dropout,
                           self.input_dropout)


class EEGDecoder(_NeuralDecoder):
    """Temporal-then-spatial ConvNet decoder (EEGNet/ShallowConvNet style): epochs -> embeddings.

    Each channel is standardized over trials and times; training as ``MLPDecoder``. The ranges
    below are ``EEGDecoder.param_ranges``, which ``fit`` enforces.

    Parameters
    ----------
    n_filters : int in [1, 256]
        Temporal filters.
    temporal_kernel : int in [1, 1025]
        Temporal kernel length in samples (odd, at most the epoch's samples).
    depth_multiplier : int in [1, 16]
        Depthwise spatial filters per temporal filter.
    pool_size : int in [1, 1024]
        Average pooling over time, in samples (at most the epoch's samples).
    dropout : float in [0, 1)
    training : TrainingConfig, optional
    device : str

    Attributes
    ----------
    module_ : torch.nn.Module
    input_shape_ : tuple of int
        ``(n_channels, n_times)``.
    n_dims_ : int
    history_ : list of dict
    """

    modality = "eeg"
    _standardize_dims = (0, 2)
    param_ranges = {
        "n_filters": Interval(int, 1, 256),
        "temporal_kernel": Interval(int, 1, 1025),
        "depth_multiplier": Interval(int, 1, 16),
        "pool_size": Interval(int, 1, 1024),
        "dropout": Interval(float, 0, 1, "left"),
    }

    def __init__(self, n_filters: int = 8, temporal_kernel: int = 25, depth_multiplier: int = 2,
                 pool_size: int = 8, dropout: float = 0.25, training: TrainingConfig | None = None,
                 device: str = "cpu"):
        self.n_filters = n_filters
        self.temporal_kernel = temporal_kernel
        self.depth_multiplier = depth_multiplier
        self.pool_size = pool_size
        self.dropout = dropout
        self.training = training
        self.device = device

    def _network(self, input_shape, n_dims):
        n_channels, n_times = input_shape
        return TemporalSpatialConvNet(n_channels, n_times, n_dims, self.n_filters, self.temporal_kernel,
                                      self.depth_multiplier, self.pool_size, self.dropout)


def training_bytes(n_parameters: int, per_sample: int, n_samples: int, config: TrainingConfig) -> int:
    """Bytes ``train_network`` holds at its peak, the data aside: five copies of the ``n_parameters``
    (weights, gradients, AdamW's two moments, the best epoch's) and ``per_sample`` values (inputs and
    every layer's outputs) for each sample of the largest forward pass (a training batch counts twice,
    for its gradients; the validation split and ``predict`` run at once)."""
    at_once = max(2 * min(config.batch_size, n_samples), min(n_samples, PREDICT_BATCH),
                  math.ceil(config.val_fraction * n_samples))
    return _ITEMSIZE * (_PARAMETER_COPIES * n_parameters + per_sample * at_once)


def network_size(network: nn.Module, input_shape: tuple) -> tuple:
    """(parameters, values its leaf modules output for one sample) of a ``network`` built on torch's
    meta device, which allocates nothing."""
    n_parameters = sum(p.numel() for p in network.parameters())
    counts = []
    hooks = [module.register_forward_hook(lambda module, inputs, output: counts.append(output.numel()))
             for module in network.modules() if next(module.children(), None) is None]
    try:
        with torch.no_grad():
            network(torch.empty((1, *input_shape), device="meta"))
    finally:
        for hook in hooks:
            hook.remove()
    return n_parameters, sum(counts)
