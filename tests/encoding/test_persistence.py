import json

import nibabel as nib
import numpy as np
import pytest
from nilearn.masking import unmask
from sklearn.model_selection import LeaveOneOut

from braindecode.containers import ActivationSet, BrainResponses
from braindecode.encoding import (
    BandedRidgeCV,
    BrainSpace,
    Encoder,
    RidgeCV,
    RunKFold,
    load_encoder,
    make_delays,
    read_encoder_config,
    save_encoder,
    scores_to_nifti,
)
from braindecode.errors import FailedPrecondition, InvalidArgument, NotFound

GRID = (5, 4, 3)
AFFINE = np.array([[3.0, 0, 0, -6], [0, 3.0, 0, 2], [0, 0, 3.5, -1], [0, 0, 0, 1]])
ALPHAS = [0.1, 10.0, 1000.0]


def _mask():
    rng = np.random.default_rng(3)
    return rng.random(GRID) < 0.5


def _voxel_responses(mask, n_trials=10):
    names = [f"{i},{j},{k}" for i, j, k in np.argwhere(mask)]
    data = np.random.default_rng(4).standard_normal((n_trials, len(names)))
    return BrainResponses(data, [f"s{i}" for i in range(n_trials)], feature_names=names)


def _simulate(n_targets, n_samples=60, n_features=8):
    rng = np.random.default_rng(n_targets)
    X = rng.standard_normal((n_samples, n_features)).astype(np.float32)
    Y = X @ rng.standard_normal((n_features, n_targets)) + rng.standard_normal((n_samples, n_targets))
    return X, Y.astype(np.float32)


@pytest.fixture(scope="module")
def fitted():
    """name -> (Encoder, X of raw features): ridge and banded ridge, bare or with delays and a voxel space."""
    mask = _mask()
    X, Y = _simulate(int(mask.sum()))
    runs = np.repeat(["a", "b", "c"], 20)
    space = BrainSpace.from_responses(_voxel_responses(mask), "fmri", GRID, AFFINE)
    delayed = make_delays(X, (0, 2), runs)
    bands = np.tile(np.repeat(["early", "late"], [5, 3]), 2)
    banded = BandedRidgeCV(bands, alphas=ALPHAS, ratios=3, random_state=0, cv=3).fit(delayed, Y, groups=runs)
    return {
        "ridge": (Encoder(RidgeCV(alphas=ALPHAS, cv=3).fit(X, Y)), X),
        "ridge-1d": (Encoder(RidgeCV(alphas=ALPHAS, cv=3).fit(X, Y[:, 0])), X),
        "ridge-float64": (Encoder(RidgeCV(alphas=ALPHAS, cv=3, dtype="float64").fit(X, Y)), X),
        "banded-voxels": (Encoder(banded, {"early": 5, "late": 3}, (0, 2), space, {"fit": "test"}), X),
    }


def _plain(params: dict) -> dict:
    return {name: np.asarray(value).tolist() if isinstance(value, (tuple, list, np.ndarray)) else value
            for name, value in params.items()}


@pytest.mark.parametrize("kind", ["ridge", "ridge-1d", "ridge-float64", "banded-voxels"])
def test_round_trip_is_bit_identical(fitted, tmp_path, kind):
    encoder, X = fitted[kind]
    loaded = load_encoder(save_encoder(encoder, tmp_path / "enc"))
    assert type(loaded.estimator) is type(encoder.estimator)
    assert _plain(loaded.estimator.get_params()) == _plain(encoder.estimator.get_params())
    for name in ("coef_", "intercept_", "best_alphas_", "cv_scores_"):
        saved, restored = getattr(encoder.estimator, name), getattr(loaded.estimator, name)
        assert np.asarray(saved).dtype == np.asarray(restored).dtype and np.shape(saved) == np.shape(restored)
        np.testing.assert_array_equal(restored, saved)
    assert loaded.layers == encoder.layers and loaded.delays == encoder.delays
    assert loaded.provenance == encoder.provenance
    np.testing.assert_array_equal(loaded.predict(X), encoder.predict(X))
    np.testing.assert_array_equal(loaded.estimator.predict(encoder.design(X)), encoder.estimator.predict(
        encoder.design(X)))


def test_banded_attributes_and_voxel_space_survive(fitted, tmp_path):
    encoder, _ = fitted["banded-voxels"]
    loaded = load_encoder(save_encoder(encoder, tmp_path))
    for name in ("band_alphas_", "best_ratios_", "ratios_", "band_labels_"):
        np.testing.assert_array_equal(getattr(loaded.estimator, name), getattr(encoder.estimator, name))
    np.testing.assert_array_equal(loaded.estimator.bands, encoder.estimator.bands)
    space = loaded.space
    np.testing.assert_array_equal(space.mask, encoder.space.mask)
    np.testing.assert_array_equal(space.affine, AFFINE)
    assert space.feature_names == encoder.space.feature_names and space.modality == "fmri"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "mask.nii.gz", "weights.safetensors"]
    mask_file = nib.load(tmp_path / "mask.nii.gz")
    np.testing.assert_array_equal(np.asarray(mask_file.dataobj) != 0, _mask())
    np.testing.assert_allclose(mask_file.affine, AFFINE)


