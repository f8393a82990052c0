"""Tie-aware ranks of batched vectors, plain or with resampled (repeated) entries."""

from __future__ import annotations

import math

import torch


class Buffers:
    """Arrays reused from one chunk of a resampling loop to the next.

    A fresh array of several MiB per step comes from the system as untouched pages,
    and on a virtual machine faulting them in can cost as much as the arithmetic on
    them; a buffer is allocated once per name and grown when a larger one is asked for.
    """

    def __init__(self):
        self._arrays = {}

    def get(self, name: str, shape: tuple, like: torch.Tensor) -> torch.Tensor:
        """A tensor of ``shape`` with the dtype and device of ``like`` (contents undefined)."""
        size = math.prod(shape)
        array = self._arrays.get(name)
        if array is None or array.numel() < size or array.dtype != like.dtype or array.device != like.device:
            array = like.new_empty(size)
            self._arrays[name] = array
        return array[:size].view(shape)


class TieGroups:
    """Sorting and tie structure of the rows of ``x`` (n_rows, n_entries).

    Attributes
    ----------
    order : tensor of shape (n_rows, n_entries)
        Stable ascending sort order of each row (original index at each sorted position).
    first, last : tensor of shape (n_rows, n_entries)
        Sorted positions of the first and last member of the tie group at each sorted
        position (both equal to the position for an untied entry).
    tied : tensor of shape (n_rows,), bool
        Rows with at least two equal entries.
    """

    def __init__(self, x: torch.Tensor):
        n = x.shape[-1]
        values, self.order = torch.sort(x, dim=-1, stable=True)
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


