"""Contrastive losses and BiMixCo mixing (MindEye) for decoder training."""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOSSES = ("infonce", "softclip")


def _soft_cross_entropy(logits: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    return -(logits.log_softmax(-1) * probs).sum(-1).mean()


def contrastive_loss(predicted: torch.Tensor, target: torch.Tensor, logit_scale: torch.Tensor,
                     kind: str = "infonce", mixing: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric contrastive loss between predicted and target embeddings of one batch.

    Parameters
    ----------
    predicted, target : tensor of shape (batch, n_dims)
        Normalized here; row ``i`` of both belongs together.
    logit_scale : scalar tensor
        Inverse temperature.
    kind : {"infonce", "softclip"}
        "infonce": one-hot targets (CLIP). "softclip": soft targets ``softmax(scale * t @ t.T)``
        from the target-target similarity (MindEye).
    mixing : tensor of shape (batch, batch), optional
        BiMixCo mixing matrix from ``mixco_matrix``; replaces the targets of ``kind``
        (rows of ``mixing`` brain -> target, its columns target -> brain, as in MindEye).

    Returns
    -------
    loss : scalar tensor
    """
    p = F.normalize(predicted, dim=1)
    t = F.normalize(target, dim=1)
    logits = logit_scale * p @ t.T
    if mixing is not None:
        forward, backward = mixing, mixing.T
    elif kind == "softclip":
        forward = backward = (logit_scale * t @ t.T).softmax(-1)
    else:
        forward = backward = torch.eye(len(p), dtype=p.dtype, device=p.device)
    return (_soft_cross_entropy(logits, forward) + _soft_cross_entropy(logits.T, backward)) / 2


def mixco_matrix(batch: int, beta: float, prob: float) -> torch.Tensor:
    """BiMixCo mixing matrix ``M`` (MindEye): mixed inputs are ``M @ x``.

    With probability ``prob`` a sample ``i`` is mixed with a random partner ``perm[i]``:
    row ``i`` of ``M`` holds ``lambda_i`` at ``i`` and ``1 - lambda_i`` at ``perm[i]``
    (``lambda ~ Beta(beta, beta)``); other rows are one-hot. The same rows are the
    soft targets of the contrastive loss against the unmixed targets.

    Parameters
    ----------
    batch : int
    beta : float
        Beta distribution parameter.
    prob : float
        Probability that a sample is mixed.

    Returns
    -------
    M : tensor of shape (batch, batch), rows summing to 1 (CPU, float32)
        Drawn from torch's CPU generator, so the mixing does not depend on the device.
    """
    perm = torch.randperm(batch)
    lam = torch.distributions.Beta(torch.tensor(float(beta)), torch.tensor(float(beta))).sample((batch,))
    mixed = torch.rand(batch) < prob
    lam = torch.where(mixed, lam, torch.ones_like(lam))
    rows = torch.arange(batch)
    M = torch.zeros(batch, batch)
    M.index_put_((rows, rows), lam, accumulate=True)
    M.index_put_((rows, perm), 1 - lam, accumulate=True)
    return M
