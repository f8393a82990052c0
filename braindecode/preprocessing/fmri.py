"""fMRI preprocessing: brain masks, cleaning, region time series and per-trial responses.

A run is a 4-D image (x, y, z, n_scans) with its repetition time ``t_r``; scan ``k`` is
acquired at ``k * t_r`` seconds, the time base of event onsets. The steps work on arrays:

- :func:`bold_array`, :func:`repetition_time`: validated float32 data and TR;
- :func:`compute_epi_mask` (nilearn's mean-EPI mask as an array), :func:`check_mask`,
  :func:`apply_mask` -> signals of shape (n_scans, n_voxels), :func:`voxel_names`;
- :func:`clean`: polynomial detrend, cosine or Butterworth high-pass, z-score
  (as ``nilearn.signal.clean``); :func:`drift_regressors` gives the same drifts as confounds;
- :func:`atlas_time_series` (mean per label), :func:`roi_time_series` (voxels per ROI);
- :func:`event_regressors` (the SPM canonical HRF of nilearn), :func:`lss_betas`,
  :func:`window_means` and :func:`trial_responses` -> :class:`~braindecode.containers.BrainResponses`.
"""

from braindecode.preprocessing._hrf import event_regressors
from braindecode.preprocessing._masking import (
    apply_mask,
    bold_array,
    check_mask,
    compute_epi_mask,
    repetition_time,
    voxel_names,
)
from braindecode.preprocessing._roi import atlas_time_series, roi_time_series
from braindecode.preprocessing._signal import FILTERS, clean, cosine_drift, drift_regressors, polynomial_drift
from braindecode.preprocessing._trials import METHODS, lss_betas, trial_responses, window_means

__all__ = [
    "FILTERS",
    "METHODS",
    "apply_mask",
    "atlas_time_series",
    "bold_array",
    "check_mask",
    "clean",
    "compute_epi_mask",
    "cosine_drift",
    "drift_regressors",
    "event_regressors",
    "lss_betas",
    "polynomial_drift",
    "repetition_time",
    "roi_time_series",
    "trial_responses",
    "voxel_names",
    "window_means",
]
