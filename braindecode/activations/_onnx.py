"""ONNX graphs: intermediate tensors become extra graph outputs, run through ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper

from braindecode.activations._network import NetworkModel
from braindecode.activations._stimuli import ImagePreprocessor, describe_preprocess
from braindecode.errors import InvalidArgument, NotFound
from braindecode.onnxrt import create_session

_FLOAT_TYPES = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16}


def _value_types(model: onnx.ModelProto) -> dict:
    try:
        model = onnx.shape_inference.infer_shapes(model)
    except onnx.shape_inference.InferenceError:  # keep the types the file declares
        pass
    graph = model.graph
    return {
        info.name: info.type.tensor_type.elem_type
        for info in list(graph.value_info) + list(graph.output) + list(graph.input)
        if info.type.HasField("tensor_type")
    }


def graph_layers(model: onnx.ModelProto, types: dict) -> list:
    """Outputs of every node except ``Constant`` nodes whose type in ``types`` is floating point."""
    return [
        name for node in model.graph.node if node.op_type != "Constant"
        for name in node.output if name and types.get(name) in _FLOAT_TYPES
    ]


def image_input(model: onnx.ModelProto, name: str):
    """The graph's single non-initializer input (its ``ValueInfoProto``)."""
    initializers = {init.name for init in model.graph.initializer}
    inputs = [info for info in model.graph.input if info.name not in initializers]
    if len(inputs) != 1:
        raise InvalidArgument(f"ONNX model {name!r} has {len(inputs)} inputs; one image input is supported")
    return inputs[0]


def with_outputs(model: onnx.ModelProto, names, types: dict) -> onnx.ModelProto:
    """A copy of ``model`` whose graph outputs are exactly ``names``."""
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    del exposed.graph.output[:]
    exposed.graph.output.extend(helper.make_tensor_value_info(name, types[name], None) for name in names)
    return exposed


class OnnxNetwork(NetworkModel):
    """An ONNX image network whose layers are its intermediate float tensors.

    Parameters
    ----------
    model : onnx.ModelProto
        One graph input of shape (n, 3, H, W).
    name : str
    preprocess : callable
        ``preprocess(stimuli) -> array of shape (n, 3, H, W)``.
    device : {"cpu", "cuda", "cuda:N"}
        ONNX Runtime provider, chosen by :func:`braindecode.onnxrt.create_session`.
    preprocessing : dict
    """

    def __init__(self, model, name, preprocess, device="cpu", preprocessing=None):
        source = image_input(model, name)
        self._types = _value_types(model)
        layers = graph_layers(model, self._types)
        if not layers:
            raise InvalidArgument(f"ONNX model {name!r} computes no float tensors")
        super().__init__(name, "image", layers, device, preprocessing)
        self.graph = model
        self.input_name = source.name
        self.input_dtype = helper.tensor_dtype_to_np_dtype(source.type.tensor_type.elem_type)
        self.output_names = [info.name for info in model.graph.output]
        self._preprocess_fn = preprocess
        self._sessions = {}

    def session(self, names):
        """An ONNX Runtime session whose outputs are ``names`` (cached per set of names)."""
        key = tuple(names)
        if key not in self._sessions:
            exposed = with_outputs(self.graph, key, self._types)
            self._sessions[key] = create_session(exposed.SerializeToString(), device=str(self.device))
        return self._sessions[key]

    def _preprocess(self, stimuli):
        return {"pixel_values": self._preprocess_fn(stimuli)}

    def _outputs(self, inputs, names):
        pixels = inputs["pixel_values"].detach().cpu().numpy().astype(self.input_dtype, copy=False)
        values = self.session(names).run(list(names), {self.input_name: pixels})
        return [torch.from_numpy(np.asarray(value)) for value in values]

    def _capture(self, inputs, layers, autocast_dtype):
        return dict(zip(layers, self._outputs(inputs, layers)))

    def _run(self, inputs):
        return self._outputs(inputs, self.output_names[:1])[0]

    def _to(self, device):
        self._sessions.clear()


def load_onnx(path, device="cpu", preprocess=None) -> OnnxNetwork:
    """An :class:`OnnxNetwork` from a ``.onnx`` file.

    Without ``preprocess``, images get :class:`ImagePreprocessor` defaults at the graph's
    static input size (224 when the size is dynamic).
    """
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"no ONNX file at {path}")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError, ValueError or its own errors
        raise InvalidArgument(f"cannot read ONNX model {path}: {exc}") from None
    if preprocess is None:
        dims = [d.dim_value for d in image_input(model, str(path)).type.tensor_type.shape.dim]
        size = dims[2] if len(dims) == 4 and dims[2] > 0 and dims[2] == dims[3] else 224
        preprocess = ImagePreprocessor(size=size)
    return OnnxNetwork(model, str(path), preprocess, device=device, preprocessing=describe_preprocess(preprocess))
