import nibabel as nib
import numpy as np
import pytest
from nilearn.masking import apply_mask, unmask
from scipy.stats import pearsonr
from sklearn.metrics import r2_score as sk_r2

from braindecode.encoding import (
    SCORE_DESCRIPTIONS,
    noise_ceiling,
    normalize_by_ceiling,
    pearson_r,
    r2_score,
    score_map_sidecar,
    scores_to_nifti,
)
from braindecode.errors import InvalidArgument


def _pair(seed=0):
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((40, 5))
    return y, y + rng.standard_normal((40, 5)) * [0.1, 0.5, 1, 2, 4]


def test_r2_matches_sklearn():
    y, pred = _pair()
    np.testing.assert_allclose(r2_score(y, pred), sk_r2(y, pred, multioutput="raw_values"), rtol=1e-12)


def test_pearson_matches_scipy():
    y, pred = _pair(1)
    expected = [pearsonr(y[:, j], pred[:, j]).statistic for j in range(5)]
    np.testing.assert_allclose(pearson_r(y, pred), expected, rtol=1e-12)


def test_constant_targets_score_zero():
    y = np.ones((10, 2))
    pred = np.random.default_rng(0).standard_normal((10, 2))
    np.testing.assert_array_equal(r2_score(y, pred), 0.0)
    np.testing.assert_array_equal(pearson_r(y, pred), 0.0)


def test_score_shape_mismatch():
    with pytest.raises(InvalidArgument):
        r2_score(np.zeros((10, 2)), np.zeros((10, 3)))
    with pytest.raises(InvalidArgument):
        pearson_r(np.zeros((10, 2)), np.zeros((9, 2)))


def test_ncsnr_recovers_the_simulated_signal_to_noise():
    rng = np.random.default_rng(2)
    n_repeats, n_stimuli = 3, 4000
    noise_sd = np.array([0.5, 1.0, 2.0, 4.0])
    signal = rng.standard_normal((n_stimuli, 4))
    trials = signal + noise_sd * rng.standard_normal((n_repeats, n_stimuli, 4))
    ceiling = noise_ceiling(trials)

    # sampling error of sigma_s^2 = Var(total) - sigma_n^2 grows with the noise
    assert np.all(np.abs(ceiling.ncsnr * noise_sd - 1) < [0.03, 0.03, 0.06, 0.15])
    true_ncsnr = 1 / noise_sd
    np.testing.assert_allclose(ceiling.r2, true_ncsnr**2 / (true_ncsnr**2 + 1 / n_repeats), atol=0.03)
    # the true signal, a perfect model, reaches the ceiling on the trial averages
    perfect = pearson_r(trials.mean(0), signal)
    np.testing.assert_allclose(perfect, ceiling.r, atol=0.03)
    single = noise_ceiling(trials, n_average=1)
    assert np.all(single.r2 < ceiling.r2)


def test_ceiling_of_pure_noise_and_of_noiseless_targets():
    rng = np.random.default_rng(3)
    trials = np.stack([rng.standard_normal((3, 500)), np.tile(rng.standard_normal(500), (3, 1))], axis=-1)
    ceiling = noise_ceiling(trials)
    assert ceiling.r2[0] < 0.05 and ceiling.r2[1] == 1.0
    np.testing.assert_allclose(normalize_by_ceiling([0.5, 0.25], [0.5, 0.0]), [1.0, np.nan])


@pytest.mark.parametrize("bad", [np.zeros((1, 5, 2)), np.zeros((3, 1, 2)), np.full((3, 5, 2), np.nan), np.zeros(4)])
def test_bad_noise_ceiling_input(bad):
    with pytest.raises(InvalidArgument):
        noise_ceiling(bad)


def _mask_image():
    rng = np.random.default_rng(4)
    mask = (rng.random((6, 7, 5)) > 0.6).astype(np.uint8)
    affine = np.diag([2.0, 2.5, 3.0, 1.0])
    affine[:3, 3] = [-10, 5, 20]
    image = nib.Nifti1Image(mask, affine)
    image.header.set_xyzt_units("mm", "sec")
    return image


def test_scores_to_nifti_round_trip_with_nilearn(tmp_path):
    mask = _mask_image()
    scores = np.random.default_rng(5).standard_normal(int(mask.get_fdata().sum())).astype(np.float32)
    image = scores_to_nifti(scores, mask)
    np.testing.assert_array_equal(image.affine, mask.affine)
    assert image.header.get_xyzt_units() == ("mm", "sec")
    assert image.get_data_dtype() == np.float32
    np.testing.assert_array_equal(apply_mask(image, mask), scores)
    np.testing.assert_array_equal(image.get_fdata(), unmask(scores, mask).get_fdata())
    path = tmp_path / "mask.nii.gz"
    nib.save(mask, path)
    reloaded = scores_to_nifti(scores, path, fill=np.nan)
    outside = mask.get_fdata() == 0
    assert np.all(np.isnan(reloaded.get_fdata()[outside]))


def test_several_maps_give_a_4d_image():
    mask = _mask_image()
    maps = np.random.default_rng(6).standard_normal((int(mask.get_fdata().sum()), 3))
    image = scores_to_nifti(maps, mask)
    assert image.shape == mask.shape + (3,)
    np.testing.assert_allclose(apply_mask(image, mask), maps.T, rtol=1e-6)


def test_named_maps_say_what_each_volume_is(tmp_path):
    mask = _mask_image()
    maps = np.random.default_rng(7).standard_normal((int(mask.get_fdata().sum()), 2))
    image = scores_to_nifti(maps, mask, names=["pearson", "r2"])
    nib.save(image, tmp_path / "map.nii.gz")
    header = nib.load(tmp_path / "map.nii.gz").header
    assert header.get_intent() == ("estimate", (), "scores")
    assert header["descrip"].item() == b"volumes: pearson,r2"
    long = scores_to_nifti(np.zeros((maps.shape[0], 9)), mask, names=[f"score_number_{i}" for i in range(9)])
    described = long.header["descrip"].item().decode()
    assert len(described) == 80 and described.endswith("...") and described.startswith("volumes: score_number_0,")
    with pytest.raises(InvalidArgument, match="1 names for scores of shape"):
        scores_to_nifti(maps, mask, names=["pearson"])
    sidecar = score_map_sidecar(["pearson", "r2", "custom"])
    assert [(v["index"], v["name"]) for v in sidecar["volumes"]] == [(0, "pearson"), (1, "r2"), (2, "custom")]
    assert sidecar["volumes"][0]["description"] == SCORE_DESCRIPTIONS["pearson"] and sidecar["fill"] == 0.0


def test_scores_that_do_not_fit_the_mask(tmp_path):
    mask = _mask_image()
    with pytest.raises(InvalidArgument, match="voxels"):
        scores_to_nifti(np.zeros(3), mask)
    with pytest.raises(InvalidArgument, match="cannot read"):
        scores_to_nifti(np.zeros(3), tmp_path / "missing.nii")
    with pytest.raises(InvalidArgument, match="3-D"):
        scores_to_nifti(np.zeros(3), nib.Nifti1Image(np.ones((2, 2, 2, 2)), np.eye(4)))
