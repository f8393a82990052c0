"""Representational comparison: RDMs, RSA, CKA, noise ceilings and inference.

Math runs in torch on the ``device`` given (CPU or CUDA), vectorised over many
RDMs, bootstrap samples and permutations. Functions given numpy arrays return
numpy arrays; given torch tensors they return tensors. Definitions follow
rsatoolbox 0.3.2 wherever it computes the same thing.
"""

from braindecode.compare._cka import CKA_KERNELS, cka
from braindecode.compare._compare import ComparisonResult, compare
from braindecode.compare._comparison import COMPARISON_METHODS, compare_rdms
from braindecode.compare._inference import (
    RESAMPLING,
    PermutationResult,
    bootstrap_scores,
    fdr_correction,
    pairwise_bootstrap_test,
    percentile_ci,
    permutation_test,
)
from braindecode.compare._noise import (
    NOISE_METHODS,
    crossnobis_rdm,
    mahalanobis_rdm,
    noise_covariance,
    noise_precision,
)
from braindecode.compare._noise_ceiling import NoiseCeiling, noise_ceiling
from braindecode.compare._rdm import RDM_METHODS, compute_rdm, rdm_to_vector, vector_to_rdm
from braindecode.compare._roi import ROI, VolumeGrid, roi_features, select_responses
from braindecode.compare._scores import SCORE_METHODS, ScoreMatrix, score_matrix, time_score_matrix
from braindecode.compare._store_glue import (
    COMPARISON_ARTIFACT,
    MAX_RESAMPLES,
    RDM_ARTIFACT,
    SCORE_MATRIX_ARTIFACT,
    StoredComparison,
    StoredRDM,
    StoredScoreMatrix,
    SubjectRDM,
    activation_rdm,
    compare_from_store,
    compute_rdms_from_store,
    load_rdm,
    response_rdms,
    score_matrix_from_store,
)

__all__ = [
    "CKA_KERNELS",
    "COMPARISON_ARTIFACT",
    "COMPARISON_METHODS",
    "MAX_RESAMPLES",
    "NOISE_METHODS",
    "RDM_ARTIFACT",
    "RDM_METHODS",
    "RESAMPLING",
    "ROI",
    "SCORE_MATRIX_ARTIFACT",
    "SCORE_METHODS",
    "ComparisonResult",
    "NoiseCeiling",
    "PermutationResult",
    "ScoreMatrix",
    "StoredComparison",
    "StoredRDM",
    "StoredScoreMatrix",
    "SubjectRDM",
    "VolumeGrid",
    "activation_rdm",
    "bootstrap_scores",
    "cka",
    "compare",
    "compare_from_store",
    "compare_rdms",
    "compute_rdm",
    "compute_rdms_from_store",
    "crossnobis_rdm",
    "fdr_correction",
    "load_rdm",
    "mahalanobis_rdm",
    "noise_ceiling",
    "noise_covariance",
    "noise_precision",
    "pairwise_bootstrap_test",
    "percentile_ci",
    "permutation_test",
    "rdm_to_vector",
    "response_rdms",
    "roi_features",
    "score_matrix",
    "score_matrix_from_store",
    "select_responses",
    "time_score_matrix",
    "vector_to_rdm",
]
