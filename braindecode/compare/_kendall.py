"""Kendall's tau-a of paired vectors, batched, optionally with integer entry weights.

Discordant pairs are counted by a bottom-up merge sort run on all rows at once:
pairs inside small blocks are compared directly, then at each merge level
``torch.searchsorted`` tells every element of a right block how many elements of
its left neighbour block are greater.
"""

from __future__ import annotations

import torch

# Block size below which discordant pairs are counted by comparing all pairs.
_BASE = 8


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


def _discordant(y: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Count of pairs a < b with y[a] > y[b], each pair weighted by weights[a] * weights[b].

    y : (n_rows, n_entries) dense ranks; weights : (n_samples, n_rows, n_entries) or None
    (all ones). Returns (n_samples, n_rows), float64.
    """
    n_rows, n = y.shape
    size = 1 << max(n - 1, 0).bit_length()
    # dense ranks are below n, so n sorts the padding last
    values = torch.nn.functional.pad(y, (0, size - n), value=n)
    if weights is not None:
        weights = torch.nn.functional.pad(weights, (0, size - n))
    # within blocks of _BASE entries compare all pairs directly, then sort the blocks
    block = min(_BASE, size)
    blocks = values.view(n_rows, -1, block)
    later = torch.ones((block, block), dtype=torch.bool, device=y.device).triu(diagonal=1)
    inverted = (blocks[..., :, None] > blocks[..., None, :]) & later
    values, order = torch.sort(blocks, dim=-1, stable=True)
    values = values.reshape(n_rows, size)
    if weights is None:
        count = torch.count_nonzero(inverted.view(n_rows, -1), dim=-1)[None]
    else:
        block_weights = weights.view(weights.shape[:2] + blocks.shape[1:])
        count = torch.einsum("skna,knab,sknb->sk", block_weights, inverted.to(weights.dtype), block_weights)
        weights = block_weights.gather(-1, order.expand_as(block_weights)).reshape(weights.shape)
    while block < size:
        pairs = values.view(n_rows, -1, 2, block)
        left, right = pairs[:, :, 0].contiguous(), pairs[:, :, 1].contiguous()
        at_most = torch.searchsorted(left, right, right=True)
        below = torch.searchsorted(right, left, right=False)
        if weights is None:
            # padding (the largest value, at the end) never counts: a left block holding
            # padding has only padding on its right
            count += (block - at_most).sum(dim=(-2, -1))
        else:
            paired_weights = weights.view(weights.shape[:2] + (-1, 2, block))
            cumulative = torch.nn.functional.pad(paired_weights[..., 0, :].cumsum(dim=-1), (1, 0))
            at_most_all = at_most.expand(weights.shape[:1] + at_most.shape)
            greater = cumulative[..., -1:] - cumulative.gather(-1, at_most_all)
            count += (paired_weights[..., 1, :] * greater).sum(dim=(-2, -1))
        offsets = torch.arange(block, device=y.device)
        target = torch.cat([offsets + below, offsets + at_most], dim=-1)
        target = target + 2 * block * torch.arange(target.shape[1], device=y.device)[:, None]
        target = target.reshape(n_rows, size)
        values = torch.empty_like(values).scatter_(-1, target, values)
        if weights is not None:
            weights = torch.empty_like(weights).scatter_(-1, target.expand_as(weights), weights)
        block *= 2
    return count.to(torch.float64)


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
    x_keys, y_keys = _dense_ranks(x), _dense_ranks(y)
    joint, order = torch.sort(x_keys * (y_keys.amax(dim=-1, keepdim=True) + 1) + y_keys, dim=-1)
    # in lexicographic (x, y) order: dense keys of the (x, y) pairs, for joint ties
    new_pair = torch.zeros_like(joint)
    new_pair[..., 1:] = (joint[..., 1:] != joint[..., :-1]).long()
    joint_keys = new_pair.cumsum(dim=-1)
    if single:
        weights = torch.ones((1,) + x.shape, dtype=torch.float64, device=x.device)
        lex_weights = weights
        discordant = _discordant(y_keys.gather(-1, order), None)
    else:
        weights = weights.to(torch.float64)[:, None, :].expand(-1, x.shape[0], -1)
        lex_weights = weights.gather(-1, order.expand_as(weights))
        discordant = _discordant(y_keys.gather(-1, order), lex_weights)
    total_weight = weights.sum(dim=-1)
    total = total_weight * (total_weight - 1) / 2
    concordant_minus_discordant = (
        total
        - _tied_pairs(x_keys, weights)
        - _tied_pairs(y_keys, weights)
        + _tied_pairs(joint_keys, lex_weights)
        - 2 * discordant
    )
    tau = (concordant_minus_discordant / total).clamp(-1, 1).to(x.dtype)
    return tau[0] if single else tau
