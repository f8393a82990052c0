"""Tie-aware ranks of batched vectors, plain or with resampled (repeated) entries."""

from __future__ import annotations

import numba
import numpy as np
import torch


class TieGroups:
    """Sorting and tie structure of the rows of ``x`` (n_rows, n_entries).

    Attributes
    ----------
    order : tensor of shape (n_rows, n_entries)
        Ascending sort order of each row (original index at each sorted position; tied
        entries in any order).
    first, last : tensor of shape (n_rows, n_entries)
        Sorted positions of the first and last member of the tie group at each sorted
        position (both equal to the position for an untied entry).
    tied : tensor of shape (n_rows,), bool
        Rows with at least two equal entries.
    """

    def __init__(self, x: torch.Tensor):
        n = x.shape[-1]
        if x.device.type == "cpu":  # numpy's vectorised sort: 2.4x torch's on 21 x 124,750 float32 here
            order = np.argsort(x.numpy(), axis=-1)
            first, last = np.empty_like(order), np.empty_like(order)
            _tie_spans(np.take_along_axis(x.numpy(), order, axis=-1), first, last)
            self.order, self.first, self.last = (torch.from_numpy(a) for a in (order, first, last))
            self.tied = (self.last != self.first).any(dim=-1)
            return
        values, self.order = torch.sort(x, dim=-1)
        starts = torch.ones_like(values, dtype=torch.bool)
        starts[..., 1:] = values[..., 1:] != values[..., :-1]
        ends = torch.ones_like(starts)
        ends[..., :-1] = starts[..., 1:]
        positions = torch.arange(n, device=x.device).expand_as(self.order)
        self.first = torch.where(starts, positions, 0).cummax(dim=-1).values
        self.last = torch.where(ends, positions, n).flip(-1).cummin(dim=-1).values.flip(-1)
        self.tied = ~starts.all(dim=-1)

    def ranks(self, dtype) -> torch.Tensor:
        """Average ranks (1-based, as ``scipy.stats.rankdata``), shape (n_rows, n_entries)."""
        mean_position = (self.first + self.last).to(dtype) / 2 + 1
        return torch.empty_like(mean_position).scatter_(-1, self.order, mean_position)


@numba.njit(cache=True, nogil=True)
def _tie_spans(values, first, last):
    """Write the first and last sorted positions of the tie group at each position of the
    sorted rows ``values`` (n_rows, n_entries) into ``first`` and ``last`` (same shape)."""
    n_rows, n = values.shape
    for row in range(n_rows):
        start = 0
        for position in range(1, n + 1):
            if position == n or values[row, position] != values[row, position - 1]:
                for member in range(start, position):
                    first[row, member] = start
                    last[row, member] = position - 1
                start = position


class ResampledRanks:
    """Spearman sums of RDM vectors after resampling their conditions.

    Entry (i, j) of an RDM resampled with condition counts ``c`` occurs ``c[i] * c[j]``
    times (rsatoolbox keeps every pair of drawn copies of two different conditions),
    and all copies of a tie group share their average rank in the vector with the
    repeats written out. Walking the fixed sort order of a vector, the centred rank of
    a tie group's copies (an untied entry is a group of one) is the multiplicity before
    the group plus half its own, minus half the number of copies ``N``
    (:func:`_resampled_spearman`, compiled, running sums in float64, the data's weighted
    ranks in the dtype of ``x``).

    Parameters
    ----------
    x : tensor of shape (n_rows, n_pairs)
        Upper-triangle RDM vectors.
    rows, cols : tensor of shape (n_pairs,)
        The two conditions of each entry.

    Attributes
    ----------
    groups : TieGroups
        Sort order and ties of ``x``.
    """

    def __init__(self, x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor):
        self.groups = TieGroups(x)
        self._dtype = x.dtype  # of the data's weighted ranks the walks keep
        order = self.groups.order.cpu().numpy()
        # what a walk reads at each sorted position, as narrow as the sizes allow
        narrow = np.uint16 if len(rows) and int(max(rows.max(), cols.max())) < 2**16 else np.int32
        self._first, self._second = (index.cpu().numpy().astype(narrow)[order] for index in (rows, cols))
        self._order = order.astype(np.int32)
        first, last = self.groups.first.cpu(), self.groups.last.cpu()
        group_rows, group_starts = torch.nonzero((last > first) & (first == torch.arange(last.shape[-1])),
                                                 as_tuple=True)
        self._tie_starts, self._tie_ends = group_starts.int().numpy(), last[group_rows, group_starts].int().numpy()
        self._tie_bounds = np.concatenate([[0], np.cumsum(np.bincount(group_rows.numpy(), minlength=len(last)))])

    def scores(self, counts: torch.Tensor, n_a: int) -> tuple:
        """Spearman sums of the first ``n_a`` vectors against the others on resampled conditions.

        Parameters
        ----------
        counts : tensor of shape (n_samples, n_conditions)
        n_a : int

        Returns
        -------
        products : tensor of shape (n_samples, n_a, n_rows - n_a), float64
            Sums over copies of the products of two vectors' centred ranks.
        squares : tensor of shape (n_samples, n_rows), float64
            Sums over copies of each vector's squared centred ranks, ``(N^3 - sum_g W_g^3) / 12``
            over the tie groups ``g`` (copies of one entry included) of total multiplicity ``W_g``.
        totals : tensor of shape (n_samples,), float64
            The number of copies ``N`` of each resampled vector.
        """
        counts = counts.detach().cpu().double()
        totals = (counts.sum(dim=1) ** 2 - (counts * counts).sum(dim=1)) / 2
        cubed = counts**3
        cubes = (cubed.sum(dim=1) ** 2 - (cubed * cubed).sum(dim=1)) / 2  # cubed multiplicities of all entries
        n_samples, n_rows = len(counts), len(self._order)
        products = np.empty((n_samples, n_a, n_rows - n_a))
        corrections = np.empty((n_samples, n_rows))
        _resampled_spearman(counts.to(self._dtype).numpy(), totals.numpy(), self._first, self._second, self._order,
                            self._tie_starts, self._tie_ends, self._tie_bounds, n_a, products, corrections)
        squares = (totals**3 - cubes)[:, None] - torch.from_numpy(corrections)
        return torch.from_numpy(products), squares / 12, totals


