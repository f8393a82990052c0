"""DecodingService: fit decoders on stored recordings, decode brain samples, retrieve stimuli.

Decode serves stored decoders on ONNX Runtime from the served-model cache (a shared decoder's
graph of each subject apart), and runs the samples of concurrent streams of one graph as one
batch (services/_batching.py). It is written for the server's event loop; the other methods run
in worker threads. The Open Inference Protocol's ModelInfer (services/inference.py) serves from
the same cache and batcher, so that its callers and Decode's share batches.

ONNX Runtime rather than torch (benchmarks/bench_decode_latency.py, 5,000 voxels -> 1,280 dims,
one thread each, 2-core CPU, see benchmarks/RESULTS.md): for one sample neither wins throughout
(ridge: torch 2.1 ms, ONNX Runtime 2.5 ms; MLP: 3.4 ms and 3.2 ms), but under load the server runs
the batches that concurrent callers form, where ONNX Runtime is faster (32 samples: 1.1x for
ridge, 1.8x for the MLP); and its threads are set per session, where torch's are per process and
shared with the fits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from braindecode import tensors
from braindecode.decoding import SharedDecoder
from braindecode.errors import InvalidArgument
from braindecode.store import (
    DECODER_ARTIFACT,
    fit_decoder_from_store,
    load_decoder_artifact,
    retrieve_from_store,
    save_decoder_artifact,
)
from braindecode.v1 import decoding_pb2, decoding_pb2_grpc
from services._batching import Batcher, ServedModels, WaitPolicy
from services._tenancy import current_tenant
from services._wire import json_object, progress_stream, selection

CACHED_DECODERS = 16
MAX_BATCH_SAMPLES = 256
#: Seconds a batch waits for the next samples of open Decode streams (benchmarks/bench_decode_latency.py).
MAX_BATCH_DELAY = 0.004


def _predict_batch(model, blocks: list, progress) -> list:
    """Outputs of the blocks of one batch of a served model (a decoder's embeddings; an encoder's
    responses through ModelInfer): ``Batcher``'s ``run``."""
    return model.predict_each(blocks)


def _fit_result(info, fitted) -> decoding_pb2.FitDecoderResult:
    model = fitted.model
    shared = isinstance(model, SharedDecoder)
    return decoding_pb2.FitDecoderResult(
        decoder_id=info.id, modality=model.modality, input_shape=[] if shared else list(model.input_shape_),
        n_dims=int(model.n_dims_), cv_scores=fitted.cv_scores,
        folds=[decoding_pb2.FoldScores(test_runs=f["test_runs"], n_test_trials=f["n_test_trials"],
                                       n_test_stimuli=f["n_test_stimuli"], scores=f["scores"],
                                       subject=f.get("subject", ""))
               for f in fitted.folds],
        n_trials=fitted.provenance["n_trials"],
        subjects=[decoding_pb2.SubjectInput(subject=s, input_shape=list(model.input_shapes_[s]))
                  for s in model.subjects_] if shared else [])


class DecodingServicer(decoding_pb2_grpc.DecodingServiceServicer):
    def __init__(self, store, config):
        self.store, self.config = store, config
        # One intra-op thread per ONNX Runtime session: with its default (a thread per core, spinning
        # between runs) 32 Decode clients got 1.5-2x lower throughput and a higher p99
        # (benchmarks/bench_decode_latency.py, 2-core CPU).
        # Keyed by (tenant, decoder id, subject): each subject of a shared decoder is its own graph.
        self.decoders = ServedModels(
            lambda key: load_decoder_artifact(store, key[0], key[1], threads=1, subject=key[2]),
            lambda key: store.get_artifact(key[0], key[1], DECODER_ARTIFACT), CACHED_DECODERS)
        # Batches run in a thread per core, one per decoder at a time, while the event loop keeps receiving.
        self.batches = Batcher(_predict_batch, WaitPolicy(MAX_BATCH_DELAY), MAX_BATCH_SAMPLES,
                               workers=os.cpu_count() or 1, name="decode")

    def close(self) -> None:
        self.batches.close()

    def FitDecoder(self, request, context):
        tenant = current_tenant()
        preprocessing = json_object(request.preprocessing_json, "preprocessing_json", required=True)
        params = json_object(request.params_json, "params_json")
        val_fraction = request.val_fraction if request.HasField("val_fraction") else None

        def fit_and_store(progress):
            fitted = fit_decoder_from_store(
                self.store, tenant, list(request.recording_ids), preprocessing, request.activation_set_id,
                request.layer, request.decoder, params, request.cv_folds, val_fraction, request.seed,
                progress=progress, selection=selection(request), base_decoder_id=request.base_decoder_id)
            progress("store", 0, 1)
            return _fit_result(save_decoder_artifact(self.store, tenant, fitted.model, fitted.provenance), fitted)

        result = yield from progress_stream(fit_and_store, context, decoding_pb2.FitDecoderEvent, "decoding-fit")
        yield decoding_pb2.FitDecoderEvent(result=result)

    async def Decode(self, request_iterator, context):
        """Runs on the server's event loop: a stream waiting for its next sample holds no thread.

        Samples are checked before they join a batch, so that a bad one fails its own call only.
        A message that names a decoder_id names its subject too (none for the decoders of one
        subject's data); one that names a subject alone keeps the decoder.
        """
        tenant = current_tenant()
        decoder, served = None, ("", "")
        with contextlib.ExitStack() as streaming:
            async for request in request_iterator:
                if request.decoder_id or request.subject:
                    if not (request.decoder_id or served[0]):
                        raise InvalidArgument("the first Decode message must name a decoder_id")
                    key = (request.decoder_id or served[0], request.subject)
                    if key != served:
                        decoder = await asyncio.to_thread(self.decoders.get, (tenant, *key))
                        served = key
                        streaming.close()
                        stream = streaming.enter_context(self.batches.stream(decoder))
                if decoder is None:
                    raise InvalidArgument("the first Decode message must name a decoder_id")
                if not request.HasField("samples"):
                    raise InvalidArgument("a Decode message carries no samples")
                samples = decoder.check_input(tensors.from_tensor(request.samples))
                embeddings = await self.batches.submit(decoder, samples, len(samples), stream)
                yield decoding_pb2.DecodeResponse(embeddings=tensors.to_tensor(embeddings))

    def Retrieve(self, request, context):
        tenant = current_tenant()
        if request.subject and not request.decoder_id:
            raise InvalidArgument("subject names the adapter of a shared decoder_id; give the decoder_id too")
        from_recordings = bool(request.recording_ids)
        found = retrieve_from_store(
            self.store, tenant, tensors.from_tensor(request.queries) if request.HasField("queries") else None,
            request.k, request.activation_set_id, request.layer,
            tensors.from_tensor(request.candidates) if request.HasField("candidates") else None,
            list(request.candidate_ids) or None,
            # decoding recordings opens the decoder of each recording's subject (a shared one's adapters)
            self.decoders.get((tenant, request.decoder_id, request.subject))
            if request.decoder_id and not from_recordings else None,
            list(request.recording_ids), json_object(request.preprocessing_json, "preprocessing_json"),
            selection(request), request.average_repeats, request.decoder_id if from_recordings else "",
            request.subject)
        return decoding_pb2.RetrieveResponse(
            matches=[decoding_pb2.RetrievalMatches(stimulus_ids=row_ids.tolist(), scores=row_scores.tolist())
                     for row_ids, row_scores in zip(found.stimulus_ids, found.scores)],
            query_ids=[] if found.query_ids is None else found.query_ids.tolist(),
            query_embeddings=None if found.embeddings is None else tensors.to_tensor(found.embeddings))
