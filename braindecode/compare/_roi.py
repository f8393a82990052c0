"""Regions of interest and time windows over per-trial brain responses."""

from __future__ import annotations

import math
import pathlib
import tempfile
from dataclasses import dataclass

import nibabel
import numpy as np
from nibabel.spatialimages import HeaderDataError

from braindecode.containers import BrainResponses
from braindecode.errors import BraindecodeError, InvalidArgument


@dataclass
class ROI:
    """A region of interest: some of the features of preprocessed responses.

    Give ``indices`` or ``mask`` (neither selects every feature).

    Parameters
    ----------
    indices : sequence of int, optional
        Distinct feature indices: voxels in the order of the preprocessed responses (fMRI),
        or channels (EEG/MEG).
    mask : array of shape (x, y, z), nibabel image, path or bytes of a NIfTI file, optional
        Nonzero inside the region. An array is in the recordings' voxel grid; an image (or
        file) is resampled onto that grid by nearest neighbour (``nilearn.image.resample_img``)
        unless it is already in it. Selects the preprocessed voxels (fMRI) inside the region.
    name : str
        A label (the column of a score matrix).
    """

    indices: object = None
    mask: object = None
    name: str = ""


@dataclass(frozen=True)
class VolumeGrid:
    """The voxel grid of fMRI recordings.

    Parameters
    ----------
    shape : tuple of int
        (x, y, z).
    affine : array of shape (4, 4)
        Voxel to world (mm) transform.
    """

    shape: tuple
    affine: np.ndarray


def _check_indices(indices, n_features: int) -> np.ndarray:
    try:
        values = np.asarray(indices)
    except (TypeError, ValueError):
        raise InvalidArgument("ROI indices must be a list of integers") from None
    if values.ndim != 1 or values.size == 0:
        raise InvalidArgument(f"ROI indices must be a non-empty list of integers, got shape {values.shape}")
    if not np.issubdtype(values.dtype, np.integer):
        raise InvalidArgument(f"ROI indices must be integers, got dtype {values.dtype}")
    outside = values[(values < 0) | (values >= n_features)]
    if outside.size:
        raise InvalidArgument(f"ROI feature index {int(outside[0])} is out of range for {n_features} features")
    if np.unique(values).size != values.size:
        raise InvalidArgument("ROI indices repeat a feature; give each feature once")
    return values.astype(np.int64)


def _voxel_coordinates(responses: BrainResponses) -> np.ndarray:
    """The (i, j, k) voxel of every feature, (n_features, 3), from the "i,j,k" feature names."""
    names = responses.feature_names
    if responses.data.ndim != 2 or not names:
        raise InvalidArgument("an ROI mask selects fMRI voxels; these responses have no voxel features "
                              "(use ROI feature indices)")
    try:
        coordinates = np.array([[int(part) for part in str(name).split(",")] for name in names])
    except ValueError:
        coordinates = np.empty((0,))
    if coordinates.shape != (len(names), 3):
        raise InvalidArgument("an ROI mask selects fMRI voxels; these responses' features are not voxels "
                              f"(e.g. {names[0]!r}): use ROI feature indices")
    return coordinates


def _mask_image(mask):
    """A nibabel image of a mask given as an image, a NIfTI file or its bytes (checked by the readers)."""
    from braindecode.recordings import read_recording

    if isinstance(mask, nibabel.spatialimages.SpatialImage):
        return mask
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(mask) if isinstance(mask, (str, pathlib.Path)) else pathlib.Path(tmp) / "mask.nii"
        if isinstance(mask, (bytes, bytearray)):
            path.write_bytes(bytes(mask))
        with read_recording(path, format="nifti", name="the ROI mask image") as loaded:
            if loaded.meta.shape[3] != 1:
                raise InvalidArgument(f"the ROI mask image holds {loaded.meta.shape[3]} volumes; "
                                      "a mask is one 3-D volume")
            return nibabel.Nifti1Image(loaded.data()[..., 0], loaded.meta.affine)


def _on_grid(image, grid: VolumeGrid) -> np.ndarray:
    """The image's values on ``grid``: as they are when it is in that grid, else resampled by nearest neighbour."""
    if tuple(image.shape[:3]) == tuple(grid.shape) and np.allclose(image.affine, grid.affine, atol=1e-4):
        return np.asarray(image.dataobj)
    from nilearn.image import resample_img

    return np.asarray(resample_img(image, target_affine=grid.affine, target_shape=tuple(grid.shape),
                                   interpolation="nearest", force_resample=True, copy_header=True).dataobj)


