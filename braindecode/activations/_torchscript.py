"""TorchScript files: submodule outputs found in the inlined graph and returned as extra outputs.

Forward hooks do not fire inside a loaded ScriptModule, so the forward graph is inlined, each
node is attributed to the submodule that ran it (``Node.getModuleHierarchy``), and a submodule's
output is the first tensor computed inside it that is used outside it. A submodule whose output
comes out of control flow (``if`` / ``for`` in its ``forward``) carries no module attribution and
is not listed. A copy of the graph that
returns the requested tensors (dead code after them removed) is compiled into a function.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from braindecode.activations._network import NetworkModel
from braindecode.activations._stimuli import ImagePreprocessor, describe_preprocess
from braindecode.errors import InvalidArgument, NotFound

_LEVEL = re.compile(r"([^.()]+)\(([^()]*)\)")
_NON_MODULES = ("SELF", "UNKNOWN_INSTANCE")


class _ModulePaths:
    """Map a node's module hierarchy to a ``named_modules()`` path.

    The hierarchy names each called module relative to its caller, skipping containers that are
    indexed but never called (``ModuleList``): ``_blocks.0`` appears as ``0``. Each level is looked
    up among the caller's descendants by name and type.
    """

    def __init__(self, module):
        self.module = module
        self._cache = {}

    def _child(self, parent, parent_path, name, type_name):
        key = (parent_path, name, type_name)
        if key not in self._cache:
            matches = [
                (rel.count("."), rel, sub) for rel, sub in parent.named_modules()
                if rel and rel.rsplit(".", 1)[-1] == name and getattr(sub, "original_name", "") == type_name
            ]
            _, rel, sub = min(matches, key=lambda m: m[:2]) if matches else (0, name, None)
            self._cache[key] = (f"{parent_path}.{rel}" if parent_path else rel, sub)
        return self._cache[key]

    def __call__(self, node) -> str:
        parent, path = self.module, ""
        for name, type_name in _LEVEL.findall(node.getModuleHierarchy()):
            if name in _NON_MODULES or parent is None:
                continue
            path, parent = self._child(parent, path, name, type_name.rsplit(".", 1)[-1])
        return path


def _user_path(node, top_block, module_path):
    """The module path of a value's user; None for users that say nothing about module boundaries.

    Control-flow nodes and the nodes nested in them carry no module hierarchy (e.g. the input checks
    of batch norm), so they are skipped; the graph's return node is outside every module.
    """
    if node.kind() == "prim::Return":
        return ""
    path = module_path(node)
    if not path and (node.kind() in ("prim::If", "prim::Loop") or node.owningBlock() != top_block):
        return None
    return path


def _scopes(path: str) -> list:
    parts = path.split(".") if path else []
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _inside(path: str, scope: str) -> bool:
    return path == scope or path.startswith(scope + ".")


def _inlined_graph(module):
    graph = module.forward.graph.copy()
    torch._C._jit_pass_inline(graph)
    return graph


def submodule_outputs(module) -> dict:
    """Where each submodule's output is computed in the inlined forward graph.

    Returns
    -------
    outputs : dict of str -> (int, int)
        Submodule path -> (node index, output index) in ``graph.nodes()`` order, ordered from
        early to late (by node index; a submodule before the parent that returns its output).
    """
    found = {}
    graph = _inlined_graph(module)
    top = graph.block()
    module_path = _ModulePaths(module)
    for index, node in enumerate(graph.nodes()):
        path = module_path(node)
        for position, value in enumerate(node.outputs()):
            if not isinstance(value.type(), torch._C.TensorType):
                continue
            users = [p for p in (_user_path(use.user, top, module_path) for use in value.uses()) if p is not None]
            for scope in _scopes(path):
                if scope not in found and any(not _inside(user, scope) for user in users):
                    found[scope] = (index, position)
    return dict(sorted(found.items(), key=lambda item: (item[1], -item[0].count("."))))


class TorchScriptNetwork(NetworkModel):
    """A TorchScript image network whose layers are its submodules, in the order they finish.

    Parameters
    ----------
    module : torch.jit.ScriptModule
        Takes a float32 batch of shape (n, 3, H, W).
    name : str
    preprocess : callable
        ``preprocess(stimuli) -> array of shape (n, 3, H, W)``.
    device, preprocessing
        As in :class:`NetworkModel`.
    """

    def __init__(self, module, name, preprocess, device="cpu", preprocessing=None):
        self._where = submodule_outputs(module)
        if not self._where:
            raise InvalidArgument(f"TorchScript model {name!r} has no submodule outputs to read")
        super().__init__(name, "image", list(self._where), device, preprocessing)
        self.module = module.eval().to(self.device)
        self._preprocess_fn = preprocess
        self._functions = {}

    def function(self, layers):
        """A compiled ``f(module, x) -> tuple`` returning the outputs of ``layers`` (cached)."""
        key = tuple(layers)
        if key not in self._functions:
            graph = _inlined_graph(self.module)
            nodes = list(graph.nodes())
            values = [list(nodes[n].outputs())[i] for n, i in (self._where[layer] for layer in key)]
            pack = graph.create("prim::TupleConstruct", values)
            pack.output().setType(torch._C.TupleType([value.type() for value in values]))
            graph.insertNode(pack)
            pack.moveBefore(graph.return_node())
            for _ in range(len(list(graph.outputs()))):
                graph.eraseOutput(0)
            graph.registerOutput(pack.output())
            torch._C._jit_pass_dce(graph)
            self._functions[key] = torch._C._create_function_from_graph(f"capture_{len(self._functions)}", graph)
        return self._functions[key]

    def _preprocess(self, stimuli):
        return {"pixel_values": self._preprocess_fn(stimuli)}

    def _capture(self, inputs, layers, autocast_dtype):
        outputs = self.function(layers)(self.module._c, inputs["pixel_values"])
        return dict(zip(layers, outputs))

    def _run(self, inputs):
        return self.module(inputs["pixel_values"])

    def _to(self, device):
        self.module.to(device)


def load_torchscript(path, device="cpu", preprocess=None) -> TorchScriptNetwork:
    """A :class:`TorchScriptNetwork` from a ``torch.jit.save`` file.

    Without ``preprocess``, images get :class:`ImagePreprocessor` defaults (ImageNet mean/std,
    224 x 224 central crop).
    """
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"no TorchScript file at {path}")
    try:
        module = torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError) as exc:
        raise InvalidArgument(f"{path} is neither ONNX (.onnx) nor a TorchScript file: {exc}") from None
    preprocess = preprocess if preprocess is not None else ImagePreprocessor()
    return TorchScriptNetwork(module, str(path), preprocess, device=device,
                              preprocessing=describe_preprocess(preprocess))
