"""RDM comparison: every RDM of one set against every RDM of another, in one call.

Definitions follow rsatoolbox 0.3.2 (``rsatoolbox.rdm.compare``):

======================  ==================  ============================================
ours                    rsatoolbox          definition
======================  ==================  ============================================
``pearson``             ``corr``            Pearson r of the upper-triangle vectors
``spearman``            ``spearman``        Pearson r of their ranks (ties averaged)
``kendall_tau_a``       ``tau-a``           (concordant - discordant) / all pairs
``cosine``              ``cosine``          cosine of the vectors
``whitened_cosine``     ``cosine_cov``      cosine after whitening by the RDM covariance
                                            under iid pattern noise (``sigma_k=None``)
``whitened_pearson``    ``corr_cov``        the same after subtracting each vector's mean
======================  ==================  ============================================

Kendall's tau-a is by far the slowest: a merge sort of every pair of RDMs (and of
every bootstrap sample or permutation), O(n_pairs log^2 n_pairs) operations each.

A comparison can also be evaluated on resampled conditions (bootstrap): a sample
is given by how often each condition was drawn. As in rsatoolbox, the resampled
RDM keeps every pair of drawn copies of two different conditions and drops the
pairs between copies of the same condition; the entry for conditions (i, j)
therefore occurs ``counts[i] * counts[j]`` times, and the comparison is computed
with these multiplicities without writing the resampled RDMs out.
"""

from __future__ import annotations

import torch

from braindecode._devices import resolve_device, resolve_dtype
from braindecode.compare._checks import (
    as_tensor,
    check_choice,
    check_not_constant,
    like,
    n_conditions_from_pairs,
)
from braindecode.compare._kendall import tau_a
from braindecode.compare._ranks import SampleWeights, TieGroups
from braindecode.compare._rdm import pair_indices, vector_to_rdm
from braindecode.errors import InvalidArgument

COMPARISON_METHODS = ("pearson", "spearman", "kendall_tau_a", "cosine", "whitened_cosine", "whitened_pearson")

# Elements of the largest temporary a comparison may allocate at once.
_CHUNK_ELEMENTS = 1 << 25


def _safe_ratio(numerator, norm_a, norm_b, reference_a, reference_b):
    """numerator / sqrt(norm_a * norm_b); 0 where a norm is rounding noise (a constant
    resampled vector), as rsatoolbox returns 0 for a zero-length vector."""
    tol = 1e3 * torch.finfo(numerator.dtype).eps
    ok_a = norm_a > tol * reference_a
    ok_b = norm_b > tol * reference_b
    ok = ok_a[..., :, None] & ok_b[..., None, :]
    denominator = torch.sqrt(
        torch.where(ok_a, norm_a, 1)[..., :, None] * torch.where(ok_b, norm_b, 1)[..., None, :]
    )
    return torch.where(ok, numerator / denominator, 0)


def _unit(vectors: torch.Tensor) -> torch.Tensor:
    return vectors / torch.linalg.vector_norm(vectors, dim=-1, keepdim=True)


def _weighted_correlation(a, b, moments, weights, centre: bool):
    """Weighted Pearson r (or cosine when ``centre`` is False) of rows of ``a`` (n_a, P)
    against rows of ``b`` (n_b, P) for each row of ``weights`` (n_samples, P);
    ``moments`` stacks ``a``, ``b``, ``a**2`` and ``b**2``."""
    n_a, n_b = len(a), len(b)
    s_ab = (weights[:, None, :] * a) @ b.T
    s_a, s_b, s_aa, s_bb = (weights @ moments.T).split([n_a, n_b, n_a, n_b], dim=-1)
    reference_a, reference_b = s_aa, s_bb
    if centre:
        total = weights.sum(dim=-1, keepdim=True)
        s_ab = s_ab - s_a[:, :, None] * s_b[:, None, :] / total[:, :, None]
        s_aa = s_aa - s_a * s_a / total
        s_bb = s_bb - s_b * s_b / total
    return _safe_ratio(s_ab, s_aa, s_bb, reference_a, reference_b)


