"""Tie-aware ranks of batched vectors, plain or with integer weights (resampled entries)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


class TieGroups:
    """Sorting and tie structure of the rows of ``x`` (n_rows, n_entries).

    Attributes
    ----------
    order : tensor of shape (n_rows, n_entries)
        Stable ascending sort order of each row (original index at each sorted position).
    inverse : tensor of shape (n_rows, n_entries)
        Sorted position of each original entry.
    group : tensor of shape (n_rows, n_entries)
        Tie group at each sorted position (groups numbered in ascending value order).
    last : tensor of shape (n_rows, n_entries)
        Sorted position of the last member of each group; only the first ``n_groups``
        columns of a row are meaningful, the rest repeat the last group's.

    Tied sorted positions (members of groups of two or more) are also listed
    sparsely, as flat indices ``row * n_entries + position``, because they are
    usually few: ``tied`` (every tied position), ``tied_first`` and ``tied_last``
    (the first and last position of its group), ``tied_row``; and per group:
    ``group_first``, ``group_last``, ``group_row``.
    """

    def __init__(self, x: torch.Tensor):
        n_rows, n = x.shape
        values, self.order = torch.sort(x, dim=-1, stable=True)
        new = torch.ones_like(values, dtype=torch.bool)
        new[..., 1:] = values[..., 1:] != values[..., :-1]
        self.group = new.long().cumsum(dim=-1) - 1
        positions = torch.arange(n, device=x.device).expand_as(self.group)
        self.last = torch.full_like(self.group, n - 1).scatter_reduce_(
            -1, self.group, positions, "amax", include_self=False
        )
        self.inverse = torch.empty_like(self.order).scatter_(-1, self.order, positions)
        first = torch.nn.functional.pad(self.last[..., :-1] + 1, (1, 0))
        first_at, last_at = first.gather(-1, self.group), self.last.gather(-1, self.group)
        offsets = (torch.arange(n_rows, device=x.device) * n)[:, None]
        tied = last_at > first_at
        self.tied = torch.nonzero(tied.reshape(-1))[:, 0]
        self.tied_first = (first_at + offsets).reshape(-1)[self.tied]
        self.tied_last = (last_at + offsets).reshape(-1)[self.tied]
        self.tied_row = self.tied // n
        starts = (tied & (positions == first_at)).reshape(-1)
        self.group_first = self.tied_first[starts[self.tied]]
        self.group_last = self.tied_last[starts[self.tied]]
        self.group_row = self.group_first // n

    def ranks(self, dtype) -> torch.Tensor:
        """Average ranks (1-based, as ``scipy.stats.rankdata``), shape (n_rows, n_entries)."""
        first = torch.nn.functional.pad(self.last[..., :-1] + 1, (1, 0))
        mean_position = (first + self.last).to(dtype) / 2 + 1
        return mean_position.gather(-1, self.group).gather(-1, self.inverse)

    def weighted_cumsum(self, weights: "SampleWeights", rows: slice) -> "WeightedCumsum":
        """Cumulative multiplicities along the sort order of the chosen rows.

        Parameters
        ----------
        weights : SampleWeights
            Multiplicities of the entries (n_samples, n_entries), in the original
            entry order, shared by all rows.
        rows : slice
            The rows (``step`` 1).

        Returns
        -------
        WeightedCumsum
        """
        order = self.order[rows]
        n_samples, (n_rows, n) = len(weights.values), order.shape
        shape = (n_samples, n_rows, n)
        sorted_weights = weights.compact[:, None, :].expand(shape).gather(-1, order.expand(shape))
        sorted_weights = sorted_weights.to(weights.values.dtype)
        through = sorted_weights.cumsum(dim=-1)
        cubes = weights.cubes.expand(n_samples, n_rows).clone()
        bounds = torch.tensor([rows.start, rows.stop], device=order.device)
        chosen = slice(*torch.searchsorted(self.tied_row, bounds).tolist())
        shift = rows.start * n
        members, member_rows = self.tied[chosen] - shift, self.tied_row[chosen] - rows.start
        flat_through, flat_weights = through.view(n_samples, -1), sorted_weights.view(n_samples, -1)
        first, last = self.tied_first[chosen] - shift, self.tied_last[chosen] - shift
        # a tied copy's rank is its group's mean rank, not its own (weight before + (w + 1) / 2)
        correction = (
            flat_through.index_select(1, last) + flat_through.index_select(1, first)
            - flat_weights.index_select(1, first) - 2 * flat_through.index_select(1, members)
            + flat_weights.index_select(1, members)
        ) / 2
        cubes.index_add_(1, member_rows, -(flat_weights.index_select(1, members) ** 3))
        in_rows = (self.group_row >= rows.start) & (self.group_row < rows.stop)
        group_first, group_last = self.group_first[in_rows] - shift, self.group_last[in_rows] - shift
        group_weights = (
            flat_through.index_select(1, group_last) - flat_through.index_select(1, group_first)
            + flat_weights.index_select(1, group_first)
        )
        cubes.index_add_(1, self.group_row[in_rows] - rows.start, group_weights**3)
        return WeightedCumsum(sorted_weights, through, (weights.total**3 - cubes) / 12, members, member_rows, correction)

    def weighted_ranks(self, weights: "SampleWeights", rows: slice) -> tuple:
        """Centred average ranks, in sorted order, when entries occur several times.

        Returns
        -------
        ranks : tensor of shape (n_samples, n_selected_rows, n_entries)
            The rank each copy of an entry gets in the vector with the repeats written
            out (ties averaged), minus the mean rank (N + 1) / 2 (N: total weight), at
            each sorted position. Entries with zero weight get the rank they would
            have and carry no weight.
        squares : tensor of shape (n_samples, n_selected_rows)
            See :class:`WeightedCumsum`.
        """
        cumsum = self.weighted_cumsum(weights, rows)
        ranks = torch.sub(cumsum.through, cumsum.sorted_weights, alpha=0.5).sub_(weights.total[..., None] / 2)
        ranks.view(len(ranks), -1).index_add_(1, cumsum.tied, cumsum.correction)
        return ranks, cumsum.squares


@dataclass
class WeightedCumsum:
    """Cumulative multiplicities of rows' entries along their sort orders.

    The rank of a copy of an untied entry at sorted position k is
    ``through[k] - sorted_weights[k] / 2 + 1 / 2``; tied entries get their group's mean
    rank, which ``correction`` adds at their flat positions.

    Attributes
    ----------
    sorted_weights, through : tensor of shape (n_samples, n_rows, n_entries)
        Multiplicities in sorted order and their inclusive cumulative sums.
    squares : tensor of shape (n_samples, n_rows)
        Sum over all copies of the squared centred ranks,
        (N^3 - sum over tie groups of W^3) / 12.
    tied, tied_row : tensor of shape (n_tied,)
        Flat positions ``row * n_entries + k`` of tied entries and their rows.
    correction : tensor of shape (n_samples, n_tied)
        Group mean rank minus the untied formula, at those positions.
    """

    sorted_weights: torch.Tensor
    through: torch.Tensor
    squares: torch.Tensor
    tied: torch.Tensor
    tied_row: torch.Tensor
    correction: torch.Tensor


class SampleWeights:
    """Multiplicities of vector entries in resampled vectors, with the sums ranks need.

    Parameters
    ----------
    values : tensor of shape (n_samples, n_entries)
        Non-negative integer values in a floating dtype.

    Attributes
    ----------
    compact : tensor of shape (n_samples, n_entries)
        The same values in the smallest integer dtype that holds them (cheaper gathers).
    total, cubes : tensor of shape (n_samples, 1)
        Sums of the values and of their cubes.
    """

    def __init__(self, values: torch.Tensor):
        self.values = values
        largest = float(values.max())
        self.compact = values.to(torch.uint8 if largest < 2**8 else torch.int16 if largest < 2**15 else torch.int32)
        self.total = values.sum(dim=-1, keepdim=True)
        self.cubes = (values * values * values).sum(dim=-1, keepdim=True)
