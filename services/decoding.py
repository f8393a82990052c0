"""DecodingService: fit decoders on stored recordings, decode brain samples, retrieve stimuli.

Decode serves stored decoders from an LRU of ONNX Runtime sessions keyed by (tenant, id), and
runs the samples of concurrent streams of one decoder as one batch (see ``_BatchedRunner``). It is
the one method written for the server's event loop; the others run in worker threads.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import os
import threading

import numpy as np

from braindecode import tensors
from braindecode.decoding import check_input
from braindecode.errors import InvalidArgument
from braindecode.store import (
    DECODER_ARTIFACT,
    fit_decoder_from_store,
    load_decoder_artifact,
    retrieve_from_store,
    save_decoder_artifact,
)
from braindecode.v1 import decoding_pb2, decoding_pb2_grpc
from services._errors import grpc_errors
from services._json import json_object
from services._progress import progress_stream
from services._tenancy import current_tenant

CACHED_DECODERS = 16
MAX_BATCH_SAMPLES = 256
#: Seconds a batch waits for the next samples of open Decode streams (benchmarks/bench_decode_latency.py).
MAX_BATCH_DELAY = 0.004


class _Stream:
    """A Decode stream's timing: when its last sample was answered and how long its client then took."""

    __slots__ = ("answered_at", "gap", "queued")

    def __init__(self):
        self.answered_at = self.gap = None
        self.queued = False

    def expected_by(self, deadline: float) -> bool:
        """Whether the stream's next sample should arrive by ``deadline`` (loop time)."""
        return not self.queued and self.gap is not None and self.answered_at + self.gap <= deadline


