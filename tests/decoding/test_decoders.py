import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import RidgeCV as SklearnRidgeCV
from sklearn.model_selection import LeaveOneOut
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from braindecode.decoding import EEGDecoder, MLPDecoder, RidgeDecoder, TrainingConfig, mindeye_top1
from braindecode.encoding import RidgeCV
from braindecode.errors import FailedPrecondition, InvalidArgument

CHANCE = 1 / 300


def test_ridge_decoder_recovers_linear_embedding(fmri_data):
    X, E = fmri_data
    model = RidgeDecoder().fit(X[:600], E[:600])
    mean, sd = mindeye_top1(model.predict(X[600:]), E[600:])
    assert mean > 100 * CHANCE
    mean_back, _ = mindeye_top1(E[600:], model.predict(X[600:]))
    assert mean_back > 100 * CHANCE
    assert model.coef_.shape == (120, 16) and model.best_alphas_.shape == (16,)


def test_ridge_decoder_equals_scikit_learn_pipeline(make_fmri):
    X, E = make_fmri(80, n_voxels=30, n_dims=5, noise=8.0)
    alphas = np.logspace(-1, 4, 11)
    ours = RidgeDecoder(alphas=alphas, cv=LeaveOneOut(), scoring="neg_mse", dtype="float64").fit(X, E)
    # scikit-learn's efficient leave-one-out (GCV) picks each target's alpha by squared error
    peer = make_pipeline(StandardScaler(), SklearnRidgeCV(alphas=alphas, alpha_per_target=True))
    peer.fit(X.astype(np.float64), E.astype(np.float64))
    np.testing.assert_allclose(ours.best_alphas_, peer[-1].alpha_)
    np.testing.assert_allclose(ours.predict(X), peer.predict(X), atol=1e-5)


def test_ridge_decoder_wraps_encoding_ridge_cv(fmri_data):
    X, E = fmri_data
    model = RidgeDecoder(cv=3, standardize=False).fit(X[:300], E[:300])
    ridge = RidgeCV(cv=3).fit(X[:300], E[:300])
    np.testing.assert_array_equal(model.best_alphas_, ridge.best_alphas_)
    np.testing.assert_allclose(model.predict(X[300:]), ridge.predict(X[300:]), rtol=1e-5, atol=1e-4)


def test_ridge_decoder_on_eeg_epochs(eeg_data):
    X, E = eeg_data
    model = RidgeDecoder(modality="eeg").fit(X[:400], E[:400])
    assert model.coef_.shape == (8 * 64, 4)
    assert mindeye_top1(model.predict(X[400:]), E[400:])[0] > 30 * CHANCE
    with pytest.raises(InvalidArgument, match="looks like fMRI"):
        model.predict(X[:5].reshape(5, -1))


def test_mlp_decoder_recovers_linear_embedding(fmri_data):
    X, E = fmri_data
    config = TrainingConfig(max_epochs=15, batch_size=64, seed=0)
    model = MLPDecoder(hidden_dim=128, n_blocks=1, input_dropout=0.1, training=config).fit(X[:600], E[:600])
    mean, _ = mindeye_top1(model.predict(X[600:]), E[600:])
    assert mean > 50 * CHANCE
    assert model.history_[-1]["val_top1"] > 0.5


def test_eeg_decoder_learns_planted_spatiotemporal_pattern(eeg_data):
    X, E = eeg_data
    config = TrainingConfig(max_epochs=20, batch_size=32, lr=3e-3, mixco_fraction=0.0, seed=0)
    model = EEGDecoder(n_filters=8, temporal_kernel=9, pool_size=4, training=config).fit(X[:400], E[:400])
    predicted = model.predict(X[400:])
    assert mindeye_top1(predicted, E[400:])[0] > 30 * CHANCE
    # every planted dimension is decoded
    correlations = [np.corrcoef(predicted[:, k], E[400:, k])[0, 1] for k in range(E.shape[1])]
    assert min(correlations) > 0.7


