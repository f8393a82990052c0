import numpy as np
import pytest

from braindecode.compare import cka, compare_rdms, compute_rdm, rdm_to_vector, score_matrix, time_score_matrix
from braindecode.containers import ActivationSet
from braindecode.errors import InvalidArgument

N_CONDITIONS = 10


@pytest.fixture
def layers(rng):
    """A toy network: each layer a noisy random transform of the one before."""
    current = rng.standard_normal((N_CONDITIONS, 16))
    out = {}
    for name in ["conv1", "conv2", "conv3", "fc"]:
        weights = rng.standard_normal((current.shape[1], 12))
        current = np.tanh(current @ weights / 3) + 0.3 * rng.standard_normal((N_CONDITIONS, 12))
        out[name] = current
    return out


@pytest.fixture
def rois(layers, rng):
    return {
        "V1": layers["conv1"] @ rng.standard_normal((12, 30)) + rng.standard_normal((N_CONDITIONS, 30)),
        "IT": layers["fc"] @ rng.standard_normal((12, 20)) + rng.standard_normal((N_CONDITIONS, 20)),
    }


def test_rsa_matrix_equals_rdm_comparisons(layers, rois):
    result = score_matrix(layers, rois, method="rsa", rdm_method="correlation", comparison="pearson")
    assert result.rows == list(layers) and result.columns == ["V1", "IT"]
    assert result.method == "rsa:correlation:pearson" and result.scores.shape == (4, 2)
    expected = compare_rdms(
        np.stack([rdm_to_vector(compute_rdm(x)) for x in layers.values()]),
        np.stack([rdm_to_vector(compute_rdm(x)) for x in rois.values()]),
        "pearson",
    )
    np.testing.assert_allclose(result.scores, expected, rtol=1e-5)


def test_cka_matrix_equals_pairwise_cka_and_layer_by_layer_diagonal_is_one(layers, rois):
    result = score_matrix(layers, rois, method="cka", kernel="rbf", debiased=True)
    assert result.scores[3, 1] == pytest.approx(cka(layers["fc"], rois["IT"], kernel="rbf", debiased=True), abs=1e-6)
    self_scores = score_matrix(ActivationSet(np.arange(N_CONDITIONS), layers), layers, method="cka").scores
    np.testing.assert_allclose(np.diag(self_scores), 1, rtol=1e-5)
    np.testing.assert_allclose(self_scores, self_scores.T, rtol=1e-5)


def test_names_select_and_order_entries(layers, rois):
    result = score_matrix(layers, rois, row_names=["fc", "conv1"], column_names=["IT"])
    assert result.rows == ["fc", "conv1"] and result.scores.shape == (2, 1)
    full = score_matrix(layers, rois)
    assert result.scores[0, 0] == pytest.approx(full.scores[3, 1])


@pytest.mark.parametrize("method", ["rsa", "cka"])
def test_time_matrix_scores_each_time_point(layers, rng, method):
    responses = rng.standard_normal((N_CONDITIONS, 8, 5))
    responses[:, :, 2] = 0.1 * responses[:, :, 2] + layers["conv2"][:, :8]
    result = time_score_matrix(layers, responses, times=np.linspace(-0.1, 0.3, 5), method=method)
    assert result.scores.shape == (4, 5) and result.columns[0] == pytest.approx(-0.1)
    single = score_matrix(layers, {"t2": responses[:, :, 2]}, method=method)
    np.testing.assert_allclose(result.scores[:, 2], single.scores[:, 0], rtol=1e-5)
    assert result.scores[1].argmax() == 2


def test_to_dict_is_plain(layers, rois):
    assert score_matrix(layers, rois).to_dict()["rows"] == list(layers)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"row_names": ["conv9"]}, "unknown rows \\['conv9'\\]"),
        ({"column_names": ["MT"]}, "unknown columns \\['MT'\\]"),
        ({"method": "svcca"}, "unknown score method"),
        ({"rdm_method": "mahalanobis"}, "unknown RDM method"),
        ({"rdm_method": "crossnobis"}, "crossnobis_rdm"),
        ({"comparison": "tau-b"}, "unknown comparison method"),
        ({"method": "cka", "kernel": "laplace"}, "unknown CKA kernel"),
    ],
)
def test_bad_options(layers, rois, kwargs, message):
    with pytest.raises(InvalidArgument, match=message):
        score_matrix(layers, rois, **kwargs)


def test_bad_representations(layers, rois):
    with pytest.raises(InvalidArgument, match="column 'V1' has 9 conditions, expected 10"):
        score_matrix(layers, {"V1": rois["V1"][:9]})
    with pytest.raises(InvalidArgument, match="row 'conv1': condition 4 has zero variance"):
        score_matrix({"conv1": np.where(np.arange(N_CONDITIONS)[:, None] == 4, 1.0, layers["conv1"])}, rois)
    with pytest.raises(InvalidArgument, match="non-empty dict"):
        score_matrix({}, rois)
    with pytest.raises(InvalidArgument, match="times has 3 entries for 5"):
        time_score_matrix(layers, np.ones((N_CONDITIONS, 2, 5)), times=[0, 1, 2])