class _BatchedRunner:
    """Runs ``predict`` once over the queued samples of concurrent Decode streams.

    Lives on the server's event loop; ``predict`` runs in ``executor``, one batch at a time, while
    the loop keeps receiving. A batch waits, for at most ``max_delay`` seconds, for the streams
    whose next sample should arrive by then: a stream answered at ``t`` whose client last took
    ``gap`` seconds to send again is expected at ``t + gap``. Clients that send back to back (a
    closed loop) are waited for; clients that send at their own pace (every TR, every EEG window)
    are not. A batch of 32 single samples reads the weights once instead of 32 times: for 5,000
    voxels -> 1,280 dims on ONNX Runtime it costs about as much as 3 single-sample runs
    (benchmarks/bench_decode_latency.py).
    """

    def __init__(self, predict, executor, max_samples: int, max_delay: float = 0.0):
        self._predict, self._executor = predict, executor
        self._max_samples, self._max_delay = max_samples, max_delay
        self._queue = collections.deque()  # (samples, future)
        self._streams = set()
        self._arrived = None
        self._worker = None

    @contextlib.contextmanager
    def stream(self):
        """A :class:`_Stream` for a caller that sends samples one after the other."""
        stream = _Stream()
        self._streams.add(stream)
        try:
            yield stream
        finally:
            self._streams.discard(stream)

    async def __call__(self, samples: np.ndarray, stream: _Stream | None = None) -> np.ndarray:
        """Embeddings of ``samples`` (n, ...) -> (n, n_dims), computed with the other queued samples."""
        loop = asyncio.get_running_loop()
        stream = stream or _Stream()
        if stream.answered_at is not None:
            stream.gap = loop.time() - stream.answered_at
        future = loop.create_future()
        stream.queued = True
        self._queue.append((samples, future))
        if self._arrived is None:
            self._arrived = asyncio.Event()
        self._arrived.set()
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._work())
        try:
            return await future
        finally:
            stream.queued = False
            stream.answered_at = loop.time()

    def _waiting_for_more(self, deadline: float) -> bool:
        return (sum(len(samples) for samples, _ in self._queue) < self._max_samples
                and any(stream.expected_by(deadline) for stream in self._streams))

    async def _work(self) -> None:
        try:
            while self._queue:
                await self._run_batch(await self._next_batch())
        except BaseException as exc:  # a bug here must not leave callers waiting for ever
            while self._queue:
                _, future = self._queue.popleft()
                if not future.done():
                    future.set_exception(exc)
            raise

    async def _next_batch(self) -> list:
        """The queued requests to run next, after waiting for the streams that are due."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._max_delay
        while self._waiting_for_more(deadline) and (left := deadline - loop.time()) > 0:
            self._arrived.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)
        batch, size = [], 0
        while self._queue and (not batch or size + len(self._queue[0][0]) <= self._max_samples):
            batch.append(self._queue.popleft())
            size += len(batch[-1][0])
        return batch

    async def _run_batch(self, batch: list) -> None:
        try:
            out = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._predict, np.concatenate([samples for samples, _ in batch]))
        except Exception as exc:  # noqa: BLE001 - every caller of the batch gets the error
            out = exc
        parts = ([out] * len(batch) if isinstance(out, Exception)
                 else np.split(out, np.cumsum([len(samples) for samples, _ in batch])[:-1]))
        for (_, future), part in zip(batch, parts):
            if future.done():  # its call was cancelled
                continue
            if isinstance(part, Exception):
                future.set_exception(part)
            else:
                future.set_result(part)


class _ServedDecoder:
    """A stored decoder on ONNX Runtime whose concurrent Decode streams share batches.

    ONNX Runtime rather than torch (benchmarks/bench_decode_latency.py, 5,000 voxels -> 1,280
    dims, one thread each, 2-core CPU, see benchmarks/RESULTS.md): for one sample neither wins
    throughout (ridge: torch 2.1 ms, ONNX Runtime 2.5 ms; MLP: 3.4 ms and 3.2 ms), but under load
    the server runs the batches that concurrent callers form, where ONNX Runtime is faster (32
    samples: 1.1x for ridge, 1.8x for the MLP); and its threads are set per session, where torch's
    are per process and shared with the fits.
    """

    def __init__(self, decoder, executor, max_batch_samples: int, max_batch_delay: float):
        self.decoder = decoder
        self._run = _BatchedRunner(decoder.predict, executor, max_batch_samples, max_batch_delay)

    def stream(self):
        """Context of a Decode stream, giving the :class:`_Stream` to pass to :meth:`decode`."""
        return self._run.stream()

    async def decode(self, X, stream: _Stream | None = None) -> np.ndarray:
        """Embeddings (n, n_dims) of samples (n, *input_shape), batched with other streams' samples.

        The samples are checked before they join a batch, so that a bad one fails its own call only.
        """
        return await self._run(check_input(X, self.decoder.modality, self.decoder.input_shape_), stream)


class _DecoderCache:
    """The most recently used served decoders, keyed by (tenant, decoder id)."""

    def __init__(self, store, capacity: int, executor, max_batch_samples: int, max_batch_delay: float):
        self.store, self.capacity, self.executor = store, capacity, executor
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
                entry = _ServedDecoder(decoder, self.executor, self.max_batch_samples, self.max_batch_delay)
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
        # Decode batches run here, one per decoder at a time, while the event loop keeps receiving.
        self._batches = concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1,
                                                               thread_name_prefix="decode")
        self.decoders = _DecoderCache(store, CACHED_DECODERS, self._batches, MAX_BATCH_SAMPLES, MAX_BATCH_DELAY)

    def close(self) -> None:
        self._batches.shutdown(wait=True)

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
    async def Decode(self, request_iterator, context):
        """Runs on the server's event loop: a stream waiting for its next sample holds no thread."""
        tenant = current_tenant()
        decoder, decoder_id = None, ""
        with contextlib.ExitStack() as streaming:
            async for request in request_iterator:
                if request.decoder_id and request.decoder_id != decoder_id:
                    decoder = await asyncio.to_thread(self.decoders.get, tenant, request.decoder_id)
                    decoder_id = request.decoder_id
                    streaming.close()
                    stream = streaming.enter_context(decoder.stream())
                if decoder is None:
                    raise InvalidArgument("the first Decode message must name a decoder_id")
                if not request.HasField("samples"):
                    raise InvalidArgument("a Decode message carries no samples")
                embeddings = await decoder.decode(tensors.from_tensor(request.samples), stream)
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
            self.decoders.get(tenant, request.decoder_id).decoder if request.decoder_id else None)
        return decoding_pb2.RetrieveResponse(matches=[
            decoding_pb2.RetrievalMatches(stimulus_ids=row_ids.tolist(), scores=row_scores.tolist())
            for row_ids, row_scores in zip(ids, scores)])
