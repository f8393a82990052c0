import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score, top_k_accuracy_score

from braindecode.decoding import (
    cosine_similarity,
    cosine_two_way_identification,
    mindeye_top1,
    retrieval_report,
    retrieve,
    top_k_accuracy,
)
from braindecode.errors import InvalidArgument


def _cosine_loop(a, b):
    return np.array([[np.dot(x, y) / np.sqrt(np.dot(x, x) * np.dot(y, y)) for y in b] for x in a])


def _hit_loop(sims, i, k):
    """Top-k hit of candidate i for row i of sims, ties in random order (expected value)."""
    greater = sum(1 for j in range(len(sims)) if sims[i, j] > sims[i, i])
    tied = sum(1 for j in range(len(sims)) if j != i and sims[i, j] == sims[i, i])
    return min(max(k - greater, 0) / (tied + 1), 1.0)


def _top_k_loop(q, c, k):
    sims = _cosine_loop(q, c)
    return sum(_hit_loop(sims, i, k) for i in range(len(q))) / len(q)


def _two_way_loop(q, c):
    sims = _cosine_loop(q, c)
    per_query = []
    for i in range(len(q)):
        wins = [1.0 if sims[i, j] < sims[i, i] else 0.5 if sims[i, j] == sims[i, i] else 0.0
                for j in range(len(q)) if j != i]
        per_query.append(sum(wins) / len(wins))
    return sum(per_query) / len(per_query)


@pytest.fixture
def paired():
    rng = np.random.default_rng(1)
    c = rng.standard_normal((40, 6))
    q = c + 1.2 * rng.standard_normal((40, 6))
    return q, c


@pytest.mark.parametrize("k", [1, 3, 10])
def test_top_k_equals_brute_force_loop(paired, k):
    q, c = paired
    assert top_k_accuracy(q, c, k=k, batch_size=7) == _top_k_loop(q, c, k)
    assert top_k_accuracy(c, q, k=k, batch_size=7) == _top_k_loop(c, q, k)


@pytest.mark.parametrize("k", [1, 5])
def test_top_k_equals_scikit_learn(paired, k):
    q, c = paired
    sims = _cosine_loop(q, c)
    expected = top_k_accuracy_score(np.arange(len(q)), sims, k=k, labels=np.arange(len(q)))
    assert top_k_accuracy(q, c, k=k) == pytest.approx(expected, abs=1e-12)


def test_two_way_equals_brute_force_loop_and_auc(paired):
    q, c = paired
    assert cosine_two_way_identification(q, c, batch_size=9) == _two_way_loop(q, c)
    sims = _cosine_loop(q, c)
    aucs = [roc_auc_score(np.arange(len(q)) == i, sims[i]) for i in range(len(q))]
    assert cosine_two_way_identification(q, c) == pytest.approx(np.mean(aucs), abs=1e-12)


def test_ties_count_at_chance():
    q = np.ones((10, 3))
    c = np.random.default_rng(0).standard_normal((10, 3))
    assert top_k_accuracy(c, q, k=1) == pytest.approx(0.1)
    assert top_k_accuracy(c, q, k=4) == pytest.approx(0.4)
    assert cosine_two_way_identification(c, q) == 0.5
    assert top_k_accuracy(c, q, k=4) == pytest.approx(_top_k_loop(c, q, 4), abs=1e-12)


def test_two_way_is_one_half_on_random_data():
    rng = np.random.default_rng(2)
    q, c = rng.standard_normal((2000, 32)), rng.standard_normal((2000, 32))
    # sd of the mean is about sqrt(1/12 / 2000) ~ 0.0065
    assert cosine_two_way_identification(q, c) == pytest.approx(0.5, abs=0.02)


def test_float32_inputs_give_the_same_counts(paired):
    q, c = paired
    assert top_k_accuracy(q.astype(np.float32), c.astype(np.float32), k=3) == _top_k_loop(q, c, 3)


