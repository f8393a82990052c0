import json

import pytest

from braindecode.activations import get_model_card, list_models, load_model
from braindecode.activations._registry import MODELS_DIR
from braindecode.errors import InvalidArgument, NotFound


def test_registry_lists_shipped_models_with_cards():
    cards = {card.name: card for card in list_models()}
    assert {"efficientnet-lite0", "minilm-l6-v2"} <= set(cards)
    for card in cards.values():
        text = card.text
        for heading in ("## Source", "## Training data", "## License", "## Preprocessing", "## Layers"):
            assert heading in text, (card.name, heading)
        for layer in card.layers:
            assert f"`{layer}`" in text or layer.startswith("layer"), (card.name, layer)
        assert card.license == "Apache-2.0"
    assert cards["efficientnet-lite0"].modality == "image"
    assert cards["minilm-l6-v2"].modality == "text"
    assert cards["efficientnet-lite0"].extra["input_size"] == 224


def test_registry_layers_match_loaded_models(lite0, minilm):
    assert lite0.layers == get_model_card("efficientnet-lite0").layers
    assert minilm.layers == get_model_card("minilm-l6-v2").layers
    assert lite0.layers[0] == "stem" and lite0.layers[-1] == "logits"
    assert minilm.layers[-1] == "sentence_embedding"


def test_model_knows_name_modality_and_preprocessing(lite0, minilm):
    assert (lite0.name, lite0.modality) == ("efficientnet-lite0", "image")
    assert (minilm.name, minilm.modality) == ("minilm-l6-v2", "text")
    assert lite0.preprocessing["mean"] == [127.0, 127.0, 127.0]
    assert lite0.preprocessing["size"] == 224
    assert minilm.preprocessing["max_seq_length"] == 256


def test_unknown_model_name_is_not_found():
    with pytest.raises(NotFound, match="efficientnet-lite0"):
        load_model("resnet-9000")
    with pytest.raises(NotFound, match="available"):
        get_model_card("resnet-9000")


def test_custom_registry_file(tmp_path):
    manifest = json.loads((MODELS_DIR / "registry.json").read_text())
    entry = dict(manifest["models"][0], name="copy", card=str(MODELS_DIR / "cards" / "efficientnet-lite0.md"))
    (tmp_path / "registry.json").write_text(json.dumps({"models": [entry]}))
    cards = list_models(tmp_path / "registry.json")
    assert [c.name for c in cards] == ["copy"]
    assert "EfficientNet-Lite0" in cards[0].text


def test_broken_registry_entries_are_named(tmp_path):
    path = tmp_path / "registry.json"
    path.write_text(json.dumps({"models": [{"name": "half", "modality": "image"}]}))
    with pytest.raises(InvalidArgument, match="'half' lacks factory"):
        list_models(path)
    path.write_text("{not json")
    with pytest.raises(InvalidArgument, match="not valid JSON"):
        list_models(path)
    with pytest.raises(NotFound):
        list_models(tmp_path / "missing.json")


def test_loader_and_registry_layer_names_must_agree():
    from braindecode.activations._builtin import _checked_layers
    from braindecode.activations._network import LayerSpec
    from braindecode.errors import FailedPrecondition

    with pytest.raises(FailedPrecondition, match="registry.json lists .*'stem'.* the loader has \\['logits'\\]"):
        _checked_layers("efficientnet-lite0", {"logits": LayerSpec("_fc")})
