import numpy as np
import pytest
import rsatoolbox
import scipy.stats
import torch
from rsatoolbox.util.inference_util import bootstrap_pair_tests

from braindecode.compare import (
    COMPARISON_METHODS,
    bootstrap_scores,
    compare_rdms,
    fdr_correction,
    pairwise_bootstrap_test,
    percentile_ci,
    permutation_test,
    rdm_to_vector,
    vector_to_rdm,
)
from braindecode.compare._inference import bootstrap_counts
from braindecode.errors import InvalidArgument

N_CONDITIONS = 9
N_PAIRS = 36


@pytest.fixture
def data(rng):
    """Three subject RDMs sharing a structure, and two models: one related, one not."""
    shared = rng.random(N_PAIRS)
    subjects = shared + 0.5 * rng.random((3, N_PAIRS))
    models = np.stack([shared + 0.3 * rng.random(N_PAIRS), rng.random(N_PAIRS)])
    return subjects, models


@pytest.mark.parametrize("method", COMPARISON_METHODS)
def test_condition_bootstrap_matches_rsatoolbox_resampling(data, method, rsatoolbox_name):
    subjects, models = data
    samples = bootstrap_scores(subjects, models, method, n_bootstrap=5, seed=3, dtype="float64")
    counts = bootstrap_counts(N_CONDITIONS, 5, torch.Generator().manual_seed(3)).numpy()
    descriptors = {"index": np.arange(N_CONDITIONS)}
    for sample, count in zip(samples, counts):
        drawn = np.repeat(np.arange(N_CONDITIONS), count)
        expected = rsatoolbox.rdm.compare(
            rsatoolbox.rdm.RDMs(models, pattern_descriptors=descriptors).subsample_pattern("index", drawn),
            rsatoolbox.rdm.RDMs(subjects, pattern_descriptors=descriptors).subsample_pattern("index", drawn),
            method=rsatoolbox_name[method],
        ).mean(axis=1)
        np.testing.assert_allclose(sample, expected, rtol=1e-6, atol=1e-12)


def test_subject_bootstrap_averages_resampled_subjects(data):
    subjects, models = data
    samples = bootstrap_scores(
        subjects, models, "pearson", n_bootstrap=20, resample="subjects", seed=1, dtype="float64"
    )
    counts = bootstrap_counts(3, 20, torch.Generator().manual_seed(1)).numpy()
    expected = counts @ compare_rdms(subjects, models, "pearson", dtype="float64") / 3
    np.testing.assert_allclose(samples, expected, rtol=1e-10)


def test_bootstrap_is_deterministic_under_a_seed_and_reports_progress(data):
    subjects, models = data
    fractions = []
    options = {"n_bootstrap": 50, "resample": "both"}
    first = bootstrap_scores(subjects, models, "spearman", seed=7, progress=fractions.append, **options)
    again = bootstrap_scores(subjects, models, "spearman", seed=7, **options)
    other = bootstrap_scores(subjects, models, "spearman", seed=8, **options)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)


def test_permutation_null_permutes_model_conditions(data):
    subjects, models = data
    result = permutation_test(subjects, models, "kendall_tau_a", n_permutations=4, seed=0, dtype="float64")
    generator = torch.Generator().manual_seed(0)
    permutations = torch.argsort(torch.rand((4, N_CONDITIONS), generator=generator), dim=1).numpy()
    for null, order in zip(result.null, permutations):
        permuted = rdm_to_vector(vector_to_rdm(models)[:, order][:, :, order])
        expected = compare_rdms(subjects, permuted, "kendall_tau_a", dtype="float64").mean(0)
        np.testing.assert_allclose(null, expected, rtol=1e-10)


def test_permutation_p_values_are_uniform_under_the_null(rng):
    data = rng.random(N_PAIRS)
    models = rng.random((300, N_PAIRS))
    p_values = permutation_test(data, models, "spearman", n_permutations=199, seed=0).p_values
    assert scipy.stats.kstest(p_values, "uniform").pvalue > 0.01
    assert 0.02 < (p_values <= 0.05).mean() < 0.09


