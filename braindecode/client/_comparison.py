"""``client.comparison``: RDMs, brain-model RSA and layer x ROI score matrices."""

from __future__ import annotations

import pathlib

import numpy as np

from braindecode import tensors
from braindecode.client._base import ServiceClient
from braindecode.client._checks import build, json_object, mapping, numbers, shown, selection as selection_message
from braindecode.client._replies import CompareResult, RDMInfo, ScoreMatrixResult, from_message
from braindecode.v1 import comparison_pb2, comparison_pb2_grpc


def _roi(roi, name: str = "") -> comparison_pb2.ROI:
    """An ROI message: feature indices (a list or 1-D int array), a 3-D mask array in the recordings' voxel
    grid, or a NIfTI mask as a file path or its bytes (resampled by the server)."""
    if isinstance(roi, (bytes, str, pathlib.Path)):
        payload = roi if isinstance(roi, bytes) else pathlib.Path(roi).read_bytes()
        return build(comparison_pb2.ROI, mask_nifti=payload, name=name)
    array = np.asarray(roi)
    if array.dtype.kind not in "biuf":
        raise TypeError("an ROI must be feature indices, a 3-D mask array, or a NIfTI mask (file path or bytes), "
                        f"got {shown(roi)}")
    if array.ndim == 3:
        return build(comparison_pb2.ROI, mask=tensors.to_tensor(array), name=name)
    return build(comparison_pb2.ROI, feature_indices=[int(i) for i in array.reshape(-1)], name=name)


def _time_window(window) -> comparison_pb2.TimeWindow | None:
    if window is None:
        return None
    start, stop = numbers(window, "time_window", 2, "(start, stop) in seconds")
    return comparison_pb2.TimeWindow(start=start, stop=stop)


