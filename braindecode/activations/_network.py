"""``NetworkModel``: a network that maps stimuli to named layer activations."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from braindecode._devices import resolve_device
from braindecode.errors import InvalidArgument


def first_tensor(value, key=None) -> torch.Tensor:
    """The tensor in a module output: itself, ``value[key]`` of a dict, or the first of a tuple."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, dict):
        return first_tensor(value[key] if key is not None else next(iter(value.values())))
    if isinstance(value, (tuple, list)) and value:
        return first_tensor(value[0])
    raise InvalidArgument(f"layer output of type {type(value).__name__} holds no tensor")


class NetworkModel(ABC):
    """A network with named layers, its stimulus preprocessing and a way to run it.

    Parameters
    ----------
    name : str
        Registry name or the path the model was loaded from.
    modality : {"image", "text"}
        The kind of stimulus the network takes.
    layers : list of str
        Layer names, ordered from early to late.
    device : str or torch.device
    preprocessing : dict
        A description of the stimulus preprocessing, for provenance.
    """

    def __init__(self, name, modality, layers, device="cpu", preprocessing=None):
        if modality not in ("image", "text"):
            raise InvalidArgument(f"unknown modality {modality!r}; use 'image' or 'text'")
        self.name = str(name)
        self.modality = modality
        self._layers = list(layers)
        self.device = resolve_device(device)
        self.preprocessing = dict(preprocessing or {})

    @property
    def layers(self) -> list:
        """Layer names, ordered from early to late."""
        return list(self._layers)

    def check_layers(self, layers=None) -> list:
        """``layers`` (all layers when None) validated against :attr:`layers`."""
        if layers is None:
            return self.layers
        if isinstance(layers, str):
            layers = [layers]
        layers = list(layers)
        if not layers:
            raise InvalidArgument("layers is empty; pass None for all layers")
        unknown = [layer for layer in layers if layer not in self._layers]
        if unknown:
            raise InvalidArgument(
                f"unknown layer(s) {', '.join(map(repr, unknown))} for model {self.name!r}; "
                f"available: {', '.join(self._layers)}"
            )
        if len(set(layers)) != len(layers):
            raise InvalidArgument(f"layers has duplicates: {layers}")
        return layers

    def preprocess(self, stimuli) -> dict:
        """Model inputs for a batch of stimuli, as tensors on :attr:`device`."""
        inputs = self._preprocess(list(stimuli))
        return {
            key: torch.as_tensor(value).to(self.device) if isinstance(value, (np.ndarray, torch.Tensor))
            else value
            for key, value in inputs.items()
        }

    def capture(self, inputs: dict, layers, autocast_dtype=None) -> dict:
        """Run the network on preprocessed ``inputs`` and return the requested layer outputs.

        Parameters
        ----------
        inputs : dict
            The output of :meth:`preprocess`.
        layers : list of str
        autocast_dtype : torch.dtype, optional
            Run under ``torch.autocast`` with this dtype (torch networks only).

        Returns
        -------
        outputs : dict of str -> tensor of shape (n_stimuli, ...)
        """
        with torch.inference_mode():
            return self._capture(inputs, self.check_layers(layers), autocast_dtype)

    def run(self, stimuli) -> torch.Tensor:
        """The network's final output for ``stimuli``, e.g. class logits of shape (n, n_classes)."""
        with torch.inference_mode():
            return self._run(self.preprocess(stimuli))

    def to(self, device) -> "NetworkModel":
        """Move the network to ``device``; returns self."""
        self.device = resolve_device(device)
        self._to(self.device)
        return self

    def token_mask(self, inputs: dict):
        """For text models, the attention mask of shape (n, n_tokens); None for images."""
        return inputs.get("attention_mask") if self.modality == "text" else None

    @abstractmethod
    def _preprocess(self, stimuli: list) -> dict:
        """Inputs (arrays or tensors) for a list of stimuli."""

    @abstractmethod
    def _capture(self, inputs: dict, layers: list, autocast_dtype) -> dict:
        """Layer outputs for preprocessed inputs."""

    @abstractmethod
    def _run(self, inputs: dict) -> torch.Tensor:
        """The final output for preprocessed inputs."""

    @abstractmethod
    def _to(self, device: torch.device) -> None:
        """Move weights or sessions to ``device``."""

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, modality={self.modality!r}, "
                f"layers={len(self._layers)}, device={str(self.device)!r})")


