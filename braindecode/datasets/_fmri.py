"""Simulated event-related fMRI in MNI space with layer-driven regions of interest.

Voxels lie inside nilearn's MNI152 brain mask resampled to ``resolution`` mm. Each
driven ROI voxel responds to a stimulus with a mean response plus a random linear
readout of its layer's principal components; responses are HRF-convolved events
(:func:`braindecode.preprocessing.event_regressors`, SPM canonical HRF, peak one) on a
voxel baseline, plus AR(1) noise. The control ROI and every other brain voxel carry
noise only.

The SNR is defined on single-trial responses: ``snr = var(signal) / var(noise)`` of the
least-squares all-trials (LSA) estimates of a run's GLM (one regressor per trial and an
intercept, with the generating HRF). The time-series noise is scaled so that, given the
design and the AR(1) covariance, the LSA estimates have exactly this SNR on average.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nibabel as nib
import numpy as np
from scipy.signal import lfilter

from braindecode.containers import Events
from braindecode.datasets._readout import noise_ceiling_from_snr, random_readout
from braindecode.errors import InvalidArgument
from braindecode.preprocessing import event_regressors

#: ROI boxes in MNI millimetres: (|x| range, y range, z range), half-open [low, high).
#: A voxel belongs to the first ROI whose box holds it.
ROI_BOXES = {
    "early": {"description": "occipital pole (V1/V2)", "abs_x": (0, 30), "y": (-110, -78), "z": (-15, 25)},
    "mid": {"description": "lateral occipital", "abs_x": (30, 54), "y": (-90, -66), "z": (-12, 18)},
    "late": {"description": "ventral temporal (fusiform)", "abs_x": (24, 48), "y": (-66, -36), "z": (-30, -6)},
    "control": {"description": "prefrontal, driven by nothing", "abs_x": (0, 30), "y": (36, 60), "z": (0, 30)},
}
TAIL_SECONDS = 16.0


@dataclass
class FmriSimulation:
    """Simulated BOLD runs of one subject.

    Parameters
    ----------
    runs : list of nibabel.Nifti1Image
        4-D int16 images of shape (nx, ny, nz, n_scans) in MNI space.
    events : list of Events
        The events of each run.
    mask : nibabel.Nifti1Image
        The brain mask (uint8).
    rois : dict of str -> nibabel.Nifti1Image
        One uint8 mask per ROI.
    ground_truth : dict
        Parameters, driving layer per ROI, SNRs and noise ceilings.
    """

    runs: list
    events: list
    mask: nib.Nifti1Image
    rois: dict
    ground_truth: dict = field(default_factory=dict)


def brain_mask(resolution: int = 6) -> nib.Nifti1Image:
    """nilearn's MNI152 brain mask resampled to ``resolution`` mm (shipped with nilearn)."""
    from nilearn.datasets import load_mni152_brain_mask

    if not 1 <= resolution <= 12:
        raise InvalidArgument(f"resolution must be 1 to 12 mm, got {resolution}")
    img = load_mni152_brain_mask(resolution=resolution)
    return _nifti((np.asarray(img.dataobj) > 0).astype(np.uint8), img.affine, (resolution,) * 3)


def roi_masks(mask: nib.Nifti1Image, boxes: dict | None = None) -> dict:
    """Boolean volumes, one per ROI box, inside ``mask`` and disjoint.

    Parameters
    ----------
    mask : nibabel.Nifti1Image
    boxes : dict, optional
        ROI boxes in the layout of ``ROI_BOXES`` (the default); a voxel belongs to the first box
        that holds it.
    """
    inside = np.asarray(mask.dataobj) > 0
    ijk = np.indices(inside.shape).reshape(3, -1).T
    x, y, z = (nib.affines.apply_affine(mask.affine, ijk).T).reshape(3, *inside.shape)
    free = inside.copy()
    rois = {}
    for name, box in (ROI_BOXES if boxes is None else boxes).items():
        sel = free & (np.abs(x) >= box["abs_x"][0]) & (np.abs(x) < box["abs_x"][1])
        sel &= (y >= box["y"][0]) & (y < box["y"][1]) & (z >= box["z"][0]) & (z < box["z"][1])
        if not sel.any():
            raise InvalidArgument(f"ROI {name!r} holds no voxel at this resolution")
        rois[name] = sel
        free &= ~sel
    return rois


