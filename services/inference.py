"""The Open Inference Protocol (KServe v2, Triton's gRPC protocol) over a tenant's stored decoders and encoders.

Models are named by artifact id, with the one version "1" ("" picks it). A decoder takes ``brain``
(batch, *input_shape) and gives ``embedding`` (batch, n_dims), the names of its ONNX graph's
tensors, with the platform ``onnxruntime_onnx``; an encoder takes ``features`` (batch, n_features)
and gives ``responses`` (batch, *response_shape), each request's rows one run. Both are FP32.

ModelInfer runs on the server's event loop, like Decode, and submits to the Decode servicer's
batcher under the same served decoder (services/decoding.py), so that concurrent ModelInfer and
Decode callers of one decoder share batches; encoders are served from a cache of their own,
through the same batcher. Inputs arrive in ``raw_input_contents`` (what tritonclient sends) or in
``contents.fp32_contents``; outputs leave in ``raw_output_contents``.

Bad input ends the call with the statuses Triton and KServe answer with: INVALID_ARGUMENT for a
wrong datatype, shape or byte size and a missing, extra or unknown input or output, NOT_FOUND for
a model that is not one of the caller's (ModelReady answers ``ready: false`` for it instead).
"""

from __future__ import annotations

import asyncio
import math

import numpy as np

import braindecode
from braindecode.errors import InvalidArgument, NotFound, quoted
from braindecode.store import DECODER_ARTIFACT, ENCODER_ARTIFACT, load_encoder_artifact
from braindecode.v1 import inference_pb2, inference_pb2_grpc
from services._batching import ServedModels
from services._tenancy import current_tenant

SERVER_NAME = "braindecode"
VERSION = "1"
DATATYPE = "FP32"
WIRE_DTYPE = np.dtype("<f4")  # the protocol's raw contents are little-endian
CACHED_ENCODERS = 16
PLATFORMS = {DECODER_ARTIFACT: "onnxruntime_onnx", ENCODER_ARTIFACT: "braindecode_encoder"}
SHOWN_DIMS = 8  # most dimensions of a caller's shape that an error message quotes


def _dims(shape) -> str:
    """``shape`` as the protocol writes it, [1, 5000], cut after ``SHOWN_DIMS`` dimensions."""
    shown = ", ".join(str(int(d)) for d in shape[:SHOWN_DIMS])
    return f"[{shown}, ... ({len(shape)} dimensions)]" if len(shape) > SHOWN_DIMS else f"[{shown}]"


class _Served:
    """A served model with its kind and its one input and one output: (name, one sample's shape)."""

    __slots__ = ("input", "kind", "model", "output")

    def __init__(self, kind: str, model):
        self.kind, self.model = kind, model
        if kind == DECODER_ARTIFACT:
            self.input, self.output = ("brain", tuple(model.input_shape_)), ("embedding", (int(model.n_dims_),))
        else:
            self.input, self.output = ("features", (model.n_features,)), ("responses", tuple(model.response_shape))

    def tensor_metadata(self) -> tuple:
        """(inputs, outputs) as ModelMetadataResponse.TensorMetadata, -1 for the batch."""
        tensor = inference_pb2.ModelMetadataResponse.TensorMetadata
        return ([tensor(name=self.input[0], datatype=DATATYPE, shape=(-1, *self.input[1]))],
                [tensor(name=self.output[0], datatype=DATATYPE, shape=(-1, *self.output[1]))])


def _input_values(request, served: _Served) -> np.ndarray:
    """The request's one input as an array of shape (n, *input shape), checked against the model as
    the protocol asks: name, datatype, shape, then the byte size (or value count) its shape implies."""
    model, (name, sample_shape) = request.model_name, served.input
    given = [tensor.name for tensor in request.inputs]
    if not given:
        raise InvalidArgument(f"model {model!r} expects 1 input, {name!r}, got none")
    unexpected = [other for other in given if other != name]
    if unexpected:
        raise InvalidArgument(f"unexpected inference input {quoted(unexpected[0])} for model {model!r}: its one input "
                              f"is {name!r}")
    if len(given) > 1:
        raise InvalidArgument(f"input {name!r} of model {model!r} is given {len(given)} times")
    tensor = request.inputs[0]
    if tensor.datatype != DATATYPE:
        raise InvalidArgument(f"input {name!r} of model {model!r} is {DATATYPE}, got datatype "
                              f"{quoted(tensor.datatype)}")
    shape = tuple(tensor.shape)
    if len(shape) != 1 + len(sample_shape) or shape[1:] != sample_shape or shape[0] < 1:
        raise InvalidArgument(f"unexpected shape for input {name!r} of model {model!r}: expected "
                              f"{_dims((-1, *sample_shape))} with a batch of 1 or more, got {_dims(shape)}")
    if tensor.parameters:
        raise InvalidArgument(f"input parameters are not supported (input {name!r} has "
                              f"{quoted(sorted(tensor.parameters)[0])}); send the values in the request")
    n_values = math.prod(shape)
    if request.raw_input_contents:
        if tensor.HasField("contents"):
            raise InvalidArgument(f"input {name!r} has both contents and raw_input_contents; send one")
        if len(request.raw_input_contents) != 1:
            raise InvalidArgument(f"raw_input_contents holds {len(request.raw_input_contents)} tensors for 1 input")
        raw = request.raw_input_contents[0]
        if len(raw) != n_values * WIRE_DTYPE.itemsize:
            raise InvalidArgument(f"input byte size mismatch for input {name!r} of model {model!r}: shape "
                                  f"{_dims(shape)} {DATATYPE} takes {n_values * WIRE_DTYPE.itemsize} bytes, "
                                  f"got {len(raw)}")
        return np.frombuffer(raw, dtype=WIRE_DTYPE).reshape(shape)
    others = [field.name for field, _ in tensor.contents.ListFields() if field.name != "fp32_contents"]
    if others:
        raise InvalidArgument(f"input {name!r} of model {model!r} is {DATATYPE}: its values go in fp32_contents, "
                              f"got {others[0]}")
    values = tensor.contents.fp32_contents
    if len(values) != n_values:
        raise InvalidArgument(f"input {name!r} of model {model!r}: shape {_dims(shape)} holds {n_values} values, "
                              f"got {len(values)} in fp32_contents")
    return np.asarray(values, dtype=np.float32).reshape(shape)