class _Comparer:
    """Scores of each row of ``a`` (n_a, n_pairs) against each row of ``b`` (n_b, n_pairs).

    Calling it with ``counts`` of shape (n_samples, n_conditions) evaluates the
    comparison on those resampled conditions: (n_samples, n_a, n_b); without, on
    the RDMs as given: (n_a, n_b). Subclasses define ``plain()``, ``resampled(counts)``
    and ``sample_cost()``, the tensor elements a resampled evaluation allocates per
    sample (to size chunks).
    """

    def __init__(self, a: torch.Tensor, b: torch.Tensor):
        self.a, self.b = a, b
        self.n_conditions = n_conditions_from_pairs(a.shape[-1], "RDMs")
        self.rows, self.cols = pair_indices(self.n_conditions, a.device)

    def pair_counts(self, counts: torch.Tensor) -> torch.Tensor:
        """Multiplicity of each RDM entry, (n_samples, n_pairs), for condition counts."""
        return counts[:, self.rows] * counts[:, self.cols]

    def __call__(self, counts: torch.Tensor | None = None) -> torch.Tensor:
        if counts is None:
            return self.plain()
        scores = self.resampled(counts)
        too_few = (counts > 0).sum(dim=-1) < 3
        return torch.where(too_few[:, None, None], torch.nan, scores)


class _Correlation(_Comparer):
    def __init__(self, a, b, centre: bool):
        super().__init__(a, b)
        self.centre = centre
        if centre:
            a, b = a - a.mean(dim=-1, keepdim=True), b - b.mean(dim=-1, keepdim=True)
        self.a_unit, self.b_unit = _unit(a), _unit(b)
        self.moments = torch.cat([self.a_unit, self.b_unit, self.a_unit**2, self.b_unit**2])

    def plain(self):
        return self.a_unit @ self.b_unit.T

    def sample_cost(self):
        return self.a.shape[-1] * (len(self.a) + 2)

    def resampled(self, counts):
        weights = self.pair_counts(counts.to(self.a.dtype))
        return _weighted_correlation(self.a_unit, self.b_unit, self.moments, weights, self.centre)


