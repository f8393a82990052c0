"""Retrieval metrics by cosine similarity, batched in torch.

Paired metrics take ``queries`` and ``candidates`` whose row ``i`` belong together
(the decoded embedding of trial ``i`` and the embedding of the stimulus shown on
trial ``i``) and score the queries -> candidates direction; swap the arguments for
the other direction. Similarity ties are broken at random in expectation: a query
whose true candidate ties with ``t`` others counts as the expected hit rate of a
uniformly random order of the tied candidates, so constant predictions score chance.
"""

from __future__ import annotations

import numpy as np
import torch

from braindecode._devices import resolve_device
from braindecode.decoding._validation import check_embeddings
from braindecode.errors import InvalidArgument


def _unit_rows(values, device, name: str) -> torch.Tensor:
    arr = np.asarray(values)
    checked = check_embeddings(arr, name=name)
    data = arr if arr.dtype == np.float64 else checked
    return torch.nn.functional.normalize(torch.as_tensor(data, device=resolve_device(device)), dim=1)


def _paired(queries, candidates, device):
    q = _unit_rows(queries, device, "queries")
    c = _unit_rows(candidates, device, "candidates")
    if q.shape != c.shape:
        raise InvalidArgument(
            f"paired retrieval needs queries and candidates of the same shape, got {tuple(q.shape)} "
            f"and {tuple(c.shape)}")
    if q.shape[0] < 2:
        raise InvalidArgument("retrieval needs at least 2 query/candidate pairs")
    return q, c.to(q.dtype)


def _greater_and_tied(sims: torch.Tensor, true_cols: torch.Tensor):
    """Per row: candidates strictly more similar than the true one, and other candidates tied with it."""
    true = sims.gather(1, true_cols[:, None])
    greater = (sims > true).sum(1)
    tied = (sims == true).sum(1) - 1
    return greater, tied


def _ranks(q: torch.Tensor, c: torch.Tensor, batch_size: int):
    greater, tied = [], []
    for start in range(0, q.shape[0], batch_size):
        block = q[start:start + batch_size] @ c.T
        cols = torch.arange(start, start + block.shape[0], device=q.device)
        g, t = _greater_and_tied(block, cols)
        greater.append(g)
        tied.append(t)
    return torch.cat(greater).double(), torch.cat(tied).double()


def _hit_rate(greater: torch.Tensor, tied: torch.Tensor, k: int) -> torch.Tensor:
    """Probability that the true candidate lands in the top ``k`` under a random order of ties."""
    return ((k - greater).clamp(min=0) / (tied + 1)).clamp(max=1.0)


def _two_way(greater: torch.Tensor, tied: torch.Tensor) -> float:
    n_distractors = greater.shape[0] - 1
    return float(((n_distractors - greater - tied / 2) / n_distractors).mean())


def _mindeye(q: torch.Tensor, c: torch.Tensor, n_candidates: int, n_repeats: int, seed: int) -> tuple:
    if not 2 <= n_candidates <= q.shape[0]:
        raise InvalidArgument(
            f"n_candidates={n_candidates} needs between 2 and the {q.shape[0]} available pairs")
    if n_repeats < 1:
        raise InvalidArgument(f"n_repeats must be at least 1, got {n_repeats}")
    rng = np.random.default_rng(seed)
    cols = torch.arange(n_candidates, device=q.device)
    accuracy = []
    for _ in range(n_repeats):
        index = torch.as_tensor(rng.choice(q.shape[0], n_candidates, replace=False), device=q.device)
        greater, tied = _greater_and_tied(q[index] @ c[index].T, cols)
        accuracy.append(float(_hit_rate(greater.double(), tied.double(), 1).mean()))
    return float(np.mean(accuracy)), float(np.std(accuracy))