def test_mindeye_protocol_equals_brute_force_loop():
    rng = np.random.default_rng(3)
    c = rng.standard_normal((60, 5))
    q = c + 1.0 * rng.standard_normal((60, 5))
    mean, sd = mindeye_top1(q, c, n_candidates=20, n_repeats=7, seed=11)
    draws = np.random.default_rng(11)
    accuracies = []
    for _ in range(7):
        subset = draws.choice(60, 20, replace=False)
        accuracies.append(_top_k_loop(q[subset], c[subset], 1))
    assert mean == pytest.approx(np.mean(accuracies), abs=1e-12)
    assert sd == pytest.approx(np.std(accuracies), abs=1e-12)
    assert 0 < sd


def test_mindeye_protocol_is_at_chance_on_random_data():
    rng = np.random.default_rng(4)
    q, c = rng.standard_normal((600, 16)), rng.standard_normal((600, 16))
    mean, _ = mindeye_top1(q, c)
    assert mean < 0.02  # chance 1/300


def test_report_has_both_directions(paired):
    q, c = paired
    report = retrieval_report(q, c, ks=(1, 5), n_candidates=30, n_repeats=3)
    assert report["n_pairs"] == 40
    assert report["brain_to_image"]["top_5"] == top_k_accuracy(q, c, k=5)
    assert report["image_to_brain"]["top_1"] == top_k_accuracy(c, q, k=1)
    assert report["image_to_brain"]["two_way"] == cosine_two_way_identification(c, q)
    assert (report["brain_to_image"]["mindeye_top1_mean"], report["brain_to_image"]["mindeye_top1_sd"]) == \
        mindeye_top1(q, c, n_candidates=30, n_repeats=3)
    assert "mindeye_top1_mean" not in retrieval_report(q, c)["brain_to_image"]  # 40 < 300 pairs


def test_cosine_similarity_equals_loop(paired):
    q, c = paired
    np.testing.assert_allclose(cosine_similarity(q, c[:7]), _cosine_loop(q, c[:7]), rtol=0, atol=1e-12)
    assert cosine_similarity(q.astype(np.float32), c).dtype == np.float32


def test_retrieve_equals_argsort():
    rng = np.random.default_rng(5)
    queries, candidates = rng.standard_normal((13, 8)), rng.standard_normal((50, 8))
    ids = np.array([f"stim-{i:02d}" for i in range(50)])
    top_ids, scores = retrieve(queries, candidates, ids, k=4, batch_size=5)
    sims = _cosine_loop(queries, candidates)
    order = np.argsort(-sims, axis=1)[:, :4]
    np.testing.assert_array_equal(top_ids, ids[order])
    np.testing.assert_allclose(scores, np.take_along_axis(sims, order, 1), atol=1e-6)
    assert scores.dtype == np.float32 and top_ids.shape == (13, 4)


@pytest.mark.parametrize("call, message", [
    (lambda q, c: top_k_accuracy(q, c[:-1]), "same shape"),
    (lambda q, c: top_k_accuracy(q, c, k=0), "k must be"),
    (lambda q, c: top_k_accuracy(q, c, k=41), "k must be"),
    (lambda q, c: top_k_accuracy(q[:1], c[:1]), "at least 2"),
    (lambda q, c: cosine_two_way_identification(np.where(q > 1, np.nan, q), c), "NaN"),
    (lambda q, c: mindeye_top1(q, c), "n_candidates=300"),
    (lambda q, c: mindeye_top1(q, c, n_candidates=10, n_repeats=0), "n_repeats"),
    (lambda q, c: retrieve(q, c[:, :3], np.arange(40)), "dimensions"),
    (lambda q, c: retrieve(q, c, np.arange(39)), "candidate ids"),
    (lambda q, c: retrieve(q, c, np.arange(40), k=41), "k must be"),
    (lambda q, c: cosine_similarity(q[0], c), "2-D"),
    (lambda q, c: top_k_accuracy(q, c, device="tpu"), "unknown device"),
])
def test_bad_input(paired, call, message):
    with pytest.raises(InvalidArgument, match=message):
        call(*paired)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_equals_cpu(paired):
    q, c = paired
    assert top_k_accuracy(q, c, k=3, device="cuda") == top_k_accuracy(q, c, k=3)
    assert mindeye_top1(q, c, 20, 5, device="cuda") == pytest.approx(mindeye_top1(q, c, 20, 5))
    cpu_ids, _ = retrieve(q, c, np.arange(40), k=3)
    np.testing.assert_array_equal(retrieve(q, c, np.arange(40), k=3, device="cuda")[0], cpu_ids)
