"""ReconstructionService: images from given or decoded embeddings, batched across concurrent calls.

Settings (model, device, memory bound, batch window) come from ``BRAINDECODE_RECONSTRUCTION_*``
environment variables (see ``braindecode.reconstruction.ReconstructionSettings``).
"""

from __future__ import annotations

import threading
import time

from braindecode import tensors
from braindecode.reconstruction import ReconstructionRequest, ReconstructionSettings, reconstruct_requests
from braindecode.store import reconstruct_from_store
from braindecode.v1 import reconstruction_pb2, reconstruction_pb2_grpc
from services._errors import grpc_errors
from services._json import json_object
from services._progress import Cancelled, progress_stream
from services._tenancy import current_tenant


class _Job:
    __slots__ = ("request", "progress", "result", "error", "done")

    def __init__(self, request: ReconstructionRequest, progress):
        self.request, self.progress = request, progress
        self.result = self.error = None
        self.done = threading.Event()


class _Batcher:
    """Generates the requests of concurrent calls with the same settings in one ``reconstruct_requests`` call.

    The first request of a settings key waits ``window`` seconds for others to join, then for
    the device (one batch generates at a time, so that the memory bound of a batch holds), and
    takes every request of its key queued by then. Each request keeps its own seed streams, so
    its images do not depend on the batch. A caller whose call ends stops getting progress; the
    batch stops only when every caller's call has ended. ``batch_sizes`` lists the number of
    requests of each batch run.
    """

    def __init__(self, generate, window: float):
        self._generate = generate
        self._window = window
        self._lock = threading.Lock()
        self._device = threading.Lock()
        self._pending = {}
        self.batch_sizes = []

    def __call__(self, key, request: ReconstructionRequest, progress):
        """Images of shape (n, H, W, 3) for ``request``; ``progress(stage, done, total)`` per step."""
        job = _Job(request, progress)
        with self._lock:
            queue = self._pending.setdefault(key, [])
            queue.append(job)
            lead = len(queue) == 1
        if lead:
            time.sleep(self._window)
            with self._device:
                with self._lock:
                    jobs = self._pending.pop(key)
                self._run(key, jobs)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result

    def _run(self, key, jobs) -> None:
        listening = list(jobs)

        def progress(done, total):
            for job in list(listening):
                try:
                    job.progress("reconstruct", done, total)
                except Cancelled as exc:
                    listening.remove(job)
                    job.error = exc
            if not listening:
                raise Cancelled("reconstruct")

        try:
            for job, images in zip(jobs, self._generate([j.request for j in jobs], key, progress)):
                job.result = images
        except Exception as exc:  # noqa: BLE001 - every caller of the batch gets the error
            for job in jobs:
                job.error = job.error or exc
        finally:
            self.batch_sizes.append(len(jobs))
            for job in jobs:
                job.done.set()


class ReconstructionServicer(reconstruction_pb2_grpc.ReconstructionServiceServicer):
    def __init__(self, store, config, settings: ReconstructionSettings | None = None):
        self.store, self.config = store, config
        self.settings = settings or ReconstructionSettings.from_env()
        self.batcher = _Batcher(self._generate, self.settings.batch_window_ms / 1000)

    def _generate(self, requests, key, progress) -> list:
        return reconstruct_requests(requests, self.settings.pipeline(), *key, progress=progress,
                                    max_batch=self.settings.max_batch, max_bytes=self.settings.max_bytes or None)

    @grpc_errors
    def Reconstruct(self, request, context):
        tenant = current_tenant()
        from_embeddings = request.HasField("embeddings")
        preprocessing = json_object(request.preprocessing_json, "preprocessing_json",
                                    required=bool(request.recording_ids) and not from_embeddings)
        embeddings = tensors.from_tensor(request.embeddings) if from_embeddings else None
        init = tensors.from_tensor(request.init_images) if request.HasField("init_images") else None

        def reconstruct(progress):
            return reconstruct_from_store(
                self.store, tenant, self.settings, embeddings, list(request.ids), list(request.recording_ids),
                preprocessing, request.decoder_id, request.average_repeats, request.seed, init,
                request.n_steps or None,  # unset sampling settings (0, absent): the model's
                request.guidance if request.HasField("guidance") else None,
                request.strength if request.HasField("strength") else None, request.scheduler or None,
                request.backend or "torch", generate=self.batcher, progress=progress)

        stored = yield from progress_stream(
            reconstruct, context, lambda p: reconstruction_pb2.ReconstructEvent(progress=p), "reconstruction")
        for index, (stimulus_id, png) in enumerate(zip(stored.stimulus_ids, stored.pngs)):
            yield reconstruction_pb2.ReconstructEvent(image=reconstruction_pb2.ReconstructedImage(
                stimulus_id=stimulus_id, index=index, png=png))
        height, width = stored.images.shape[1:3]
        yield reconstruction_pb2.ReconstructEvent(result=reconstruction_pb2.ReconstructResult(
            reconstruction_id=stored.id, stimulus_ids=stored.stimulus_ids, height=height, width=width))
