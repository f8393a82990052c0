"""DecodingService: fit decoders on stored recordings, decode brain samples, retrieve stimuli.

Decode serves stored decoders from an LRU of ONNX Runtime sessions keyed by (tenant, id), and
runs the samples of concurrent callers of one decoder as one batch (see ``_BatchedRunner``).
"""

from __future__ import annotations

import collections
import contextlib
import threading

import numpy as np

from braindecode import tensors
from braindecode.decoding import (
    DECODER_ARTIFACT,
    check_input,
    fit_decoder_from_store,
    load_decoder_artifact,
    retrieve_from_store,
    save_decoder_artifact,
)
from braindecode.errors import InvalidArgument
from braindecode.v1 import decoding_pb2, decoding_pb2_grpc
from services._errors import grpc_errors
from services._json import json_object
from services._progress import progress_stream
from services._tenancy import current_tenant

CACHED_DECODERS = 16
MAX_BATCH_SAMPLES = 256
#: Seconds a batch waits for the samples of open Decode streams (benchmarks/bench_decode_latency.py).
MAX_BATCH_DELAY = 0.004


class _Request:
    __slots__ = ("samples", "result", "error", "lead", "done")

    def __init__(self, samples: np.ndarray):
        self.samples = samples
        self.result = self.error = None
        self.lead = False
        self.done = threading.Event()


class _BatchedRunner:
    """Runs ``predict`` once over the samples of concurrent callers (group commit).

    The caller that finds ``predict`` idle leads: it waits until every open stream
    (:meth:`stream`) has a request queued, for at most ``max_delay`` seconds, then runs
    ``predict`` on the queued requests (up to ``max_samples``) and hands the turn to the
    oldest request still queued, which does the same. A batch of 32 single samples reads the
    weights once instead of 32 times: for 5,000 voxels -> 1,280 dims on ONNX Runtime it costs
    about as much as 2.5 single-sample runs (benchmarks/bench_decode_latency.py), so waiting
    for the streams whose next sample is on its way costs less than running without them.
    """

    def __init__(self, predict, max_samples: int, max_delay: float = 0.0):
        self._predict = predict
        self._max_samples = max_samples
        self._max_delay = max_delay
        self._changed = threading.Condition()
        self._queue = collections.deque()
        self._busy = False
        self._streams = 0

    @contextlib.contextmanager
    def stream(self):
        """Count a caller that will send samples one after the other while the context is open."""
        with self._changed:
            self._streams += 1
        try:
            yield self
        finally:
            with self._changed:
                self._streams -= 1
                self._changed.notify_all()

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        request = _Request(samples)
        with self._changed:
            self._queue.append(request)
            lead, self._busy = not self._busy, True
            self._changed.notify_all()
        if not lead:
            request.done.wait()
        if lead or request.lead:
            self._lead()
        if request.error is not None:
            raise request.error
        return request.result

    def _full(self) -> bool:
        return (len(self._queue) >= self._streams
                or sum(len(r.samples) for r in self._queue) >= self._max_samples)

    def _lead(self) -> None:
        with self._changed:  # the leader's own request is first in the queue
            self._changed.wait_for(self._full, timeout=self._max_delay)
            batch, size = [], 0
            while self._queue and (not batch or size + len(self._queue[0].samples) <= self._max_samples):
                batch.append(self._queue.popleft())
                size += len(batch[-1].samples)
        try:
            out = self._predict(np.concatenate([r.samples for r in batch]))
            for request, part in zip(batch, np.split(out, np.cumsum([len(r.samples) for r in batch])[:-1])):
                request.result = part
        except Exception as exc:  # noqa: BLE001 - every caller of the batch gets the error
            for request in batch:
                request.error = exc
        finally:
            for request in batch:
                request.done.set()
            with self._changed:
                if self._queue:
                    self._queue[0].lead = True
                    self._queue[0].done.set()
                else:
                    self._busy = False


class _ServedDecoder:
    """A stored decoder on ONNX Runtime whose concurrent callers share batches.

    ONNX Runtime rather than torch (benchmarks/bench_decode_latency.py, 5,000 voxels -> 1,280
    dims, one thread each, 2-core CPU, see benchmarks/RESULTS.md): for one sample neither wins
    throughout (ridge: torch 2.1 ms, ONNX Runtime 2.5 ms; MLP: 3.4 ms and 3.2 ms), but under load
    the server runs the batches that concurrent callers form, where ONNX Runtime is faster (32
    samples: 1.1x for ridge, 1.8x for the MLP); and its threads are set per session, where torch's
    are per process and shared with the fits.
    """

    def __init__(self, decoder, max_batch_samples: int, max_batch_delay: float):
        self.decoder = decoder
        self._run = _BatchedRunner(decoder.predict, max_batch_samples, max_batch_delay)

    def stream(self):
        """Context of a Decode stream: its next sample is worth a short wait for the batch."""
        return self._run.stream()

    def predict(self, X) -> np.ndarray:
        """Embeddings of shape (n, n_dims) for samples of shape (n, *input_shape), checked first."""
        return self._run(check_input(X, self.decoder.modality, self.decoder.input_shape_))


