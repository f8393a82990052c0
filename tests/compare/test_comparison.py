import numpy as np
import pytest
import rsatoolbox
import torch

from braindecode.compare import COMPARISON_METHODS, compare_rdms
from braindecode.compare._comparison import make_comparer
from braindecode.errors import InvalidArgument

N_CONDITIONS = 12
N_PAIRS = N_CONDITIONS * (N_CONDITIONS - 1) // 2


@pytest.fixture
def rdm_sets(rng):
    """Two sets of RDM vectors; one of the second set has many ties (a coarse model)."""
    a = rng.random((3, N_PAIRS))
    b = rng.random((4, N_PAIRS)) + 0.5 * a[:1]
    b[1] = np.round(b[1] * 3)
    return a, b


def _rdms(vectors):
    return rsatoolbox.rdm.RDMs(vectors, pattern_descriptors={"index": np.arange(N_CONDITIONS)})


@pytest.mark.parametrize("method", COMPARISON_METHODS)
def test_matches_rsatoolbox_compare(rdm_sets, method, rsatoolbox_name):
    a, b = rdm_sets
    expected = rsatoolbox.rdm.compare(_rdms(a), _rdms(b), method=rsatoolbox_name[method])
    got = compare_rdms(a, b, method, dtype="float64")
    assert got.shape == (3, 4)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("method", COMPARISON_METHODS)
@pytest.mark.parametrize(
    "drawn",
    [
        [0, 1, 2, 2, 2, 2, 4, 7, 7, 7, 8, 9],
        # condition 3 drawn n/2 + 1 times: the whitening's row-effect system is singular there
        [3, 3, 3, 3, 3, 3, 3, 1, 2, 5, 9, 11],
    ],
)
def test_resampled_conditions_match_rsatoolbox_subsample_pattern(rdm_sets, method, drawn, rsatoolbox_name):
    a, b = rdm_sets
    expected = rsatoolbox.rdm.compare(
        _rdms(a).subsample_pattern("index", drawn), _rdms(b).subsample_pattern("index", drawn),
        method=rsatoolbox_name[method],
    )
    counts = torch.bincount(torch.tensor(drawn), minlength=N_CONDITIONS)[None]
    got = make_comparer(method, torch.from_numpy(a), torch.from_numpy(b))(counts)[0].numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("method", COMPARISON_METHODS)
def test_resampling_with_every_condition_once_equals_plain(rdm_sets, method):
    a, b = (torch.from_numpy(x) for x in rdm_sets)
    comparer = make_comparer(method, a, b)
    once = torch.ones((2, N_CONDITIONS), dtype=torch.int64)
    np.testing.assert_allclose(comparer(once)[1].numpy(), comparer().numpy(), rtol=1e-10, atol=1e-12)


def test_samples_with_fewer_than_three_conditions_are_nan(rdm_sets):
    a, b = (torch.from_numpy(x) for x in rdm_sets)
    counts = torch.zeros((1, N_CONDITIONS), dtype=torch.int64)
    counts[0, :2] = 6
    assert torch.isnan(make_comparer("pearson", a, b)(counts)).all()


@pytest.mark.parametrize("method", COMPARISON_METHODS)
def test_identical_rdms_score_one(rdm_sets, method):
    a, _ = rdm_sets
    np.testing.assert_allclose(np.diag(compare_rdms(a, a, method)), 1, rtol=1e-5)


def test_float32_default_and_tensor_output(rdm_sets):
    a, b = rdm_sets
    assert compare_rdms(a, b).dtype == np.float32
    scores = compare_rdms(torch.from_numpy(a), torch.from_numpy(b[0]), "spearman")
    assert isinstance(scores, torch.Tensor) and scores.shape == (3, 1)


@pytest.mark.parametrize(
    "a, b, method, message",
    [
        (np.ones((2, 10)), np.ones((2, 10)), "pearson", "RDM 0 is constant"),
        (np.arange(10.0), np.arange(15.0), "pearson", "5 in a, 6 in b"),
        (np.arange(10.0), np.arange(9.0), "pearson", "not n\\*\\(n-1\\)/2"),
        (np.array([1.0]), np.array([2.0]), "pearson", "at least 3"),
        (np.array([1.0, np.nan, 2]), np.arange(3.0), "pearson", "NaN"),
        (np.arange(3.0), np.arange(3.0), "euclid", "unknown comparison method"),
        (np.ones((2, 2, 3)), np.arange(3.0), "pearson", "1-D or 2-D"),
    ],
)
def test_bad_input(a, b, method, message):
    with pytest.raises(InvalidArgument, match=message):
        compare_rdms(a, b, method)


@pytest.mark.parametrize("method", COMPARISON_METHODS)
def test_chunked_evaluation_matches_one_chunk(rdm_sets, method, monkeypatch):
    a, b = (torch.from_numpy(x) for x in rdm_sets)
    counts = torch.randint(0, 3, (6, N_CONDITIONS), generator=torch.Generator().manual_seed(0))
    whole = make_comparer(method, a, b)(counts)
    monkeypatch.setattr("braindecode.compare._comparison._CHUNK_ELEMENTS", 64)
    np.testing.assert_allclose(make_comparer(method, a, b)(counts).numpy(), whole.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("scale", [1, 30000])  # small weights, and weights whose products pass 2^31
def test_weighted_pair_counts_match_the_written_out_counts(rng, scale):
    from braindecode.compare._kendall import _pair_counts

    x, y = rng.integers(0, 5, 37), rng.integers(0, 7, 37)  # dense keys with ties
    order = np.lexsort((y, x))
    x, y = x[order], y[order]
    joint = np.unique(x * 7 + y, return_inverse=True)[1]
    # entry p weighs counts[p] * counts[37]: the last condition is drawn once
    counts = np.concatenate([rng.integers(0, 4, (3, 37)) * scale, np.ones((3, 1), dtype=np.int64)], axis=1)
    first, second = np.arange(37, dtype=np.int32), np.full(37, 37, dtype=np.int32)
    got = np.empty((3, 5), dtype=np.int64)
    _pair_counts(x.astype(np.int32), y.astype(np.int32), joint.astype(np.int32), 7, first, second, counts, got)

    def tied(keys, weights):
        totals = np.zeros(keys.max() + 1, dtype=np.int64)
        np.add.at(totals, keys, weights)
        return sum(int(total) * (int(total) - 1) // 2 for total in totals)

    for weights, row in zip(counts[:, :37], got):
        discordant = sum(int(weights[i]) * int(weights[j]) for i in range(37) for j in range(i + 1, 37) if y[i] > y[j])
        assert row.tolist() == [int(weights.sum()), discordant, tied(x, weights), tied(y, weights), tied(joint, weights)]
