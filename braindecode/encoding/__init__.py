"""Encoding models: network activations -> brain responses.

Ridge solvers on torch tensors (CPU or CUDA) that cross-validate many alphas from
one decomposition per fold, banded ridge over several feature spaces, run-aware
cross-validation, delayed / lagged features, per-target scores and noise
ceilings, and scikit-learn estimators on top.
"""

from braindecode.encoding._banded import BandedRidgeCVResult, band_ratio_candidates, solve_banded_ridge_cv
from braindecode.encoding._cv import LeaveOneRunOut, RunKFold, check_cv
from braindecode.encoding._estimators import BandedRidgeCV, RidgeCV
from braindecode.encoding._scoring import pearson_r, r2_score
from braindecode.encoding._solvers import RidgeCVResult, solve_ridge, solve_ridge_cv

__all__ = [
    "BandedRidgeCV",
    "BandedRidgeCVResult",
    "LeaveOneRunOut",
    "RidgeCV",
    "RidgeCVResult",
    "RunKFold",
    "band_ratio_candidates",
    "check_cv",
    "pearson_r",
    "r2_score",
    "solve_banded_ridge_cv",
    "solve_ridge",
    "solve_ridge_cv",
]