class _DecoderCache:
    """The most recently used served decoders, keyed by (tenant, decoder id)."""

    def __init__(self, store, capacity: int, max_batch_samples: int, max_batch_delay: float):
        self.store, self.capacity = store, capacity
        self.max_batch_samples, self.max_batch_delay = max_batch_samples, max_batch_delay
        self._entries = collections.OrderedDict()
        self._lock = threading.Lock()
        self._loading = threading.Lock()

    def _cached(self, key):
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def get(self, tenant: str, decoder_id: str) -> _ServedDecoder:
        """The served decoder; NotFound for unknown, deleted or other tenants' ids."""
        self.store.get_artifact(tenant, decoder_id, DECODER_ARTIFACT)
        key = (tenant, decoder_id)
        entry = self._cached(key)
        if entry is not None:
            return entry
        with self._loading:  # one load per decoder when many calls miss at once
            entry = self._cached(key)
            if entry is None:
                # One intra-op thread per session: with ONNX Runtime's default (a thread per core,
                # spinning between runs) 32 Decode clients got 1.5-2x lower throughput and a higher
                # p99 (benchmarks/bench_decode_latency.py, 2-core CPU).
                decoder = load_decoder_artifact(self.store, tenant, decoder_id, threads=1)
                entry = _ServedDecoder(decoder, self.max_batch_samples, self.max_batch_delay)
                with self._lock:
                    self._entries[key] = entry
                    while len(self._entries) > self.capacity:
                        self._entries.popitem(last=False)
        return entry


def _fit_result(info, fitted) -> decoding_pb2.FitDecoderResult:
    model = fitted.model
    return decoding_pb2.FitDecoderResult(
        decoder_id=info.id, modality=model.modality, input_shape=list(model.input_shape_),
        n_dims=int(model.n_dims_), cv_scores=fitted.cv_scores,
        folds=[decoding_pb2.FoldScores(test_runs=f["test_runs"], n_test_trials=f["n_test_trials"],
                                       n_test_stimuli=f["n_test_stimuli"], scores=f["scores"])
               for f in fitted.folds],
        n_trials=fitted.provenance["n_trials"])


class DecodingServicer(decoding_pb2_grpc.DecodingServiceServicer):
    def __init__(self, store, config):
        self.store, self.config = store, config
        self.decoders = _DecoderCache(store, CACHED_DECODERS, MAX_BATCH_SAMPLES, MAX_BATCH_DELAY)

    @grpc_errors
    def FitDecoder(self, request, context):
        tenant = current_tenant()
        preprocessing = json_object(request.preprocessing_json, "preprocessing_json", required=True)
        params = json_object(request.params_json, "params_json")
        val_fraction = request.val_fraction if request.HasField("val_fraction") else None

        def fit_and_store(progress):
            fitted = fit_decoder_from_store(
                self.store, tenant, list(request.recording_ids), preprocessing, request.activation_set_id,
                request.layer, request.decoder, params, request.cv_folds, val_fraction, request.seed,
                progress=progress)
            progress("store", 0, 1)
            return _fit_result(save_decoder_artifact(self.store, tenant, fitted.model, fitted.provenance), fitted)

        result = yield from progress_stream(fit_and_store, context,
                                            lambda p: decoding_pb2.FitDecoderEvent(progress=p), "decoding-fit")
        yield decoding_pb2.FitDecoderEvent(result=result)

    @grpc_errors
    def Decode(self, request_iterator, context):
        tenant = current_tenant()
        decoder, decoder_id = None, ""
        with contextlib.ExitStack() as streaming:
            for request in request_iterator:
                if request.decoder_id and request.decoder_id != decoder_id:
                    decoder, decoder_id = self.decoders.get(tenant, request.decoder_id), request.decoder_id
                    streaming.close()
                    streaming.enter_context(decoder.stream())
                if decoder is None:
                    raise InvalidArgument("the first Decode message must name a decoder_id")
                if not request.HasField("samples"):
                    raise InvalidArgument("a Decode message carries no samples")
                embeddings = decoder.predict(tensors.from_tensor(request.samples))
                yield decoding_pb2.DecodeResponse(embeddings=tensors.to_tensor(embeddings))

    @grpc_errors
    def Retrieve(self, request, context):
        tenant = current_tenant()
        if not request.HasField("queries"):
            raise InvalidArgument("queries are required: embeddings, or brain samples with a decoder_id")
        ids, scores = retrieve_from_store(
            self.store, tenant, tensors.from_tensor(request.queries), request.k, request.activation_set_id,
            request.layer, tensors.from_tensor(request.candidates) if request.HasField("candidates") else None,
            list(request.candidate_ids) or None,
            self.decoders.get(tenant, request.decoder_id) if request.decoder_id else None)
        return decoding_pb2.RetrieveResponse(matches=[
            decoding_pb2.RetrievalMatches(stimulus_ids=row_ids.tolist(), scores=row_scores.tolist())
            for row_ids, row_scores in zip(ids, scores)])
