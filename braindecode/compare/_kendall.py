"""Kendall's tau-a of paired vectors, batched, optionally with integer entry weights.

Discordant pairs are counted by a bottom-up merge sort run on all rows at once:
at each level, ``torch.searchsorted`` tells every element of a right block how
many elements of its left neighbour block are greater.
"""

from __future__ import annotations

import torch

_SENTINEL = torch.iinfo(torch.int64).max


def _dense_ranks(x: torch.Tensor) -> torch.Tensor:
    """0-based dense ranks of each row (ties share a rank)."""
    values, order = torch.sort(x, dim=-1)
    new = torch.zeros_like(values, dtype=torch.long)
    new[..., 1:] = (values[..., 1:] != values[..., :-1]).long()
    return torch.empty_like(new).scatter_(-1, order, new.cumsum(dim=-1))


def _tied_pairs(keys: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Number of pairs of (weighted) entries sharing a key: sum over keys of W (W - 1) / 2.

    keys : (n_rows, n_entries) dense integer keys; weights : (n_samples, n_rows, n_entries).
    """
    totals = torch.zeros_like(weights).scatter_add_(-1, keys.expand_as(weights), weights)
    return (totals * (totals - 1)).sum(dim=-1) / 2


def _discordant(y: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted count of pairs a < b with y[a] > y[b].

    y : (n_rows, n_entries) integer; weights : (n_samples, n_rows, n_entries).
    Returns (n_samples, n_rows).
    """
    n_rows, n = y.shape
    size = 1 << max(n - 1, 0).bit_length()
    values = torch.nn.functional.pad(y, (0, size - n), value=_SENTINEL)
    weights = torch.nn.functional.pad(weights, (0, size - n))
    count = weights.new_zeros(weights.shape[:-1])
    block = 1
    while block < size:
        pairs = values.view(n_rows, -1, 2, block)
        left, right = pairs[:, :, 0].contiguous(), pairs[:, :, 1].contiguous()
        at_most = torch.searchsorted(left, right, right=True)
        below = torch.searchsorted(right, left, right=False)
        paired_weights = weights.view(weights.shape[:2] + (-1, 2, block))
        cumulative = torch.nn.functional.pad(paired_weights[..., 0, :].cumsum(dim=-1), (1, 0))
        greater = cumulative[..., -1:] - cumulative.gather(-1, at_most.expand(weights.shape[:1] + at_most.shape))
        count += (paired_weights[..., 1, :] * greater).sum(dim=(-2, -1))
        offsets = torch.arange(block, device=y.device)
        target = torch.cat([offsets + below, offsets + at_most], dim=-1)
        target = target + 2 * block * torch.arange(target.shape[1], device=y.device)[:, None]
        target = target.reshape(n_rows, size)
        values = torch.empty_like(values).scatter_(-1, target, values)
        weights = torch.empty_like(weights).scatter_(-1, target.expand_as(weights), weights)
        block *= 2
    return count


def tau_a(x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Kendall's tau-a of the rows of ``x`` and ``y``, paired row by row.

    Parameters
    ----------
    x, y : tensor of shape (n_rows, n_entries)
    weights : integer tensor of shape (n_samples, n_entries), optional
        Multiplicity of each entry (resampled vectors); ties between copies of one
        entry count as joint ties, as in the vector with the repeats written out.

    Returns
    -------
    tau : tensor of shape (n_rows,), or (n_samples, n_rows) with weights
        In the dtype of ``x``.
    """
    single = weights is None
    if single:
        weights = torch.ones((1, x.shape[-1]), dtype=torch.long, device=x.device)
    weights = weights.to(torch.float64)[:, None, :].expand(-1, x.shape[0], -1)
    x_keys, y_keys = _dense_ranks(x), _dense_ranks(y)
    joint = x_keys * (y_keys.amax(dim=-1, keepdim=True) + 1) + y_keys
    order = torch.argsort(joint, dim=-1)
    joint_keys = _dense_ranks(joint)
    lex_weights = weights.gather(-1, order.expand_as(weights))
    discordant = _discordant(y_keys.gather(-1, order), lex_weights)
    total_weight = weights.sum(dim=-1)
    total = total_weight * (total_weight - 1) / 2
    concordant_minus_discordant = (
        total
        - _tied_pairs(x_keys, weights)
        - _tied_pairs(y_keys, weights)
        + _tied_pairs(joint_keys, weights)
        - 2 * discordant
    )
    tau = (concordant_minus_discordant / total).clamp(-1, 1).to(x.dtype)
    return tau[0] if single else tau