def _grid_mask(mask, grid: VolumeGrid | None) -> np.ndarray:
    """The mask as a boolean array on the recordings' grid."""
    if grid is None:
        raise InvalidArgument("an ROI mask needs the recordings' voxel grid")
    try:
        with np.errstate(invalid="ignore", divide="ignore"):  # a degenerate affine is reported below
            data = mask if isinstance(mask, np.ndarray) else _on_grid(_mask_image(mask), grid)
    except BraindecodeError:
        raise
    except (HeaderDataError, ValueError) as exc:  # e.g. a singular affine
        raise InvalidArgument(f"the ROI mask image cannot be put on the recordings' voxel grid: {exc}") from None
    if data.ndim != 3 or tuple(data.shape) != tuple(grid.shape):
        raise InvalidArgument(f"the ROI mask has shape {tuple(data.shape)} but the recordings' volumes are "
                              f"{tuple(grid.shape)}")
    if data.dtype.kind not in "biuf":
        raise InvalidArgument(f"the ROI mask has unsupported dtype {data.dtype}")
    if not np.isfinite(data).all():
        raise InvalidArgument("the ROI mask contains NaN or infinite values")
    inside = data != 0
    if not inside.any():
        raise InvalidArgument("the ROI mask selects no voxel")
    return inside


def roi_features(responses: BrainResponses, roi: ROI, grid: VolumeGrid | None = None) -> np.ndarray:
    """The feature indices of ``responses`` (along axis 1) inside an ROI.

    Parameters
    ----------
    responses : BrainResponses
        data of shape (n_trials, n_features) or (n_trials, n_channels, n_times).
    roi : ROI
    grid : VolumeGrid, optional
        The recordings' voxel grid; needed by a mask.

    Returns
    -------
    features : int64 array of shape (n_selected,)
    """
    n_features = responses.data.shape[1]
    if roi.indices is not None and roi.mask is not None:
        raise InvalidArgument("give an ROI as feature indices or as a mask, not both")
    if roi.mask is None:
        return np.arange(n_features) if roi.indices is None else _check_indices(roi.indices, n_features)
    coordinates = _voxel_coordinates(responses)
    inside = _grid_mask(roi.mask, grid)
    if (coordinates >= np.array(inside.shape)).any():
        raise InvalidArgument(f"the responses' voxels lie outside the ROI mask's grid {inside.shape}")
    features = np.flatnonzero(inside[tuple(coordinates.T)])
    if features.size == 0:
        raise InvalidArgument(f"the ROI mask covers none of the {n_features} voxels of the preprocessed responses")
    return features


def _check_window(time_window) -> tuple:
    try:
        start, stop = (float(value) for value in time_window)
    except (TypeError, ValueError):
        raise InvalidArgument(f"time_window must be (start, stop) in seconds, got {time_window!r}") from None
    if not (math.isfinite(start) and math.isfinite(stop)) or start > stop:
        raise InvalidArgument(f"time_window ({start}, {stop}) must be finite with start <= stop")
    return start, stop


def select_responses(responses: BrainResponses, roi: ROI | None = None, time_window=None,
                     grid: VolumeGrid | None = None) -> tuple:
    """The responses restricted to an ROI and (EEG/MEG epochs) a time window.

    Parameters
    ----------
    responses : BrainResponses
        data of shape (n_trials, n_features) or (n_trials, n_channels, n_times).
    roi : ROI, optional
        Features (fMRI) or channels (EEG/MEG) to keep; all by default.
    time_window : (float, float), optional
        Epoch times to keep, in seconds, both ends included; EEG/MEG epochs only.
    grid : VolumeGrid, optional
        The recordings' voxel grid, for an ROI mask.

    Returns
    -------
    responses : BrainResponses
        The selection (times too, for a time window).
    features : int64 array of shape (n_selected,)
        The kept indices along axis 1 of the input's data.
    """
    features = roi_features(responses, roi or ROI(), grid)
    data, times = responses.data[:, features], responses.times
    if time_window is not None:
        if responses.data.ndim != 3 or responses.times is None:
            raise InvalidArgument("time_window applies to EEG/MEG epochs; these responses have no time axis")
        start, stop = _check_window(time_window)
        tolerance = 1e-9 * max(1.0, float(np.abs(times).max()))
        keep = (times >= start - tolerance) & (times <= stop + tolerance)
        if not keep.any():
            raise InvalidArgument(f"time_window ({start}, {stop}) s holds no sample of the epochs "
                                  f"({times[0]:.4g} to {times[-1]:.4g} s)")
        data, times = data[..., keep], times[keep]
    names = None if responses.feature_names is None else [responses.feature_names[i] for i in features]
    selected = BrainResponses(data, responses.stimulus_ids, responses.subjects, responses.runs, names, times,
                              dict(responses.info))
    return selected, features
