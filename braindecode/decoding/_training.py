"""One training loop for every neural decoder: contrastive + MSE loss, BiMixCo, early stopping."""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from braindecode.decoding._losses import LOSSES, contrastive_loss, mixco_matrix
from braindecode.decoding._retrieval import _greater_and_tied, _hit_rate
from braindecode.decoding._validation import Interval, check_ranges
from braindecode.errors import InvalidArgument, quoted


@dataclasses.dataclass
class TrainingConfig:
    """How a neural decoder is trained.

    The ranges below are ``TrainingConfig.param_ranges``, which ``check`` enforces.

    Parameters
    ----------
    loss : {"softclip", "infonce"}
        Contrastive loss after the BiMixCo epochs (see ``contrastive_loss``).
    temperature : float in (0, 10]
        Initial (or fixed) softmax temperature of the contrastive loss.
    learn_temperature : bool
        Learn the temperature (as CLIP's logit scale, its inverse capped at 100).
    mse_weight : float in [0, 1000]
        Weight of the MSE between predicted and target embeddings.
    mixco_fraction : float in [0, 1]
        Fraction of the epochs, first, trained with BiMixCo (mixed brain inputs against mixed
        targets, as in MindEye); 0 turns mixing off.
    mixco_beta : float in (0, 100]
        Beta(beta, beta) parameter of the mixing weights.
    mixco_prob : float in [0, 1]
        Probability that a sample of a batch is mixed.
    val_fraction : float in [0, 1)
        Samples (or groups, when given to ``fit``) held out for early stopping; 0 trains
        ``max_epochs`` without validation.
    max_epochs : int in [1, 1000]
    patience : int in [1, 1000]
        Training stops when the validation loss has not improved for ``patience`` epochs; the
        weights of the best epoch are kept.
    batch_size : int in [2, 4096]
    lr : float in (0, 1]
    weight_decay : float in [0, 10]
        AdamW parameters.
    seed : int in [0, 4294967295]
        Seeds the initialization, the split, the batches, mixing and dropout.
    """

    param_ranges: ClassVar[dict] = {
        "temperature": Interval(float, 0, 10, "right"),
        "mse_weight": Interval(float, 0, 1000),
        "mixco_fraction": Interval(float, 0, 1),
        "mixco_beta": Interval(float, 0, 100, "right"),
        "mixco_prob": Interval(float, 0, 1),
        "val_fraction": Interval(float, 0, 1, "left"),
        "max_epochs": Interval(int, 1, 1000),
        "patience": Interval(int, 1, 1000),
        "batch_size": Interval(int, 2, 4096),
        "lr": Interval(float, 0, 1, "right"),
        "weight_decay": Interval(float, 0, 10),
        "seed": Interval(int, 0, 2**32 - 1),
    }

    loss: str = "softclip"
    temperature: float = 0.05
    learn_temperature: bool = False
    mse_weight: float = 1.0
    mixco_fraction: float = 1 / 3
    mixco_beta: float = 0.15
    mixco_prob: float = 0.5
    val_fraction: float = 0.1
    max_epochs: int = 100
    patience: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-2
    seed: int = 0

    def check(self) -> "TrainingConfig":
        """``self`` if every value is in range, else ``InvalidArgument`` naming the first bad one."""
        if self.loss not in LOSSES:
            raise InvalidArgument(f"training loss={quoted(self.loss)} is out of range: it must be "
                                  f"one of {', '.join(LOSSES)}")
        check_ranges("training", dataclasses.asdict(self), self.param_ranges)
        return self


def validation_split(n_samples: int, val_fraction: float, groups=None, seed: int = 0):
    """Train and validation indices; whole groups go to one side when ``groups`` are given.

    Parameters
    ----------
    n_samples : int
    val_fraction : float in [0, 1)
    groups : array of shape (n_samples,), optional
        E.g. stimulus ids, so that repeats of a stimulus never straddle the split.
    seed : int

    Returns
    -------
    train, val : int arrays
        Both with at least 2 samples (``val`` empty when ``val_fraction`` is 0).
    """
    rng = np.random.default_rng(seed)
    if groups is None:
        groups = np.arange(n_samples)
    groups = np.asarray(groups)
    if groups.shape != (n_samples,):
        raise InvalidArgument(f"groups has shape {groups.shape}, expected ({n_samples},)")
    val = np.zeros(n_samples, dtype=bool)
    if val_fraction > 0:
        uniq, inverse = np.unique(groups, return_inverse=True)
        sizes = np.bincount(inverse)
        order = rng.permutation(len(uniq))
        n_val_groups = int(np.searchsorted(np.cumsum(sizes[order]), val_fraction * n_samples) + 1)
        val = np.isin(inverse, order[:n_val_groups])
    train, held_out = np.flatnonzero(~val), np.flatnonzero(val)
    if len(train) < 2 or (val_fraction > 0 and len(held_out) < 2):
        raise InvalidArgument(
            f"too few samples ({n_samples}) for val_fraction={val_fraction}: the split gives "
            f"{len(train)} training and {len(held_out)} validation samples, each side needs at least 2")
    return rng.permutation(train), held_out


