"""Local Hugging Face transformers image encoders give what transformers itself computes: output embeddings,
submodule activations, and the preprocessing of their own preprocessor_config.json."""

import json

import numpy as np
import pytest
import torch
import transformers

from braindecode.activations import extract_activations, layer_shapes, load_model
from braindecode.errors import InvalidArgument
from reconstruction.tiny_models import save_tiny_clip_vision, save_tiny_stable_unclip

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, size=(30 + 7 * i, 41, 3), dtype=np.uint8) for i in range(3)]


def reference(directory, model_class, processor_dir=None):
    """transformers' own model and image processor from the same directory."""
    model = model_class.from_pretrained(directory).eval()
    processor = transformers.AutoImageProcessor.from_pretrained(processor_dir or directory, backend="pil")
    return model, processor


def own_outputs(model, processor, images, **kwargs):
    with torch.no_grad():
        return model(**processor(images=images, return_tensors="pt"), **kwargs)


def test_clip_with_projection_gives_transformers_image_embeds(tmp_path, images):
    directory = save_tiny_clip_vision(tmp_path / "clip", projection_dim=24, image_size=40, seed=1)
    model = load_model(directory)
    assert model.layers[:2] == ["vision_model", "vision_model.embeddings"]
    assert model.layers[-2:] == ["image_embeds", "last_hidden_state"]
    assert "visual_projection" in model.layers and "vision_model.post_layernorm" in model.layers
    assert model.preprocessing["image_mean"] == CLIP_MEAN and model.preprocessing["crop_size"]["height"] == 40
    acts = extract_activations(model, images, layers=["image_embeds", "vision_model.encoder.layers.0"],
                               pooling="none", batch_size=2)
    own, processor = reference(directory, transformers.CLIPVisionModelWithProjection)
    expected = own_outputs(own, processor, images, output_hidden_states=True)
    assert acts["image_embeds"].shape == (3, 24)
    np.testing.assert_allclose(acts["image_embeds"], expected.image_embeds.numpy(), atol=1e-5)
    np.testing.assert_allclose(acts["vision_model.encoder.layers.0"], expected.hidden_states[1].numpy().reshape(3, -1),
                               atol=1e-5)
    torch.testing.assert_close(model.run(images), expected.image_embeds, atol=1e-5, rtol=1e-5)
    # every layer is one a forward pass computes: never-called containers (the ModuleList of the encoder
    # layers) are not layers, so that extracting all of them works
    assert "vision_model.encoder.layers" not in model.layers and "vision_model.encoder.layers.1" in model.layers
    assert list(layer_shapes(model)) == model.layers


def test_clip_vision_model_gives_its_pooled_output(tmp_path, images):
    directory = save_tiny_clip_vision(tmp_path / "clip", image_size=32, seed=2, with_projection=False)
    model = load_model(directory)
    assert "image_embeds" not in model.layers and "pooler_output" in model.layers
    acts = extract_activations(model, images, layers=["pooler_output"], pooling="none")
    own, processor = reference(directory, transformers.CLIPVisionModel)
    np.testing.assert_allclose(acts["pooler_output"], own_outputs(own, processor, images).pooler_output.numpy(),
                               atol=1e-5)


def _save(model, processor, directory):
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


@pytest.mark.parametrize("kind", ["dinov2", "vit", "automodel"])
def test_dinov2_vit_and_any_vision_automodel(tmp_path, images, kind):
    torch.manual_seed(3)
    if kind == "dinov2":
        model_class = transformers.Dinov2Model
        module = model_class(transformers.Dinov2Config(image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=2,
                                                       num_attention_heads=2, intermediate_size=24))
        processor = transformers.BitImageProcessor(size={"shortest_edge": 36}, crop_size={"height": 32, "width": 32})
    elif kind == "vit":
        model_class = transformers.ViTModel
        module = model_class(transformers.ViTConfig(image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=2,
                                                    num_attention_heads=2, intermediate_size=24))
        processor = transformers.ViTImageProcessor(size={"height": 32, "width": 32})
    else:  # no "architectures" in config.json: AutoModel picks the class from model_type
        model_class = transformers.ConvNextModel
        module = model_class(transformers.ConvNextConfig(num_stages=2, hidden_sizes=[8, 16], depths=[1, 1]))
        processor = transformers.ConvNextImageProcessor(size={"shortest_edge": 32})
    directory = _save(module, processor, tmp_path / kind)
    if kind == "automodel":
        config = json.loads((directory / "config.json").read_text())
        (directory / "config.json").write_text(json.dumps({k: v for k, v in config.items() if k != "architectures"}))
    model = load_model(directory)
    assert model.layers[-2:] == ["last_hidden_state", "pooler_output"]
    own, own_processor = reference(directory, model_class)
    expected = own_outputs(own, own_processor, images)
    acts = extract_activations(model, images, layers=["pooler_output", "last_hidden_state"], pooling="none")
    np.testing.assert_allclose(acts["pooler_output"], expected.pooler_output.numpy().reshape(3, -1), atol=1e-5)
    np.testing.assert_allclose(acts["last_hidden_state"], expected.last_hidden_state.numpy().reshape(3, -1), atol=1e-5)


def test_the_image_encoder_of_a_reconstruction_model(tmp_path, images):
    directory = save_tiny_stable_unclip(tmp_path / "unclip", embedding_dim=12, image_size=32, seed=4)
    model = load_model(directory / "image_encoder")
    own, processor = reference(directory / "image_encoder", transformers.CLIPVisionModelWithProjection,
                               directory / "feature_extractor")
    acts = extract_activations(model, images, layers=["image_embeds"], pooling="none")
    np.testing.assert_allclose(acts["image_embeds"], own_outputs(own, processor, images).image_embeds.numpy(),
                               atol=1e-5)


def test_directories_that_are_not_image_encoders(tmp_path, images):
    text = transformers.CLIPTextModel(transformers.CLIPTextConfig(hidden_size=16, intermediate_size=24,
                                                                   num_attention_heads=2, num_hidden_layers=1))
    text.save_pretrained(tmp_path / "text")
    with pytest.raises(InvalidArgument, match="takes 'input_ids', not images"):
        load_model(tmp_path / "text")
    bare = tmp_path / "bare"
    save_tiny_clip_vision(bare)
    (bare / "preprocessor_config.json").unlink()
    with pytest.raises(InvalidArgument, match="no preprocessor_config.json"):
        load_model(bare)
    from braindecode.activations import ImagePreprocessor

    model = load_model(bare, preprocess=ImagePreprocessor(size=32))
    assert model.run(images).shape == (3, 32)
