import pytest
import rsatoolbox
from rsatoolbox.inference import boot_noise_ceiling

from braindecode.compare import COMPARISON_METHODS, rdm_noise_ceiling
from braindecode.errors import InvalidArgument


@pytest.fixture
def subject_rdms(rng):
    """Seven subjects sharing a structure, with individual noise (10 conditions)."""
    shared = rng.random(45)
    return shared + 0.6 * rng.random((7, 45))


@pytest.mark.parametrize("method", COMPARISON_METHODS)
def test_matches_rsatoolbox_boot_noise_ceiling(subject_rdms, method, rsatoolbox_name):
    lower, upper = boot_noise_ceiling(rsatoolbox.rdm.RDMs(subject_rdms), method=rsatoolbox_name[method])
    got = rdm_noise_ceiling(subject_rdms, method, dtype="float64")
    assert got.lower == pytest.approx(lower, rel=1e-6)
    assert got.upper == pytest.approx(upper, rel=1e-6)


def test_bounds_are_ordered_and_grow_with_agreement(subject_rdms, rng):
    noisy = rdm_noise_ceiling(subject_rdms + 2 * rng.random(subject_rdms.shape))
    clean = rdm_noise_ceiling(subject_rdms)
    assert noisy.lower < noisy.upper and clean.lower < clean.upper
    assert clean.lower > noisy.lower
    assert clean.to_dict() == {"lower": clean.lower, "upper": clean.upper}


def test_single_subject_is_rejected(subject_rdms):
    with pytest.raises(InvalidArgument, match="at least 2 subject RDMs"):
        rdm_noise_ceiling(subject_rdms[:1])


def test_unknown_method_is_rejected(subject_rdms):
    with pytest.raises(InvalidArgument, match="unknown comparison method"):
        rdm_noise_ceiling(subject_rdms, "tau-b")