def _loss(network, logit_scale, X, Y, config, mixing=None, front=None, anchor=None):
    anchored = 0.0
    if front is not None:
        X = front(X)
        if anchor is not None:
            targets, weights = anchor
            anchored = (weights * ((X - targets) ** 2).flatten(1).mean(1)).mean()
    if mixing is not None:
        X = (mixing @ X.flatten(1)).reshape(X.shape)
        Y = mixing @ Y
    predicted = network(X)
    loss = contrastive_loss(predicted, Y, logit_scale, config.loss, mixing)
    if config.mse_weight:
        loss = loss + config.mse_weight * F.mse_loss(predicted, Y)
    return loss + anchored, predicted


def train_network(network: torch.nn.Module, X: torch.Tensor, Y: torch.Tensor, config: TrainingConfig,
                  groups=None, progress=None, *, front: torch.nn.Module | None = None,
                  parameters=None, front_anchor=None) -> list:
    """Train ``network`` (and ``front``) in place to map ``X`` to ``Y``; keeps the best validation epoch's weights.

    Call under a seeded torch RNG (``fit`` does): initialization, batches, mixing and dropout
    draw from it.

    Parameters
    ----------
    network : torch.nn.Module
        (batch, *input_shape) -> (batch, n_dims), on the device of ``X``; with ``front``,
        (batch, n_latent) -> (batch, n_dims).
    X : tensor of shape (n_samples, *input_shape)
    Y : tensor of shape (n_samples, n_dims)
    config : TrainingConfig
    groups : array of shape (n_samples,), optional
        Held out together in the validation split.
    progress : callable, optional
        Called after each epoch with a dict: epoch, max_epochs, train_loss, temperature,
        best_epoch and, when validating, val_loss and val_top1.
    front : torch.nn.Module, optional
        (batch, *input_shape) -> (batch, n_latent), applied before BiMixCo mixes a batch (e.g.
        per-subject linear adapters into a shared space: mixing their outputs mixes one
        subject's inputs, and mixes across subjects in the shared space); trained with ``network``.
    parameters : iterable, optional
        AdamW parameter groups (dicts with ``params`` and, e.g., their own ``lr``); default every
        parameter of ``network`` and ``front`` at ``config.lr``. Parameters left out stay fixed.
    front_anchor : (tensor of shape (n_samples, *front_output_shape), tensor of shape (n_samples,)), optional
        Targets of ``front``'s outputs and their weights: the training loss (not the validation
        loss) adds, over a batch, the mean of each sample's weight times the mean squared error
        between ``front``'s output (before mixing) and its target.

    Returns
    -------
    history : list of dict
        The dicts passed to ``progress``, one per epoch run.
    """
    config.check()
    train, val = validation_split(len(X), config.val_fraction, groups, config.seed)
    device = X.device
    train_t = torch.as_tensor(train, device=device)
    X_val, Y_val = X[torch.as_tensor(val, device=device)], Y[torch.as_tensor(val, device=device)]
    log_scale = torch.tensor(math.log(1 / config.temperature), device=device,
                             requires_grad=config.learn_temperature)

    def scale():
        return log_scale.exp().clamp(max=100.0) if config.learn_temperature else log_scale.exp()

    trained = network if front is None else torch.nn.ModuleList([front, network])
    params = list(trained.parameters()) if parameters is None else list(parameters)
    if config.learn_temperature:
        params.append({"params": [log_scale]} if parameters is not None else log_scale)
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    n_batches = max(1, len(train) // config.batch_size)
    mixco_epochs = round(config.mixco_fraction * config.max_epochs)
    best_loss, best_epoch, best_state, history = math.inf, 0, None, []
    for epoch in range(1, config.max_epochs + 1):
        trained.train()
        mixing_on = epoch <= mixco_epochs
        total = 0.0
        for batch in torch.tensor_split(torch.randperm(len(train)), n_batches):
            index = train_t[batch.to(device)]
            mixing = (mixco_matrix(len(batch), config.mixco_beta, config.mixco_prob).to(device)
                      if mixing_on else None)
            anchor = None if front_anchor is None else (front_anchor[0][index], front_anchor[1][index])
            loss, _ = _loss(network, scale(), X[index], Y[index], config, mixing, front, anchor)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        record = {"epoch": epoch, "max_epochs": config.max_epochs, "train_loss": total / len(train),
                  "temperature": 1 / scale().item()}
        if len(val):
            trained.eval()
            with torch.no_grad():
                val_loss, predicted = _loss(network, scale(), X_val, Y_val, config, front=front)
                sims = F.normalize(predicted, dim=1) @ F.normalize(Y_val, dim=1).T
                greater, tied = _greater_and_tied(sims, torch.arange(len(val), device=device))
            record["val_loss"] = float(val_loss)
            record["val_top1"] = float(_hit_rate(greater.double(), tied.double(), 1).mean())
            if record["val_loss"] < best_loss:
                best_loss, best_epoch = record["val_loss"], epoch
                best_state = copy.deepcopy(trained.state_dict())
        record["best_epoch"] = best_epoch if len(val) else epoch
        history.append(record)
        if progress is not None:
            progress(dict(record))
        if len(val) and epoch - best_epoch >= config.patience:
            break
    if best_state is not None:
        trained.load_state_dict(best_state)
    trained.eval()
    return history
