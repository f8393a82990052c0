"""Encoding models: network activations -> brain responses.

Ridge solvers on torch tensors (CPU or CUDA) that cross-validate many alphas with
target-independent operators per fold, banded ridge over several feature spaces, run-aware
cross-validation, delayed / lagged features, per-target scores and noise
ceilings, and scikit-learn estimators on top; encoders fitted on per-trial responses,
saved with what it takes to use them again, and scored into per-voxel NIfTI maps.
"""

from braindecode.encoding._banded import BandedRidgeCVResult, band_ratio_candidates, solve_banded_ridge_cv
from braindecode.encoding._cv import LeaveOneRunOut, RunKFold, check_cv
from braindecode.encoding._encoder import BrainSpace, Encoder
from braindecode.encoding._encoder_scores import (
    EncoderScores,
    predict_responses,
    repeat_noise_ceiling,
    score_encoder,
    summarize_scores,
    target_scores,
)
from braindecode.encoding._estimators import DEFAULT_ALPHAS, BandedRidgeCV, RidgeCV
from braindecode.encoding._features import Delayer, LagFeatures, lag_features, make_delays, times_to_lags
from braindecode.encoding._fitting import EncoderFit, fit_encoder
from braindecode.encoding._nifti import scores_to_nifti
from braindecode.encoding._noise_ceiling import NoiseCeiling, noise_ceiling, normalize_by_ceiling
from braindecode.encoding._persistence import load_encoder, read_encoder_config, save_encoder
from braindecode.encoding._scoring import pearson_r, r2_score
from braindecode.encoding._solvers import RidgeCVResult, solve_ridge, solve_ridge_cv

__all__ = [
    "DEFAULT_ALPHAS",
    "BandedRidgeCV",
    "BandedRidgeCVResult",
    "BrainSpace",
    "Delayer",
    "Encoder",
    "EncoderFit",
    "EncoderScores",
    "LagFeatures",
    "LeaveOneRunOut",
    "NoiseCeiling",
    "RidgeCV",
    "RidgeCVResult",
    "RunKFold",
    "band_ratio_candidates",
    "check_cv",
    "fit_encoder",
    "lag_features",
    "load_encoder",
    "make_delays",
    "noise_ceiling",
    "normalize_by_ceiling",
    "pearson_r",
    "predict_responses",
    "r2_score",
    "read_encoder_config",
    "repeat_noise_ceiling",
    "save_encoder",
    "score_encoder",
    "scores_to_nifti",
    "solve_banded_ridge_cv",
    "solve_ridge",
    "solve_ridge_cv",
    "summarize_scores",
    "target_scores",
    "times_to_lags",
]
