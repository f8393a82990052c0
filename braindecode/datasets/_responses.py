"""Per-trial fMRI responses of the embedded data set, read back from its files."""

from __future__ import annotations

import nibabel as nib
import numpy as np

from braindecode.containers import BrainResponses, Events
from braindecode.datasets._default import LAYERS, DatasetInfo
from braindecode.errors import InvalidArgument

#: Cleaning and single-trial GLM of the responses: detrended, high-passed, z-scored, one LSS GLM per run.
TRIALS_SPEC = {"modality": "fmri", "detrend": True, "high_pass": 0.01, "zscore": True, "trials": {"method": "lss"}}


def roi_responses(info: DatasetInfo, subject: str, rois=tuple(LAYERS), runs=None) -> BrainResponses:
    """A subject's per-trial responses in its own ROIs, one LSS GLM per run (``TRIALS_SPEC``).

    Parameters
    ----------
    info : DatasetInfo
        From ``make_default_dataset``.
    subject : str
        E.g. ``"sub-01"``.
    rois : sequence of str
        ROIs whose voxels are kept (default: the driven ones), from the subject's own masks.
    runs : sequence of int, optional
        Run numbers (from 1); default every run.

    Returns
    -------
    responses : BrainResponses
        Data of shape (n_trials, n_voxels) (voxels of the ROIs' union in C order), stimulus ids,
        ``subjects`` and ``runs`` (run numbers as strings) of each trial.
    """
    from braindecode.preprocessing import preprocess

    masks = info.files["subject_masks"].get(subject)
    if masks is None:
        raise InvalidArgument(f"unknown subject {subject!r}; the data set has {', '.join(info.files['subject_masks'])}")
    unknown = [roi for roi in rois if roi not in masks]
    if unknown or not rois:
        raise InvalidArgument(f"rois must be some of {', '.join(masks)}, got {list(rois)}")
    mask = np.logical_or.reduce([np.asarray(nib.load(masks[roi]).dataobj) > 0 for roi in rois])
    files = [run for run in info.files["fmri"] if run["subject"] == subject and (runs is None or run["run"] in runs)]
    if runs is not None and len(files) != len(set(runs)):
        raise InvalidArgument(f"subject {subject!r} has runs {[r['run'] for r in info.files['fmri'] if r['subject'] == subject]}, "
                              f"asked for {list(runs)}")
    parts = [preprocess(nib.load(run["bold"]), {**TRIALS_SPEC, "mask": mask, "subject": subject, "run": str(run["run"])},
                        Events.from_tsv(run["events"])) for run in files]
    return BrainResponses(np.concatenate([p.data for p in parts]), np.concatenate([p.stimulus_ids for p in parts]),
                          np.concatenate([p.subjects for p in parts]), np.concatenate([p.runs for p in parts]))
