"""BOLD images as arrays, brain masks and masked time series."""

from __future__ import annotations

import warnings

import nibabel as nib
import numpy as np

from braindecode.errors import InvalidArgument
from braindecode.preprocessing._checks import check_finite, check_positive

_SECONDS_PER_UNIT = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6}


def _volume_array(img, ndims: tuple, what: str) -> np.ndarray:
    if isinstance(img, nib.spatialimages.SpatialImage):
        data = img.get_fdata(dtype=np.float32, caching="unchanged")
    elif isinstance(img, np.ndarray):
        data = img
    else:
        raise InvalidArgument(f"{what} must be a nibabel image or an array, got {type(img).__name__}")
    if data.ndim not in ndims:
        raise InvalidArgument(f"{what} must be {' or '.join(map(str, ndims))}-D, got shape {data.shape}")
    return data


def bold_array(img) -> np.ndarray:
    """The image data as float32, checked to be 4-D and finite.

    Parameters
    ----------
    img : nibabel image or array of shape (x, y, z, n_scans)

    Returns
    -------
    data : array of shape (x, y, z, n_scans), float32
    """
    data = np.asarray(_volume_array(img, (4,), "the fMRI image"), dtype=np.float32)
    check_finite(data, "the fMRI image")
    return data


def repetition_time(img, t_r=None) -> float:
    """``t_r`` if given, else the TR in the header of a 4-D nibabel image, in seconds.

    Raises :class:`InvalidArgument` if neither gives a positive TR.
    """
    if t_r is not None:
        return check_positive(t_r, "t_r")
    zooms = img.header.get_zooms() if isinstance(img, nib.spatialimages.SpatialImage) else ()
    if len(zooms) < 4 or not zooms[3] > 0:
        raise InvalidArgument("t_r is missing: pass it explicitly (the image header has no positive TR)")
    unit = img.header.get_xyzt_units()[1] if hasattr(img.header, "get_xyzt_units") else "sec"
    return float(zooms[3]) * _SECONDS_PER_UNIT.get(unit, 1.0)


def check_mask(mask, shape, what="the mask") -> np.ndarray:
    """A mask as a boolean array of the image's spatial ``shape``, non-empty.

    Parameters
    ----------
    mask : nibabel image or array of shape (x, y, z)
    shape : tuple of int
        The image's (x, y, z).
    what : str
        Names the mask in error messages.

    Returns
    -------
    mask : bool array of shape (x, y, z)
    """
    data = _volume_array(mask, (3,), what)
    if data.shape != tuple(shape):
        raise InvalidArgument(f"{what} has shape {data.shape} but the image volumes are {tuple(shape)}")
    mask = np.asarray(data) != 0
    if not mask.any():
        raise InvalidArgument(f"{what} selects no voxel")
    return mask


def compute_epi_mask(img, *, lower_cutoff=0.2, upper_cutoff=0.85, connected=True, opening=2) -> np.ndarray:
    """Brain mask from the mean EPI, by ``nilearn.masking.compute_epi_mask``, as a boolean array.

    nilearn's heuristic (T. Nichols): the mean image (smoothed by 1 mm FWHM when ``opening``)
    is thresholded at the largest jump between the ``lower_cutoff`` and ``upper_cutoff``
    fractions of its sorted values, then opened and reduced to its largest connected component.
    An array is taken as an image of 1 mm voxels.

    Parameters
    ----------
    img : nibabel image or array of shape (x, y, z, n_scans) or (x, y, z)
    lower_cutoff, upper_cutoff : float
        Fractions of the sorted intensities searched for the threshold.
    connected : bool
        Keep only the largest connected component.
    opening : int
        Iterations of the morphological opening; 0 skips smoothing and opening.

    Returns
    -------
    mask : bool array of shape (x, y, z)

    Raises
    ------
    InvalidArgument
        For cutoffs out of order, NaN or infinite intensities, or an empty mask.
    """
    # nilearn takes seconds to import; only fMRI steps need it
    from nilearn.exceptions import MaskWarning
    from nilearn.masking import compute_epi_mask as nilearn_epi_mask

    if not 0 <= lower_cutoff < upper_cutoff <= 1:
        raise InvalidArgument(f"need 0 <= lower_cutoff < upper_cutoff <= 1, got {lower_cutoff}, {upper_cutoff}")
    data = _volume_array(img, (3, 4), "the fMRI image")
    check_finite(data, "the fMRI image")
    affine = img.affine if isinstance(img, nib.spatialimages.SpatialImage) else np.eye(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MaskWarning)  # an empty mask is refused below
        mask = nilearn_epi_mask(nib.Nifti1Image(np.asarray(data, dtype=np.float32), affine),
                                lower_cutoff=lower_cutoff, upper_cutoff=upper_cutoff, connected=connected,
                                opening=int(opening))
    mask = np.asarray(mask.dataobj) != 0
    if not mask.any():
        raise InvalidArgument("the computed brain mask is empty: is this an EPI image that was not detrended?")
    return mask


def apply_mask(img, mask) -> np.ndarray:
    """Voxel time series inside a mask.

    Parameters
    ----------
    img : nibabel image or array of shape (x, y, z, n_scans)
    mask : nibabel image or array of shape (x, y, z)

    Returns
    -------
    signals : array of shape (n_scans, n_voxels), float32
        Voxels in C order of the mask.
    """
    data = bold_array(img)
    return np.ascontiguousarray(data[check_mask(mask, data.shape[:3])].T)


def voxel_names(mask) -> list:
    """``"i,j,k"`` indices of the voxels of a boolean mask, in the order of :func:`apply_mask`."""
    return [f"{i},{j},{k}" for i, j, k in np.argwhere(mask)]
