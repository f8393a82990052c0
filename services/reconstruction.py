"""ReconstructionService: images from given or decoded embeddings, batched across concurrent calls.

Settings (model, device, memory bound, batch window) come from ``BRAINDECODE_RECONSTRUCTION_*``
environment variables (see ``braindecode.reconstruction.ReconstructionSettings``).
"""

from __future__ import annotations

import json
import threading
import time

from braindecode import tensors
from braindecode.errors import InvalidArgument
from braindecode.reconstruction import (
    ReconstructionRequest,
    ReconstructionSettings,
    check_ids,
    check_reconstruction,
    decode_recordings,
    reconstruct_requests,
    save_reconstructions,
)
from braindecode.v1 import reconstruction_pb2, reconstruction_pb2_grpc
from services._errors import grpc_errors
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


def _preprocessing(text: str) -> dict:
    if not text:
        raise InvalidArgument("preprocessing_json is required with recording_ids")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"preprocessing_json is not valid JSON: {exc}") from None


class ReconstructionServicer(reconstruction_pb2_grpc.ReconstructionServiceServicer):
    def __init__(self, store, config, settings: ReconstructionSettings | None = None):
        self.store, self.config = store, config
        self.settings = settings or ReconstructionSettings.from_env()
        self.batcher = _Batcher(self._generate, self.settings.batch_window_ms / 1000)

    def _generate(self, requests, key, progress) -> list:
        n_steps, guidance, strength, scheduler, backend = key
        return reconstruct_requests(requests, self.settings.pipeline(), n_steps, guidance, strength, scheduler,
                                    backend, progress=progress, max_batch=self.settings.max_batch,
                                    max_bytes=self.settings.max_bytes or None)

    @grpc_errors
    def Reconstruct(self, request, context):
        tenant = current_tenant()
        sampling = {"n_steps": request.n_steps or None, "scheduler": request.scheduler or None,  # None: the model's
                    "guidance_scale": request.guidance if request.HasField("guidance") else None,
                    "strength": request.strength if request.HasField("strength") else None}
        backend = request.backend or "torch"
        from_embeddings = request.HasField("embeddings")
        if from_embeddings == bool(request.recording_ids):
            raise InvalidArgument("give either embeddings or recording_ids with a decoder_id (exactly one of the two)")
        if from_embeddings and (request.decoder_id or request.preprocessing_json):
            raise InvalidArgument("decoder_id and preprocessing_json go with recording_ids, not with embeddings")
        if not from_embeddings and request.ids:
            raise InvalidArgument("ids go with embeddings; decoded trials are named by their stimulus ids")
        preprocessing = None if from_embeddings else _preprocessing(request.preprocessing_json)
        init = tensors.from_tensor(request.init_images) if request.HasField("init_images") else None

        def reconstruct_and_store(progress):
            pipeline = self.settings.pipeline()
            settings = pipeline.sampling_settings(**sampling)
            n_steps, scheduler, guidance, strength = settings.values()
            key = (n_steps, guidance, strength, scheduler, backend)
            provenance = {"model": self.settings.model_name, "n_steps": n_steps, "seed": request.seed,
                          "guidance": guidance, "scheduler": scheduler, "backend": backend,
                          "img2img": init is not None, "strength": strength}
            if from_embeddings:
                embeddings = tensors.from_tensor(request.embeddings)
                provenance["source"] = "embeddings"
            else:
                progress("decode", 0, 1)
                embeddings, ids = decode_recordings(
                    self.store, tenant, list(request.recording_ids), preprocessing, request.decoder_id,
                    pipeline.embedding_dim, request.average_repeats, self.settings.device)
                progress("decode", 1, 1)
                provenance.update(source="recordings", decoder_id=request.decoder_id,
                                  recordings=list(request.recording_ids), preprocessing=preprocessing,
                                  average_repeats=request.average_repeats)
            job = ReconstructionRequest(embeddings, request.seed, init)
            check_reconstruction(pipeline, job, n_steps, guidance, strength, scheduler, backend,
                                 self.settings.max_batch, self.settings.max_bytes or None)
            if from_embeddings:
                ids = check_ids(list(request.ids), len(embeddings))
            progress("reconstruct", 0, n_steps)
            images = self.batcher(key, job, progress)
            progress("store", 0, 1)
            info, pngs = save_reconstructions(self.store, tenant, ids, images, provenance)
            return info, ids, pngs, images.shape[1:3]

        info, ids, pngs, (height, width) = yield from progress_stream(
            reconstruct_and_store, context, lambda p: reconstruction_pb2.ReconstructEvent(progress=p),
            "reconstruction")
        for index, (stimulus_id, png) in enumerate(zip(ids, pngs)):
            yield reconstruction_pb2.ReconstructEvent(image=reconstruction_pb2.ReconstructedImage(
                stimulus_id=str(stimulus_id), index=index, png=png))
        yield reconstruction_pb2.ReconstructEvent(result=reconstruction_pb2.ReconstructResult(
            reconstruction_id=info.id, stimulus_ids=[str(s) for s in ids], height=height, width=width))
