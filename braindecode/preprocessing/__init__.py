"""Recordings -> BrainResponses: EEG/MEG steps on MNE (:mod:`.eeg`), fMRI steps (:mod:`.fmri`)
and the declarative :func:`preprocess`, whose spec is an :class:`EEGSpec` or an :class:`FMRISpec`."""

from braindecode.preprocessing._pipeline import preprocess
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
    "PreprocessingSpec",
    "apply_mask",
    "atlas_time_series",
    "bold_array",
    "check_mask",
    "clean",
    "compute_epi_mask",
    "cosine_drift",
    "drift_regressors",
    "epoch_responses",
    "event_regressors",
    "lss_betas",
    "polynomial_drift",
    "preprocess",
    "preprocess_raw",
    "preprocessing_reference",
    "preprocessing_spec",
    "repetition_time",
    "roi_time_series",
    "trial_responses",
    "voxel_names",
    "window_means",
]