class _Spearman(_Comparer):
    """Pearson r of ranks. On resampled conditions every RDM is re-ranked per sample
    from its fixed sort order (cumulative multiplicities along it)."""

    def __init__(self, a, b):
        super().__init__(a, b)
        self.groups = TieGroups(torch.cat([a, b]))
        ranks = self.groups.ranks(a.dtype)
        self.ranked = _Correlation(ranks[: len(a)], ranks[len(a):], centre=True)

    def plain(self):
        return self.ranked.plain()

    def sample_cost(self):
        return self.a.shape[-1] * (len(self.a) + 4)

    def resampled(self, counts):
        n_a, n_b, n_pairs, n_samples = len(self.a), len(self.b), self.a.shape[-1], len(counts)
        weights = SampleWeights(self.pair_counts(counts.to(self.a.dtype)))
        ranks_a, squares_a = self.groups.weighted_ranks(weights, slice(0, n_a))
        inverse = self.groups.inverse[:n_a].expand(ranks_a.shape)
        weighted_a = ranks_a.gather(-1, inverse) * weights.values[:, None, :]
        # sum_p w_p r_a(p) r_b(p), with r_b = through - w / 2 (+ tie corrections) up to a
        # constant that drops out because the weighted r_a sum to zero
        half_squares = torch.einsum("sp,sip->si", weights.values, weighted_a)[:, :, None] / 2
        weighted_a = weighted_a[:, :, None, :]
        per_chunk = max(1, _CHUNK_ELEMENTS // (n_pairs * n_samples * (n_a + 4)))
        s_ab, squares_b = [], []
        for start in range(n_a, n_a + n_b, per_chunk):
            rows = slice(start, min(start + per_chunk, n_a + n_b))
            cumsum = self.groups.weighted_cumsum(weights, rows)
            shape = (n_samples, n_a) + cumsum.through.shape[1:]
            in_b_order = weighted_a.expand(shape).gather(-1, self.groups.order[rows].expand(shape))
            products = torch.einsum("sirp,srp->sir", in_b_order, cumsum.through) - half_squares
            tied = in_b_order.reshape(n_samples, n_a, -1).index_select(-1, cumsum.tied)
            s_ab.append(products.index_add_(2, cumsum.tied_row, tied * cumsum.correction[:, None, :]))
            squares_b.append(cumsum.squares)
        reference = weights.total**3 / 12
        return _safe_ratio(torch.cat(s_ab, dim=-1), squares_a, torch.cat(squares_b, dim=-1), reference, reference)


class _KendallTauA(_Comparer):
    def _scores(self, weights):
        n_a, n_b = len(self.a), len(self.b)
        index_a = torch.arange(n_a, device=self.a.device).repeat_interleave(n_b)
        index_b = torch.arange(n_b, device=self.a.device).repeat(n_a)
        n_samples = 1 if weights is None else len(weights)
        per_chunk = max(1, _CHUNK_ELEMENTS // (8 * n_samples * self.a.shape[-1]))
        scores = [
            tau_a(self.a[index_a[start:start + per_chunk]], self.b[index_b[start:start + per_chunk]], weights)
            for start in range(0, n_a * n_b, per_chunk)
        ]
        return torch.cat(scores, dim=-1).reshape(scores[0].shape[:-1] + (n_a, n_b))

    def plain(self):
        return self._scores(None)

    def sample_cost(self):
        return self.a.shape[-1] * 8

    def resampled(self, counts):
        return self._scores(self.pair_counts(counts.to(torch.int64)))


class _Whitened(_Comparer):
    """Cosine (or Pearson) after whitening by the RDM covariance under iid noise.

    rsatoolbox writes the RDM as the double-centred second-moment matrix
    G = -H D H / 2 (off-diagonal entries weighted by sqrt 2) and takes cosines of
    those. With entries missing (resampled duplicates) it projects out row and
    column effects by least squares; the inner product of two projected vectors is
    ``0.5 * sum_pairs w * d1 * d2 - 0.25 * u1 . A^-1 u2`` where ``u`` are the
    weighted row sums and ``A`` the normal-equation matrix of the row effects.
    Copies of one condition share their effect, so ``A`` reduces to
    ``diag(n/2 + 1 - c) + 0.5 * 1 c^T`` over conditions, solved in closed form.
    """

    def __init__(self, a, b, centre: bool):
        super().__init__(a, b)
        self.centre = centre
        self.moments = torch.cat([a, b, a * a, b * b])
        self.squares_a, self.squares_b = vector_to_rdm(a), vector_to_rdm(b)

    def sample_cost(self):
        return self.a.shape[-1] * (len(self.a) + 2) + 3 * self.n_conditions * (len(self.a) + len(self.b))

    def _effects(self, row_sums, counts):
        """Solve (diag(alpha) + 0.5 * 1 c^T) z = u per sample and RDM; alpha = n/2 + 1 - c.

        The matrix is positive definite; at most one condition (drawn more than half
        of the times) can have alpha == 0, then its equation fixes c^T z = 2 u_k.
        """
        total = counts.sum(dim=-1, keepdim=True)
        alpha = (total / 2 + 1 - counts)[:, None, :]
        weights = counts[:, None, :]
        singular = (alpha == 0) & (weights > 0)
        has_singular = singular.any(dim=-1, keepdim=True)
        safe_alpha = torch.where(singular, 1, alpha)
        regular_weights = torch.where(singular, 0, weights / safe_alpha)
        regular = (regular_weights * row_sums).sum(-1, keepdim=True) / (1 + 0.5 * regular_weights.sum(-1, keepdim=True))
        pinned = 2 * torch.where(singular, row_sums, 0).sum(dim=-1, keepdim=True)
        weighted_total = torch.where(has_singular, pinned, regular)
        effects = (row_sums - 0.5 * weighted_total) / safe_alpha
        rest = torch.where(singular, 0, weights * effects).sum(dim=-1, keepdim=True)
        pinned_effect = (weighted_total - rest) / torch.where(singular, weights, 1)
        return torch.where(singular, pinned_effect, effects)

    def _scores(self, counts):
        """Whitened scores (n_samples, n_a, n_b) for condition counts (n_samples, n_conditions)."""
        counts = counts.to(self.a.dtype)
        n_a, n_b = len(self.a), len(self.b)
        weights = self.pair_counts(counts)
        cross = (weights[:, None, :] * self.a) @ self.b.T
        sum_a, sum_b, square_a, square_b = (weights @ self.moments.T).split([n_a, n_b, n_a, n_b], dim=-1)
        reference_a, reference_b = 0.5 * square_a, 0.5 * square_b
        rows_a = torch.einsum("sk,rkl->srl", counts, self.squares_a)
        rows_b = torch.einsum("sk,rkl->srl", counts, self.squares_b)
        if self.centre:
            # subtract each resampled vector's mean from its entries (not from the diagonal)
            total = weights.sum(dim=-1, keepdim=True)
            mean_a, mean_b = sum_a / total, sum_b / total
            cross = (
                cross - mean_a[:, :, None] * sum_b[:, None, :] - sum_a[:, :, None] * mean_b[:, None, :]
                + mean_a[:, :, None] * mean_b[:, None, :] * total[:, :, None]
            )
            square_a = square_a - mean_a * sum_a
            square_b = square_b - mean_b * sum_b
            others = (counts.sum(dim=-1, keepdim=True) - counts)[:, None, :]
            rows_a = rows_a - mean_a[:, :, None] * others
            rows_b = rows_b - mean_b[:, :, None] * others
        effects_a, effects_b = self._effects(rows_a, counts), self._effects(rows_b, counts)
        inner = 0.5 * cross - 0.25 * torch.einsum("sk,sik,sjk->sij", counts, rows_a, effects_b)
        norm_a = 0.5 * square_a - 0.25 * torch.einsum("sk,sik,sik->si", counts, rows_a, effects_a)
        norm_b = 0.5 * square_b - 0.25 * torch.einsum("sk,sik,sik->si", counts, rows_b, effects_b)
        return _safe_ratio(inner, norm_a, norm_b, reference_a, reference_b)

    def plain(self):
        counts = torch.ones((1, self.n_conditions), dtype=self.a.dtype, device=self.a.device)
        return self._scores(counts)[0]

    def resampled(self, counts):
        return self._scores(counts)


def make_comparer(method: str, a: torch.Tensor, b: torch.Tensor) -> _Comparer:
    """A callable scoring RDM vectors ``a`` (n_a, n_pairs) against ``b`` (n_b, n_pairs)."""
    check_choice(method, COMPARISON_METHODS, "comparison method")
    if method in ("pearson", "cosine"):
        return _Correlation(a, b, centre=method == "pearson")
    if method == "spearman":
        return _Spearman(a, b)
    if method == "kendall_tau_a":
        return _KendallTauA(a, b)
    return _Whitened(a, b, centre=method == "whitened_pearson")


def rdm_vectors(vectors, name: str, dtype, device) -> torch.Tensor:
    """Validated RDM vectors (n_rdms, n_pairs): finite, triangular length, not constant."""
    tensor = as_tensor(vectors, name, dtype, device, ndims=(1, 2))
    tensor = tensor if tensor.ndim == 2 else tensor[None]
    n_conditions_from_pairs(tensor.shape[-1], name)
    check_not_constant(tensor, name)
    return tensor


def check_same_conditions(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    if a.shape[-1] != b.shape[-1]:
        n_a = n_conditions_from_pairs(a.shape[-1], name_a)
        n_b = n_conditions_from_pairs(b.shape[-1], name_b)
        raise InvalidArgument(f"condition counts differ: {n_a} in {name_a}, {n_b} in {name_b}")


def compare_rdms(a, b, method: str = "pearson", device="cpu", dtype="float32"):
    """Compare every RDM of ``a`` with every RDM of ``b``.

    Parameters
    ----------
    a : array of shape (n_a, n_pairs) or (n_pairs,)
        Upper-triangle RDM vectors (:func:`rdm_to_vector`).
    b : array of shape (n_b, n_pairs) or (n_pairs,)
    method : {"pearson", "spearman", "kendall_tau_a", "cosine", "whitened_cosine", "whitened_pearson"}
        See the module docstring for the definitions (rsatoolbox's).
    device : str or torch.device
    dtype : {"float32", "float64"}

    Returns
    -------
    scores : array of shape (n_a, n_b)
    """
    check_choice(method, COMPARISON_METHODS, "comparison method")
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    tensor_a = rdm_vectors(a, "a", dtype, device)
    tensor_b = rdm_vectors(b, "b", dtype, device)
    check_same_conditions(tensor_a, tensor_b, "a", "b")
    return like(make_comparer(method, tensor_a, tensor_b)(), a)
