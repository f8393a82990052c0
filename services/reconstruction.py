"""ReconstructionService: images from given or decoded embeddings by a served model, batched across calls.

Settings (the models by name, device, memory bound, batch window) are the ``reconstruction`` section
of the server's config (``braindecode.config.ReconstructionSettings``). A call larger than one batch
goes to the batcher in pieces of as many images as a batch holds within the bounds, and each piece's
images are streamed back as soon as they are made. Pieces with the same model and sampling settings
that reach the batcher (services/_batching.py) within the batch window of one another generate
together; one batch generates at a time, so that the memory bound of a batch holds. Each request keeps
its own seed streams, so its images do not depend on the batch or the pieces.

A model's image encoder, when the server holds it, is an ActivationService model: by its registry
name, or as ``reconstruction/<model name>`` for an encoder file or directory (:func:`encoder_model`).
"""

from __future__ import annotations

from braindecode import tensors
from braindecode.activations import list_models
from braindecode.config import DEFAULT_RECONSTRUCTION_MODEL
from braindecode.errors import BraindecodeError
from braindecode.reconstruction import SAMPLING_KEYS, reconstruct_requests
from braindecode.store import reconstruct_from_store
from braindecode.v1 import reconstruction_pb2, reconstruction_pb2_grpc
from services._batching import Batcher, WaitPolicy
from services._tenancy import current_tenant
from services._wire import json_object, reply_stream, selection

ENCODER_PREFIX = "reconstruction/"
"""ActivationService names ``reconstruction/<model name>`` the image encoder file or directory of a model."""


def encoder_model(settings, name: str) -> str | None:
    """The ActivationService name of model ``name``'s image encoder; None when the server does not hold it."""
    source = settings.encoder_source(name)
    if source is None:
        return None
    return source if source in {card.name for card in list_models()} else ENCODER_PREFIX + name


def model_message(settings, name: str) -> reconstruction_pb2.ReconstructionModel:
    """What model ``name`` takes and makes; only its ``error`` when it cannot be loaded."""
    try:
        described = settings.pipeline(name).describe()
        served = encoder_model(settings, name)
    except BraindecodeError as exc:
        return reconstruction_pb2.ReconstructionModel(name=name, error=str(exc))
    sampling = described.sampling
    height, width = described.image_size
    return reconstruction_pb2.ReconstructionModel(
        name=name, family=described.family, embedding_dim=described.embedding_dim,
        encoder=served or described.encoder, encoder_output=described.encoder_output,
        encoder_served=served is not None, image_height=height, image_width=width, max_steps=described.max_steps,
        sampling=reconstruction_pb2.RecommendedSampling(
            n_steps=sampling["n_steps"], scheduler=sampling["scheduler"], guidance=sampling["guidance_scale"],
            strength=sampling["strength"],
            family_settings={key: value for key, value in sampling.items() if key not in SAMPLING_KEYS}))


class ReconstructionServicer(reconstruction_pb2_grpc.ReconstructionServiceServicer):
    def __init__(self, store, config):
        self.store, self.config = store, config
        self.settings = config.reconstruction
        self.batcher = Batcher(self._generate, WaitPolicy(self.settings.batch_window_ms / 1000, window=True),
                               name="reconstruct")

    def close(self) -> None:
        self.batcher.close()

    def _generate(self, key, requests, progress) -> list:
        """The images of the ``ReconstructionRequest`` s of one batch: ``Batcher``'s ``run``; ``key`` is
        (model name, n_steps, guidance, strength, scheduler, backend)."""
        model, *sampling = key
        return reconstruct_requests(requests, self.settings.pipeline(model), *sampling, progress=progress,
                                    max_batch=self.settings.max_batch, max_bytes=self.settings.max_bytes or None)

    def _batched(self, model, sampling, request, progress):
        """``reconstruct_from_store``'s ``generate``: ``request`` generated in a batch, from this worker thread."""
        return self.batcher.submit_from_thread((model, *sampling), request, progress=progress)

    def Reconstruct(self, request, context):
        tenant = current_tenant()
        from_embeddings = request.HasField("embeddings")
        preprocessing = json_object(request.preprocessing_json, "preprocessing_json",
                                    required=bool(request.recording_ids) and not from_embeddings)
        embeddings = tensors.from_tensor(request.embeddings) if from_embeddings else None
        init = tensors.from_tensor(request.init_images) if request.HasField("init_images") else None

        def reconstruct(progress, send):
            def on_images(row, stimulus_ids, pngs):
                for index, (stimulus_id, png) in enumerate(zip(stimulus_ids, pngs), row):
                    send(reconstruction_pb2.ReconstructEvent(image=reconstruction_pb2.ReconstructedImage(
                        stimulus_id=stimulus_id, index=index, png=png)))

            return reconstruct_from_store(
                self.store, tenant, self.settings, embeddings, list(request.ids), list(request.recording_ids),
                preprocessing, request.decoder_id, request.average_repeats, request.seed, init,
                request.n_steps or None,  # unset sampling settings (0, absent): the model's
                request.guidance if request.HasField("guidance") else None,
                request.strength if request.HasField("strength") else None, request.scheduler or None,
                request.backend or "torch", model=request.model or DEFAULT_RECONSTRUCTION_MODEL,
                generate=self._batched, progress=progress, on_images=on_images, selection=selection(request),
                subject=request.subject)

        stored = yield from reply_stream(reconstruct, context, reconstruction_pb2.ReconstructEvent, "reconstruction")
        height, width = stored.images.shape[1:3]
        yield reconstruction_pb2.ReconstructEvent(result=reconstruction_pb2.ReconstructResult(
            reconstruction_id=stored.id, stimulus_ids=stored.stimulus_ids, height=height, width=width))

    def ListReconstructionModels(self, request, context):
        return reconstruction_pb2.ListReconstructionModelsResponse(
            models=[model_message(self.settings, name) for name in self.settings.directories])
