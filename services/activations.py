"""ActivationService: registry models, stored stimulus sets, and activation sets extracted from them.

Models are the registry's and the image encoders of the served reconstruction models
(``reconstruction/<model name>``, services/reconstruction.py), so that a decoder can be fitted to
the space a reconstruction model is conditioned on. They are loaded on first use and kept, one per
(name, device): the registry ships a handful of models and the config names the reconstruction
models, so none is evicted. A model runs one extraction at a time (its layers are read with forward
hooks on the shared module), behind a lock of its own.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading

from braindecode.activations import (
    StimulusSetBuilder,
    get_model_card,
    layer_shapes,
    list_models,
    load_model,
    model_provenance,
)
from braindecode.errors import InvalidArgument, NotFound, quoted
from braindecode.store import (
    ACTIVATIONS_ARTIFACT,
    STIMULI_ARTIFACT,
    extract_to_store,
    list_stimulus_sets,
    load_activation_set,
    load_stimulus_set,
    save_stimulus_set,
)
from braindecode.v1 import activations_pb2, activations_pb2_grpc
from services._batching import ServedModels
from services._tenancy import current_tenant
from services._wire import progress_stream, tensor_chunks
from services.reconstruction import ENCODER_PREFIX


class _LoadedModel:
    """A loaded network, its provenance, its layer shapes (once asked for) and its lock."""

    def __init__(self, model):
        self.model = model
        self.provenance = model_provenance(model)
        self.lock = threading.Lock()
        self._shapes = None

    def layer_shapes(self) -> dict:
        with self.lock:
            if self._shapes is None:
                self._shapes = layer_shapes(self.model)
            return self._shapes


def _model_message(card) -> activations_pb2.ModelInfo:
    text = card.text
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip() and not p.lstrip().startswith("#")]
    return activations_pb2.ModelInfo(
        name=card.name, modality=card.modality, layers=card.layers, summary=" ".join(paragraphs[0].split()),
        card=text, source=card.source, training_data=card.training_data, license=card.license,
        preprocessing=card.preprocessing)


def _stimulus_set_message(info, stimulus_ids=()) -> activations_pb2.StimulusSet:
    return activations_pb2.StimulusSet(
        id=info.id, name=info.meta["name"], modality=info.meta["modality"], n_stimuli=info.meta["n_stimuli"],
        stimulus_ids=list(stimulus_ids), created=info.created)


def _activation_set_message(info, stimulus_ids) -> activations_pb2.ActivationSet:
    meta, provenance = info.meta, info.provenance
    output_shapes = meta["info"].get("layer_shapes") or {}
    return activations_pb2.ActivationSet(
        id=info.id, model=meta["model"], stimulus_set_id=provenance.get("stimulus_set_id") or "",
        layers=[activations_pb2.ActivationLayer(name=name, shape=meta["shapes"][name],
                                                output_shape=output_shapes.get(name, []))
                for name in meta["layers"]],
        stimulus_ids=list(stimulus_ids), pooling=meta["info"].get("pooling") or "",
        precision=meta["info"].get("precision") or "", provenance_json=json.dumps(provenance),
        created=info.created)


def _add_stimuli(builder: StimulusSetBuilder, stimuli) -> None:
    for stimulus in stimuli:
        kind = stimulus.WhichOneof("content")
        if kind == "image":
            builder.add_image(stimulus.id, stimulus.image)
        elif kind == "text":
            builder.add_text(stimulus.id, stimulus.text)
        else:
            raise InvalidArgument(f"stimulus {quoted(stimulus.id)} carries neither an image nor a text")


class ActivationServicer(activations_pb2_grpc.ActivationServiceServicer):
    def __init__(self, store, config):
        self.store, self.config = store, config
        self.models = ServedModels(self._load, lambda key: self._source(key[0]))

    def _source(self, name: str) -> str:
        """What ``load_model`` loads for the model a call names: a registry name, or the encoder of a served
        reconstruction model; never a path or an import path that a caller sends."""
        if not name.startswith(ENCODER_PREFIX):
            return get_model_card(name).name
        model = name[len(ENCODER_PREFIX):]
        source = self.config.reconstruction.encoder_source(model)
        if source is None:
            raise NotFound(f"the server does not hold the image encoder of reconstruction model {model!r} "
                           f"({self.config.reconstruction.pipeline(model).encoder['model']})")
        return source

    def _load(self, key) -> _LoadedModel:
        name, device = key
        source = self._source(name)
        model = load_model(source, device=device)
        if source not in {card.name for card in list_models()}:
            model.name = name  # an encoder file or directory by its served name: no server path in activation sets
        return _LoadedModel(model)

    def ListModels(self, request, context):
        return activations_pb2.ListModelsResponse(models=[_model_message(card) for card in list_models()])

    def ListLayers(self, request, context):
        loaded = self.models.get((request.model, "cpu"))
        return activations_pb2.ListLayersResponse(
            model=loaded.model.name, modality=loaded.model.modality,
            layers=[activations_pb2.LayerShape(name=name, shape=shape)
                    for name, shape in loaded.layer_shapes().items()])

    def UploadStimuli(self, request_iterator, context):
        first = next(request_iterator, None)
        with StimulusSetBuilder(first.name if first else "", self.config.max_upload_bytes) as builder:
            for i, message in enumerate(itertools.chain([first] if first else [], request_iterator)):
                if i and message.name:
                    raise InvalidArgument("name may only be set in the first UploadStimuli message")
                _add_stimuli(builder, message.stimuli)
            stored = save_stimulus_set(self.store, current_tenant(), builder.stimulus_set())
            return _stimulus_set_message(stored, builder.stimulus_ids)

    def ListStimulusSets(self, request, context):
        found, token = list_stimulus_sets(self.store, current_tenant(), request.page.page_size,
                                          request.page.page_token)
        return activations_pb2.ListStimulusSetsResponse(
            stimulus_sets=[_stimulus_set_message(info) for info in found], next_page_token=token)

    def GetStimulusSet(self, request, context):
        tenant = current_tenant()
        info = self.store.get_artifact(tenant, request.id, STIMULI_ARTIFACT)
        return _stimulus_set_message(info, load_stimulus_set(self.store, tenant, request.id).stimulus_ids)

    def ExtractActivations(self, request, context):
        tenant = current_tenant()
        if bool(request.stimulus_set_id) == bool(request.stimuli):
            raise InvalidArgument("send either stimulus_set_id or inline stimuli, exactly one of the two")
        with contextlib.ExitStack() as stack:
            stimuli = request.stimulus_set_id
            if request.stimuli:
                builder = stack.enter_context(StimulusSetBuilder("", self.config.max_upload_bytes))
                _add_stimuli(builder, request.stimuli)
                stimuli = builder.stimulus_set()
            loaded = self.models.get((request.model, request.device or "cpu"))
            owned = stack.pop_all()  # the extraction thread closes the inline stimuli when it ends

            def extract(progress):
                with owned, loaded.lock:
                    return extract_to_store(
                        self.store, tenant, loaded.model, stimuli, list(request.layers) or None,
                        request.pooling or "avg", request.grid or 2, request.batch_size or 32, request.fp16,
                        lambda done, total: progress("extract", done, total), loaded.provenance)

        info = yield from progress_stream(extract, context, activations_pb2.ExtractActivationsEvent,
                                          "extract-activations")
        activations = load_activation_set(self.store, tenant, info.id)
        yield activations_pb2.ExtractActivationsEvent(
            result=_activation_set_message(info, activations.stimulus_ids))

    def GetActivationSet(self, request, context):
        tenant = current_tenant()
        info = self.store.get_artifact(tenant, request.id, ACTIVATIONS_ARTIFACT)
        activations = load_activation_set(self.store, tenant, request.id)
        return _activation_set_message(info, activations.stimulus_ids)

    def StreamActivations(self, request, context):
        array = load_activation_set(self.store, current_tenant(), request.id)[request.layer]
        yield from tensor_chunks(array, request.chunk_bytes, self.config, context)
