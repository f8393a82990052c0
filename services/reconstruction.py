"""ReconstructionService: images from given or decoded embeddings, batched across concurrent calls.

Settings (model, device, memory bound, batch window) are the ``reconstruction`` section of the
server's config (``braindecode.config.ReconstructionSettings``). Calls with the
same sampling settings that reach the batcher (services/_batching.py) within the batch window of
one another generate together; one batch generates at a time, so that the memory bound of a batch
holds. Each request keeps its own seed streams, so its images do not depend on the batch.
"""

from __future__ import annotations

from braindecode import tensors
from braindecode.reconstruction import reconstruct_requests
from braindecode.store import reconstruct_from_store
from braindecode.v1 import reconstruction_pb2, reconstruction_pb2_grpc
from services._batching import Batcher, WaitPolicy
from services._tenancy import current_tenant
from services._wire import json_object, progress_stream


class ReconstructionServicer(reconstruction_pb2_grpc.ReconstructionServiceServicer):
    def __init__(self, store, config):
        self.store, self.config = store, config
        self.settings = config.reconstruction
        self.batcher = Batcher(self._generate, WaitPolicy(self.settings.batch_window_ms / 1000, window=True),
                               name="reconstruct")

    def close(self) -> None:
        self.batcher.close()

    def _generate(self, sampling, requests, progress) -> list:
        """The images of the ``ReconstructionRequest`` s of one batch: ``Batcher``'s ``run``."""
        return reconstruct_requests(requests, self.settings.pipeline(), *sampling, progress=progress,
                                    max_batch=self.settings.max_batch, max_bytes=self.settings.max_bytes or None)

    def _batched(self, sampling, request, report):
        """``reconstruct_from_store``'s ``generate``: ``request`` generated in a batch, from this worker thread."""
        return self.batcher.submit_from_thread(sampling, request,
                                               progress=lambda done, total: report("reconstruct", done, total))

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
                request.backend or "torch", generate=self._batched, progress=progress, subject=request.subject)

        stored = yield from progress_stream(reconstruct, context, reconstruction_pb2.ReconstructEvent, "reconstruction")
        for index, (stimulus_id, png) in enumerate(zip(stored.stimulus_ids, stored.pngs)):
            yield reconstruction_pb2.ReconstructEvent(image=reconstruction_pb2.ReconstructedImage(
                stimulus_id=stimulus_id, index=index, png=png))
        height, width = stored.images.shape[1:3]
        yield reconstruction_pb2.ReconstructEvent(result=reconstruction_pb2.ReconstructResult(
            reconstruction_id=stored.id, stimulus_ids=stored.stimulus_ids, height=height, width=width))
