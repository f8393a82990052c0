"""Region time series: mean signal per atlas label and voxel matrices per boolean ROI."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from braindecode.errors import InvalidArgument
from braindecode.preprocessing._masking import _volume_array, bold_array, check_mask


def atlas_time_series(img, labels, *, mask=None, background=0) -> tuple:
    """Mean time series of each label of an atlas.

    Parameters
    ----------
    img : nibabel image or array of shape (x, y, z, n_scans)
    labels : nibabel image or array of shape (x, y, z)
        Integer label per voxel, in the image's voxel grid.
    mask : nibabel image or array of shape (x, y, z), optional
        Only voxels inside it are averaged.
    background : int
        The label that is not a region.

    Returns
    -------
    signals : array of shape (n_scans, n_labels), float32
    label_values : int array of shape (n_labels,)
        The labels, ascending, that have at least one voxel.
    """
    data = bold_array(img)
    values = np.asarray(_volume_array(labels, (3,), "the labels image"))
    if values.shape != data.shape[:3]:
        raise InvalidArgument(f"the labels image has shape {values.shape} but the image volumes are {data.shape[:3]}")
    if not np.array_equal(values, np.round(values)):
        raise InvalidArgument("the labels image must hold integer labels")
    inside = values != background
    if mask is not None:
        inside &= check_mask(mask, data.shape[:3])
    label_values, index = np.unique(values[inside].astype(np.int64), return_inverse=True)
    if not len(label_values):
        raise InvalidArgument("the labels image has no region inside the mask")
    n_voxels = int(inside.sum())
    membership = sparse.csr_matrix(
        (np.ones(n_voxels), (index, np.arange(n_voxels))), shape=(len(label_values), n_voxels)
    )
    sums = membership @ data[inside].astype(np.float64)
    means = sums / np.bincount(index)[:, None]
    return means.T.astype(np.float32), label_values


def roi_time_series(img, rois, *, mask=None) -> dict:
    """Voxel time series of each boolean region of interest.

    Parameters
    ----------
    img : nibabel image or array of shape (x, y, z, n_scans)
    rois : dict of str -> nibabel image or array of shape (x, y, z)
        Boolean (non-zero) masks, one per region.
    mask : nibabel image or array of shape (x, y, z), optional
        Intersected with every region.

    Returns
    -------
    signals : dict of str -> array of shape (n_scans, n_voxels_in_roi), float32
    """
    if not isinstance(rois, dict) or not rois:
        raise InvalidArgument("rois must be a non-empty dict of name -> boolean mask")
    data = bold_array(img)
    shape = data.shape[:3]
    brain = np.ones(shape, bool) if mask is None else check_mask(mask, shape)
    signals = {}
    for name, roi in rois.items():
        region = check_mask(roi, shape, f"ROI {name!r}") & brain
        if not region.any():
            raise InvalidArgument(f"ROI {name!r} has no voxel inside the mask")
        signals[name] = np.ascontiguousarray(data[region].T)
    return signals
