import nibabel
import numpy as np
import pytest
from nilearn.maskers import NiftiLabelsMasker

from braindecode.errors import InvalidArgument
from braindecode.preprocessing import atlas_time_series, compute_epi_mask, roi_time_series


@pytest.fixture(scope="module")
def img(nitime_fmri_path):
    return nibabel.load(nitime_fmri_path)


@pytest.fixture(scope="module")
def atlas(img):
    """Eight slabs of the 10 x 10 x 18 grid, labels 1..8 with label 5 left out; 0 is background."""
    labels = np.zeros(img.shape[:3], np.int16)
    labels[:, :, 1:17] = 1 + np.arange(16)[None, None, :] // 2
    labels[labels == 5] = 0
    return nibabel.Nifti1Image(labels, img.affine)


def test_atlas_means_equal_nilearn_labels_masker(img, atlas):
    signals, labels = atlas_time_series(img, atlas)
    ref = NiftiLabelsMasker(atlas, strategy="mean", standardize=None).fit_transform(img)
    np.testing.assert_array_equal(labels, [1, 2, 3, 4, 6, 7, 8])
    assert signals.shape == (40, 7) and signals.dtype == np.float32
    np.testing.assert_allclose(signals, ref, rtol=1e-5)


def test_atlas_means_within_a_mask(img, atlas):
    mask = compute_epi_mask(img, lower_cutoff=0.1, upper_cutoff=0.9)
    signals, labels = atlas_time_series(img, atlas, mask=mask)
    data, values = img.get_fdata(), atlas.get_fdata()
    for column, label in enumerate(labels):
        inside = (values == label) & mask
        np.testing.assert_allclose(signals[:, column], data[inside].mean(axis=0), rtol=1e-5)
    assert set(labels) == set(np.unique(values[mask])) - {0}


def test_roi_voxel_matrices(img):
    data = img.get_fdata()
    left = np.zeros(img.shape[:3], bool)
    left[:5] = True
    spot = np.zeros(img.shape[:3], bool)
    spot[4, 4, 9] = True
    mask = np.zeros(img.shape[:3], bool)
    mask[:, :, 9:] = True
    signals = roi_time_series(img, {"left": left, "spot": nibabel.Nifti1Image(spot.astype(np.uint8), img.affine)},
                              mask=mask)
    assert list(signals) == ["left", "spot"]
    np.testing.assert_allclose(signals["left"], data[left & mask].T, rtol=1e-6)
    np.testing.assert_allclose(signals["spot"], data[4, 4, 9][:, None], rtol=1e-6)


def test_bad_atlases_and_rois_are_rejected(img, atlas):
    with pytest.raises(InvalidArgument, match="labels image has shape"):
        atlas_time_series(img, np.ones((10, 10, 17)))
    with pytest.raises(InvalidArgument, match="integer labels"):
        atlas_time_series(img, np.full(img.shape[:3], 1.5))
    with pytest.raises(InvalidArgument, match="no region"):
        atlas_time_series(img, np.zeros(img.shape[:3]))
    with pytest.raises(InvalidArgument, match="ROI 'a' has shape"):
        roi_time_series(img, {"a": np.ones((3, 3, 3))})
    outside = np.zeros(img.shape[:3], bool)
    outside[0, 0, 0] = True
    mask = ~outside
    with pytest.raises(InvalidArgument, match="ROI 'a' has no voxel inside the mask"):
        roi_time_series(img, {"a": outside}, mask=mask)
    with pytest.raises(InvalidArgument, match="non-empty dict"):
        roi_time_series(img, {})