def jitter_roi_boxes(rng, shift_mm: float, size_ratio: float = 1.25, boxes: dict | None = None) -> dict:
    """ROI boxes of one subject: each box moved and resized as brains differ from the template.

    Parameters
    ----------
    rng : numpy.random.Generator
    shift_mm : float
        Each box's centre moves by up to this many mm along every axis (uniform).
    size_ratio : float, at least 1
        Each box's extent along every axis is scaled by a factor log-uniform in
        ``[1 / size_ratio, size_ratio]``.
    boxes : dict, optional
        The template boxes (default ``ROI_BOXES``).

    Returns
    -------
    boxes : dict
        Same layout and descriptions; ``abs_x`` ranges stay non-negative.
    """
    if shift_mm < 0 or size_ratio < 1:
        raise InvalidArgument(f"need shift_mm >= 0 and size_ratio >= 1; got {shift_mm}, {size_ratio}")
    jittered = {}
    for name, box in (ROI_BOXES if boxes is None else boxes).items():
        jittered[name] = {"description": box["description"]}
        for axis in ("abs_x", "y", "z"):
            low, high = box[axis]
            centre = (low + high) / 2 + rng.uniform(-shift_mm, shift_mm)
            half = (high - low) / 2 * np.exp(rng.uniform(-np.log(size_ratio), np.log(size_ratio)))
            low, high = centre - half, centre + half
            if axis == "abs_x":
                low = max(low, 0.0)
            jittered[name][axis] = (round(float(low), 1), round(float(high), 1))
    return jittered


def ar1_noise(n_scans: int, n_voxels: int, ar1: float, rng) -> np.ndarray:
    """Stationary AR(1) noise of unit variance, array of shape (n_scans, n_voxels)."""
    innovations = rng.standard_normal((n_scans, n_voxels)) * np.sqrt(1 - ar1**2)
    start = ar1 * rng.standard_normal((1, n_voxels))
    return lfilter([1.0], [1.0, -ar1], innovations, axis=0, zi=start)[0]


def lsa_variance(design: np.ndarray, ar1: float) -> np.ndarray:
    """Variance of each trial's LSA estimate under unit-variance AR(1) noise.

    Parameters
    ----------
    design : array of shape (n_scans, n_trials)
        One regressor per trial; an intercept is added.

    Returns
    -------
    variance : array of shape (n_trials,)
    """
    n_scans = design.shape[0]
    full = np.column_stack([design, np.ones(n_scans)])
    lags = np.abs(np.subtract.outer(np.arange(n_scans), np.arange(n_scans)))
    pinv = np.linalg.pinv(full)
    cov = pinv @ (ar1**lags) @ pinv.T
    return np.diag(cov)[:-1]


def _scan_count(events: Events, t_r: float) -> int:
    return int(np.ceil((events.onset[-1] + events.duration[-1] + TAIL_SECONDS) / t_r))


def _nifti(data: np.ndarray, affine: np.ndarray, zooms: tuple) -> nib.Nifti1Image:
    img = nib.Nifti1Image(data, affine)
    img.header.set_xyzt_units("mm", "sec")
    img.header.set_zooms(zooms)
    img.set_sform(affine, code="mni")
    img.set_qform(affine, code="mni")
    return img


