"""Kendall's tau-a of paired vectors, batched, optionally with integer entry weights.

Discordant pairs are counted by a bottom-up merge sort of the y ranks in (x, y) order:
at each merge level ``torch.searchsorted`` tells every element of a right block how
many elements of its left neighbour block are not greater. Without weights, pairs
inside small blocks are compared directly first, and the counts are summed for all
rows at once. With weights (the multiplicities of resampled entries, one row per
sample) the merge structure depends on the values only, so it is built once per pair
of vectors and then run for all samples: at each level the weights are moved into
the level's order and accumulated, and every right element takes the weight of the
greater elements of its left block from two entries of that cumulative sum. The
weighted counts are integers, summed exactly.
"""

from __future__ import annotations

import torch

from braindecode.compare._ranks import Buffers

# Block size below which discordant pairs are counted by comparing all pairs.
_BASE = 8
# Elements of the (n_samples, n_entries) arrays one weighted merge step holds at once.
_CHUNK_ELEMENTS = 1 << 25


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


def _merge_levels(values: torch.Tensor, block: int):
    """Bottom-up merge of the rows of ``values`` (n_rows, size), sorted within blocks of ``block``.

    ``size`` is a power of two. Yields, per level, the block size, ``at_most``
    (n_rows, n_block_pairs, block): for each element of a right block the number of
    elements of its left block that are not greater, and ``target`` (n_rows, size): the
    position of each element in the merged order.
    """
    n_rows, size = values.shape
    while block < size:
        pairs = values.view(n_rows, -1, 2, block)
        left, right = pairs[:, :, 0], pairs[:, :, 1]
        if block <= _BASE:  # direct comparisons: cheaper than binary searches in tiny blocks
            at_most = (left[..., :, None] <= right[..., None, :]).sum(dim=-2)
            below = (right[..., :, None] < left[..., None, :]).sum(dim=-2)
        else:
            left, right = left.contiguous(), right.contiguous()
            at_most = torch.searchsorted(left, right, right=True)
            below = torch.searchsorted(right, left, right=False)
        offsets = torch.arange(block, device=values.device)
        target = torch.cat([offsets + below, offsets + at_most], dim=-1)
        target = (target + 2 * block * torch.arange(target.shape[1], device=values.device)[:, None]).reshape(n_rows, size)
        yield block, at_most, target
        values = torch.empty_like(values).scatter_(-1, target, values)
        block *= 2


def _padded(y: torch.Tensor) -> torch.Tensor:
    """Dense ranks padded to a power-of-two length with a key above all (sorted last, never counted)."""
    n = y.shape[-1]
    size = 1 << max(n - 1, 0).bit_length()
    return torch.nn.functional.pad(y, (0, size - n), value=n)


def _discordant(y: torch.Tensor) -> torch.Tensor:
    """Count of pairs a < b with y[a] > y[b], per row of the dense ranks ``y`` (n_rows, n_entries): float64."""
    values = _padded(y)
    n_rows, size = values.shape
    # within blocks of _BASE entries compare all pairs directly, then sort the blocks
    block = min(_BASE, size)
    blocks = values.view(n_rows, -1, block)
    later = torch.ones((block, block), dtype=torch.bool, device=y.device).triu(diagonal=1)
    count = torch.count_nonzero(((blocks[..., :, None] > blocks[..., None, :]) & later).view(n_rows, -1), dim=-1)
    values = torch.sort(blocks, dim=-1, stable=True).values.reshape(n_rows, size)
    for level_block, at_most, _ in _merge_levels(values, block):
        # padding (the largest value, at the end) never counts: a left block holding
        # padding has only padding on its right
        count += (level_block - at_most).sum(dim=(-2, -1))
    return count.to(torch.float64)


