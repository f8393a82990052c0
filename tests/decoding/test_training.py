import numpy as np
import pytest
import torch

from braindecode.decoding import MLPDecoder, TrainingConfig
from braindecode.decoding._training import validation_split
from braindecode.errors import InvalidArgument


def test_validation_split_keeps_groups_together():
    groups = np.repeat(np.arange(20), 3)
    train, val = validation_split(60, 0.2, groups, seed=1)
    assert not set(groups[train]) & set(groups[val])
    assert len(train) + len(val) == 60 and len(val) >= 12
    assert sorted(np.concatenate([train, val])) == list(range(60))


def test_validation_split_is_seeded():
    a = validation_split(50, 0.3, seed=4)
    b = validation_split(50, 0.3, seed=4)
    c = validation_split(50, 0.3, seed=5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("n, fraction, groups", [(10, 0.05, None), (3, 0.5, None), (8, 0.1, [0, 0, 0, 0, 0, 0, 0, 1])])
def test_too_few_samples_for_the_split(n, fraction, groups):
    with pytest.raises(InvalidArgument, match="too few samples"):
        validation_split(n, fraction, groups)


def test_decoder_fit_reports_too_few_samples(make_fmri):
    X, E = make_fmri(12)
    with pytest.raises(InvalidArgument, match=r"too few samples \(12\) for val_fraction=0.05"):
        MLPDecoder(hidden_dim=8, training=TrainingConfig(val_fraction=0.05)).fit(X, E)


@pytest.mark.parametrize("field, value", [("loss", "mse"), ("temperature", 0.0), ("val_fraction", 1.0),
                                          ("batch_size", 1), ("mixco_fraction", 1.5), ("max_epochs", 0)])
def test_bad_training_config(make_fmri, field, value):
    X, E = make_fmri(40)
    config = TrainingConfig(**{field: value})
    with pytest.raises(InvalidArgument, match=f"training {field}="):
        MLPDecoder(hidden_dim=8, training=config).fit(X, E)


def _fit(X, E, **training):
    config = TrainingConfig(**{"max_epochs": 6, "batch_size": 32, **training})
    return MLPDecoder(hidden_dim=32, n_blocks=1, training=config).fit(X, E)


def test_fit_is_deterministic_under_a_seed(make_fmri):
    X, E = make_fmri(200)
    state_before = torch.random.get_rng_state()
    a, b, c = _fit(X, E, seed=3), _fit(X, E, seed=3), _fit(X, E, seed=4)
    assert torch.equal(torch.random.get_rng_state(), state_before)  # the global RNG is left alone
    for name, tensor in a.module_.state_dict().items():
        assert torch.equal(tensor, b.module_.state_dict()[name]), name
    assert a.history_ == b.history_
    assert not np.array_equal(a.predict(X), c.predict(X))


def test_progress_is_called_once_per_epoch(make_fmri):
    X, E = make_fmri(120)
    records = []
    model = MLPDecoder(hidden_dim=16, training=TrainingConfig(max_epochs=4, patience=10)).fit(
        X, E, progress=records.append)
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]
    assert records == model.history_
    assert {"train_loss", "val_loss", "val_top1", "temperature", "best_epoch", "max_epochs"} <= set(records[0])


def test_early_stopping_keeps_the_best_epoch(make_fmri):
    rng = np.random.default_rng(0)
    X, _ = make_fmri(160)
    noise_targets = rng.standard_normal((160, 8)).astype(np.float32)  # nothing to learn: validation loss rises
    stopped = _fit(X, noise_targets, max_epochs=60, patience=3, mixco_fraction=0.0, lr=1e-2)
    best = stopped.history_[-1]["best_epoch"]
    assert len(stopped.history_) == best + 3 < 60
    assert stopped.history_[best - 1]["val_loss"] == min(r["val_loss"] for r in stopped.history_)
    # the same run cut at the best epoch ends with the restored weights
    cut = _fit(X, noise_targets, max_epochs=best, patience=3, mixco_fraction=0.0, lr=1e-2)
    np.testing.assert_array_equal(stopped.predict(X), cut.predict(X))


def test_learned_temperature_moves(make_fmri):
    X, E = make_fmri(120)
    model = _fit(X, E, learn_temperature=True, temperature=0.5, lr=1e-2, loss="infonce")
    assert model.history_[-1]["temperature"] != 0.5
    fixed = _fit(X, E, temperature=0.5, loss="infonce")
    assert all(r["temperature"] == pytest.approx(0.5) for r in fixed.history_)


def test_without_validation_trains_all_epochs(make_fmri):
    X, E = make_fmri(60)
    model = _fit(X, E, val_fraction=0.0, max_epochs=3)
    assert [r["best_epoch"] for r in model.history_] == [1, 2, 3]
    assert "val_loss" not in model.history_[0]
