"""Local Hugging Face transformers image encoders: CLIP, DINOv2, ViT or any vision ``AutoModel`` directory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from braindecode._hf_logging import quiet_loading
from braindecode.activations._network import LayerSpec, TorchNetwork
from braindecode.activations._stimuli import as_rgb_image, describe_preprocess
from braindecode.errors import InvalidArgument

CONFIG_NAME = "config.json"
PREPROCESSOR_NAME = "preprocessor_config.json"
#: Where a diffusers pipeline directory keeps the image processor of its ``image_encoder/``.
PIPELINE_PROCESSORS = ("feature_extractor", "image_processor")
#: The output that :meth:`NetworkModel.run` returns, the first the model has.
EMBEDDING_OUTPUTS = ("image_embeds", "pooler_output")


def is_transformers_directory(path) -> bool:
    """Whether ``path`` is a directory holding a transformers ``config.json``."""
    path = Path(path)
    return path.is_dir() and (path / CONFIG_NAME).is_file()


def _model_class(config):
    """The transformers class the config's ``architectures`` names, else ``AutoModel``."""
    import transformers

    name = (getattr(config, "architectures", None) or [""])[0]
    cls = getattr(transformers, name, None) if name else None
    return cls if isinstance(cls, type) and issubclass(cls, transformers.PreTrainedModel) else transformers.AutoModel


def _image_processor(directory: Path):
    """The image processor of ``preprocessor_config.json`` in the directory, or, for the image encoder of a
    diffusers pipeline directory, in its sibling ``feature_extractor/`` or ``image_processor/``."""
    import transformers

    candidates = [directory] + [directory.parent / name for name in PIPELINE_PROCESSORS
                                if (directory.parent / "model_index.json").is_file()]
    found = next((c for c in candidates if (c / PREPROCESSOR_NAME).is_file()), None)
    if found is None:
        raise InvalidArgument(f"{directory} has no {PREPROCESSOR_NAME}: give preprocess=... for its images")
    try:
        return transformers.AutoImageProcessor.from_pretrained(found, backend="pil", local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise InvalidArgument(f"{found / PREPROCESSOR_NAME} cannot be read: {exc}") from None


def _probe(module, pixel_values) -> tuple:
    """(the submodules a forward pass of one probe image calls, in ``named_modules`` order; the tensor fields
    of the model's output, in output order). Containers that are never called (``ModuleList``) are left out."""
    called = set()
    handles = [submodule.register_forward_hook(lambda *_, path=path: called.add(path))
               for path, submodule in module.named_modules() if path]
    try:
        with torch.inference_mode():
            output = module(pixel_values)
    finally:
        for handle in handles:
            handle.remove()
    submodules = [path for path, _ in module.named_modules() if path in called]
    return submodules, [name for name, value in output.items() if isinstance(value, torch.Tensor)]


def load_transformers(directory, device="cpu", preprocess=None) -> TorchNetwork:
    """A local transformers vision model as a NetworkModel.

    Parameters
    ----------
    directory : path
        What ``save_pretrained`` writes: ``config.json`` and weights, and ``preprocessor_config.json``
        (e.g. CLIPVisionModelWithProjection, CLIPVisionModel, Dinov2Model, ViTModel or any vision
        model ``AutoModel`` loads). The class is the first of the config's ``architectures``. The
        ``image_encoder/`` of a diffusers pipeline directory (Stable unCLIP, the Kandinsky 2.2 prior)
        takes the processor of its sibling ``feature_extractor/`` or ``image_processor/``.
    device : str
    preprocess : callable, optional
        ``preprocess(stimuli) -> array of shape (n, 3, H, W)``; by default the directory's image
        processor (its resize, crop, mean and std, e.g. CLIP's).

    Returns
    -------
    model : TorchNetwork
        Layers: every named submodule that a forward pass calls, then every tensor of the model's output by
        its field name
        (``image_embeds`` of CLIP models with projection, ``pooler_output``, ``last_hidden_state``).
        :meth:`~NetworkModel.run` returns ``image_embeds``, else ``pooler_output``.
    """
    import transformers

    directory = Path(directory)
    try:
        with quiet_loading():
            config = transformers.AutoConfig.from_pretrained(directory, local_files_only=True)
            module = _model_class(config).from_pretrained(directory, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise InvalidArgument(f"{directory} is not a loadable transformers model: {exc}") from None
    if getattr(module, "main_input_name", None) != "pixel_values":
        raise InvalidArgument(f"{directory} holds a {type(module).__name__}, which takes "
                              f"{getattr(module, 'main_input_name', '?')!r}, not images (pixel_values)")
    if preprocess is not None:
        described = describe_preprocess(preprocess)

        def pixels(stimuli):
            return {"pixel_values": preprocess(stimuli)}
    else:
        processor = _image_processor(directory)
        described = {"processor": type(processor).__name__, **json.loads(processor.to_json_string())}

        def pixels(stimuli):
            images = [as_rgb_image(stimulus, i) for i, stimulus in enumerate(stimuli)]
            return {"pixel_values": processor(images=images, return_tensors="np")["pixel_values"]}

    module = module.eval()
    probe = torch.as_tensor(pixels([np.zeros((32, 32, 3), np.uint8)])["pixel_values"], dtype=module.dtype)
    submodules, fields = _probe(module, probe)
    layers = {path: LayerSpec(path) for path in submodules}
    for field in fields:
        layers["output." + field if field in layers else field] = LayerSpec("", key=field)
    run_output = next((name for name in EMBEDDING_OUTPUTS if name in fields), None)
    return TorchNetwork(module, str(directory), "image", layers, pixels, device=device, preprocessing=described,
                        output_key=run_output)