class _WeightedMerge:
    """The merge structure of one row of dense ranks ``y`` (n_entries,), for weighted counts.

    Per level: the block size, the index of the cumulative weight through the elements
    of the left block that are not greater than each right element (``at_most``, offset
    to the start of its block pair), and the gather index into the merged order.
    """

    def __init__(self, y: torch.Tensor):
        values = _padded(y)[None]
        self.size = values.shape[-1]
        self.levels = []
        for block, at_most, target in _merge_levels(values, 1):
            starts = 2 * block * torch.arange(at_most.shape[1], device=y.device)[:, None]
            gather = torch.empty_like(target[0]).scatter_(0, target[0], torch.arange(self.size, device=y.device))
            self.levels.append((block, (at_most[0] + starts).reshape(-1).int(), gather.int()))

    def discordant(self, weights: torch.Tensor, buffers: Buffers) -> torch.Tensor:
        """Weighted discordant pairs for each row of ``weights`` (n_samples, n_entries), int64.

        A right element's share is its weight times the weight of the greater elements of
        its left block: the cumulative weight through the end of the left block minus that
        through its ``at_most`` elements.
        """
        n_samples = len(weights)
        # cumulative weights reach the total weight, and a right element's share that times its weight
        largest = int(weights.sum(dim=1).max()) * int(weights.max())
        dtype = torch.int32 if largest < 2**31 else torch.int64
        current = buffers.get("merge_a", (n_samples, self.size), torch.empty(0, dtype=dtype, device=weights.device))
        current.zero_()[:, : weights.shape[1]] = weights
        following = buffers.get("merge_b", (n_samples, self.size), current)
        through = buffers.get("merge_through", (n_samples, self.size + 1), current)
        through[:, 0] = 0
        taken = buffers.get("merge_taken", (n_samples, self.size // 2), current)
        count = torch.zeros(n_samples, dtype=torch.int64, device=weights.device)
        for block, at_most, gather in self.levels:
            torch.cumsum(current, dim=1, out=through[:, 1:])
            left_totals = through[:, block :: 2 * block]  # through the end of each left block
            torch.index_select(through, 1, at_most, out=taken)
            greater = taken.view(n_samples, -1, block).neg_().add_(left_totals[:, :, None])
            right = current.view(n_samples, -1, 2, block)[:, :, 1, :]
            count += greater.mul_(right).sum(dim=(1, 2), dtype=torch.int64)
            torch.index_select(current, 1, gather, out=following)
            current, following = following, current
        return count


def _lexicographic(x: torch.Tensor, y: torch.Tensor) -> tuple:
    """Dense keys of x, of y and of the (x, y) pairs in lexicographic order, that order, and y's keys in it."""
    x_keys, y_keys = _dense_ranks(x), _dense_ranks(y)
    joint, order = torch.sort(x_keys * (y_keys.amax(dim=-1, keepdim=True) + 1) + y_keys, dim=-1)
    new_pair = torch.zeros_like(joint)
    new_pair[..., 1:] = (joint[..., 1:] != joint[..., :-1]).long()
    return x_keys, y_keys, new_pair.cumsum(dim=-1), order, y_keys.gather(-1, order)


def _tau(discordant, weights, lex_weights, x_keys, y_keys, joint_keys) -> torch.Tensor:
    """tau-a from the discordant count (n_samples, n_rows) and the (weighted) tie counts, float64."""
    total_weight = weights.sum(dim=-1)
    total = total_weight * (total_weight - 1) / 2
    concordant_minus_discordant = (
        total
        - _tied_pairs(x_keys, weights)
        - _tied_pairs(y_keys, weights)
        + _tied_pairs(joint_keys, lex_weights)
        - 2 * discordant
    )
    return (concordant_minus_discordant / total).clamp(-1, 1)


def tau_a(x: torch.Tensor, y: torch.Tensor, counts: torch.Tensor | None = None, conditions=None) -> torch.Tensor:
    """Kendall's tau-a of the rows of ``x`` and ``y``, paired row by row.

    Parameters
    ----------
    x, y : tensor of shape (n_rows, n_entries)
    counts : integer tensor of shape (n_samples, n_conditions), optional
        Resampled condition counts: entry ``p`` occurs ``counts[i] * counts[j]`` times
        with ``(i, j) = conditions[0][p], conditions[1][p]``; ties between copies of one
        entry count as joint ties, as in the vector with the repeats written out.
    conditions : pair of tensors of shape (n_entries,), optional
        The conditions of each entry, with ``counts``.

    Returns
    -------
    tau : tensor of shape (n_rows,), or (n_samples, n_rows) with counts
        In the dtype of ``x``.
    """
    x_keys, y_keys, joint_keys, order, lex_y = _lexicographic(x, y)
    if counts is None:
        ones = torch.ones((1,) + x.shape, dtype=torch.float64, device=x.device)
        return _tau(_discordant(lex_y)[None], ones, ones, x_keys, y_keys, joint_keys)[0].to(x.dtype)
    n_samples, n_entries = len(counts), x.shape[-1]
    per_chunk = max(1, _CHUNK_ELEMENTS // (8 * n_entries))
    tau = torch.empty((n_samples, len(x)), dtype=x.dtype, device=x.device)
    buffers = Buffers()
    for row, row_order in enumerate(order):
        merge = _WeightedMerge(lex_y[row])
        first, second = conditions[0][row_order], conditions[1][row_order]
        keys = [keys[row : row + 1].gather(-1, row_order[None]) for keys in (x_keys, y_keys)] + [joint_keys[row : row + 1]]
        for start in range(0, n_samples, per_chunk):
            chunk = counts[start : start + per_chunk]
            weights = chunk.index_select(1, first) * chunk.index_select(1, second)  # in (x, y) order
            discordant = merge.discordant(weights, buffers).to(torch.float64)[:, None]
            weights = weights.to(torch.float64)[:, None]
            tau[start : start + per_chunk, row] = _tau(discordant, weights, weights, *keys)[:, 0]
    return tau
