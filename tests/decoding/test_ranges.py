"""Hyper-parameter ranges (one table per estimator, quoted in its docstring, enforced by fit) and
the bound on what a fit may hold, checked before anything is allocated."""

import math
import re

import numpy as np
import pytest

from braindecode.decoding import MAX_FIT_BYTES, EEGDecoder, MLPDecoder, RidgeDecoder, SharedDecoder, TrainingConfig
from braindecode.decoding._validation import Interval
from braindecode.errors import InvalidArgument, ResourceExhausted

OWNERS = [RidgeDecoder, MLPDecoder, EEGDecoder, SharedDecoder, TrainingConfig]
TINY = TrainingConfig(max_epochs=1, batch_size=8, val_fraction=0.0)


def _documented(owner, name: str) -> str:
    """The line of ``owner``'s docstring that documents parameter ``name``."""
    lines = [line.strip() for line in owner.__doc__.splitlines()]
    return next(line for line in lines if line.startswith(f"{name} : "))


@pytest.mark.parametrize("owner", OWNERS, ids=lambda owner: owner.__name__)
def test_every_range_is_quoted_in_the_docstring(owner):
    assert owner.param_ranges
    for name, interval in owner.param_ranges.items():
        kind = "float" if interval.kind is float else "int"
        assert _documented(owner, name).endswith(f"{kind} in {interval}" if interval.max_count is None
                                                 else f"sequence of {kind}, {interval}"), name


def _outside(interval: Interval):
    """A value just outside ``interval``."""
    if interval.max_count is not None:
        return [1.0] * (interval.max_count + 1)
    if math.isinf(interval.high):
        return interval.low - 1 if interval.closed in ("both", "left") else interval.low
    return interval.high + 1 if interval.closed in ("both", "right") else interval.high


def _make(owner, **values):
    if owner is TrainingConfig:
        return TrainingConfig(**values)
    training = {} if owner is RidgeDecoder else {"training": TINY}
    return owner(**values, **training)


def _data(model, n_samples=16):
    """Random brain data of the model's modality, (16, 12) or (16, 3, 16), and 2-d targets."""
    rng = np.random.default_rng(0)
    shape = (n_samples, 3, 16) if model.modality == "eeg" else (n_samples, 12)
    return (rng.standard_normal(shape).astype(np.float32),
            rng.standard_normal((n_samples, 2)).astype(np.float32))


def _fit(model):
    X, Y = _data(model)
    if isinstance(model, SharedDecoder):  # one subject's samples
        return model.fit({"s": X}, {"s": Y})
    return model.fit(X, Y)


@pytest.mark.parametrize("owner, name", [(owner, name) for owner in OWNERS for name in owner.param_ranges],
                         ids=lambda v: getattr(v, "__name__", v))
def test_values_outside_their_range_are_refused_naming_it(owner, name):
    interval = owner.param_ranges[name]
    bad = _make(owner, **{name: _outside(interval)})
    check = bad.check if owner is TrainingConfig else lambda: _fit(bad)
    label = "training" if owner is TrainingConfig else owner.__name__
    with pytest.raises(InvalidArgument, match=rf"^{label} {name}=.* is out of range: it must be .*"
                                              rf"{re.escape(str(interval))}$"):
        check()
    assert not hasattr(bad, "module_")


@pytest.mark.parametrize("value, ok", [(0, False), (1, True), (256, True), (257, False), (20000, False),
                                       (8.0, False), (True, False), (np.int64(8), True), ("8", False)])
def test_integer_ranges_take_integers_only(value, ok):
    assert EEGDecoder.param_ranges["n_filters"].holds(value) is ok


def test_ranges_at_their_ends_fit():
    _fit(MLPDecoder(hidden_dim=1, n_blocks=0, dropout=0.0, input_dropout=0.99, training=TINY))
    _fit(EEGDecoder(n_filters=1, temporal_kernel=1, depth_multiplier=1, pool_size=16, training=TINY))
    _fit(RidgeDecoder(alphas=[1e-3] * 64, cv=2))
    assert TrainingConfig(max_epochs=1000, patience=1000, batch_size=4096, lr=1.0, seed=2**32 - 1).check()


def test_the_issue_n_filters_is_refused_before_anything_is_built():
    with pytest.raises(InvalidArgument, match=r"^EEGDecoder n_filters=20000 is out of range: it must be an "
                                              r"integer in \[1, 256\]$"):
        _fit(EEGDecoder(n_filters=20000, training=TINY))