def _check_k(k, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise InvalidArgument(f"k must be an integer between 1 and the {n} candidates, got {k!r}")
    return int(k)


def cosine_similarity(A, B, device: str = "cpu") -> np.ndarray:
    """Cosine similarity of every row of ``A`` with every row of ``B``.

    Parameters
    ----------
    A : array of shape (n_a, n_dims)
    B : array of shape (n_b, n_dims)
    device : str
        Torch device the products run on.

    Returns
    -------
    S : array of shape (n_a, n_b), float32 (float64 for float64 inputs)
    """
    a = _unit_rows(A, device, "A")
    b = _unit_rows(B, device, "B")
    if a.shape[1] != b.shape[1]:
        raise InvalidArgument(f"A has {a.shape[1]} dimensions but B has {b.shape[1]}")
    return (a @ b.to(a.dtype).T).cpu().numpy()


def top_k_accuracy(queries, candidates, k: int = 1, batch_size: int = 1024, device: str = "cpu") -> float:
    """Fraction of queries whose own candidate is among the ``k`` most similar of all N candidates.

    Parameters
    ----------
    queries, candidates : array of shape (n_pairs, n_dims)
        Row ``i`` of ``candidates`` is the true match of row ``i`` of ``queries``.
    k : int
    batch_size : int
        Queries per similarity block (bounds memory to ``batch_size * n_pairs``).
    device : str

    Returns
    -------
    accuracy : float
        Chance is ``k / n_pairs``.
    """
    q, c = _paired(queries, candidates, device)
    k = _check_k(k, q.shape[0])
    greater, tied = _ranks(q, c, batch_size)
    return float(_hit_rate(greater, tied, k).mean())


def cosine_two_way_identification(queries, candidates, batch_size: int = 1024, device: str = "cpu") -> float:
    """Mean over queries of the fraction of distractors less cosine-similar than the true candidate.

    Ties with the true candidate count one half, so chance is 0.5 (constant queries score it).
    ``braindecode.reconstruction.pearson_two_way_identification`` is MindEye's variant on
    features: Pearson correlation, ties counted as failures, one score per prediction.

    Parameters
    ----------
    queries, candidates : array of shape (n_pairs, n_dims)
    batch_size : int
    device : str

    Returns
    -------
    score : float in [0, 1]
    """
    q, c = _paired(queries, candidates, device)
    return _two_way(*_ranks(q, c, batch_size))


def mindeye_top1(queries, candidates, n_candidates: int = 300, n_repeats: int = 30, seed: int = 0,
                 device: str = "cpu") -> tuple:
    """Top-1 retrieval among random subsets of candidates, MindEye's protocol.

    Each repeat draws ``n_candidates`` pairs without replacement; every query of the
    subset must pick its own candidate among the subset's ``n_candidates`` (its true
    one plus ``n_candidates - 1`` random others).

    Parameters
    ----------
    queries, candidates : array of shape (n_pairs, n_dims)
        ``n_pairs >= n_candidates``.
    n_candidates : int
        Candidates per retrieval (300 in MindEye; chance is ``1 / n_candidates``).
    n_repeats : int
        Random subsets (30 in MindEye).
    seed : int
        Seed of the subset draws.
    device : str

    Returns
    -------
    mean, sd : float
        Mean and standard deviation (ddof=0) of the per-repeat top-1 accuracy.
    """
    q, c = _paired(queries, candidates, device)
    return _mindeye(q, c, n_candidates, n_repeats, seed)


def retrieval_report(predicted, target, ks=(1, 5), n_candidates: int = 300, n_repeats: int = 30,
                     seed: int = 0, batch_size: int = 1024, device: str = "cpu") -> dict:
    """All retrieval metrics of decoded embeddings, in both directions.

    Parameters
    ----------
    predicted : array of shape (n_pairs, n_dims)
        Decoded (brain) embeddings.
    target : array of shape (n_pairs, n_dims)
        Embeddings of the stimuli, row ``i`` shown on trial ``i``.
    ks : sequence of int
        Top-k accuracies to report.
    n_candidates, n_repeats, seed : int
        MindEye protocol (see ``mindeye_top1``); left out when ``n_pairs < n_candidates``.
    batch_size : int
    device : str

    Returns
    -------
    report : dict
        ``{"brain_to_image": {...}, "image_to_brain": {...}, "n_pairs": n}`` where each direction
        holds ``top_<k>``, ``two_way`` and, with enough pairs, ``mindeye_top1_mean`` / ``_sd``.
    """
    p, t = _paired(predicted, target, device)
    ks = [_check_k(k, p.shape[0]) for k in ks]
    report = {"n_pairs": int(p.shape[0])}
    for name, (q, c) in {"brain_to_image": (p, t), "image_to_brain": (t, p)}.items():
        greater, tied = _ranks(q, c, batch_size)
        scores = {f"top_{k}": float(_hit_rate(greater, tied, k).mean()) for k in ks}
        scores["two_way"] = _two_way(greater, tied)
        if q.shape[0] >= n_candidates:
            mean, sd = _mindeye(q, c, n_candidates, n_repeats, seed)
            scores["mindeye_top1_mean"], scores["mindeye_top1_sd"] = mean, sd
        report[name] = scores
    return report


def retrieve(query_embeddings, candidate_embeddings, candidate_ids, k: int = 5, batch_size: int = 1024,
             device: str = "cpu"):
    """The ``k`` candidates most similar to each query, by cosine similarity.

    Parameters
    ----------
    query_embeddings : array of shape (n_queries, n_dims)
    candidate_embeddings : array of shape (n_candidates, n_dims)
    candidate_ids : array of shape (n_candidates,)
        Identifier of each candidate (e.g. stimulus ids).
    k : int
    batch_size : int
        Queries per similarity block.
    device : str

    Returns
    -------
    ids : array of shape (n_queries, k)
        Candidate ids, most similar first.
    scores : array of shape (n_queries, k), float32
        Their cosine similarities.
    """
    q = _unit_rows(query_embeddings, device, "query embeddings").float()
    c = _unit_rows(candidate_embeddings, device, "candidate embeddings").float()
    candidate_ids = np.asarray(candidate_ids)
    if q.shape[1] != c.shape[1]:
        raise InvalidArgument(
            f"query embeddings have {q.shape[1]} dimensions but candidates have {c.shape[1]}")
    if candidate_ids.shape != (c.shape[0],):
        raise InvalidArgument(f"{candidate_ids.shape} candidate ids for {c.shape[0]} candidates")
    k = _check_k(k, c.shape[0])
    scores, index = [], []
    for start in range(0, q.shape[0], batch_size):
        top = torch.topk(q[start:start + batch_size] @ c.T, k, dim=1)
        scores.append(top.values)
        index.append(top.indices)
    index = torch.cat(index).cpu().numpy()
    return candidate_ids[index], torch.cat(scores).cpu().numpy()
