import numpy as np
import pytest
from skimage import data
from skimage.color import rgb2gray
from skimage.metrics import structural_similarity
from skimage.transform import resize

from braindecode.errors import InvalidArgument
from braindecode.reconstruction import feature_identification, pearson_two_way_identification, pixcorr, ssim


def photos(size=48):
    images = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    return np.stack([(resize(im, (size, size), anti_aliasing=True) * 255).round().astype(np.uint8) for im in images])


@pytest.fixture(scope="module")
def pairs():
    targets = photos()
    noisy = np.clip(targets + np.random.default_rng(0).normal(0, 25, targets.shape), 0, 255).astype(np.uint8)
    return noisy, targets


def skimage_ssim(x, y, gray):
    x, y = x / 255.0, y / 255.0
    kwargs = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)
    if gray:
        return structural_similarity(rgb2gray(x), rgb2gray(y), **kwargs)
    return structural_similarity(x, y, channel_axis=-1, **kwargs)


@pytest.mark.parametrize("gray", [True, False])
def test_ssim_matches_skimage(pairs, gray):
    images, targets = pairs
    expected = [skimage_ssim(x, y, gray) for x, y in zip(images, targets)]
    np.testing.assert_allclose(ssim(images, targets, gray=gray), expected, atol=1e-10)
    np.testing.assert_allclose(ssim(targets, targets, gray=gray), 1.0, atol=1e-12)


def test_ssim_resizes_images_to_the_targets(pairs):
    images, targets = pairs
    small = np.stack([(resize(im, (24, 24)) * 255).round().astype(np.uint8) for im in images])
    scores = ssim(small, targets)
    assert scores.shape == (4,) and np.all((scores > 0) & (scores < 1))


def test_pixcorr_matches_numpy(pairs):
    images, targets = pairs
    expected = [np.corrcoef(x.ravel() / 255.0, y.ravel() / 255.0)[0, 1] for x, y in zip(images, targets)]
    np.testing.assert_allclose(pixcorr(images, targets), expected, atol=1e-12)
    np.testing.assert_allclose(pixcorr(images.astype(np.float32) / 255, targets), expected, atol=1e-6)


def brute_force_two_way(pred, true):
    n = len(pred)
    scores = []
    for j in range(n):
        own = np.corrcoef(pred[j], true[j])[0, 1]
        wins = sum(np.corrcoef(pred[j], true[i])[0, 1] < own for i in range(n) if i != j)
        scores.append(wins / (n - 1))
    return np.array(scores)


def test_pearson_two_way_identification_matches_brute_force():
    rng = np.random.default_rng(0)
    true = rng.normal(size=(20, 30))
    pred = true + rng.normal(scale=2.0, size=true.shape)
    np.testing.assert_allclose(pearson_two_way_identification(pred, true), brute_force_two_way(pred, true))
    assert pearson_two_way_identification(true, true).mean() == 1.0
    chance = pearson_two_way_identification(rng.normal(size=(200, 30)), rng.normal(size=(200, 30))).mean()
    assert 0.45 < chance < 0.55


def test_feature_identification_with_efficientnet():
    targets = photos(64)
    noisy = np.clip(targets + np.random.default_rng(1).normal(0, 20, targets.shape), 0, 255).astype(np.uint8)
    same = feature_identification(noisy, targets)
    swapped = feature_identification(noisy[[1, 0, 3, 2]], targets)
    assert list(same) == ["stage2", "stage4", "pool"]
    for layer in same:
        assert same[layer].mean() == 1.0
        assert swapped[layer].max() <= 2 / 3  # the true source always beats the wrong target


@pytest.mark.parametrize("call", [
    lambda: pixcorr(np.zeros((2, 8, 8)), np.zeros((2, 8, 8))),
    lambda: pixcorr(np.zeros((2, 8, 8, 3)), np.zeros((3, 8, 8, 3))),
    lambda: ssim(np.full((2, 16, 16, 3), 2.0), np.zeros((2, 16, 16, 3))),
    lambda: ssim(np.zeros((2, 8, 8, 3)), np.zeros((2, 8, 8, 3))),
    lambda: pearson_two_way_identification(np.zeros((1, 4)), np.zeros((1, 4))),
    lambda: pearson_two_way_identification(np.zeros((3, 4)), np.zeros((3, 5))),
])
def test_bad_input(call):
    with pytest.raises(InvalidArgument):
        call()