def test_eeg_decoder_fails_without_the_pattern(make_eeg):
    X, E = make_eeg(360, noise=1.0)
    rng = np.random.default_rng(9)
    shuffled = E[rng.permutation(len(E))]  # targets unrelated to the epochs
    config = TrainingConfig(max_epochs=8, batch_size=32, lr=3e-3, mixco_fraction=0.0)
    model = EEGDecoder(n_filters=4, temporal_kernel=9, pool_size=4, training=config).fit(X[:300], shuffled[:300])
    correlations = [np.corrcoef(model.predict(X[300:])[:, k], shuffled[300:, k])[0, 1] for k in range(4)]
    assert max(np.abs(correlations)) < 0.4


@pytest.mark.parametrize("model", [RidgeDecoder(), MLPDecoder(), EEGDecoder()])
def test_unfitted_decoder_is_a_failed_precondition(model):
    with pytest.raises(FailedPrecondition, match="not fitted"):
        model.predict(np.zeros((2, 5)))


def test_decoders_follow_scikit_learn_conventions():
    config = TrainingConfig(max_epochs=3, seed=7)
    model = MLPDecoder(hidden_dim=64, training=config)
    params = model.get_params()
    assert params["hidden_dim"] == 64 and params["training"] is config
    copy = clone(model)
    assert copy.get_params()["training"] == config and copy is not model
    assert RidgeDecoder(cv=3).set_params(cv=4).cv == 4


@pytest.fixture(scope="module")
def small_fmri_decoder(make_fmri):
    X, E = make_fmri(80, n_voxels=20, n_dims=4)
    return MLPDecoder(hidden_dim=16, training=TrainingConfig(max_epochs=2)).fit(X, E)


@pytest.mark.parametrize("X, message", [
    (np.zeros((3, 21)), r"fitted on samples of shape \(20,\), got \(21,\)"),
    (np.zeros((3, 4, 5)), "EEG/MEG epochs"),
    (np.full((3, 20), np.nan), "NaN"),
])
def test_predict_rejects_bad_input(small_fmri_decoder, X, message):
    with pytest.raises(InvalidArgument, match=message):
        small_fmri_decoder.predict(X)


@pytest.mark.parametrize("make_model, X, Y, message", [
    (MLPDecoder, np.zeros((20, 4, 5)), np.zeros((20, 3)), "EEG/MEG epochs"),
    (EEGDecoder, np.zeros((20, 5)), np.zeros((20, 3)), "fMRI responses"),
    (MLPDecoder, np.zeros((20, 5)), np.zeros((19, 3)), "19 rows for 20 brain samples"),
    (MLPDecoder, np.zeros((20, 5)), np.full((20, 3), np.inf), "target embeddings contains"),
    (lambda: RidgeDecoder(modality="ecog"), np.zeros((20, 5)), np.zeros((20, 3)), "unknown modality"),
    (lambda: EEGDecoder(temporal_kernel=8), np.zeros((20, 2, 16)), np.zeros((20, 3)), "temporal_kernel"),
    (lambda: EEGDecoder(temporal_kernel=33), np.zeros((20, 2, 16)), np.zeros((20, 3)), "temporal_kernel"),
    (lambda: MLPDecoder(training={"lr": 1.0}), np.zeros((20, 5)), np.zeros((20, 3)), "TrainingConfig"),
])
def test_fit_rejects_bad_input(make_model, X, Y, message):
    with pytest.raises(InvalidArgument, match=message):
        make_model().fit(X, Y)


@pytest.mark.parametrize("device, message", [("tpu", "unknown device"), ("meta", "unsupported device")])
def test_bad_device(make_fmri, device, message):
    X, E = make_fmri(20)
    with pytest.raises(InvalidArgument, match=message):
        MLPDecoder(device=device).fit(X, E)
    with pytest.raises(InvalidArgument, match=message):
        RidgeDecoder(device=device).fit(X, E)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error where CUDA is absent")
def test_cuda_without_a_gpu(make_fmri):
    X, E = make_fmri(20)
    with pytest.raises(InvalidArgument, match="CUDA is not available"):
        MLPDecoder(device="cuda").fit(X, E)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_mlp_decoder_on_cuda(fmri_data):
    X, E = fmri_data
    config = TrainingConfig(max_epochs=15, seed=0)
    model = MLPDecoder(hidden_dim=128, n_blocks=1, input_dropout=0.1, training=config, device="cuda")
    model.fit(X[:600], E[:600])
    assert next(model.module_.parameters()).is_cuda
    assert mindeye_top1(model.predict(X[600:]), E[600:], device="cuda")[0] > 50 * CHANCE
