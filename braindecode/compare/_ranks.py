"""Tie-aware ranks of batched vectors, plain or with integer weights (resampled entries)."""

from __future__ import annotations

import torch


class TieGroups:
    """Sorting and tie structure of the rows of ``x`` (n_rows, n_entries).

    Attributes
    ----------
    order : tensor of shape (n_rows, n_entries)
        Stable ascending sort order of each row.
    group : tensor of shape (n_rows, n_entries)
        Index of each entry's tie group (groups numbered in ascending value order).
    first, last : tensor of shape (n_rows, n_entries)
        Sorted positions of the first and last member of each group; only the first
        ``n_groups`` columns of a row are meaningful, the rest repeat the last group.
    """

    def __init__(self, x: torch.Tensor):
        values, self.order = torch.sort(x, dim=-1, stable=True)
        new = torch.ones_like(values, dtype=torch.bool)
        new[..., 1:] = values[..., 1:] != values[..., :-1]
        group_sorted = new.long().cumsum(dim=-1) - 1
        positions = torch.arange(x.shape[-1], device=x.device).expand_as(group_sorted)
        self.first = torch.zeros_like(group_sorted).scatter_reduce_(
            -1, group_sorted, positions, "amin", include_self=False
        )
        self.last = torch.zeros_like(group_sorted).scatter_reduce_(
            -1, group_sorted, positions, "amax", include_self=False
        )
        n_groups = group_sorted[..., -1:] + 1
        unused = positions >= n_groups
        self.first = torch.where(unused, self.first.gather(-1, n_groups - 1), self.first)
        self.last = torch.where(unused, self.last.gather(-1, n_groups - 1), self.last)
        self.group = torch.empty_like(group_sorted).scatter_(-1, self.order, group_sorted)

    def ranks(self, dtype) -> torch.Tensor:
        """Average ranks (1-based, as ``scipy.stats.rankdata``), shape (n_rows, n_entries)."""
        mean_position = (self.first + self.last).to(dtype) / 2 + 1
        return mean_position.gather(-1, self.group)

    def weighted_ranks(self, sorted_weights: torch.Tensor, dtype) -> torch.Tensor:
        """Average ranks when entry ``k`` occurs ``w[..., k]`` times.

        Parameters
        ----------
        sorted_weights : tensor of shape (n_samples, n_rows, n_entries), integer
            The multiplicities, given in sorted order (``w.gather(-1, order)``).

        Returns
        -------
        ranks : tensor of shape (n_samples, n_rows, n_entries)
            In the original entry order: the rank each copy of an entry gets in the
            vector with the repeats written out (ties averaged). Entries with zero
            weight get the rank they would have and carry no weight.
        """
        cumulative = torch.nn.functional.pad(sorted_weights.cumsum(dim=-1), (1, 0))
        before = cumulative.gather(-1, self.first.expand_as(sorted_weights))
        through = cumulative.gather(-1, self.last.expand_as(sorted_weights) + 1)
        group_ranks = (before + through + 1).to(dtype) / 2
        return group_ranks.gather(-1, self.group.expand_as(sorted_weights))
