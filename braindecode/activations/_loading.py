"""``load_model``: a registry name, an import path, a TorchScript file, an ONNX file or a transformers directory."""

from __future__ import annotations

import importlib
from pathlib import Path

from torch import nn

from braindecode.activations._network import LayerSpec, NetworkModel, TorchNetwork
from braindecode.activations._registry import list_models
from braindecode.activations._stimuli import ImagePreprocessor, describe_preprocess
from braindecode.activations._transformers import is_transformers_directory, load_transformers
from braindecode.errors import InvalidArgument, NotFound


def _import_factory(path: str):
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise NotFound(f"cannot import {module_name!r} for model {path!r}: {exc}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise NotFound(f"module {module_name!r} has no {attr!r} (model {path!r})") from None


def wrap_module(module: nn.Module, name: str, device="cpu", preprocess=None) -> TorchNetwork:
    """An image ``nn.Module`` as a NetworkModel whose layers are all its named submodules.

    Parameters
    ----------
    module : nn.Module
        Takes a float32 batch of shape (n, 3, H, W).
    name : str
    device : str
    preprocess : callable, optional
        ``preprocess(stimuli) -> array of shape (n, 3, H, W)``; defaults to
        ``ImagePreprocessor()`` (ImageNet mean/std, 224 x 224 central crop).
    """
    layers = {path: LayerSpec(path) for path, _ in module.named_modules() if path}
    if not layers:
        raise InvalidArgument(f"model {name!r} has no submodules to read activations from")
    preprocess = preprocess if preprocess is not None else ImagePreprocessor()
    described = describe_preprocess(preprocess)
    return TorchNetwork(module, name, "image", layers, lambda stimuli: {"pixel_values": preprocess(stimuli)},
                        device=device, preprocessing=described)


def load_model(name_or_path, device="cpu", preprocess=None) -> NetworkModel:
    """Load a network by registry name, import path, TorchScript file, ONNX file or transformers directory.

    Parameters
    ----------
    name_or_path : str or path-like
        One of

        - a registry name (see :func:`list_models`), e.g. ``"efficientnet-lite0"``;
        - ``"package.module:factory"``: ``factory()`` returns an ``nn.Module`` taking images
          (its layers are all named submodules) or a ready ``NetworkModel``;
        - a ``.onnx`` file: its layers are the float tensors the graph computes, in node order;
        - a TorchScript file (``torch.jit.save``): its layers are its submodules, in call order;
        - a local Hugging Face transformers directory of a vision model (``config.json``, weights,
          ``preprocessor_config.json``), e.g. CLIPVisionModelWithProjection, CLIPVisionModel, Dinov2Model,
          ViTModel, or ``<model>/image_encoder`` of a reconstruction model: its layers are the named
          submodules, then its outputs (``image_embeds``, ``pooler_output``, ...).
    device : {"cpu", "cuda", "cuda:N"}
    preprocess : callable, optional
        Stimulus preprocessing for user image models (registry models always use the
        preprocessing they were trained with): ``preprocess(stimuli) -> array of shape (n, 3, H, W)``. Defaults to
        :class:`ImagePreprocessor` with ImageNet mean/std and a 224 x 224 central crop
        (for ONNX files with a static input size, that size; for transformers directories, the
        image processor of their ``preprocessor_config.json``, e.g. CLIP's mean, std and resize).

    Returns
    -------
    model : NetworkModel
    """
    key = str(name_or_path)
    cards = {card.name: card for card in list_models()}
    if key in cards:
        if preprocess is not None:
            raise InvalidArgument(f"{key!r} is a registry model with its own training preprocessing; "
                                  "preprocess applies to user models only")
        return _import_factory(cards[key].factory)(device)
    path = Path(key)
    if is_transformers_directory(path):
        return load_transformers(path, device=device, preprocess=preprocess)
    if path.suffix.lower() == ".onnx":
        from braindecode.activations._onnx import load_onnx

        return load_onnx(path, device=device, preprocess=preprocess)
    if path.is_file():
        from braindecode.activations._torchscript import load_torchscript

        return load_torchscript(path, device=device, preprocess=preprocess)
    if ":" in key and not path.exists():
        made = _import_factory(key)()
        if isinstance(made, NetworkModel):
            return made.to(device)
        if isinstance(made, nn.Module):
            return wrap_module(made, key, device=device, preprocess=preprocess)
        raise InvalidArgument(f"{key!r} returned {type(made).__name__}, expected an nn.Module")
    raise NotFound(
        f"no model {key!r}: not a registry name ({', '.join(cards)}), an existing TorchScript/ONNX file, "
        "a transformers model directory (with config.json) or a 'package.module:factory' import path"
    )
