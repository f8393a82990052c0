import numpy as np
import pytest
import torch

from braindecode.compare import (
    COMPARISON_METHODS,
    compare,
    compare_rdms,
    rdm_noise_ceiling,
    rdm_to_vector,
    vector_to_rdm,
)
from braindecode.errors import InvalidArgument

N_CONDITIONS = 10


@pytest.fixture
def study(rng):
    """Four subjects' RDMs built from a shared structure, and three models of it."""
    shared = rng.random(45)
    brain = vector_to_rdm(shared + 0.4 * rng.random((4, 45)))
    models = {
        "good": vector_to_rdm(shared + 0.2 * rng.random(45)),
        "weak": vector_to_rdm(shared + 2.0 * rng.random(45)),
        "unrelated": vector_to_rdm(rng.random(45)),
    }
    return brain, models


@pytest.mark.parametrize("method", COMPARISON_METHODS)
def test_scores_cis_p_values_and_noise_ceiling(study, method):
    brain, models = study
    result = compare(brain, models, method=method, n_bootstrap=100, n_permutations=99, seed=0)
    assert result.model_names == ["good", "weak", "unrelated"]
    expected = compare_rdms(rdm_to_vector(brain), np.stack([rdm_to_vector(m) for m in models.values()]), method)
    np.testing.assert_allclose(result.subject_scores, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.scores, expected.mean(0), rtol=1e-5, atol=1e-6)
    assert result.bootstrap_scores.shape == (100, 3)
    assert np.all(result.ci_lower <= result.ci_upper)
    assert result.ci_lower[0] > result.ci_upper[2]
    assert result.p_values[0] == pytest.approx(0.01) and result.p_values[2] > result.p_values[0]
    assert result.pairwise_p_values[0, 2] < 0.05
    assert result.pairwise_p_values_fdr[2, 0] >= result.pairwise_p_values[2, 0]
    ceiling = rdm_noise_ceiling(rdm_to_vector(brain), method)
    assert result.noise_ceiling.lower == pytest.approx(ceiling.lower, rel=1e-5)
    assert result.noise_ceiling.upper == pytest.approx(ceiling.upper, rel=1e-5)
    assert ceiling.lower <= ceiling.upper


def test_same_seed_same_result_and_progress_reaches_one(study):
    brain, models = study
    fractions = []
    options = {"n_bootstrap": 60, "bootstrap": "both", "n_permutations": 40}
    first = compare(brain, models, "spearman", seed=5, progress=fractions.append, **options)
    again = compare(brain, models, "spearman", seed=5, **options)
    np.testing.assert_array_equal(first.bootstrap_scores, again.bootstrap_scores)
    np.testing.assert_array_equal(first.null_scores, again.null_scores)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    other = compare(brain, models, "spearman", seed=6, **options)
    assert not np.array_equal(first.bootstrap_scores, other.bootstrap_scores)


def test_single_subject_array_of_models_and_skipped_inference(study):
    brain, models = study
    stacked = np.stack(list(models.values()))
    result = compare(brain[0], stacked, n_bootstrap=0, n_permutations=0)
    assert result.model_names == ["model_0", "model_1", "model_2"]
    assert result.noise_ceiling is None and result.ci_lower is None and result.p_values is None
    assert result.to_dict()["scores"] == pytest.approx(list(result.scores))
    no_bootstrap = compare(brain, models, bootstrap=None, n_permutations=0, noise_ceiling=False)
    assert no_bootstrap.bootstrap is None and no_bootstrap.noise_ceiling is None


def test_tensors_are_accepted(study):
    brain, models = study
    models = {name: torch.from_numpy(rdm) for name, rdm in models.items()}
    result = compare(torch.from_numpy(brain), models, n_bootstrap=10, n_permutations=10)
    assert result.scores.shape == (3,)


@pytest.mark.parametrize(
    "mutate, kwargs, message",
    [
        (lambda b, m: (b[:, :9, :9], m), {}, "condition counts differ: 9 in brain RDMs, 10 in model RDMs"),
        (lambda b, m: (b + np.triu(np.ones((10, 10)), 1), m), {}, "brain_rdms: RDM 0 is not symmetric"),
        (lambda b, m: (b, {**m, "flat": np.ones((10, 10))}), {}, "model RDM 'flat'.*constant"),
        (lambda b, m: (np.where(np.eye(10, dtype=bool), np.nan, b), m), {}, "NaN"),
        (lambda b, m: (b[:, :, :9], m), {}, "square"),
        (lambda b, m: (b, {}), {}, "model_rdms is empty"),
        (lambda b, m: (b, m), {"method": "kendall"}, "unknown comparison method"),
        (lambda b, m: (b, m), {"bootstrap": "trials"}, "unknown bootstrap resampling"),
        (lambda b, m: (b[0], m), {"bootstrap": "subjects"}, "at least 2 subject RDMs"),
        (lambda b, m: (b, m), {"ci": 1.5}, "ci must be"),
        (lambda b, m: (b, m), {"n_permutations": -1}, "n_permutations"),
        (lambda b, m: (b, m), {"device": "tpu"}, "device"),
    ],
)
def test_bad_input(study, mutate, kwargs, message):
    brain, models = mutate(*study)
    with pytest.raises(InvalidArgument, match=message):
        compare(brain, models, **{"n_bootstrap": 5, "n_permutations": 5, **kwargs})


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("method", COMPARISON_METHODS)
def test_cuda_matches_cpu(study, method):
    brain, models = study
    options = {"n_bootstrap": 50, "bootstrap": "both", "n_permutations": 50, "dtype": "float64"}
    on_cpu = compare(brain, models, method, **options)
    on_cuda = compare(brain, models, method, device="cuda", **options)
    np.testing.assert_allclose(on_cuda.bootstrap_scores, on_cpu.bootstrap_scores, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(on_cuda.null_scores, on_cpu.null_scores, rtol=1e-9, atol=1e-12)
    assert on_cuda.noise_ceiling.lower == pytest.approx(on_cpu.noise_ceiling.lower, rel=1e-9)
