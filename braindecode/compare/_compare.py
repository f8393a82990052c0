"""One call from brain and model RDMs to scores, confidence intervals, p-values and noise ceiling."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from braindecode._devices import resolve_device, resolve_dtype
from braindecode.compare._checks import (
    as_tensor,
    check_choice,
    check_count,
    check_seed,
)
from braindecode.compare._comparison import (
    COMPARISON_METHODS,
    check_same_conditions,
    make_comparer,
    rdm_vectors,
)
from braindecode.compare._inference import (
    RESAMPLING,
    _Progress,
    check_ci,
    draw_bootstrap,
    fdr_correction,
    pairwise_bootstrap_test,
    percentile_ci,
    permutation_p_values,
    permuted_null,
    random_permutations,
    resampled_scores,
    valid_samples,
)
from braindecode.compare._noise_ceiling import RDMNoiseCeiling, noise_ceiling_of
from braindecode.compare._rdm import rdm_to_vector
from braindecode.errors import InvalidArgument


@dataclass
class ComparisonResult:
    """Brain-model RDM comparison with its uncertainty.

    Attributes
    ----------
    model_names : list of str
    method : str
        The RDM comparison method.
    scores : array of shape (n_models,)
        Mean over subjects of each subject's score.
    subject_scores : array of shape (n_subjects, n_models)
    noise_ceiling : RDMNoiseCeiling or None
        None with a single subject RDM or when not requested.
    bootstrap : str or None
        What was resampled ("conditions", "subjects", "both").
    bootstrap_scores : array of shape (n_valid_samples, n_models) or None
    ci : float
        Coverage of the confidence intervals.
    ci_lower, ci_upper : array of shape (n_models,) or None
        Percentile bootstrap confidence intervals.
    pairwise_p_values, pairwise_p_values_fdr : array of shape (n_models, n_models) or None
        Bootstrap tests of score differences between models, raw and
        Benjamini-Hochberg corrected over the model pairs.
    p_values, p_values_fdr : array of shape (n_models,) or None
        One-sided permutation p-values (model condition labels permuted), raw and
        Benjamini-Hochberg corrected over models.
    null_scores : array of shape (n_permutations, n_models) or None
    n_bootstrap, n_permutations, seed : int
    """

    model_names: list
    method: str
    scores: np.ndarray
    subject_scores: np.ndarray
    noise_ceiling: RDMNoiseCeiling | None
    bootstrap: str | None
    bootstrap_scores: np.ndarray | None
    ci: float
    ci_lower: np.ndarray | None
    ci_upper: np.ndarray | None
    pairwise_p_values: np.ndarray | None
    pairwise_p_values_fdr: np.ndarray | None
    p_values: np.ndarray | None
    p_values_fdr: np.ndarray | None
    null_scores: np.ndarray | None
    n_bootstrap: int
    n_permutations: int
    seed: int

    def to_dict(self) -> dict:
        """Plain Python values (lists, floats, None), without the sample arrays."""

        def plain(value):
            return value.tolist() if isinstance(value, np.ndarray) else value

        return {
            "model_names": list(self.model_names),
            "method": self.method,
            "scores": plain(self.scores),
            "subject_scores": plain(self.subject_scores),
            "noise_ceiling": None if self.noise_ceiling is None else self.noise_ceiling.to_dict(),
            "bootstrap": self.bootstrap,
            "ci": self.ci,
            "ci_lower": plain(self.ci_lower),
            "ci_upper": plain(self.ci_upper),
            "pairwise_p_values": plain(self.pairwise_p_values),
            "pairwise_p_values_fdr": plain(self.pairwise_p_values_fdr),
            "p_values": plain(self.p_values),
            "p_values_fdr": plain(self.p_values_fdr),
            "n_bootstrap": self.n_bootstrap,
            "n_permutations": self.n_permutations,
            "seed": self.seed,
        }


def _square_rdm_vectors(rdms, name: str, dtype, device) -> torch.Tensor:
    """Upper-triangle vectors (n_rdms, n_pairs) of symmetric square RDMs."""
    tensor = as_tensor(rdms, name, dtype, device, ndims=(2, 3))
    tensor = tensor if tensor.ndim == 3 else tensor[None]
    if tensor.shape[-1] != tensor.shape[-2]:
        raise InvalidArgument(
            f"{name} must be square RDMs (n_conditions, n_conditions), got shape {tuple(tensor.shape)}"
        )
    asymmetry = (tensor - tensor.transpose(-1, -2)).abs().amax(dim=(-2, -1))
    scale = tensor.abs().amax(dim=(-2, -1))
    asymmetric = asymmetry > 1e3 * torch.finfo(dtype).eps * scale
    if bool(asymmetric.any()):
        raise InvalidArgument(f"{name}: RDM {int(torch.nonzero(asymmetric)[0, 0])} is not symmetric")
    return rdm_vectors(rdm_to_vector(tensor), name, dtype, device)


def _model_inputs(model_rdms) -> tuple:
    if isinstance(model_rdms, dict):
        if not model_rdms:
            raise InvalidArgument("model_rdms is empty")
        names = [str(name) for name in model_rdms]
        return names, [model_rdms[name] for name in model_rdms]
    stacked = model_rdms if isinstance(model_rdms, torch.Tensor) else np.asarray(model_rdms, dtype=np.float64)
    if stacked.ndim == 2:
        stacked = stacked[None]
    return [f"model_{k}" for k in range(len(stacked))], list(stacked)


def compare(
    brain_rdms,
    model_rdms,
    method: str = "pearson",
    n_bootstrap: int = 1000,
    bootstrap: str | None = "conditions",
    n_permutations: int = 1000,
    ci: float = 0.95,
    noise_ceiling: bool = True,
    seed: int = 0,
    progress=None,
    device="cpu",
    dtype="float32",
) -> ComparisonResult:
    """Compare brain RDMs with model RDMs: scores, bootstrap CIs, permutation p-values, noise ceiling.

    Parameters
    ----------
    brain_rdms : array of shape (n_subjects, n_conditions, n_conditions) or (n_conditions, n_conditions)
        Square symmetric RDMs (e.g. from :func:`compute_rdm`), one per subject.
    model_rdms : dict of str -> array of shape (n_conditions, n_conditions), or array of shape
        (n_models, n_conditions, n_conditions)
    method : str
        RDM comparison, one of ``COMPARISON_METHODS``.
    n_bootstrap : int
        Bootstrap samples; 0 skips CIs and pairwise model tests.
    bootstrap : {"conditions", "subjects", "both"} or None
        What to resample; None skips the bootstrap.
    n_permutations : int
        Permutations of the model's condition labels; 0 skips the p-values.
    ci : float
        Coverage of the percentile confidence intervals.
    noise_ceiling : bool
        Compute the leave-one-subject-out noise ceiling (needs 2 or more subjects;
        None in the result otherwise).
    seed : int
        Seeds the bootstrap and the permutations: equal seeds give equal results.
    progress : callable, optional
        Called with the fraction of the resampling work done (0 to 1) after each chunk.
    device : str or torch.device
    dtype : {"float32", "float64"}

    Returns
    -------
    ComparisonResult
    """
    check_choice(method, COMPARISON_METHODS, "comparison method")
    if bootstrap is not None:
        check_choice(bootstrap, RESAMPLING, "bootstrap resampling")
    n_bootstrap = check_count(n_bootstrap, "n_bootstrap") if bootstrap is not None else 0
    n_permutations = check_count(n_permutations, "n_permutations")
    seed = check_seed(seed)
    ci = check_ci(ci)
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    tracker = _Progress(progress, n_bootstrap + n_permutations)
    generator = torch.Generator().manual_seed(seed)

    brain = _square_rdm_vectors(brain_rdms, "brain_rdms", dtype, device)
    names, models = _model_inputs(model_rdms)
    models = torch.cat(
        [_square_rdm_vectors(rdm, f"model RDM {name!r}", dtype, device) for name, rdm in zip(names, models)]
    )
    check_same_conditions(brain, models, "brain RDMs", "model RDMs")

    comparer = make_comparer(method, brain, models)
    subject_scores = comparer()
    scores = subject_scores.mean(dim=0)
    ceiling = noise_ceiling_of(brain, method) if noise_ceiling and len(brain) > 1 else None

    samples = lower = upper = pairwise = pairwise_fdr = None
    if n_bootstrap > 0:
        conditions, subjects = draw_bootstrap(comparer.n_conditions, len(brain), n_bootstrap, bootstrap, generator)
        samples = valid_samples(resampled_scores(comparer, conditions, subjects, tracker)).cpu().numpy()
        lower, upper = percentile_ci(samples, ci)
        if len(names) > 1:
            pairwise = pairwise_bootstrap_test(samples)
            upper_triangle = np.triu_indices(len(names), 1)
            pairwise_fdr = np.ones_like(pairwise)
            pairwise_fdr[upper_triangle] = fdr_correction(pairwise[upper_triangle])
            pairwise_fdr = np.minimum(pairwise_fdr, pairwise_fdr.T)

    p_values = p_values_fdr = null = None
    if n_permutations > 0:
        permutations = random_permutations(comparer.n_conditions, n_permutations, generator)
        null_tensor = permuted_null(brain, models, method, permutations, tracker)
        p_values = permutation_p_values(scores, null_tensor).cpu().numpy()
        p_values_fdr = fdr_correction(p_values)
        null = null_tensor.cpu().numpy()
    tracker.finish()

    return ComparisonResult(
        model_names=names,
        method=method,
        scores=scores.cpu().numpy(),
        subject_scores=subject_scores.cpu().numpy(),
        noise_ceiling=ceiling,
        bootstrap=bootstrap if n_bootstrap > 0 else None,
        bootstrap_scores=samples,
        ci=ci,
        ci_lower=lower,
        ci_upper=upper,
        pairwise_p_values=pairwise,
        pairwise_p_values_fdr=pairwise_fdr,
        p_values=p_values,
        p_values_fdr=p_values_fdr,
        null_scores=null,
        n_bootstrap=n_bootstrap,
        n_permutations=n_permutations,
        seed=seed,
    )