def test_config_records_params_counts_space_and_provenance(fitted, tmp_path):
    encoder, _ = fitted["banded-voxels"]
    config = read_encoder_config(save_encoder(encoder, tmp_path, provenance={"recordings": ["r1"]}))
    assert config["class"] == "BandedRidgeCV" and config["params"]["alphas"] == ALPHAS
    assert config["layers"] == {"early": 5, "late": 3} and config["delays"] == [0, 2]
    assert (config["n_features"], config["n_targets"]) == (8, int(_mask().sum()))
    assert config["fitted"] == {"n_features_in_": 16, "band_labels_": ["early", "late"]}
    assert config["space"]["grid_shape"] == list(GRID) and config["space"]["affine"] == AFFINE.tolist()
    assert config["space"]["feature_names"] is None  # rebuilt from the mask
    assert config["provenance"] == {"recordings": ["r1"]}
    assert load_encoder(tmp_path).provenance == {"recordings": ["r1"]}


def test_voxel_space_maps_scores_like_nilearn():
    mask = _mask()
    space = BrainSpace.from_responses(_voxel_responses(mask), "fmri", GRID, AFFINE)
    np.testing.assert_array_equal(space.mask, mask)
    scores = np.random.default_rng(0).standard_normal((int(mask.sum()), 2)).astype(np.float32)
    ours = scores_to_nifti(scores, space.mask_image())
    theirs = unmask(scores.T, space.mask_image())
    np.testing.assert_array_equal(ours.get_fdata(), theirs.get_fdata())
    np.testing.assert_allclose(ours.affine, AFFINE)


def test_spaces_without_voxels_keep_their_feature_names(tmp_path):
    rois = BrainResponses(np.zeros((4, 3)), list("abcd"), feature_names=["V1", "V2", "FFA"])
    space = BrainSpace.from_responses(rois, "fmri", GRID, AFFINE)
    assert space.mask is None and space.affine is None
    with pytest.raises(InvalidArgument, match="not voxels of a volume"):
        space.mask_image()
    epochs = BrainResponses(np.zeros((4, 2, 5)), list("abcd"), feature_names=["Cz", "Pz"],
                            times=np.linspace(0, 0.4, 5))
    eeg = BrainSpace.from_responses(epochs, "eeg")
    assert eeg.response_shape == (2, 5) and eeg.n_targets == 10
    X, Y = _simulate(10)
    encoder = Encoder(RidgeCV(alphas=ALPHAS, cv=3).fit(X, Y), space=eeg)
    loaded = load_encoder(save_encoder(encoder, tmp_path))
    assert loaded.space.feature_names == ["Cz", "Pz"] and loaded.space.mask is None
    np.testing.assert_array_equal(loaded.space.times, epochs.times)
    assert loaded.predict(X[:3]).shape == (3, 2, 5)
    np.testing.assert_array_equal(loaded.predict(X), encoder.predict(X))
    assert not (tmp_path / "mask.nii.gz").exists()


def test_reordered_voxels_are_refused():
    responses = _voxel_responses(_mask())
    responses.feature_names = responses.feature_names[::-1]
    with pytest.raises(InvalidArgument, match="not the voxels of a mask in C order"):
        BrainSpace.from_responses(responses, "fmri", GRID, AFFINE)


def test_predict_applies_the_delays_within_runs(fitted):
    encoder, X = fitted["banded-voxels"]
    runs = np.repeat(["a", "b"], 30)
    expected = encoder.estimator.predict(make_delays(X, (0, 2), runs))
    np.testing.assert_array_equal(encoder.predict(X, runs), expected)
    assert not np.array_equal(encoder.predict(X), expected)  # one run: delays cross the boundary


def test_features_stack_the_layers_and_check_them(fitted):
    encoder, X = fitted["banded-voxels"]
    activations = ActivationSet(["s0", "s1"], {"late": X[:2, 5:], "early": X[:2, :5], "other": X[:2, :1]})
    np.testing.assert_array_equal(encoder.features(activations), X[:2])
    with pytest.raises(InvalidArgument, match="'late' has 2 features, the encoder takes 3"):
        encoder.features(ActivationSet(["s0", "s1"], {"early": X[:2, :5], "late": X[:2, :2]}))
    with pytest.raises(InvalidArgument, match="unknown layer 'late'"):
        encoder.features(ActivationSet(["s0", "s1"], {"early": X[:2, :5]}))
    nan = X[:2, 5:].copy()
    nan[1, 1] = np.nan
    with pytest.raises(InvalidArgument, match="layer 'late' of the activations contains 1 NaN"):
        encoder.features(ActivationSet(["s0", "s1"], {"early": X[:2, :5], "late": nan}))