@pytest.mark.parametrize("method", COMPARISON_METHODS)
def test_permutation_p_value_is_small_for_a_planted_effect(data, method):
    subjects, models = data
    result = permutation_test(subjects, models, method, n_permutations=99, seed=0)
    assert result.p_values[0] == pytest.approx(1 / 100)
    assert result.p_values[1] > 0.05
    np.testing.assert_allclose(result.scores, compare_rdms(subjects, models, method).mean(0), rtol=1e-5)


def test_pairwise_test_matches_rsatoolbox(rng):
    samples = rng.standard_normal((500, 4)) + np.array([0, 0.1, 0.5, 3])
    np.testing.assert_allclose(pairwise_bootstrap_test(samples), bootstrap_pair_tests(samples), rtol=1e-12)


def test_fdr_matches_scipy(rng):
    p_values = np.concatenate([rng.uniform(0, 0.01, 10), rng.uniform(0, 1, 40)]).reshape(5, 10)
    expected = scipy.stats.false_discovery_control(p_values.reshape(-1), method="bh").reshape(5, 10)
    np.testing.assert_allclose(fdr_correction(p_values), expected, rtol=1e-12)


def test_percentile_ci_uses_linear_quantiles(rng):
    samples = rng.standard_normal((101, 2))
    lower, upper = percentile_ci(samples, 0.9)
    np.testing.assert_allclose(lower, np.quantile(samples, 0.05, axis=0))
    np.testing.assert_allclose(upper, np.quantile(samples, 0.95, axis=0))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s, m: bootstrap_scores(s, m, n_bootstrap=0), "n_bootstrap must be an integer >= 1"),
        (lambda s, m: bootstrap_scores(s, m, resample="runs"), "unknown bootstrap resampling"),
        (lambda s, m: bootstrap_scores(s[0], m, resample="subjects"), "at least 2 subject RDMs"),
        (lambda s, m: bootstrap_scores(s, m, seed=-1), "seed"),
        (lambda s, m: bootstrap_scores(s, m, progress="yes"), "progress must be a callable"),
        (lambda s, m: permutation_test(s, m[:, :28]), "condition counts differ"),
        (lambda s, m: permutation_test(s, m, "rho-a"), "unknown comparison method"),
        (lambda s, m: percentile_ci(m, ci=95), "ci must be"),
        (lambda s, m: fdr_correction([0.2, 1.5]), "p-values"),
        (lambda s, m: fdr_correction([0.2, np.nan]), "p-values"),
        (lambda s, m: pairwise_bootstrap_test(np.full((3, 2), np.inf)), "finite"),
    ],
)
def test_bad_input(data, call, message):
    with pytest.raises(InvalidArgument, match=message):
        call(*data)


@pytest.mark.parametrize("method", ["spearman", "whitened_pearson"])
def test_results_do_not_depend_on_chunk_sizes(data, method, monkeypatch):
    subjects, models = data
    boot = bootstrap_scores(subjects, models, method, n_bootstrap=12, resample="both", seed=2, dtype="float64")
    perm = permutation_test(subjects, models, method, n_permutations=12, seed=2, dtype="float64").null
    monkeypatch.setattr("braindecode.compare._inference._CHUNK_ELEMENTS", 100)
    monkeypatch.setattr("braindecode.compare._comparison._CHUNK_ELEMENTS", 100)
    chunked = bootstrap_scores(subjects, models, method, n_bootstrap=12, resample="both", seed=2, dtype="float64")
    np.testing.assert_allclose(chunked, boot, rtol=1e-12)
    chunked = permutation_test(subjects, models, method, n_permutations=12, seed=2, dtype="float64").null
    np.testing.assert_allclose(chunked, perm, rtol=1e-12)