# The running sums of multiplicities are integers, exact in any order; fused multiply-adds are
# allowed (about 1.2x faster walks). Loops index slices from 0, so numba drops its negative-index
# checks on the per-position reads (1.5x).
_SUMS = {"contract", "reassoc", "nsz", "arcp"}


@numba.njit(cache=True, nogil=True, fastmath=_SUMS)
def _walk(counts, half_total, first, second, order, tie_starts, tie_ends, values, write):
    """Walk one vector's sort order for one sample.

    ``counts`` (n_conditions,) are the sample's; ``first``, ``second`` and ``order`` (n_pairs,)
    the two conditions and the original entry at each sorted position; ``tie_starts`` and
    ``tie_ends`` the first and last sorted positions of each tie group. With ``write``, stores
    each entry's multiplicity times its centred rank into ``values`` (n_pairs, original entry
    order) and returns 0; without, returns the sum of ``values`` times the centred ranks.
    Also returns the tie groups' cubed multiplicities minus their entries'.
    """
    before, total, correction, position = 0.0, 0.0, 0.0, 0
    n_ties = len(tie_starts)
    for tie in range(n_ties + 1):
        stop = tie_starts[tie] if tie < n_ties else len(first)
        before, total = _untied(counts, half_total, first[position:stop], second[position:stop],
                                order[position:stop], values, write, before, total)
        if tie == n_ties:
            break
        position = tie_ends[tie] + 1
        group_first, group_second, group_order = first[stop:position], second[stop:position], order[stop:position]
        group, own_cubes = 0.0, 0.0
        for index in range(len(group_first)):
            weight = counts[group_first[index]] * counts[group_second[index]]
            group += weight
            own_cubes += weight * weight * weight
        rank = before + 0.5 * group - half_total
        for index in range(len(group_first)):
            if write:
                values[group_order[index]] = counts[group_first[index]] * counts[group_second[index]] * rank
            else:
                total += values[group_order[index]] * rank
        correction += group * group * group - own_cubes
        before += group
    return total, correction


@numba.njit(cache=True, nogil=True, fastmath=_SUMS)
def _untied(counts, half_total, first, second, order, values, write, before, total):
    """The untied stretch ``first``, ``second``, ``order`` (n_positions,) of a walk (see :func:`_walk`),
    from the running ``before`` and ``total``; returns both after it."""
    if write:
        for index in range(len(first)):
            weight = counts[first[index]] * counts[second[index]]
            values[order[index]] = weight * (before + 0.5 * weight - half_total)
            before += weight
    else:
        for index in range(len(first)):
            weight = counts[first[index]] * counts[second[index]]
            total += values[order[index]] * (before + 0.5 * weight - half_total)
            before += weight
    return before, total


@numba.njit(cache=True, nogil=True)
def _resampled_spearman(counts, totals, first, second, order, tie_starts, tie_ends, tie_bounds, n_a, products,
                        corrections):
    """Spearman sums of the first ``n_a`` vectors against the others, per sample.

    ``counts`` (n_samples, n_conditions) and ``totals`` (n_samples,) describe the samples;
    ``first``, ``second`` and ``order`` (n_rows, n_pairs) each vector's walk; its tie groups
    are ``tie_starts[tie_bounds[row]:tie_bounds[row + 1]]`` (and ``tie_ends``). Writes
    ``products`` (n_samples, n_a, n_rows - n_a) and the tie corrections of the cubed
    multiplicities ``corrections`` (n_samples, n_rows). Per sample the first ``n_a`` vectors
    write their weighted ranks, which stay in the cache while every other vector reads them
    in its own order.
    """
    n_rows, n_pairs = first.shape
    values = np.empty((n_a, n_pairs), dtype=counts.dtype)
    for sample in range(len(counts)):
        sample_counts, half_total = counts[sample], 0.5 * totals[sample]
        for row in range(n_rows):
            starts = tie_starts[tie_bounds[row]:tie_bounds[row + 1]]
            ends = tie_ends[tie_bounds[row]:tie_bounds[row + 1]]
            if row < n_a:
                corrections[sample, row] = _walk(sample_counts, half_total, first[row], second[row], order[row],
                                                 starts, ends, values[row], True)[1]
                continue
            for a in range(n_a):
                products[sample, a, row - n_a], corrections[sample, row] = _walk(
                    sample_counts, half_total, first[row], second[row], order[row], starts, ends, values[a], False)