def simulate_fmri(
    stimulus_ids,
    drives: dict,
    runs: list,
    *,
    resolution: int = 6,
    t_r: float = 2.0,
    snr: float = 0.5,
    ar1: float = 0.5,
    signal_change: float = 1.0,
    mean_response: float = 1.0,
    boxes: dict | None = None,
    seed: int = 0,
    progress=None,
) -> FmriSimulation:
    """BOLD runs of one subject whose driven ROIs read out network layers.

    Parameters
    ----------
    stimulus_ids : array of shape (n_stimuli,)
        Row order of the arrays in ``drives``.
    drives : dict of str -> (str, array of shape (n_stimuli, n_components)) or None
        Per ROI of ``ROI_BOXES``: the driving layer's name and its component scores,
        or None for an undriven ROI. Every ROI must be listed.
    runs : list of Events
        Trials per run (onsets and durations in seconds, stimulus ids).
    resolution : int
        Voxel size in mm.
    t_r : float
        Repetition time in seconds.
    snr : float
        Single-trial SNR of driven voxels (see the module docstring).
    ar1 : float
        Lag-one autocorrelation of the noise, in [0, 1).
    signal_change, mean_response : float
        Standard deviation across stimuli and mean of a driven voxel's peak response,
        in percent of the voxel baseline.
    boxes : dict, optional
        The subject's ROI boxes, in the layout of ``ROI_BOXES`` (the default; see
        ``jitter_roi_boxes``).
    seed : int
    progress : callable, optional
        ``progress(done, total)`` after each run.

    Returns
    -------
    simulation : FmriSimulation
    """
    if not runs or not all(len(events) for events in runs):
        raise InvalidArgument("runs must be a non-empty list of non-empty Events")
    boxes = ROI_BOXES if boxes is None else boxes
    if set(drives) != set(boxes):
        raise InvalidArgument(f"drives must name every ROI: {sorted(boxes)}")
    if snr <= 0 or not 0 <= ar1 < 1 or t_r <= 0:
        raise InvalidArgument(f"need snr > 0, 0 <= ar1 < 1 and t_r > 0; got {snr}, {ar1}, {t_r}")
    rng = np.random.default_rng(seed)
    index = {sid: i for i, sid in enumerate(np.asarray(stimulus_ids).astype(str))}
    mask = brain_mask(resolution)
    inside = np.asarray(mask.dataobj) > 0
    rois = roi_masks(mask, boxes)
    n_voxels = int(inside.sum())
    # per-stimulus response of every brain voxel, in percent signal change
    amplitude = np.zeros((len(index), n_voxels))
    voxel_roi = {name: roi[inside] for name, roi in rois.items()}
    for name in boxes:
        if drives[name] is not None:
            components = np.asarray(drives[name][1], dtype=np.float64)
            if components.shape[0] != len(index):
                raise InvalidArgument(f"drive of ROI {name!r} has {components.shape[0]} rows for {len(index)} stimuli")
            cols = voxel_roi[name]
            amplitude[:, cols] = mean_response + signal_change * random_readout(components, int(cols.sum()), rng)
    baseline = rng.uniform(8000, 12000, n_voxels)
    designs = [event_regressors(events, _scan_count(events, t_r), t_r) for events in runs]
    trial_variance = np.concatenate([lsa_variance(x, ar1) for x in designs]).mean()
    noise_sd = signal_change / np.sqrt(snr * trial_variance)
    images = []
    for k, (events, design) in enumerate(zip(runs, designs)):
        missing = [s for s in events.stimulus_id if s not in index]
        if missing:
            raise InvalidArgument(f"run {k + 1} shows unknown stimuli, e.g. {missing[:3]}")
        rows = np.array([index[s] for s in events.stimulus_id])
        percent = design @ amplitude[rows] + noise_sd * ar1_noise(design.shape[0], n_voxels, ar1, rng)
        volume = np.zeros(inside.shape + (design.shape[0],), dtype=np.int16)
        volume[inside] = np.rint(baseline * (1 + percent / 100)).T.astype(np.int16)
        images.append(_nifti(volume, mask.affine, (resolution,) * 3 + (t_r,)))
        if progress:
            progress(k + 1, len(runs))
    n_repeats = max(np.unique(np.concatenate([e.stimulus_id for e in runs]), return_counts=True)[1])
    layers = {name: None if drive is None else drive[0] for name, drive in drives.items()}
    truth = {
        "space": "MNI152 (nilearn brain mask)", "resolution_mm": resolution, "t_r": t_r,
        "hrf": "SPM canonical double-gamma, boxcar over the event duration, peak normalised to 1",
        "units": "int16 BOLD: voxel baseline in [8000, 12000], responses in percent of it",
        "snr_definition": "var(signal) / var(noise) of single-trial LSA estimates, generating HRF",
        "ar1": ar1, "noise_sd_percent": float(noise_sd), "signal_sd_percent": signal_change,
        "mean_response_percent": mean_response, "seed": seed,
        "rois": roi_ground_truth(layers, boxes, rois, snr, int(n_repeats)),
    }
    return FmriSimulation(images, list(runs), mask, roi_images(mask, rois), truth)


def roi_images(mask: nib.Nifti1Image, rois: dict) -> dict:
    """uint8 NIfTI masks, one per boolean volume of ``rois`` (see ``roi_masks``), on ``mask``'s grid."""
    return {name: _nifti(roi.astype(np.uint8), mask.affine, mask.header.get_zooms()[:3]) for name, roi in rois.items()}


def roi_ground_truth(layers: dict, boxes: dict, rois: dict, snr: float, n_repeats: int) -> dict:
    """What each ROI is: driving layer, description, box, voxel count, SNR and noise ceiling.

    Parameters
    ----------
    layers : dict of str -> str or None
        The driving layer of each ROI; None for an undriven one.
    boxes : dict
        The ROI boxes (layout of ``ROI_BOXES``).
    rois : dict of str -> bool array
        The ROI volumes (see ``roi_masks``).
    snr : float
        Single-trial SNR of the driven ROIs.
    n_repeats : int
        Presentations of a test stimulus, for the noise ceilings.
    """
    return {
        name: {
            "layer": layers[name],
            "description": boxes[name]["description"],
            "box_mm": {k: list(v) for k, v in boxes[name].items() if k != "description"},
            "n_voxels": int(rois[name].sum()),
            "snr": 0.0 if layers[name] is None else snr,
            "noise_ceiling": noise_ceiling_from_snr(0.0 if layers[name] is None else snr, n_repeats),
        }
        for name in boxes
    }
