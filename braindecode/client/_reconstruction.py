"""``client.reconstruction``: images reconstructed by the server's diffusion model."""

from __future__ import annotations

import io

import numpy as np

from braindecode import tensors
from braindecode.client._base import ServiceClient
from braindecode.client._checks import build, floats, json_object, labels, selection as selection_message
from braindecode.client._replies import from_message
from braindecode.v1 import reconstruction_pb2, reconstruction_pb2_grpc


class ReconstructionClient(ServiceClient):
    """Stimulus images reconstructed from embeddings or from stored recordings (the
    ``ReconstructionService``)."""

    stub_class = reconstruction_pb2_grpc.ReconstructionServiceStub

    def reconstruct(self, embeddings=None, ids=None, recording_ids=(), preprocessing: dict | None = None,
                    decoder_id: str = "", average_repeats: bool = True, n_steps: int | None = None, seed: int = 0,
                    guidance: float | None = None, scheduler: str | None = None, backend: str = "torch",
                    init_images=None, strength: float | None = None, model: str = "", on_progress=None,
                    selection=None, subject: str = "") -> tuple:
        """Reconstruct images from embeddings, or from stored recordings decoded by a stored decoder.

        Parameters
        ----------
        embeddings : array of shape (n, d), optional
            In the model's conditioning space, named by ``ids`` (default "0", "1", ...) ...
        ids : list of str, optional
        recording_ids : list of str, optional
            ... or stored recordings of one modality, preprocessed with ``preprocessing`` (ending in a
            "trials" or "epochs" step) and decoded by ``decoder_id``; images are named by stimulus id.
        preprocessing : dict, optional
        decoder_id : str, optional
        average_repeats : bool
            Average the responses to repeated presentations of a stimulus before decoding.
        n_steps, guidance, scheduler, strength : optional
            Sampling settings; None takes the model's recommendation.
        seed : int
        backend : {"torch", "onnx"}
        init_images : array of shape (n, H, W, 3), optional
            uint8 images to start from (img2img), at ``strength``.
        model : str, optional
            A served model's name (:meth:`models`); empty: "default", the shipped model.
        on_progress : callable, optional
            Called with each :class:`Progress` streamed back.
        selection : dict or Selection, optional
            Recordings: the voxels and trials to decode; its voxels default to those the decoder was fitted on.
        subject : str, optional
            With a shared ``decoder_id``: the subject whose adapter decodes every recording (default:
            each recording's own subject label).

        Returns
        -------
        images : list of (str, array of shape (H, W, 3))
            (stimulus id, uint8 RGB image) per reconstruction, in order.
        reconstruction_id : str
            The stored reconstruction artifact.
        """
        from PIL import Image

        request = build(
            reconstruction_pb2.ReconstructRequest,
            embeddings=None if embeddings is None else tensors.to_tensor(floats(embeddings, "embeddings")),
            ids=[] if ids is None else labels(ids, "ids"), recording_ids=recording_ids,
            preprocessing_json=json_object(preprocessing, "preprocessing"), decoder_id=decoder_id, subject=subject,
            average_repeats=average_repeats, n_steps=n_steps or 0, seed=seed, guidance=guidance,
            scheduler=scheduler or "", backend=backend, strength=strength, model=model,
            init_images=None if init_images is None else tensors.to_tensor(np.asarray(init_images)),
            selection=selection_message(selection))
        images = []

        def on_image(image):
            images.append((image.stimulus_id, np.asarray(Image.open(io.BytesIO(image.png)).convert("RGB"))))

        result = self._follow("Reconstruct", request, on_progress, image=on_image)
        return images, result.reconstruction_id

    def models(self) -> list:
        """The server's reconstruction models, "default" first.

        Returns
        -------
        list of ReconstructionModel
            Each with its family, embedding dimension and encoder, image size and recommended sampling.
        """
        reply = self._call("ListReconstructionModels", reconstruction_pb2.ListReconstructionModelsRequest())
        return [from_message(model) for model in reply.models]
