"""Encoding models: network activations -> brain responses.

Ridge solvers on torch tensors (CPU or CUDA) that cross-validate many alphas with
target-independent operators per fold, banded ridge over several feature spaces, run-aware
cross-validation, delayed / lagged features, per-target scores and noise
ceilings, and scikit-learn estimators on top.
"""

from braindecode.encoding._banded import BandedRidgeCVResult, band_ratio_candidates, solve_banded_ridge_cv
from braindecode.encoding._cv import LeaveOneRunOut, RunKFold, check_cv
from braindecode.encoding._estimators import BandedRidgeCV, RidgeCV
from braindecode.encoding._features import Delayer, LagFeatures, lag_features, make_delays, times_to_lags
from braindecode.encoding._nifti import scores_to_nifti
from braindecode.encoding._noise_ceiling import NoiseCeiling, noise_ceiling, normalize_by_ceiling
from braindecode.encoding._scoring import pearson_r, r2_score
from braindecode.encoding._solvers import RidgeCVResult, solve_ridge, solve_ridge_cv

__all__ = [
    "BandedRidgeCV",
    "BandedRidgeCVResult",
    "Delayer",
    "LagFeatures",
    "LeaveOneRunOut",
    "NoiseCeiling",
    "RidgeCV",
    "RidgeCVResult",
    "RunKFold",
    "band_ratio_candidates",
    "check_cv",
    "lag_features",
    "make_delays",
    "noise_ceiling",
    "normalize_by_ceiling",
    "pearson_r",
    "r2_score",
    "scores_to_nifti",
    "solve_banded_ridge_cv",
    "solve_ridge",
    "solve_ridge_cv",
    "times_to_lags",
]
