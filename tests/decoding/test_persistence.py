import json

import numpy as np
import pytest
import torch
from sklearn.model_selection import LeaveOneOut

from braindecode.decoding import (
    EEGDecoder,
    MLPDecoder,
    RidgeDecoder,
    TrainingConfig,
    load_decoder,
    read_decoder_config,
    save_decoder,
)
from braindecode.errors import FailedPrecondition, InvalidArgument, NotFound

KINDS = ["ridge", "ridge-eeg", "mlp", "eeg"]


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_is_bit_identical(fitted_decoders, tmp_path, kind):
    model, X = fitted_decoders[kind]
    provenance = {"recordings": ["rec-1", "rec-2"], "activation_set": "act-9", "cv_scores": [0.1, 0.2]}
    save_decoder(model, tmp_path / "model", provenance=provenance)
    loaded = load_decoder(tmp_path / "model")
    assert type(loaded) is type(model)
    assert loaded._params_json() == model._params_json()
    assert loaded.provenance_ == provenance
    assert (loaded.input_shape_, loaded.n_dims_, loaded.modality) == (model.input_shape_, model.n_dims_, model.modality)
    saved, restored = model._fitted_tensors(), loaded._fitted_tensors()
    assert saved.keys() == restored.keys()
    for name in saved:
        assert saved[name].dtype == restored[name].dtype and torch.equal(saved[name], restored[name]), name
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_config_records_class_modality_and_shapes(fitted_decoders, tmp_path):
    model, _ = fitted_decoders["eeg"]
    save_decoder(model, tmp_path)
    config = read_decoder_config(tmp_path)
    assert config["class"] == "EEGDecoder" and config["modality"] == "eeg"
    assert config["input_shape"] == [3, 24] and config["n_dims"] == 4
    assert config["params"]["training"]["max_epochs"] == 2
    assert len(config["fitted"]["history"]) == len(model.history_)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "weights.safetensors"]


def test_ridge_attributes_survive(fitted_decoders, tmp_path):
    model, _ = fitted_decoders["ridge"]
    loaded = load_decoder(save_decoder(model, tmp_path))
    for name in ("coef_", "intercept_", "best_alphas_", "cv_scores_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name))


def test_a_splitter_parameter_is_recorded_and_reset(make_fmri, tmp_path):
    X, E = make_fmri(30, n_voxels=10, n_dims=3)
    model = RidgeDecoder(cv=LeaveOneOut()).fit(X, E)
    save_decoder(model, tmp_path)
    assert read_decoder_config(tmp_path)["params"]["cv"] == {"unserializable": "LeaveOneOut()"}
    loaded = load_decoder(tmp_path)
    assert loaded.cv == RidgeDecoder().cv
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_saving_again_replaces_the_model(fitted_decoders, tmp_path):
    save_decoder(fitted_decoders["ridge"][0], tmp_path)
    save_decoder(fitted_decoders["mlp"][0], tmp_path)
    assert isinstance(load_decoder(tmp_path), MLPDecoder)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_unfitted_or_foreign_models_are_refused(tmp_path):
    with pytest.raises(FailedPrecondition, match="not fitted"):
        save_decoder(EEGDecoder(), tmp_path)
    with pytest.raises(InvalidArgument, match="cannot save a dict"):
        save_decoder({}, tmp_path)


def test_provenance_must_be_json(fitted_decoders, tmp_path):
    with pytest.raises(InvalidArgument, match="provenance is not JSON-serializable"):
        save_decoder(fitted_decoders["ridge"][0], tmp_path, provenance={"x": object()})
    assert not (tmp_path / "config.json").exists()


def test_missing_and_altered_saves(fitted_decoders, tmp_path):
    with pytest.raises(NotFound, match="no saved decoder"):
        load_decoder(tmp_path / "nothing")
    save_decoder(fitted_decoders["mlp"][0], tmp_path)
    weights = tmp_path / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(InvalidArgument, match="does not match the checksum"):
        load_decoder(tmp_path)
    weights.unlink()
    with pytest.raises(NotFound, match="weights.safetensors missing"):
        load_decoder(tmp_path)


@pytest.mark.parametrize("edit, message", [
    (lambda c: c.update(format="something-else"), "is not a braindecode.decoder config"),
    (lambda c: c.update(format_version=99), "format version 99"),
    (lambda c: c.update({"class": "Unknown"}), "unknown decoder class"),
    (lambda c: c["params"].update(bogus=1), "saved parameters do not fit"),
    (lambda c: c.update(modality="fmri"), "config says modality 'fmri'"),
])
def test_bad_configs(fitted_decoders, tmp_path, edit, message):
    save_decoder(fitted_decoders["eeg"][0], tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    edit(config)
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(InvalidArgument, match=message):
        load_decoder(tmp_path)


def test_unreadable_config(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(InvalidArgument, match="cannot read"):
        load_decoder(tmp_path)


def test_training_config_comes_back_as_dataclass(fitted_decoders, tmp_path):
    loaded = load_decoder(save_decoder(fitted_decoders["mlp"][0], tmp_path))
    assert loaded.training == TrainingConfig(max_epochs=2, batch_size=16)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_load_onto_cuda(fitted_decoders, tmp_path):
    model, X = fitted_decoders["mlp"]
    loaded = load_decoder(save_decoder(model, tmp_path), device="cuda")
    assert next(loaded.module_.parameters()).is_cuda
    np.testing.assert_allclose(loaded.predict(X), model.predict(X), atol=1e-4)
