"""all-MiniLM-L6-v2 activations match sentence-transformers on the same local model files."""

import os

import numpy as np
import pytest
import torch

from braindecode.activations import extract_activations
from braindecode.activations._builtin import minilm_model_path
from braindecode.errors import InvalidArgument

SENTENCES = ["A cat sits on the warm windowsill.", "Rockets launch satellites into orbit around the Earth today."]


@pytest.fixture(scope="module")
def reference():
    os.environ["HF_HUB_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_model_path()), device="cpu")


@pytest.mark.parametrize("batch_size", [1, 2])
def test_sentence_embedding_equals_sentence_transformers(minilm, reference, batch_size):
    sentences = SENTENCES + ["Short one."]  # batched longest first, rows stay in input order
    ours = extract_activations(minilm, sentences, layers=["sentence_embedding"], batch_size=batch_size)
    theirs = reference.encode(sentences, convert_to_numpy=True)
    assert ours["sentence_embedding"].shape == (3, 384)
    assert list(ours.stimulus_ids) == ["0", "1", "2"]
    np.testing.assert_allclose(ours["sentence_embedding"], theirs, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours["sentence_embedding"], axis=1), 1.0, atol=1e-5)


def test_last_layer_average_is_the_unnormalised_embedding(minilm, reference):
    ours = extract_activations(minilm, SENTENCES, layers=["layer6"], pooling="avg", batch_size=2)
    tokens = reference.encode(SENTENCES, output_value="token_embeddings")
    np.testing.assert_allclose(ours["layer6"], np.stack([t.numpy().mean(axis=0) for t in tokens]),
                               rtol=1e-4, atol=1e-5)
    unit = ours["layer6"] / np.linalg.norm(ours["layer6"], axis=1, keepdims=True)
    np.testing.assert_allclose(unit, reference.encode(SENTENCES), rtol=1e-4, atol=1e-5)


def test_padding_does_not_change_token_averages(minilm):
    alone = extract_activations(minilm, SENTENCES, pooling="avg", batch_size=1)
    together = extract_activations(minilm, SENTENCES, pooling="avg", batch_size=2)
    for layer in minilm.layers:
        np.testing.assert_allclose(alone[layer], together[layer], rtol=1e-4, atol=1e-5, err_msg=layer)


def test_unpooled_token_states_are_padded_to_the_longest_sentence(minilm, reference):
    acts = extract_activations(minilm, SENTENCES, layers=["embeddings", "layer3"], pooling="none", batch_size=1)
    n_tokens = minilm.max_tokens(SENTENCES)
    assert acts.info["n_tokens"] == n_tokens
    assert acts["layer3"].shape == (2, n_tokens * 384)
    short = reference.encode(SENTENCES[:1], output_value="token_embeddings")[0].numpy()
    states = acts["layer3"][0].reshape(n_tokens, 384)
    assert np.all(states[len(short):] == 0)
    hidden = reference[0].model(**{k: v for k, v in reference.preprocess(SENTENCES[:1]).items()
                                   if k in ("input_ids", "attention_mask", "token_type_ids")},
                                output_hidden_states=True).hidden_states
    np.testing.assert_allclose(states[:len(short)], hidden[3][0].detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(acts["embeddings"][0].reshape(n_tokens, 384)[:len(short)],
                               hidden[0][0].detach().numpy(), rtol=1e-4, atol=1e-5)


def test_grid_pooling_needs_spatial_layers(minilm):
    with pytest.raises(InvalidArgument, match="grid pooling needs a spatial layer"):
        extract_activations(minilm, SENTENCES, layers=["layer1"], pooling="grid")


def test_text_model_rejects_images(minilm):
    with pytest.raises(InvalidArgument, match="stimulus 1: a text model takes strings, got ndarray"):
        extract_activations(minilm, ["fine", np.zeros((8, 8, 3), np.uint8)])


def test_loads_from_the_package_files_offline(minilm):
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert minilm.module[0].model.config.num_hidden_layers == 6
    assert minilm.module[0].model.name_or_path == str(minilm_model_path())
    assert not minilm.module.training and minilm.device == torch.device("cpu")