def test_fit_past_max_fit_bytes_is_refused_naming_the_bound_and_the_size():
    model = MLPDecoder(hidden_dim=8192, n_blocks=16, training=TINY)  # every value in range
    needed = model.fit_footprint(16, (12,), 2)
    assert needed > 16 * 8192**2 * 4 * 5 > MAX_FIT_BYTES
    with pytest.raises(ResourceExhausted, match=rf"^MLPDecoder fitted on 16 samples of shape \(12,\) -> 2 dims "
                                                rf"would hold about {needed} bytes, more than the limit "
                                                rf"max_fit_bytes={MAX_FIT_BYTES}$"):
        _fit(model)
    assert not hasattr(model, "module_")


@pytest.mark.parametrize("model", [
    MLPDecoder(hidden_dim=32, n_blocks=2, training=TINY),
    EEGDecoder(n_filters=4, temporal_kernel=5, pool_size=4, training=TINY),
    RidgeDecoder(alphas=[1.0, 10.0], cv=2),
], ids=lambda m: type(m).__name__)
def test_the_bound_is_on_the_footprint_and_counts_every_parameter(model):
    X, Y = _data(model)
    needed = model.fit_footprint(len(X), X.shape[1:], 2)
    with pytest.raises(ResourceExhausted, match="max_fit_bytes"):
        model.fit(X, Y, max_fit_bytes=needed - 1)
    fitted = model.fit(X, Y, max_fit_bytes=needed)
    n_parameters = sum(p.numel() for p in fitted.module_.parameters())
    assert needed >= 4 * n_parameters * (1 if isinstance(model, RidgeDecoder) else 5)


def test_footprint_grows_with_the_input():
    model = EEGDecoder(n_filters=256, depth_multiplier=16, training=TrainingConfig(batch_size=64))
    small, large = model.fit_footprint(100, (4, 100), 8), model.fit_footprint(100, (64, 1000), 8)
    assert small < MAX_FIT_BYTES < large  # every value in range: the input decides


def test_shared_decoder_ranges_at_their_ends_fit():
    _fit(SharedDecoder(latent_dim=1, hidden_dim=1, n_blocks=0, dropout=0.0, input_dropout=0.99, training=TINY))


def test_shared_fit_past_max_fit_bytes_is_refused_naming_the_subjects_and_the_size():
    model = SharedDecoder(latent_dim=8192, hidden_dim=8192, n_blocks=16, training=TINY)  # every value in range
    needed = model.fit_footprint({"a": 16, "b": 16}, {"a": (12,), "b": (30,)}, 2)
    assert needed > MAX_FIT_BYTES
    rng = np.random.default_rng(0)
    X = {"a": rng.standard_normal((16, 12)), "b": rng.standard_normal((16, 30))}
    Y = {s: rng.standard_normal((16, 2)) for s in X}
    with pytest.raises(ResourceExhausted, match=rf"^SharedDecoder fitted on 32 samples of 2 subjects \(12 to 30 "
                                                rf"voxels\) -> 2 dims would hold about {needed} bytes, more than the "
                                                rf"limit max_fit_bytes={MAX_FIT_BYTES}$"):
        model.fit(X, Y)
    assert not hasattr(model, "module_")


def test_shared_footprint_counts_the_packed_samples_and_every_parameter():
    model = SharedDecoder(latent_dim=8, hidden_dim=16, n_blocks=1, training=TINY)
    rng = np.random.default_rng(0)
    X = {"a": rng.standard_normal((16, 12)), "b": rng.standard_normal((16, 30))}
    Y = {s: rng.standard_normal((16, 2)) for s in X}
    needed = model.fit_footprint({"a": 16, "b": 16}, {"a": (12,), "b": (30,)}, 2)
    with pytest.raises(ResourceExhausted, match="max_fit_bytes"):
        model.fit(X, Y, max_fit_bytes=needed - 1)
    fitted = model.fit(X, Y, max_fit_bytes=needed)
    n_parameters = sum(p.numel() for p in fitted.module_.parameters())
    assert needed >= 4 * (5 * n_parameters + 32 * 31)  # five copies of the parameters, the samples packed 31 wide
    # one subject of many voxels among others of few: every sample is packed as wide as the widest
    lopsided = model.fit_footprint({"few": 10**6, "many": 10}, {"few": (10,), "many": (10**5,)}, 2)
    assert lopsided > 4 * 10**6 * 10**5 > MAX_FIT_BYTES

    copied = 4 * sum(t.numel() for t in fitted.module_.state_dict().values())
    fine_tuning = copied + model.fit_footprint({"c": 16}, {"c": (20,)}, 2)
    with pytest.raises(ResourceExhausted, match=r"^SharedDecoder fine-tuned on 16 samples of 20 voxels of subject "
                                                r"'c' -> 2 dims would hold about"):
        fitted.fine_tune("c", rng.standard_normal((16, 20)), Y["a"], max_fit_bytes=fine_tuning - 1)
    assert "c" in fitted.fine_tune("c", rng.standard_normal((16, 20)), Y["a"], max_fit_bytes=fine_tuning).subjects_
