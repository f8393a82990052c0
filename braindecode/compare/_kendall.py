"""Kendall's tau-a of paired vectors, batched, optionally with integer entry weights.

The entries of a pair of vectors are put in (x, y) order once; discordant pairs are then
counted along that order with a Fenwick tree over the y ranks (compiled, exact in int64),
once per row or, with weights (the multiplicities of resampled entries, one row per
sample), once per sample. Ties come from the (weighted) sizes of the tie groups of x, of
y and of the (x, y) pairs.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

def _dense_ranks(x: torch.Tensor) -> torch.Tensor:
    """0-based dense ranks of each row (ties share a rank)."""
    values, order = torch.sort(x, dim=-1)
    new = torch.zeros_like(values, dtype=torch.long)
    new[..., 1:] = (values[..., 1:] != values[..., :-1]).long()
    return torch.empty_like(new).scatter_(-1, order, new.cumsum(dim=-1))


@numba.njit(cache=True, nogil=True)
def _pair_counts(x_keys, y_keys, joint_keys, n_y_keys, first, second, counts, out):
    """Weighted pair counts of one pair of vectors, per sample.

    The entries are in (x, y) order: ``x_keys``, ``y_keys`` and ``joint_keys`` (n_entries,) are
    their dense keys (x's and the (x, y) pairs' ascending); entry ``p`` weighs
    ``counts[s, first[p]] * counts[s, second[p]]`` in sample ``s`` of ``counts``
    (n_samples, n_conditions). Fills ``out`` (n_samples, 5), exact in int64: the total weight
    ``N``, the discordant pairs, and the pairs tied in x, in y and in both. A Fenwick tree over
    the y keys holds the weight seen so far at each key: each entry takes its weight times the
    weight seen above its key. Entries of weight 0 (conditions a sample did not draw) are skipped.
    """
    tree = np.zeros(n_y_keys + 1, dtype=np.int64)
    y_totals = np.zeros(n_y_keys, dtype=np.int64)
    for sample in range(len(counts)):
        tree[:] = 0
        y_totals[:] = 0
        sample_counts = counts[sample]
        seen = discordant = tied_x = tied_joint = 0
        x_run = joint_run = 0
        for entry in range(len(y_keys)):
            if entry > 0 and x_keys[entry] != x_keys[entry - 1]:
                tied_x += x_run * (x_run - 1) // 2
                x_run = 0
            if entry > 0 and joint_keys[entry] != joint_keys[entry - 1]:
                tied_joint += joint_run * (joint_run - 1) // 2
                joint_run = 0
            weight = sample_counts[first[entry]] * sample_counts[second[entry]]
            if weight == 0:
                continue
            x_run += weight
            joint_run += weight
            key = y_keys[entry]
            y_totals[key] += weight
            node, at_most = key + 1, 0
            while node > 0:
                at_most += tree[node]
                node -= node & -node
            discordant += weight * (seen - at_most)
            seen += weight
            node = key + 1
            while node <= n_y_keys:
                tree[node] += weight
                node += node & -node
        tied_x += x_run * (x_run - 1) // 2
        tied_joint += joint_run * (joint_run - 1) // 2
        tied_y = 0
        for total in y_totals:
            tied_y += total * (total - 1) // 2
        out[sample, 0], out[sample, 1], out[sample, 2] = seen, discordant, tied_x
        out[sample, 3], out[sample, 4] = tied_y, tied_joint


def _lexicographic(x: torch.Tensor, y: torch.Tensor) -> tuple:
    """Dense keys of x, of y and of the (x, y) pairs in lexicographic order, that order, and y's keys in it."""
    x_keys, y_keys = _dense_ranks(x), _dense_ranks(y)
    joint, order = torch.sort(x_keys * (y_keys.amax(dim=-1, keepdim=True) + 1) + y_keys, dim=-1)
    new_pair = torch.zeros_like(joint)
    new_pair[..., 1:] = (joint[..., 1:] != joint[..., :-1]).long()
    return x_keys, y_keys, new_pair.cumsum(dim=-1), order, y_keys.gather(-1, order)


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
    lex_x = x_keys.gather(-1, order)
    if counts is None:  # every entry once: one sample drawing a single condition once
        host_counts = np.ones((1, 1), dtype=np.int64)
        conditions = (torch.zeros(x.shape[-1], dtype=torch.long),) * 2
    else:
        host_counts = counts.cpu().long().numpy()
    tallies = np.empty((len(x), len(host_counts), 5), dtype=np.int64)
    for row, row_order in enumerate(order.cpu()):
        first, second = (condition.cpu()[row_order].int().numpy() for condition in conditions)
        keys = [keys[row].cpu().int().numpy() for keys in (lex_x, lex_y, joint_keys)]
        _pair_counts(*keys, int(keys[1].max(initial=-1)) + 1, first, second, host_counts, tallies[row])
    total, discordant, tied_x, tied_y, tied_joint = torch.from_numpy(tallies).double().permute(2, 1, 0)
    pairs = total * (total - 1) / 2
    tau = ((pairs - tied_x - tied_y + tied_joint - 2 * discordant) / pairs).clamp(-1, 1)
    return (tau[0] if counts is None else tau).to(x.device, x.dtype)
