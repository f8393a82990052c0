"""ComparisonService: RDMs of stored recordings and activation layers, brain-model RSA, score matrices."""

from __future__ import annotations

import json

from braindecode import tensors
from braindecode.compare import ROI
from braindecode.errors import InvalidArgument
from braindecode.store import (
    compare_from_store,
    compute_rdms_from_store,
    load_rdm,
    score_matrix_from_store,
)
from braindecode.v1 import comparison_pb2, comparison_pb2_grpc
from services._tenancy import current_tenant
from services._wire import json_object, progress_stream, selection, tensor_chunks


def _roi(message) -> ROI:
    given = [name for name, present in (("feature_indices", bool(message.feature_indices)),
                                        ("mask", message.HasField("mask")),
                                        ("mask_nifti", bool(message.mask_nifti))) if present]
    if len(given) > 1:
        raise InvalidArgument(f"an ROI is one of feature_indices, mask or mask_nifti; got {' and '.join(given)}")
    mask = tensors.from_tensor(message.mask) if message.HasField("mask") else message.mask_nifti or None
    return ROI(indices=list(message.feature_indices) or None, mask=mask, name=message.name)


def _time_window(request):
    return (request.time_window.start, request.time_window.stop) if request.HasField("time_window") else None


def _rdm_messages(stored: list, max_bytes: int) -> list:
    """RDM messages, with their matrices when these total at most ``max_bytes`` (else StreamRDM reads them)."""
    with_matrix = sum(rdm.rdm.nbytes for rdm in stored) <= max_bytes
    return [comparison_pb2.RDM(
        id=rdm.id, subject=rdm.subject, method=rdm.info.meta["method"], condition_ids=list(rdm.condition_ids),
        rdm=tensors.to_tensor(rdm.rdm) if with_matrix else None, source=rdm.info.meta["source"],
        layer=rdm.info.meta["layer"], provenance_json=json.dumps(rdm.info.provenance), created=rdm.info.created)
        for rdm in stored]


def _compare_result(stored) -> comparison_pb2.CompareResult:
    result, model_ids = stored.result, stored.info.provenance["model_rdm_ids"]
    models = []
    for k, name in enumerate(result.model_names):
        fields = {key: float(values[k]) for key, values in (
            ("ci_lower", result.ci_lower), ("ci_upper", result.ci_upper),
            ("p_value", result.p_values), ("p_value_fdr", result.p_values_fdr)) if values is not None}
        models.append(comparison_pb2.ModelScore(
            name=name, rdm_id=model_ids[name], score=float(result.scores[k]),
            subject_scores=result.subject_scores[:, k].tolist(), **fields))
    reply = comparison_pb2.CompareResult(
        comparison_id=stored.id, method=result.method, condition_ids=list(stored.condition_ids), models=models,
        bootstrap=result.bootstrap or "", n_bootstrap=result.n_bootstrap,
        n_valid_bootstrap=0 if result.bootstrap_scores is None else len(result.bootstrap_scores),
        n_permutations=result.n_permutations, seed=result.seed, ci=result.ci)
    if result.noise_ceiling is not None:
        reply.noise_ceiling.lower, reply.noise_ceiling.upper = result.noise_ceiling.lower, result.noise_ceiling.upper
    if result.pairwise_p_values is not None:
        reply.pairwise_p_values.CopyFrom(tensors.to_tensor(result.pairwise_p_values))
        reply.pairwise_p_values_fdr.CopyFrom(tensors.to_tensor(result.pairwise_p_values_fdr))
    return reply


class ComparisonServicer(comparison_pb2_grpc.ComparisonServiceServicer):
    def __init__(self, store, config):
        self.store, self.config = store, config

    def ComputeRDM(self, request, context):
        preprocessing = json_object(request.preprocessing_json, "preprocessing_json",
                                    required=bool(request.recording_ids))
        rdms = compute_rdms_from_store(
            self.store, current_tenant(), list(request.recording_ids), preprocessing,
            _roi(request.roi) if request.HasField("roi") else None, _time_window(request),
            request.activation_set_id, request.layer, request.method or "correlation",
            list(request.condition_ids) or None, request.device or "cpu", selection(request))
        return comparison_pb2.ComputeRDMResponse(rdms=_rdm_messages(rdms, self.config.chunk_bytes))

    def GetRDM(self, request, context):
        return _rdm_messages([load_rdm(self.store, current_tenant(), request.id)], self.config.chunk_bytes)[0]

    def StreamRDM(self, request, context):
        rdm = load_rdm(self.store, current_tenant(), request.id).rdm
        yield from tensor_chunks(rdm, request.chunk_bytes, self.config, context)

    def Compare(self, request, context):
        tenant = current_tenant()

        def work(progress):
            return compare_from_store(
                self.store, tenant, list(request.brain_rdm_ids), [(m.name, m.rdm_id) for m in request.model_rdms],
                request.method or "pearson", request.n_bootstrap, request.bootstrap or "conditions",
                request.n_permutations, request.ci or 0.95, request.seed, progress, request.device or "cpu")

        stored = yield from progress_stream(work, context, comparison_pb2.CompareEvent, "compare")
        yield comparison_pb2.CompareEvent(result=_compare_result(stored))

    def ScoreMatrix(self, request, context):
        stored = score_matrix_from_store(
            self.store, current_tenant(), request.activation_set_id, list(request.recording_ids),
            json_object(request.preprocessing_json, "preprocessing_json", required=True),
            [_roi(roi) for roi in request.rois] or None, list(request.layers) or None, _time_window(request),
            request.method or "rsa", request.rdm_method or "correlation", request.comparison or "spearman",
            request.kernel or "linear", request.debiased, request.device or "cpu", selection(request))
        matrix = stored.matrix
        return comparison_pb2.ScoreMatrixResponse(
            score_matrix_id=stored.id, rows=matrix.rows,
            columns=[] if stored.times is not None else matrix.columns,
            times=[] if stored.times is None else stored.times.tolist(),
            scores=tensors.to_tensor(matrix.scores), subjects=stored.subjects,
            subject_scores=tensors.to_tensor(stored.subject_scores), method=matrix.method)
