"""Recordings -> BrainResponses: EEG/MEG steps on MNE (:mod:`.eeg`), fMRI steps (:mod:`.fmri`)
and the declarative :func:`preprocess`, whose spec is an :class:`EEGSpec` or an :class:`FMRISpec`;
a :class:`Selection` names the voxels and trials of the responses that an analysis uses."""

from braindecode.preprocessing._footprint import Footprint, footprint
from braindecode.preprocessing._pipeline import preprocess
from braindecode.preprocessing._selection import (
    Selection,
    TrialSelection,
    VoxelSelection,
    matching_events,
    selected_voxels,
    selection_spec,
)
from braindecode.preprocessing._spec import (
    MODALITIES,
    EEGSpec,
    FMRISpec,
    PreprocessingSpec,
    preprocessing_reference,
    preprocessing_spec,
)
from braindecode.preprocessing.eeg import CHANNEL_TYPES, epoch_responses, preprocess_raw
from braindecode.preprocessing.fmri import (
    FILTERS,
    METHODS,
    apply_mask,
    atlas_time_series,
    bold_array,
    check_mask,
    clean,
    compute_epi_mask,
    cosine_drift,
    drift_regressors,
    event_regressors,
    lss_betas,
    polynomial_drift,
    repetition_time,
    roi_time_series,
    trial_responses,
    voxel_names,
    window_means,
)

__all__ = [
    "CHANNEL_TYPES",
    "FILTERS",
    "METHODS",
    "MODALITIES",
    "EEGSpec",
    "FMRISpec",
    "Footprint",
    "PreprocessingSpec",
    "Selection",
    "TrialSelection",
    "VoxelSelection",
    "apply_mask",
    "atlas_time_series",
    "bold_array",
    "check_mask",
    "clean",
    "compute_epi_mask",
    "cosine_drift",
    "drift_regressors",
    "epoch_responses",
    "footprint",
    "event_regressors",
    "lss_betas",
    "matching_events",
    "polynomial_drift",
    "preprocess",
    "preprocess_raw",
    "preprocessing_reference",
    "preprocessing_spec",
    "repetition_time",
    "roi_time_series",
    "selected_voxels",
    "selection_spec",
    "trial_responses",
    "voxel_names",
    "window_means",
]