@pytest.mark.parametrize("features, message", [
    (np.zeros((2, 7)), r"features must have shape \(n, 8\) for the layers early \(5\), late \(3\); got \(2, 7\)"),
    (np.zeros((0, 8)), r"got \(0, 8\)"),
    (np.full((2, 8), np.inf), "features contain 16 NaN or infinite values"),
    (np.array([["a"] * 8]), "features are not a numeric array"),
])
def test_predict_refuses_bad_features(fitted, features, message):
    with pytest.raises(InvalidArgument, match=message):
        fitted["banded-voxels"][0].predict(features)


def test_splitter_parameters_are_recorded_and_restored(tmp_path):
    X, Y = _simulate(3)
    runs = np.repeat(["a", "b", "c"], 20)
    model = RidgeCV(alphas=ALPHAS, cv=RunKFold(3)).fit(X, Y, groups=runs)
    assert repr(load_encoder(save_encoder(model, tmp_path / "runs")).estimator.cv) == "RunKFold(n_splits=3)"
    model = RidgeCV(alphas=ALPHAS, cv=LeaveOneOut()).fit(X, Y)
    save_encoder(model, tmp_path / "loo")
    assert read_encoder_config(tmp_path / "loo")["params"]["cv"] == {"unserializable": "LeaveOneOut()"}
    loaded = load_encoder(tmp_path / "loo")
    assert loaded.estimator.cv == RidgeCV().cv
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_saving_again_replaces_the_encoder(fitted, tmp_path):
    save_encoder(fitted["banded-voxels"][0], tmp_path)
    save_encoder(fitted["ridge"][0], tmp_path)
    loaded = load_encoder(tmp_path)
    assert isinstance(loaded.estimator, RidgeCV) and loaded.space is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "weights.safetensors"]


def test_altered_incomplete_or_foreign_saves_are_refused(fitted, tmp_path):
    save_encoder(fitted["banded-voxels"][0], tmp_path)
    weights = (tmp_path / "weights.safetensors").read_bytes()
    (tmp_path / "weights.safetensors").write_bytes(weights[:-1] + bytes([weights[-1] ^ 1]))
    with pytest.raises(InvalidArgument, match="does not match the checksum"):
        load_encoder(tmp_path)
    (tmp_path / "weights.safetensors").write_bytes(weights)
    (tmp_path / "mask.nii.gz").unlink()
    with pytest.raises(NotFound, match="lacks mask.nii.gz"):
        load_encoder(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "format_version": 99}))
    with pytest.raises(InvalidArgument, match="format version 99"):
        load_encoder(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"format": "braindecode.decoder"}))
    with pytest.raises(InvalidArgument, match="is not a braindecode.encoder config"):
        load_encoder(tmp_path)
    with pytest.raises(NotFound, match="config.json missing"):
        load_encoder(tmp_path / "nothing")


def test_unfitted_mismatched_or_foreign_models_are_refused(fitted, tmp_path):
    with pytest.raises(FailedPrecondition, match="RidgeCV is not fitted"):
        save_encoder(RidgeCV(), tmp_path)
    with pytest.raises(InvalidArgument, match="an encoder wraps a RidgeCV or BandedRidgeCV, not a dict"):
        save_encoder({}, tmp_path)
    ridge = fitted["ridge"][0].estimator
    with pytest.raises(InvalidArgument, match="layers of 7 features with 1 delays do not make the 8 features"):
        Encoder(ridge, {"a": 7})
    with pytest.raises(InvalidArgument, match="predicts 30 targets but the brain space has 4"):
        Encoder(ridge, space=BrainSpace("eeg", (2, 2)))
    with pytest.raises(InvalidArgument, match="provenance is not JSON-serializable"):
        save_encoder(ridge, tmp_path, provenance={"when": object()})
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("kind", ["ridge", "ridge-1d", "ridge-float64", "banded-voxels"])
def test_predict_each_takes_each_block_as_a_run_of_its_own(fitted, tmp_path, kind):
    encoder, X = fitted[kind]
    blocks = [X[:7], X[7:8], X[8:30]]
    predicted = encoder.predict_each(blocks)
    assert [p.shape for p in predicted] == [(len(b), *encoder.response_shape) for b in blocks]
    for block, each in zip(blocks, predicted):
        np.testing.assert_allclose(each, encoder.predict(block), rtol=1e-5, atol=1e-5)
    if encoder.delays is not None:  # one run over the three blocks would shift rows across them
        assert not np.allclose(encoder.predict(X[:30])[7:8], predicted[1], atol=1e-5)
    assert {encoder: 1}[encoder] == 1 and encoder != load_encoder(save_encoder(encoder, tmp_path / "enc"))


def test_check_input_names_the_problem(fitted):
    encoder, X = fitted["banded-voxels"]
    assert encoder.check_input(X[:2].astype(np.float64)).dtype == np.float64
    assert encoder.check_input(X[:2].astype(np.int64)).dtype == np.float32
    with pytest.raises(InvalidArgument, match=r"shape \(n, 8\) for the layers early \(5\), late \(3\); got \(2, 7\)"):
        encoder.check_input(X[:2, :7])
    with pytest.raises(InvalidArgument, match="1 NaN or infinite"):
        encoder.check_input(np.where(np.arange(8) == 3, np.nan, X[:1]))
