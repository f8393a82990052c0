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

Kendall's tau-a is by far the slowest: a Fenwick-tree count of the discordant entries
of every pair of RDMs (and of every bootstrap sample or permutation), O(n_pairs log
n_pairs) operations each.

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
from braindecode._products import matmul
from braindecode.compare._checks import (
    as_tensor,
    check_choice,
    check_not_constant,
    like,
    n_conditions_from_pairs,
)
from braindecode.compare._kendall import tau_a
from braindecode.compare._ranks import ResampledRanks
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


def weighted_sums(vectors: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Sums of RDM vectors over the entries of resampled RDMs, shape (n_samples, n_vectors).

    Entry (i, j) of a resampled RDM occurs ``c[i] * c[j]`` times, so the sum of a vector
    over it is ``sum_i c[i] sum_{j > i} v_ij c[j]``: row ``i`` of the upper triangle is a
    contiguous slice of the vector, and one matrix product per row with the counts of all
    samples gives the inner sums, without writing out square matrices or the
    (n_samples, n_pairs) multiplicities.

    Parameters
    ----------
    vectors : tensor of shape (n_vectors, n_pairs)
    counts : tensor of shape (n_samples, n_conditions)
        In the dtype of ``vectors``.
    """
    n = counts.shape[1]
    per_condition = counts.T.contiguous()  # (n_conditions, n_samples)
    sums = vectors.new_zeros((len(vectors), len(counts)))
    start = 0
    for row in range(n - 1):
        stop = start + n - 1 - row
        sums.add_(matmul(vectors[:, start:stop], per_condition[row + 1:]).mul_(per_condition[row]))
        start = stop
    return sums.T


def pair_total(counts: torch.Tensor) -> torch.Tensor:
    """Number of entries of each resampled RDM, ``sum_{i<j} c_i c_j``: shape (n_samples, 1)."""
    return (counts.sum(dim=-1, keepdim=True) ** 2 - (counts * counts).sum(dim=-1, keepdim=True)) / 2


def _weighted_correlation(a, b, moments, counts, centre: bool):
    """Weighted Pearson r (or cosine when ``centre`` is False) of rows of ``a`` (n_a, P)
    against rows of ``b`` (n_b, P) on each resampled RDM (counts (n_samples, n_conditions));
    ``moments`` stacks ``a``, ``b``, ``a**2`` and ``b**2``."""
    n_a, n_b = len(a), len(b)
    s_ab = torch.stack([weighted_sums(row * b, counts) for row in a], dim=1)
    s_a, s_b, s_aa, s_bb = weighted_sums(moments, counts).split([n_a, n_b, n_a, n_b], dim=-1)
    reference_a, reference_b = s_aa, s_bb
    if centre:
        total = pair_total(counts)
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
        return self.n_conditions * (len(self.moments) + len(self.b))

    def resampled(self, counts):
        return _weighted_correlation(self.a_unit, self.b_unit, self.moments, counts.to(self.a.dtype), self.centre)


class _Spearman(_Comparer):
    """Pearson r of ranks. On resampled conditions every RDM is re-ranked per sample
    along its fixed sort order (:class:`ResampledRanks`): the data's multiplicities times
    ranks, read in each model's order, meet the model's ranks."""

    def __init__(self, a, b):
        super().__init__(a, b)
        self.ranks = ResampledRanks(torch.cat([a, b]), self.rows, self.cols)
        ranks = self.ranks.groups.ranks(a.dtype)
        self.ranked = _Correlation(ranks[: len(a)], ranks[len(a):], centre=True)

    def plain(self):
        return self.ranked.plain()

    def sample_cost(self):
        return self.a.shape[-1]

    def resampled(self, counts):
        n_a = len(self.a)
        products, squares, totals = self.ranks.scores(counts, n_a)
        reference = (totals**3 / 12)[:, None]
        scores = _safe_ratio(products, squares[:, :n_a], squares[:, n_a:], reference, reference)
        return scores.to(self.a.device, self.a.dtype)


class _KendallTauA(_Comparer):
    """Kendall's tau-a of every pair of RDMs. On resampled conditions a pair's (x, y)
    order is built once per call and walked for all the call's samples (in chunks of
    its own), so calls take many samples: ``sample_cost`` is a fraction of the pairs."""

    def _scores(self, counts):
        n_a, n_b = len(self.a), len(self.b)
        index_a = torch.arange(n_a, device=self.a.device).repeat_interleave(n_b)
        index_b = torch.arange(n_b, device=self.a.device).repeat(n_a)
        per_chunk = max(1, _CHUNK_ELEMENTS // (8 * self.a.shape[-1]))
        scores = [
            tau_a(self.a[index_a[start:start + per_chunk]], self.b[index_b[start:start + per_chunk]], counts,
                  (self.rows, self.cols))
            for start in range(0, n_a * n_b, per_chunk)
        ]
        return torch.cat(scores, dim=-1).reshape(scores[0].shape[:-1] + (n_a, n_b))

    def plain(self):
        return self._scores(None)

    def sample_cost(self):
        return max(1, self.a.shape[-1] // 4)

    def resampled(self, counts):
        return self._scores(counts.to(torch.int64))


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
        return self.n_conditions * (len(self.moments) + len(self.b) + 3 * (len(self.a) + len(self.b)))

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
        cross = torch.stack([weighted_sums(row * self.b, counts) for row in self.a], dim=1)
        sum_a, sum_b, square_a, square_b = weighted_sums(self.moments, counts).split([n_a, n_b, n_a, n_b], dim=-1)
        reference_a, reference_b = 0.5 * square_a, 0.5 * square_b
        rows_a = torch.einsum("sk,rkl->srl", counts, self.squares_a)
        rows_b = torch.einsum("sk,rkl->srl", counts, self.squares_b)
        if self.centre:
            # subtract each resampled vector's mean from its entries (not from the diagonal)
            total = pair_total(counts)
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
