"""``client.activations``: the server's networks, stimulus sets and activation sets."""

from __future__ import annotations

import io
import pathlib

import numpy as np

from braindecode.client._base import ServiceClient
from braindecode.client._checks import build, labels, shown
from braindecode.client._replies import ActivationSetInfo, StimulusSetInfo, from_message
from braindecode.client._recordings import UPLOAD_CHUNK_BYTES
from braindecode.v1 import activations_pb2, activations_pb2_grpc


def _image_bytes(image) -> bytes:
    """PNG or JPEG bytes as they are, an image file's bytes, or a uint8 array / PIL image as PNG."""
    if isinstance(image, bytes):
        return image
    if isinstance(image, (str, pathlib.Path)):
        return pathlib.Path(image).read_bytes()
    from PIL import Image

    if not isinstance(image, (Image.Image, np.ndarray)):
        raise TypeError(f"an image must be PNG/JPEG bytes, a file path, a uint8 array or a PIL image, "
                        f"got {shown(image)}")
    buffer = io.BytesIO()
    (image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))).save(buffer, format="PNG")
    return buffer.getvalue()


def stimulus_messages(images=None, texts=None, ids=None) -> list:
    """``activations_pb2.Stimulus`` messages of ``images`` or of ``texts``, named by ``ids``, as
    :meth:`ActivationsClient.upload_stimuli` takes them."""
    if (images is None) == (texts is None):
        raise ValueError("pass either images or texts")
    given, name = (images, "images") if images is not None else (texts, "texts")
    if isinstance(given, (str, bytes)):
        raise TypeError(f"{name} must be a list, got {shown(given)}")
    items = list(given)
    ids = [str(i) for i in range(len(items))] if ids is None else labels(ids, "ids")
    if len(ids) != len(items):
        raise ValueError(f"{len(ids)} ids for {len(items)} stimuli")
    if images is not None:
        return [activations_pb2.Stimulus(id=i, image=_image_bytes(x)) for i, x in zip(ids, items)]
    return [build(activations_pb2.Stimulus, id=i, text=x) for i, x in zip(ids, items)]


class ActivationsClient(ServiceClient):
    """Networks, stimulus sets and the activation sets extracted from them (the ``ActivationService``)."""

    stub_class = activations_pb2_grpc.ActivationServiceStub

    def list_models(self) -> list:
        """The server's registry networks.

        Returns
        -------
        list of ModelInfo
            Each with its layers (early to late) and model card.
        """
        reply = self._call("ListModels", activations_pb2.ListModelsRequest())
        return [from_message(model) for model in reply.models]

    def list_layers(self, model: str) -> dict:
        """One network's layers, early to late.

        Parameters
        ----------
        model : str
            A registry name (see :meth:`list_models`), or ``reconstruction/<name>``: the image encoder of a
            served reconstruction model (``client.reconstruction.models()``, ``encoder``).

        Returns
        -------
        dict of str -> list of int
            Layer name -> output shape for one stimulus, before pooling (-1: varies, e.g. text tokens).
        """
        reply = self._call("ListLayers", build(activations_pb2.ListLayersRequest, model=model))
        return {layer.name: list(layer.shape) for layer in reply.layers}

    def upload_stimuli(self, images=None, texts=None, ids=None, name: str = "",
                       chunk_bytes: int = UPLOAD_CHUNK_BYTES) -> StimulusSetInfo:
        """Store a stimulus set.

        Parameters
        ----------
        images : list, optional
            PNG/JPEG bytes, image files, uint8 arrays of shape (H, W, 3) or PIL images.
        texts : list of str, optional
            Exactly one of ``images`` and ``texts``.
        ids : list of str, optional
            One unique id per stimulus; default "0", "1", ...
        name : str, optional
            A label for the set.
        chunk_bytes : int
            Bytes of stimuli per upload message (a larger stimulus goes alone).

        Returns
        -------
        StimulusSetInfo
        """
        stimuli = stimulus_messages(images, texts, ids)
        first = build(activations_pb2.UploadStimuliRequest, name=name)

        def requests():
            message, size = first, 0
            for stimulus in stimuli:
                if message.stimuli and size + stimulus.ByteSize() > chunk_bytes:
                    yield message
                    message, size = activations_pb2.UploadStimuliRequest(), 0
                message.stimuli.append(stimulus)
                size += stimulus.ByteSize()
            yield message

        return self._get("UploadStimuli", requests())

    def list_stimulus_sets(self, page_size: int = 100) -> list:
        """Every stimulus set of this tenant (all pages), oldest first, without their stimulus ids.

        Parameters
        ----------
        page_size : int
            Sets per page read.

        Returns
        -------
        list of StimulusSetInfo
        """
        return self._list("ListStimulusSets", activations_pb2.ListStimulusSetsRequest(), "stimulus_sets",
                          page_size)

    def get_stimulus_set(self, stimulus_set_id: str) -> StimulusSetInfo:
        """The stored stimulus set ``stimulus_set_id``, with its stimulus ids."""
        return self._get("GetStimulusSet", build(activations_pb2.GetStimulusSetRequest, id=stimulus_set_id))

    def extract(self, model: str, stimulus_set_id: str = "", images=None, texts=None, ids=None, layers=(),
                pooling: str = "avg", grid: int = 2, batch_size: int = 32, fp16: bool = False, device: str = "",
                on_progress=None) -> ActivationSetInfo:
        """Extract and store a network's activations for a stored stimulus set, or for inline stimuli
        (stored as a new set once the extraction has succeeded).

        Parameters
        ----------
        model : str
            A registry name (see :meth:`list_models`), or ``reconstruction/<name>``: the image encoder of a
            served reconstruction model (``client.reconstruction.models()``, ``encoder``).
        stimulus_set_id : str, optional
            A stored set; or ``images`` / ``texts`` with ``ids``, as in :meth:`upload_stimuli`.
        images, texts, ids : list, optional
        layers : list of str, optional
            Default: every layer.
        pooling : {"avg", "none", "grid"}
        grid : int
            Cells per side for grid pooling.
        batch_size : int
        fp16 : bool
            float16 autocast (CUDA only).
        device : str, optional
            cpu, cuda or cuda:N; empty is cpu.
        on_progress : callable, optional
            Called with a :class:`Progress` after each batch.

        Returns
        -------
        ActivationSetInfo
            Each layer stored as an array of shape (n_stimuli, n_features).
        """
        inline = [] if stimulus_set_id else stimulus_messages(images, texts, ids)
        request = build(activations_pb2.ExtractActivationsRequest, model=model, layers=layers, pooling=pooling,
                        grid=grid, batch_size=batch_size, fp16=fp16, device=device,
                        stimulus_set_id=stimulus_set_id, stimuli=inline)
        return self._follow("ExtractActivations", request, on_progress)

    def get(self, activation_set_id: str) -> ActivationSetInfo:
        """The stored activation set ``activation_set_id``: its layers and the stimulus ids of their rows."""
        return self._get("GetActivationSet", build(activations_pb2.GetActivationSetRequest, id=activation_set_id))

    def get_layer(self, activation_set_id: str, layer: str) -> np.ndarray:
        """One layer of a stored activation set, streamed whatever its size.

        Parameters
        ----------
        activation_set_id : str
        layer : str

        Returns
        -------
        array of shape (n_stimuli, n_features)
            float32; rows follow the set's ``stimulus_ids``.
        """
        request = build(activations_pb2.StreamActivationsRequest, id=activation_set_id, layer=layer)
        return self._download("StreamActivations", request)