@dataclass(frozen=True)
class LayerSpec:
    """Where a named layer lives in a torch module.

    Parameters
    ----------
    module : str
        Dotted submodule path, as in ``named_modules()``.
    port : {"output", "input"}
        Take the submodule's output or its (first) input.
    key : str, optional
        Key to read when the submodule returns a dict.
    """

    module: str
    port: str = "output"
    key: str | None = None


class _AllCaptured(BaseException):
    """Raised from a hook once every requested layer is captured, to skip the rest of the network.

    A BaseException, so that a model's own ``except Exception`` cannot swallow it.
    """


class _HookCapture:
    """Forward hooks that keep the first output (or input) of selected submodules."""

    def __init__(self, module: nn.Module, specs: dict):
        self.outputs = {}
        self._handles = []
        submodules = dict(module.named_modules())
        for name, spec in specs.items():
            target = submodules[spec.module]
            if spec.port == "input":
                self._handles.append(target.register_forward_pre_hook(self._hook(name, spec, 0)))
            else:
                self._handles.append(target.register_forward_hook(self._hook(name, spec, 1)))
        self._wanted = set(specs)

    def _hook(self, name, spec, position):
        def hook(module, *args):
            if name not in self.outputs:
                self.outputs[name] = first_tensor(args[position], spec.key)
            if self._wanted.issubset(self.outputs):
                raise _AllCaptured

        return hook

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()
        return exc[0] is _AllCaptured


class TorchNetwork(NetworkModel):
    """A torch ``nn.Module`` whose layers are read with forward hooks.

    Parameters
    ----------
    module : nn.Module
        The network; put in eval mode, never modified.
    name, modality, device, preprocessing
        As in :class:`NetworkModel`.
    layers : dict of str -> LayerSpec
        Named layers in order from early to late.
    preprocess : callable
        ``preprocess(stimuli) -> dict`` of model inputs (arrays or tensors).
    input_key : str, optional
        Call ``module(inputs[input_key])``; when None, ``module(inputs)`` with the whole dict.
    output_key : str, optional
        Key of the final output when the module returns a dict.
    """

    def __init__(self, module, name, modality, layers, preprocess, device="cpu", preprocessing=None,
                 input_key="pixel_values", output_key=None):
        super().__init__(name, modality, list(layers), device, preprocessing)
        known = dict(module.named_modules())
        for layer, spec in layers.items():
            if spec.module not in known:
                raise InvalidArgument(f"layer {layer!r}: module {spec.module!r} not in {name!r}")
            if spec.port not in ("output", "input"):
                raise InvalidArgument(f"layer {layer!r}: port must be 'output' or 'input'")
        self.module = module.eval().to(self.device)
        self.specs = dict(layers)
        self._preprocess_fn = preprocess
        self.input_key = input_key
        self.output_key = output_key

    def _preprocess(self, stimuli):
        return self._preprocess_fn(stimuli)

    def _forward(self, inputs):
        return self.module(inputs if self.input_key is None else inputs[self.input_key])

    def _capture(self, inputs, layers, autocast_dtype):
        specs = {layer: self.specs[layer] for layer in layers}
        with torch.autocast(self.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            with _HookCapture(self.module, specs) as capture:
                self._forward(inputs)
        return {layer: capture.outputs[layer] for layer in layers}

    def _run(self, inputs):
        return first_tensor(self._forward(inputs), self.output_key)

    def _to(self, device):
        self.module.to(device)
