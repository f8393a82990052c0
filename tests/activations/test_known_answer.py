"""Known answers for EfficientNet-Lite0 activations compared with braindecode.compare (RDMs, CKA)."""

import numpy as np
import pytest
from skimage import data

from braindecode.activations import extract_activations
from braindecode.compare import cka, compute_rdm, score_matrix

PHOTOGRAPHS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry", "coins", "moon",
               "page", "text", "brick", "grass", "gravel", "retina", "hubble_deep_field", "colorwheel")


@pytest.fixture(scope="module")
def acts(lite0):
    images = [getattr(data, name)() for name in PHOTOGRAPHS]
    return extract_activations(lite0, images, pooling="avg", stimulus_ids=list(PHOTOGRAPHS))


@pytest.fixture(scope="module")
def layer_cka(acts):
    return np.asarray(score_matrix(acts, acts, method="cka").scores, dtype=np.float64)


def test_same_layer_cka_is_one(acts, layer_cka):
    np.testing.assert_allclose(np.diag(layer_cka), 1.0, atol=1e-4)
    np.testing.assert_allclose(layer_cka, layer_cka.T, atol=1e-5)
    assert cka(acts["stage4"], acts["stage4"]) == pytest.approx(1.0, abs=1e-4)
    # pool is the spatial mean of head, so with average pooling they are the same representation
    assert cka(acts["head"], acts["pool"]) == pytest.approx(1.0, abs=1e-4)


def test_neighbouring_layers_score_higher_than_distant_ones(acts, layer_cka):
    n = len(acts.layer_names)
    by_distance = [np.mean(np.diag(layer_cka, d)) for d in range(1, n)]
    assert by_distance[0] > by_distance[2] > by_distance[5] > by_distance[-1]
    distance = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    for i, layer in enumerate(acts.layer_names):
        adjacent = layer_cka[i, distance[i] == 1].max()
        assert adjacent > layer_cka[i, distance[i] >= 3].max(), layer
    stem, stage1, logits = (acts.layer_names.index(k) for k in ("stem", "stage1", "logits"))
    assert layer_cka[stem, stage1] > 0.9 > 0.5 > layer_cka[stem, logits]


@pytest.mark.parametrize("method", ["correlation", "euclidean"])
def test_rdms_are_symmetric_with_zero_diagonal(acts, method):
    for layer in ("stem", "stage4", "head", "logits"):
        rdm = np.asarray(compute_rdm(acts[layer], method=method), dtype=np.float64)
        assert rdm.shape == (len(PHOTOGRAPHS), len(PHOTOGRAPHS))
        np.testing.assert_allclose(rdm, rdm.T, atol=1e-5)
        np.testing.assert_allclose(np.diag(rdm), 0.0, atol=1e-5)
        off_diagonal = rdm[~np.eye(len(rdm), dtype=bool)]
        assert off_diagonal.min() > 0, layer  # no two photographs give identical activations
