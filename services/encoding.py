"""EncodingService: fit encoders on stored recordings, predict responses, score with per-voxel maps."""

from __future__ import annotations

from braindecode import tensors
from braindecode.store import (
    fit_encoder_from_store,
    predict_from_store,
    save_encoder_artifact,
    score_encoder_from_store,
)
from braindecode.v1 import encoding_pb2, encoding_pb2_grpc
from services._tenancy import current_tenant
from services._wire import json_object, progress_stream, selection, tensor_chunks


def _fit_result(info, fitted) -> encoding_pb2.FitEncoderResult:
    encoder = fitted.encoder
    return encoding_pb2.FitEncoderResult(
        encoder_id=info.id, modality=encoder.space.modality, response_shape=list(encoder.space.response_shape),
        n_features=encoder.n_features, n_trials=encoder.provenance["n_trials"], cv_scores=fitted.cv_scores,
        folds=[encoding_pb2.EncoderFoldScores(test_runs=f["test_runs"], n_test_trials=f["n_test_trials"],
                                              scores=f["scores"]) for f in fitted.folds],
        score_names=list(fitted.target_scores),
        target_scores=tensors.to_tensor(list(fitted.target_scores.values())))


class EncodingServicer(encoding_pb2_grpc.EncodingServiceServicer):
    def __init__(self, store, config):
        self.store, self.config = store, config

    def FitEncoder(self, request, context):
        tenant = current_tenant()
        preprocessing = json_object(request.preprocessing_json, "preprocessing_json", required=True)
        # Unset fields (empty, 0) keep the library's defaults.
        options = {name: value for name, value in (
            ("alphas", list(request.alphas)), ("delays", list(request.delays)), ("n_ratios", request.n_ratios),
            ("device", request.device)) if value}
        if request.HasField("lags"):
            options["lags"] = (request.lags.tmin, request.lags.tmax, request.lags.sfreq)

        def fit_and_store(progress):
            fitted = fit_encoder_from_store(
                self.store, tenant, list(request.recording_ids), preprocessing, request.activation_set_id,
                list(request.layers), cv_folds=request.cv_folds, seed=request.seed, progress=progress,
                selection=selection(request), **options)
            progress("store", 0, 1)
            return _fit_result(save_encoder_artifact(self.store, tenant, fitted.encoder), fitted)

        result = yield from progress_stream(fit_and_store, context, encoding_pb2.FitEncoderEvent, "encoding-fit")
        yield encoding_pb2.FitEncoderEvent(result=result)

    def Predict(self, request, context):
        predicted = predict_from_store(
            self.store, current_tenant(), request.encoder_id,
            tensors.from_tensor(request.features) if request.HasField("features") else None,
            request.activation_set_id, list(request.stimulus_ids) or None)
        yield from tensor_chunks(predicted, 0, self.config, context)

    def Score(self, request, context):
        preprocessing = json_object(request.preprocessing_json, "preprocessing_json")
        scored = score_encoder_from_store(self.store, current_tenant(), request.encoder_id,
                                          list(request.recording_ids), preprocessing, request.activation_set_id,
                                          selection(request))
        return encoding_pb2.ScoreResponse(
            score_names=list(scored.target_scores),
            scores=tensors.to_tensor(list(scored.target_scores.values())), summary=scored.summary,
            response_shape=list(scored.response_shape), n_trials=scored.n_trials,
            score_map_nifti=scored.score_map or b"", score_map_id=scored.id)
