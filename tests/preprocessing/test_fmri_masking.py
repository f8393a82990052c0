import nibabel
import numpy as np
import pytest
from nilearn.masking import apply_mask as nilearn_apply_mask
from nilearn.masking import compute_epi_mask as nilearn_compute_epi_mask

from braindecode.errors import InvalidArgument
from braindecode.preprocessing import (
    apply_mask,
    bold_array,
    check_mask,
    compute_epi_mask,
    repetition_time,
    voxel_names,
)


@pytest.mark.parametrize("fixture", ["nibabel_epi_path", "nitime_fmri_path"])
@pytest.mark.parametrize("kwargs", [{}, {"opening": 0}, {"opening": 1, "connected": False},
                                    {"lower_cutoff": 0.1, "upper_cutoff": 0.9}])
def test_epi_mask_equals_nilearn_on_real_epi(request, fixture, kwargs):
    img = nibabel.load(request.getfixturevalue(fixture))
    ours = compute_epi_mask(img, **kwargs)
    ref = nilearn_compute_epi_mask(img, **kwargs).get_fdata().astype(bool)
    assert ours.dtype == bool and ours.shape == img.shape[:3]
    assert ours.any()
    np.testing.assert_array_equal(ours, ref)


def test_empty_epi_mask_is_rejected(nitime_fmri_path):
    img = nibabel.load(nitime_fmri_path)
    with pytest.warns(UserWarning, match="empty mask"):
        assert not nilearn_compute_epi_mask(img, lower_cutoff=0.3, upper_cutoff=0.9).get_fdata().any()
    with pytest.raises(InvalidArgument, match="mask is empty"):
        compute_epi_mask(img, lower_cutoff=0.3, upper_cutoff=0.9)


def test_epi_mask_accepts_mean_image_and_array(nibabel_epi_path):
    img = nibabel.load(nibabel_epi_path)
    data = img.get_fdata(dtype=np.float32)
    np.testing.assert_array_equal(compute_epi_mask(data), compute_epi_mask(img))
    np.testing.assert_array_equal(compute_epi_mask(data.mean(axis=-1)), compute_epi_mask(img))


def test_apply_mask_equals_nilearn(nitime_fmri_path):
    img = nibabel.load(nitime_fmri_path)
    mask = compute_epi_mask(img, opening=0)
    mask_img = nibabel.Nifti1Image(mask.astype(np.uint8), img.affine)
    signals = apply_mask(img, mask_img)
    assert signals.shape == (40, mask.sum()) and signals.dtype == np.float32
    np.testing.assert_allclose(signals, nilearn_apply_mask(img, mask_img), rtol=1e-6)
    names = voxel_names(mask)
    i, j, k = map(int, names[3].split(","))
    np.testing.assert_array_equal(signals[:, 3], img.get_fdata()[i, j, k])


def test_repetition_time_from_header_and_argument(nitime_fmri_path):
    img = nibabel.load(nitime_fmri_path)
    assert repetition_time(img) == pytest.approx(1.35)
    assert repetition_time(img, 2.0) == 2.0
    img.header.set_xyzt_units("mm", "msec")
    img.header.set_zooms(img.header.get_zooms()[:3] + (1350.0,))
    assert repetition_time(img) == pytest.approx(1.35)


@pytest.mark.parametrize("t_r", [0.0, -2.0, float("nan"), "2"])
def test_non_positive_repetition_time_is_rejected(nitime_fmri_path, t_r):
    with pytest.raises(InvalidArgument, match="t_r"):
        repetition_time(nibabel.load(nitime_fmri_path), t_r)


def test_missing_repetition_time_is_rejected():
    img = nibabel.Nifti1Image(np.zeros((4, 4, 4, 5), np.float32), np.eye(4))
    img.header.set_zooms((1.0, 1.0, 1.0, 0.0))
    with pytest.raises(InvalidArgument, match="t_r is missing"):
        repetition_time(img)
    with pytest.raises(InvalidArgument, match="t_r is missing"):
        repetition_time(np.zeros((4, 4, 4, 5)))


def test_bad_images_and_masks_are_rejected(nitime_fmri_path):
    img = nibabel.load(nitime_fmri_path)
    data = img.get_fdata(dtype=np.float32, caching="unchanged")
    data[1, 2, 3, 4] = np.nan
    with pytest.raises(InvalidArgument, match="NaN"):
        bold_array(data)
    with pytest.raises(InvalidArgument, match="NaN"):
        compute_epi_mask(data)
    with pytest.raises(InvalidArgument, match="4-D"):
        bold_array(data[..., 0])
    with pytest.raises(InvalidArgument, match=r"mask has shape \(10, 10, 17\)"):
        apply_mask(img, np.ones((10, 10, 17), bool))
    with pytest.raises(InvalidArgument, match="selects no voxel"):
        check_mask(np.zeros((10, 10, 18)), (10, 10, 18))
    with pytest.raises(InvalidArgument, match="nibabel image or an array"):
        bold_array([1, 2, 3])
    with pytest.raises(InvalidArgument, match="lower_cutoff"):
        compute_epi_mask(img, lower_cutoff=0.9, upper_cutoff=0.2)
