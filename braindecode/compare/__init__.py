"""Representational comparison: RDMs, RSA, CKA, noise ceilings and inference.

Math runs in torch on the ``device`` given (CPU or CUDA), vectorised over many
RDMs, bootstrap samples and permutations. Functions given numpy arrays return
numpy arrays; given torch tensors they return tensors. Definitions follow
rsatoolbox 0.3.2 wherever it computes the same thing.
"""

from braindecode.compare._cka import CKA_KERNELS, cka
from braindecode.compare._compare import ComparisonResult, compare
from braindecode.compare._comparison import COMPARISON_METHODS, compare_rdms
from braindecode.compare._condition_rdms import SubjectRDM, activation_rdm, response_rdms
from braindecode.compare._inference import (
    RESAMPLING,
    PermutationResult,
    bootstrap_scores,
    fdr_correction,
    pairwise_bootstrap_test,
    percentile_ci,
    permutation_test,
)
from braindecode.compare._noise import NOISE_METHODS, crossnobis_rdm, noise_covariance, noise_precision
from braindecode.compare._noise_ceiling import RDMNoiseCeiling, rdm_noise_ceiling
from braindecode.compare._rdm import RDM_METHODS, compute_rdm, rdm_to_vector, vector_to_rdm
from braindecode.compare._roi import ROI, VolumeGrid, roi_features, select_responses
from braindecode.compare._scores import SCORE_METHODS, ScoreMatrix, score_matrix, time_score_matrix
from braindecode.compare._subject_scores import SubjectScoreMatrix, subject_score_matrix

__all__ = [
    "CKA_KERNELS",
    "COMPARISON_METHODS",
    "NOISE_METHODS",
    "RDM_METHODS",
    "RESAMPLING",
    "ROI",
    "SCORE_METHODS",
    "ComparisonResult",
    "PermutationResult",
    "RDMNoiseCeiling",
    "ScoreMatrix",
    "SubjectRDM",
    "SubjectScoreMatrix",
    "VolumeGrid",
    "activation_rdm",
    "bootstrap_scores",
    "cka",
    "compare",
    "compare_rdms",
    "compute_rdm",
    "crossnobis_rdm",
    "fdr_correction",
    "noise_covariance",
    "noise_precision",
    "pairwise_bootstrap_test",
    "percentile_ci",
    "permutation_test",
    "rdm_noise_ceiling",
    "rdm_to_vector",
    "response_rdms",
    "roi_features",
    "score_matrix",
    "select_responses",
    "subject_score_matrix",
    "time_score_matrix",
    "vector_to_rdm",
]