class ComparisonClient(ServiceClient):
    """Representational comparison of brains and networks (the ``ComparisonService``)."""

    stub_class = comparison_pb2_grpc.ComparisonServiceStub

    def compute_rdm(self, recording_ids=(), preprocessing: dict | None = None, roi=None, time_window=None,
                    activation_set_id: str = "", layer: str = "", method: str = "correlation", condition_ids=(),
                    device: str = "", selection=None) -> list:
        """Compute and store RDMs: one per subject of stored recordings, or one of an activation layer.

        Parameters
        ----------
        recording_ids : list of str, optional
            Recordings of one modality, with ``preprocessing`` ending in a "trials" (fMRI) or "epochs"
            (EEG/MEG) step; trials are averaged per subject and stimulus ...
        preprocessing : dict, optional
        roi : list of int, array or NIfTI mask, optional
            Features to keep: indices, a 3-D mask array in the recordings' voxel grid, or a NIfTI mask
            file path or its bytes (resampled onto the recordings' grid).
        time_window : (float, float), optional
            (start, stop) in seconds of the EEG/MEG epochs, both included.
        activation_set_id, layer : str, optional
            ... or a layer of a stored activation set.
        method : str
            correlation, cosine, euclidean, sqeuclidean or crossnobis (recordings only).
        condition_ids : list of str, optional
            The conditions and their order; default every stimulus.
        device : str, optional
            cpu or cuda.
        selection : dict or Selection, optional
            Recordings: the voxels and trials to use (see ``braindecode.preprocessing.Selection``),
            before ``roi``; unset uses all.

        Returns
        -------
        list of RDMInfo
            One per subject (sorted), or one for a layer; each matrix of shape (n_conditions,
            n_conditions) unless too large for one reply (then read it with :meth:`get_rdm_matrix`).
        """
        request = build(comparison_pb2.ComputeRDMRequest, recording_ids=recording_ids,
                        preprocessing_json=json_object(preprocessing, "preprocessing"),
                        roi=None if roi is None else _roi(roi), time_window=_time_window(time_window),
                        activation_set_id=activation_set_id, layer=layer, method=method,
                        condition_ids=condition_ids, device=device, selection=selection_message(selection))
        return [from_message(rdm) for rdm in self._call("ComputeRDM", request).rdms]

    def get_rdm(self, rdm_id: str) -> RDMInfo:
        """The stored RDM ``rdm_id`` (its matrix as :meth:`compute_rdm` returns it)."""
        return self._get("GetRDM", build(comparison_pb2.GetRDMRequest, id=rdm_id))

    def get_rdm_matrix(self, rdm_id: str) -> np.ndarray:
        """A stored RDM's matrix, streamed whatever its size.

        Parameters
        ----------
        rdm_id : str

        Returns
        -------
        array of shape (n_conditions, n_conditions)
            float32.
        """
        return self._download("StreamRDM", build(comparison_pb2.StreamRDMRequest, id=rdm_id))

    def compare(self, brain_rdm_ids, model_rdm_ids: dict, method: str = "pearson", n_bootstrap: int = 1000,
                bootstrap: str = "conditions", n_permutations: int = 1000, seed: int = 0, ci: float = 0.95,
                device: str = "", on_progress=None) -> CompareResult:
        """Compare brain RDMs (one per subject) with named model RDMs, and store the result.

        Parameters
        ----------
        brain_rdm_ids : list of str
        model_rdm_ids : dict of str -> str
            Model name -> RDM id.
        method : str
            pearson, spearman, kendall_tau_a, cosine, whitened_cosine or whitened_pearson.
        n_bootstrap : int
            Bootstrap samples for the confidence intervals and the pairwise tests (0: none).
        bootstrap : {"conditions", "subjects", "both"}
        n_permutations : int
            Permutations for the p-values (0: none).
        seed : int
        ci : float
            Coverage of the intervals.
        device : str, optional
        on_progress : callable, optional
            Called with each :class:`Progress` streamed back.

        Returns
        -------
        CompareResult
        """
        models = mapping(model_rdm_ids, "model_rdm_ids", "model name -> RDM id")
        request = build(comparison_pb2.CompareRequest, brain_rdm_ids=brain_rdm_ids,
                        model_rdms=[build(comparison_pb2.ModelRDM, name=name, rdm_id=rdm_id)
                                    for name, rdm_id in models.items()],
                        method=method, n_bootstrap=n_bootstrap, bootstrap=bootstrap, n_permutations=n_permutations,
                        seed=seed, ci=ci, device=device)
        return self._follow("Compare", request, on_progress)

    def score_matrix(self, activation_set_id: str, recording_ids, preprocessing: dict, rois: dict | None = None,
                     layers=(), time_window=None, method: str = "rsa", rdm_method: str = "correlation",
                     comparison: str = "spearman", kernel: str = "linear", debiased: bool = False,
                     device: str = "", selection=None) -> ScoreMatrixResult:
        """Score every layer of an activation set against every ROI of stored recordings (or, for EEG/MEG
        epochs without ROIs, every time point); per subject, then averaged over subjects; stored.

        Parameters
        ----------
        activation_set_id : str
        recording_ids : list of str
        preprocessing : dict
        rois : dict of str -> ROI, optional
            Name -> ROI, as ``roi`` of :meth:`compute_rdm`; default all features (or times).
        layers : list of str, optional
            The rows, in order; default every layer.
        time_window : (float, float), optional
        method : {"rsa", "cka"}
        rdm_method, comparison : str
            RSA: the RDM method and the RDM comparison (as :meth:`compare`'s ``method``).
        kernel : {"linear", "rbf"}
            CKA.
        debiased : bool
            CKA: debiased HSIC.
        device : str, optional
        selection : dict or Selection, optional
            The voxels and trials of the recordings to use, before the ROIs; unset uses all.

        Returns
        -------
        ScoreMatrixResult
        """
        rois = mapping({} if rois is None else rois, "rois", "ROI name -> ROI")
        request = build(comparison_pb2.ScoreMatrixRequest, activation_set_id=activation_set_id, layers=layers,
                        recording_ids=recording_ids, preprocessing_json=json_object(preprocessing, "preprocessing"),
                        rois=[_roi(roi, name) for name, roi in rois.items()], time_window=_time_window(time_window),
                        method=method, rdm_method=rdm_method, comparison=comparison, kernel=kernel,
                        debiased=debiased, device=device, selection=selection_message(selection))
        return self._get("ScoreMatrix", request)
