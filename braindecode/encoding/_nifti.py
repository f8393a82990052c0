"""Per-voxel scores back into the brain volume, and NIfTI images as the bytes of a file."""

from __future__ import annotations

import gzip
import os

import nibabel as nib
import numpy as np

from braindecode.errors import InvalidArgument


def scores_to_nifti(scores, mask_img, fill: float = 0.0) -> nib.Nifti1Image:
    """Place per-voxel scores into the voxels of a mask.

    Voxels are in the order of ``data[mask]`` (C order), the order of nilearn's
    ``apply_mask`` / ``NiftiMasker``.

    Parameters
    ----------
    scores : array of shape (n_voxels,) or (n_voxels, n_maps)
        One value (or one per map) for each non-zero voxel of the mask.
    mask_img : nibabel image or path
        3-D mask in the recording's space.
    fill : float
        Value outside the mask.

    Returns
    -------
    image : Nifti1Image of shape mask.shape or mask.shape + (n_maps,)
        float32, with the affine and header of the mask.
    """
    if isinstance(mask_img, (str, os.PathLike)):
        try:
            mask_img = nib.load(os.fspath(mask_img))
        except (OSError, nib.filebasedimages.ImageFileError) as exc:
            raise InvalidArgument(f"cannot read mask image: {exc}") from None
    if not isinstance(mask_img, nib.spatialimages.SpatialImage):
        raise InvalidArgument(f"mask_img must be a nibabel image or a path, got {type(mask_img).__name__}")
    mask = np.asarray(mask_img.dataobj)
    if mask.ndim == 4 and mask.shape[3] == 1:
        mask = mask[..., 0]
    if mask.ndim != 3:
        raise InvalidArgument(f"mask must be 3-D, got shape {mask.shape}")
    mask = mask != 0
    values = np.asarray(scores, dtype=np.float32)
    if values.ndim not in (1, 2) or values.shape[0] != int(mask.sum()):
        raise InvalidArgument(f"scores of shape {values.shape} do not match the {int(mask.sum())} voxels of the mask")
    volume = np.full(mask.shape + values.shape[1:], fill, dtype=np.float32)
    volume[mask] = values
    header = mask_img.header.copy() if isinstance(mask_img, nib.Nifti1Image) else None
    image = nib.Nifti1Image(volume, mask_img.affine, header=header)
    image.set_data_dtype(np.float32)
    return image


def nifti_bytes(image: nib.Nifti1Image) -> bytes:
    """A NIfTI image as the bytes of a ``.nii.gz`` file (the same bytes for the same image)."""
    return gzip.compress(image.to_bytes(), mtime=0)