def _check_outputs(request, served: _Served) -> None:
    """The requested outputs (none: all) must be the model's one output, with no parameters."""
    name = served.output[0]
    for output in request.outputs:
        if output.name != name:
            raise InvalidArgument(f"unexpected inference output {quoted(output.name)} for model "
                                  f"{request.model_name!r}: its one output is {name!r}")
        if output.parameters:
            raise InvalidArgument(f"output parameters are not supported (output {name!r} has "
                                  f"{quoted(sorted(output.parameters)[0])})")


class InferenceServicer(inference_pb2_grpc.GRPCInferenceServiceServicer):
    """``inference.GRPCInferenceService`` over the store's decoders (served and batched by ``decoding``,
    the DecodingServicer) and encoders."""

    def __init__(self, store, config, decoding):
        self.store, self.config = store, config
        self.decoders, self.batches = decoding.decoders, decoding.batches
        self.encoders = ServedModels(lambda key: load_encoder_artifact(store, *key),
                                     lambda key: store.get_artifact(*key, ENCODER_ARTIFACT), CACHED_ENCODERS)

    def _models(self, tenant: str, name: str, version: str) -> tuple:
        """(kind, served models of the kind) of the caller's decoder or encoder named ``name``; NotFound
        for any other name or version. One look-up in the store, quick enough for the event loop."""
        if not name:
            raise InvalidArgument("a model name is required: the id of a stored decoder or encoder")
        try:
            kind = self.store.get_artifact(tenant, name).kind
        except NotFound:
            kind = None
        if kind not in PLATFORMS:
            raise NotFound(f"model {quoted(name)} not found: the models are the caller's stored decoders and encoders")
        if version not in ("", VERSION):
            raise NotFound(f"model {name!r} has no version {quoted(version)}: its one version is {VERSION!r}")
        return kind, self.decoders if kind == DECODER_ARTIFACT else self.encoders

    @staticmethod
    def _key(kind: str, tenant: str, name: str) -> tuple:
        """The served-model key of a model: a decoder's names its subject too (here none: the decoders
        of one subject's data; a shared decoder's graphs are served per subject by Decode)."""
        return (tenant, name, "") if kind == DECODER_ARTIFACT else (tenant, name)

    def _served(self, tenant: str, name: str, version: str) -> _Served:
        """The caller's decoder or encoder named ``name``, loaded (NotFound for any other name or version)."""
        kind, models = self._models(tenant, name, version)
        return _Served(kind, models.get(self._key(kind, tenant, name)))

    async def ServerLive(self, request, context):
        return inference_pb2.ServerLiveResponse(live=True)

    async def ServerReady(self, request, context):
        return inference_pb2.ServerReadyResponse(ready=True)

    async def ServerMetadata(self, request, context):
        return inference_pb2.ServerMetadataResponse(name=SERVER_NAME, version=braindecode.__version__)

    def ModelReady(self, request, context):
        try:
            self._served(current_tenant(), request.name, request.version)
        except NotFound:
            return inference_pb2.ModelReadyResponse(ready=False)
        return inference_pb2.ModelReadyResponse(ready=True)

    def ModelMetadata(self, request, context):
        served = self._served(current_tenant(), request.name, request.version)
        inputs, outputs = served.tensor_metadata()
        return inference_pb2.ModelMetadataResponse(name=request.name, versions=[VERSION],
                                                   platform=PLATFORMS[served.kind], inputs=inputs, outputs=outputs)

    async def ModelInfer(self, request, context):
        """Runs on the server's event loop; the inputs are checked before they join a batch, so that
        bad ones fail their own call only."""
        tenant = current_tenant()
        kind, models = self._models(tenant, request.model_name, request.model_version)
        key = self._key(kind, tenant, request.model_name)
        model = models.loaded(key)
        served = _Served(kind, model if model is not None else await asyncio.to_thread(models.get, key))
        _check_outputs(request, served)
        values = served.model.check_input(_input_values(request, served))
        # The calls of one connection come one after another, as the samples of a Decode stream do.
        caller = self.batches.caller(served.model, context.peer())
        results = await self.batches.submit(served.model, values, len(values), caller)
        return inference_pb2.ModelInferResponse(
            model_name=request.model_name, model_version=VERSION, id=request.id,
            outputs=[inference_pb2.ModelInferResponse.InferOutputTensor(
                name=served.output[0], datatype=DATATYPE, shape=results.shape)],
            raw_output_contents=[np.ascontiguousarray(results, dtype=WIRE_DTYPE).tobytes()])
