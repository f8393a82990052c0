import nibabel
import numpy as np
import pytest
from nilearn import signal as nilearn_signal

from braindecode.errors import InvalidArgument
from braindecode.preprocessing import apply_mask, clean, cosine_drift, drift_regressors, polynomial_drift

T_R = 1.35


@pytest.fixture(scope="module")
def bold(nitime_fmri_path):
    """nitime's real BOLD, every 4th voxel: (40 scans, 450 voxels)."""
    img = nibabel.load(nitime_fmri_path)
    return apply_mask(img, np.ones(img.shape[:3], bool))[:, ::4].astype(np.float64)


@pytest.mark.parametrize("detrend", [True, False])
@pytest.mark.parametrize("zscore", [True, False])
@pytest.mark.parametrize("filter, high_pass", [("cosine", 0.05), ("butterworth", 0.05), ("cosine", None)])
def test_clean_equals_nilearn_signal_clean(bold, detrend, zscore, filter, high_pass):
    ours = clean(bold, t_r=T_R, detrend=detrend, zscore=zscore, high_pass=high_pass, filter=filter)
    ref = nilearn_signal.clean(bold, t_r=T_R, detrend=detrend, standardize="zscore_sample" if zscore else None,
                               filter=filter if high_pass else False, high_pass=high_pass)
    assert ours.dtype == np.float32 and ours.shape == bold.shape
    scale = np.abs(ref).max()
    np.testing.assert_allclose(ours, ref, atol=1e-6 * scale)


def test_zscore_gives_unit_sample_variance(bold):
    cleaned = clean(bold, zscore=True)
    varying = bold.std(axis=0) > 0
    np.testing.assert_allclose(cleaned.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(cleaned[:, varying].std(axis=0, ddof=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(cleaned[:, ~varying], 0.0)


def test_polynomial_detrend_removes_polynomials_of_its_order():
    rng = np.random.default_rng(0)
    x = np.linspace(0, 1, 60)[:, None]
    noise = rng.normal(size=(60, 5))
    drift = 3 + 2 * x - 4 * x**2 + 5 * x**3
    noise_residual = clean(noise, detrend=3)
    np.testing.assert_allclose(clean(drift + noise, detrend=3), noise_residual, atol=1e-5)
    assert np.abs(clean(drift, detrend=1)).max() > 0.05
    np.testing.assert_allclose(clean(noise, detrend=0), noise - noise.mean(axis=0), atol=1e-6)


def test_cosine_drift_equals_nilearn():
    ref = nilearn_signal.create_cosine_drift(0.01, np.arange(100) * 2.0)
    ours = cosine_drift(100, 2.0, 0.01)
    assert ours.shape == (100, 4)
    np.testing.assert_allclose(ours, ref[:, :-1], atol=1e-12)


def test_drift_regressors_hold_constant_polynomials_and_cosines():
    confounds = drift_regressors(100, 2.0, detrend=2, high_pass=0.01)
    np.testing.assert_allclose(confounds[:, :3], polynomial_drift(100, 2))
    np.testing.assert_allclose(confounds[:, 3:], cosine_drift(100, 2.0, 0.01))
    np.testing.assert_allclose(drift_regressors(100, 2.0, detrend=False), 1.0)
    assert drift_regressors(100, 2.0, high_pass=0.01, filter="butterworth").shape == (100, 2)


@pytest.mark.parametrize("kwargs, match", [
    ({"detrend": -1}, "detrend"),
    ({"detrend": "yes"}, "detrend"),
    ({"high_pass": 0.01}, "t_r"),
    ({"high_pass": 0.01, "t_r": 0}, "t_r"),
    ({"high_pass": -0.01, "t_r": 2.0}, "high_pass"),
    ({"high_pass": 0.3, "t_r": 2.0}, "Nyquist"),
    ({"high_pass": 0.01, "t_r": 2.0, "filter": "fir"}, "filter"),
])
def test_clean_rejects_bad_arguments(kwargs, match):
    with pytest.raises(InvalidArgument, match=match):
        clean(np.ones((50, 3)), **kwargs)


def test_clean_rejects_bad_shapes():
    with pytest.raises(InvalidArgument, match="n_scans"):
        clean(np.ones(50))
    with pytest.raises(InvalidArgument, match="too few"):
        clean(np.random.default_rng(0).normal(size=(12, 3)), t_r=2.0, high_pass=0.01, filter="butterworth")
