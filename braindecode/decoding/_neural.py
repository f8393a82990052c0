"""Neural decoders trained with one loop: a residual MLP for fMRI, a ConvNet for EEG epochs."""

from __future__ import annotations

import abc

import torch
from torch import nn

from braindecode.decoding._base import BaseDecoder, seeded_rng_devices
from braindecode.decoding._networks import ResidualMLP, Standardize, TemporalSpatialConvNet
from braindecode.decoding._training import TrainingConfig, train_network
from braindecode.decoding._validation import check_device, check_embeddings, check_input
from braindecode.errors import InvalidArgument


class _NeuralDecoder(BaseDecoder):
    """Standardized inputs -> ``_network`` -> embeddings, fitted by ``train_network``."""

    #: Axes of (n_samples, *input_shape) the input statistics are pooled over.
    _standardize_dims = (0,)

    @abc.abstractmethod
    def _network(self, input_shape: tuple, n_dims: int) -> nn.Module:
        """The untrained network: (batch, *input_shape) -> (batch, n_dims)."""

    def fit(self, X, Y, groups=None, progress=None):
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

        Returns
        -------
        self
        """
        X = check_input(X, self.modality)
        Y = check_embeddings(Y, len(X), name="target embeddings")
        config = TrainingConfig() if self.training is None else self.training
        if not isinstance(config, TrainingConfig):
            raise InvalidArgument(f"training must be a TrainingConfig, got {type(config).__name__}")
        config.check()
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

    def _fitted_info(self) -> dict:
        return {"history": self.history_}

    def _restore(self, tensors: dict, info: dict) -> None:
        module = nn.Sequential(Standardize(tensors["0.mean"], tensors["0.scale"]),
                               self._network(self.input_shape_, self.n_dims_))
        module.load_state_dict(tensors)
        self.module_ = module.to(check_device(self.device)).eval()
        self.history_ = info["history"]


class MLPDecoder(_NeuralDecoder):
    """MindEye-style residual MLP decoder: fMRI responses -> embeddings.

    Trained with a contrastive (InfoNCE or soft-CLIP) + MSE loss, BiMixCo for the
    first epochs and early stopping (see ``TrainingConfig``).

    Parameters
    ----------
    hidden_dim : int
    n_blocks : int
        Residual blocks (Linear, LayerNorm, GELU, dropout).
    dropout : float
        Dropout inside the residual blocks.
    input_dropout : float
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

    Each channel is standardized over trials and times; training as ``MLPDecoder``.

    Parameters
    ----------
    n_filters : int
        Temporal filters.
    temporal_kernel : int
        Temporal kernel length in samples (odd).
    depth_multiplier : int
        Depthwise spatial filters per temporal filter.
    pool_size : int
        Average pooling over time, in samples.
    dropout : float
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
