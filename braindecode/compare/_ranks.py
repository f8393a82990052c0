"""Tie-aware ranks of batched vectors, plain or with resampled (repeated) entries."""

from __future__ import annotations

import math

import numba
import numpy as np
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
    """Spearman sums of RDM vectors after resampling their conditions.

    Entry (i, j) of an RDM resampled with condition counts ``c`` occurs ``c[i] * c[j]``
    times (rsatoolbox keeps every pair of drawn copies of two different conditions),
    and all copies of a tie group share their average rank in the vector with the
    repeats written out. Walking the fixed sort order of a vector, the centred rank of
    an entry's copies is the multiplicity before it plus half its own, minus half the
    number of copies ``N``: one compiled pass per sample and vector, its running sums in
    float64 (:func:`_walk_ranks`, :func:`_walk_products`). Entries tied with others
    (usually few) then get their group's rank, from the cumulative multiplicities the
    pass records before and through each group.

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
        order = self.groups.order
        self._conditions = rows[order], cols[order]
        # what a walk reads at each sorted position, as narrow as the sizes allow
        narrow = np.uint16 if len(rows) and int(max(rows.max(), cols.max())) < 2**16 else np.int32
        self._walks = [condition.cpu().numpy().astype(narrow) for condition in self._conditions]
        self._walks.append(order.int().cpu().numpy())
        self.buffers = Buffers()
        self._ties, marks = [], []
        for row in range(len(x)):
            first, last = self.groups.first[row], self.groups.last[row]
            positions = torch.nonzero(last > first)[:, 0]
            first, last = first[positions], last[positions]
            # cumulative multiplicities a tie correction reads: through each tied entry, before its
            # group and through the group's last entry
            before = (first - 1).clamp_(min=0)
            row_marks, where = torch.unique(torch.cat([positions, before, last]), return_inverse=True)
            own, before, last = where.view(3, -1)
            self._ties.append((positions, own, before, first == 0, last, positions == first))
            marks.append(row_marks)
        self._marks = torch.cat(marks).int().cpu().numpy()
        self._mark_starts = np.cumsum([0] + [len(row_marks) for row_marks in marks])

    def _walk_arguments(self, rows: slice) -> tuple:
        """The sorted conditions and entries (n_vectors, n_pairs) of ``rows``, their marks and mark bounds."""
        starts = self._mark_starts[rows.start:rows.stop + 1]
        return (*(walk[rows] for walk in self._walks), self._marks[starts[0]:starts[-1]], starts - starts[0])

    def _tie_corrections(self, row: int, counts, total, cubes, through) -> tuple:
        """Rank changes at the tied sorted positions of vector ``row``.

        Parameters
        ----------
        row : int
        counts, total, cubes
            As in :meth:`weighted_ranks`.
        through : tensor of shape (n_samples, n_marks)
            Cumulative multiplicities at the row's marks.

        Returns
        -------
        positions : tensor of shape (n_tied,)
        tied : tensor of shape (n_samples, n_tied)
            Multiplicities at those positions.
        change : tensor of shape (n_samples, n_tied)
            Group rank minus the rank the walk gave them.
        squares : tensor of shape (n_samples,), float64
            Sum over copies of the squared centred ranks, ``(N^3 - sum_g W_g^3) / 12`` over
            the tie groups ``g`` (copies of one entry included) of total multiplicity ``W_g``.
        """
        positions, own, before_mark, starts_at_zero, last, group_starts = self._ties[row]
        first, second = self._conditions
        tied = counts.index_select(1, first[row][positions]) * counts.index_select(1, second[row][positions])
        before = through.index_select(1, before_mark).masked_fill_(starts_at_zero, 0)
        after = through.index_select(1, last)
        group = (after - before)[:, group_starts].double()
        cubes = cubes - (tied.double() ** 3).sum(dim=1) + (group**3).sum(dim=1)
        walked = through.index_select(1, own) - tied / 2
        change = (before + after) / 2 - walked
        return positions, tied, change, (total[:, 0].double() ** 3 - cubes) / 12

    def weighted_ranks(self, n_rows: int, counts, total, cubes) -> tuple:
        """Multiplicities times centred ranks of the first ``n_rows`` vectors.

        Parameters
        ----------
        n_rows : int
        counts : tensor of shape (n_samples, n_conditions), floating
        total : tensor of shape (n_samples, 1)
            Number of copies ``N`` of each resampled vector: the sum of the multiplicities.
        cubes : tensor of shape (n_samples,), float64
            Sum of the cubed multiplicities of all entries.

        Returns
        -------
        values : tensor of shape (n_rows, n_samples, n_pairs)
            In the original entry order.
        sums, sums_weighted : tensor of shape (n_rows, n_samples)
            Sums over entries of ``values`` and of ``values`` times the multiplicities.
        squares : tensor of shape (n_samples, n_rows), float64
            Sums over copies of the squared centred ranks.
        """
        n_samples, n_pairs = len(counts), self._walks[2].shape[1]
        host_counts = counts.cpu()
        values = self.buffers.get("values", (n_rows, n_samples, n_pairs), host_counts)
        sums = np.empty((2, n_rows, n_samples))
        walk = self._walk_arguments(slice(0, n_rows))
        through = np.empty((n_samples, len(walk[3])))
        _walk_ranks(host_counts.numpy(), *walk, total[:, 0].double().cpu().numpy(), values.numpy(), sums, through)
        values = values.to(counts.device)
        sums, through = torch.from_numpy(sums).to(counts), torch.from_numpy(through).to(counts)
        squares = []
        for row in range(n_rows):
            if len(self._ties[row][0]):
                row_through = through[:, walk[4][row]:walk[4][row + 1]]
                positions, tied, change, row_squares = self._tie_corrections(row, counts, total, cubes, row_through)
                entries = self.groups.order[row][positions]
                values[row].index_add_(1, entries, tied * change)
                sums[0, row] += (tied * change).sum(dim=1)
                sums[1, row] += (tied * tied * change).sum(dim=1)
            else:
                row_squares = (total[:, 0].double() ** 3 - cubes) / 12
            squares.append(row_squares)
        return values, sums[0], sums[1], torch.stack(squares, dim=1)

    def products(self, start: int, counts, total, cubes, values, sums, sums_weighted) -> tuple:
        """Sums over entries of ``values`` times the centred ranks of each vector from ``start`` on.

        Parameters
        ----------
        start : int
            The first vector to rank; the ``n_rows - start`` from it on are walked.
        counts, total, cubes
            As in :meth:`weighted_ranks`.
        values, sums, sums_weighted
            As :meth:`weighted_ranks` returns them, ``values`` of shape (n_values, n_samples, n_pairs).

        Returns
        -------
        products : tensor of shape (n_samples, n_values, n_rows - start)
        squares : tensor of shape (n_samples, n_rows - start), float64
            As in :meth:`weighted_ranks`.
        """
        n_rows = len(self._ties)
        walk = self._walk_arguments(slice(start, n_rows))
        running = np.empty((len(counts), len(values), n_rows - start))
        through = np.empty((len(counts), len(walk[3])))
        _walk_products(counts.cpu().numpy(), *walk, values.cpu().numpy(), running, through)
        # away from ties: sum of values x (before + w / 2 - N / 2), the first term from the walk
        products = torch.from_numpy(running).to(sums) + (sums_weighted / 2 - sums * total[:, 0] / 2).T[:, :, None]
        through = torch.from_numpy(through).to(counts)
        squares = []
        for index, row in enumerate(range(start, n_rows)):
            if len(self._ties[row][0]):
                row_through = through[:, walk[4][index]:walk[4][index + 1]]
                positions, _, change, row_squares = self._tie_corrections(row, counts, total, cubes, row_through)
                tied_values = values.index_select(2, self.groups.order[row][positions])
                products[:, :, index] += (tied_values * change).sum(dim=2).T
            else:
                row_squares = (total[:, 0].double() ** 3 - cubes) / 12
            squares.append(row_squares)
        return products, torch.stack(squares, dim=1)


@numba.njit(cache=True, nogil=True)
def _walk_ranks(counts, first, second, order, marks, mark_starts, totals, values, sums, through):
    """Multiplicities times centred ranks of each vector, walked along its sort order.

    ``counts`` (n_samples, n_conditions) and ``totals`` (n_samples,) describe the samples;
    ``first``, ``second`` and ``order`` (n_vectors, n_pairs) give the two conditions and the
    original entry at each sorted position. Writes ``values`` (n_vectors, n_samples, n_pairs,
    original entry order), their sums and sums times the multiplicities into ``sums``
    (2, n_vectors, n_samples), and ``through`` (n_samples, n_marks): the cumulative
    multiplicity through each sorted position ``marks``, ascending per vector from
    ``mark_starts[vector]`` to ``mark_starts[vector + 1]``.
    """
    n_vectors, n_pairs = first.shape
    for sample in range(len(counts)):
        sample_counts, half_total = counts[sample], 0.5 * totals[sample]
        for vector in range(n_vectors):
            vector_first, vector_second, vector_order = first[vector], second[vector], order[vector]
            vector_values = values[vector, sample]
            mark, last_mark = mark_starts[vector], mark_starts[vector + 1]
            before, total, weighted_total = 0.0, 0.0, 0.0
            for position in range(n_pairs):
                weight = sample_counts[vector_first[position]] * sample_counts[vector_second[position]]
                value = weight * (before + 0.5 * weight - half_total)
                vector_values[vector_order[position]] = value
                total += value
                weighted_total += value * weight
                before += weight
                if mark < last_mark and marks[mark] == position:
                    through[sample, mark] = before
                    mark += 1
            sums[0, vector, sample], sums[1, vector, sample] = total, weighted_total


@numba.njit(cache=True, nogil=True)
def _walk_products(counts, first, second, order, marks, mark_starts, values, running, through):
    """Sums of values times the multiplicity before each sorted position, walked along each vector's order.

    ``counts``, ``first``, ``second``, ``order``, ``marks``, ``mark_starts`` and ``through`` as in
    :func:`_walk_ranks`; ``values`` (n_values, n_samples, n_pairs) in the original entry order.
    Writes ``running`` (n_samples, n_values, n_vectors). The vectors are the inner loop: one
    sample's values stay in the cache while every vector reads them in its own order.
    """
    n_vectors, n_pairs = first.shape
    for value_set in range(len(values)):
        for sample in range(len(counts)):
            sample_counts, sample_values = counts[sample], values[value_set, sample]
            for vector in range(n_vectors):
                vector_first, vector_second, vector_order = first[vector], second[vector], order[vector]
                mark, last_mark = mark_starts[vector], mark_starts[vector + 1]
                before, total = 0.0, 0.0
                for position in range(n_pairs):
                    total += sample_values[vector_order[position]] * before
                    before += sample_counts[vector_first[position]] * sample_counts[vector_second[position]]
                    if mark < last_mark and marks[mark] == position:
                        through[sample, mark] = before
                        mark += 1
                running[sample, value_set, vector] = total