class ResampledRanks:
    """Ranks of RDM vectors after resampling their conditions, along each vector's sort order.

    Entry (i, j) of an RDM resampled with condition counts ``c`` occurs ``c[i] * c[j]``
    times (rsatoolbox keeps every pair of drawn copies of two different conditions),
    and all copies of a tie group share their average rank in the vector with the
    repeats written out. Along the fixed sort order of each vector the multiplicities
    are gathered from the counts of the two conditions of each entry and accumulated:
    the rank of an entry's copies is the multiplicity before it plus half its own,
    plus 1/2. Entries tied with others (usually few) then get their group's rank, from
    the accumulated multiplicity before and through the group. Multiplicities and their
    sums are integers, exact in float32 up to 2^24.

    Parameters
    ----------
    x : tensor of shape (n_rows, n_pairs)
        Upper-triangle RDM vectors.
    rows, cols : tensor of shape (n_pairs,)
        The two conditions of each entry.

    Attributes
    ----------
    order : tensor of shape (n_rows, n_pairs)
        Sort order of each vector.
    groups : TieGroups
    """

    def __init__(self, x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor):
        self.groups = TieGroups(x)
        self.order = self.groups.order
        self._conditions = rows[self.order].int(), cols[self.order].int()
        self.buffers = Buffers()
        self._ties = []
        for row in range(len(x)):
            first, last = self.groups.first[row], self.groups.last[row]
            positions = torch.nonzero(last > first)[:, 0]
            first, last = first[positions], last[positions]
            self._ties.append((positions, (first - 1).clamp_(min=0), first == 0, last, positions == first))

    def _accumulate(self, row: int, counts: torch.Tensor) -> tuple:
        """Multiplicities at the sorted positions of vector ``row`` and their inclusive cumulative sums."""
        first, second = self._conditions
        shape = (len(counts), len(first[row]))
        weights = torch.index_select(counts, 1, first[row], out=self.buffers.get("weights", shape, counts))
        weights.mul_(torch.index_select(counts, 1, second[row], out=self.buffers.get("second", shape, counts)))
        return weights, torch.cumsum(weights, dim=1, out=self.buffers.get("through", shape, counts))

    def _tie_groups(self, row: int, weights, through, total, cubes) -> tuple:
        """The tied sorted positions of vector ``row``, their centred group ranks (n_samples, n_tied)
        and the sums of cubed multiplicities over tie groups instead of entries."""
        positions, before_index, starts_at_zero, last, group_starts = self._ties[row]
        before = through.index_select(1, before_index).masked_fill_(starts_at_zero, 0)
        after = through.index_select(1, last)
        group = (after - before)[:, group_starts].double()
        tied = weights.index_select(1, positions).double()
        cubes = cubes - (tied * tied * tied).sum(dim=1) + (group * group * group).sum(dim=1)
        return positions, before.add_(after).sub_(total).mul_(0.5), cubes

    def centred(self, row: int, counts: torch.Tensor, total: torch.Tensor, cubes: torch.Tensor) -> tuple:
        """Ranks minus the mean rank, at the sorted positions of vector ``row``.

        Parameters
        ----------
        row : int
        counts : tensor of shape (n_samples, n_conditions), floating
        total : tensor of shape (n_samples, 1)
            Number of entries of each resampled vector, ``N``: the sum of the multiplicities.
        cubes : tensor of shape (n_samples,), float64
            Sum of the cubed multiplicities of all entries.

        Returns
        -------
        weights : tensor of shape (n_samples, n_pairs)
            Multiplicities at the sorted positions.
        ranks : tensor of shape (n_samples, n_pairs)
            ``rank - (N + 1) / 2`` of the copies at each sorted position.
        squares : tensor of shape (n_samples,), float64
            Sum over all copies of the squared centred ranks, ``(N^3 - sum_g W_g^3) / 12``
            over the tie groups ``g`` (copies of one entry included) of total multiplicity ``W_g``.
        """
        weights, through = self._accumulate(row, counts)
        positions = self._ties[row][0]
        if len(positions):
            positions, tied_ranks, cubes = self._tie_groups(row, weights, through, total, cubes)
        ranks = through.sub_(weights, alpha=0.5).sub_(total, alpha=0.5)
        if len(positions):
            ranks.index_copy_(1, positions, tied_ranks)
        return weights, ranks, (total[:, 0].double() ** 3 - cubes) / 12

    def products(self, row: int, counts, total, cubes, values, sums, sums_weighted) -> tuple:
        """Sums over entries of ``values`` times the centred ranks of vector ``row``.

        Away from ties the centred rank at a sorted position is ``through - w / 2 - N / 2``
        (``through``: the cumulative multiplicity, ``w``: the multiplicity), so the sum needs
        the values times ``through`` and order-free sums of the values; tied positions are
        then corrected.

        Parameters
        ----------
        row, counts, total, cubes
            As in :meth:`centred`.
        values : tensor of shape (n_values, n_samples, n_pairs)
            In the original entry order.
        sums, sums_weighted : tensor of shape (n_values, n_samples)
            Sums over entries of ``values`` and of ``values`` times the multiplicities.

        Returns
        -------
        products : tensor of shape (n_samples, n_values)
        squares : tensor of shape (n_samples,), float64
            As in :meth:`centred`.
        """
        weights, through = self._accumulate(row, counts)
        n_values, n_samples, n_pairs = values.shape
        in_order = torch.index_select(values.view(-1, n_pairs), 1, self.order[row],
                                      out=self.buffers.get("in_order", (n_values * n_samples, n_pairs), values))
        in_order = in_order.view(n_values, n_samples, n_pairs)
        positions = self._ties[row][0]
        tied_values = in_order.index_select(2, positions) if len(positions) else None
        products = in_order.mul_(through).sum(dim=2) - sums_weighted / 2 - sums * total[:, 0] / 2
        if len(positions):
            positions, tied_ranks, cubes = self._tie_groups(row, weights, through, total, cubes)
            untied_ranks = through.index_select(1, positions) - weights.index_select(1, positions) / 2 - total / 2
            products += tied_values.mul_(tied_ranks - untied_ranks).sum(dim=2)
        return products.T, (total[:, 0].double() ** 3 - cubes) / 12
