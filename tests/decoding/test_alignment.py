"""AlignedDecoder: fmralign's Procrustes against scipy's, recovery of a known rotation, errors."""

import numpy as np
import pytest
from fmralign.methods import Procrustes
from scipy.linalg import orthogonal_procrustes
from scipy.stats import special_ortho_group

from braindecode.decoding import AlignedDecoder, RidgeDecoder
from braindecode.errors import FailedPrecondition, InvalidArgument


def test_fmralign_procrustes_is_scipys_orthogonal_procrustes():
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((50, 8)), rng.standard_normal((50, 8))
    expected, _ = orthogonal_procrustes(A, B)  # argmin ||A R - B|| over orthogonal R
    np.testing.assert_allclose(Procrustes(scaling=False).fit(A, B).R, expected, atol=1e-8)


def test_a_rotated_and_rescaled_subject_is_mapped_back_onto_the_template():
    rng = np.random.default_rng(1)
    template = rng.standard_normal((120, 10)) * rng.uniform(0.5, 2, 10) + rng.uniform(-1, 1, 10)
    rotation = special_ortho_group.rvs(10, random_state=2)
    new = 3.0 * template @ rotation.T + 5.0  # the new subject: the template's responses rotated, rescaled, shifted
    decoder = RidgeDecoder(cv=3).fit(template, template[:, :4] @ rng.standard_normal((4, 3)))
    aligned = AlignedDecoder(decoder).fit(new[:80], template[:80])
    np.testing.assert_allclose(aligned.transform(new[80:]), template[80:], atol=1e-3)
    np.testing.assert_allclose(aligned.predict(new[80:]), decoder.predict(template[80:]), atol=1e-3)
    np.testing.assert_allclose(aligned.rotation_, rotation, atol=1e-6)


def test_voxel_counts_may_differ_and_bad_input_is_refused():
    rng = np.random.default_rng(3)
    template, new = rng.standard_normal((30, 12)), rng.standard_normal((30, 7))
    decoder = RidgeDecoder(cv=3).fit(template, rng.standard_normal((30, 2)))
    aligned = AlignedDecoder(decoder).fit(new, template)
    assert aligned.rotation_.shape == (7, 12) and aligned.predict(new).shape == (30, 2)
    np.testing.assert_allclose(aligned.rotation_ @ aligned.rotation_.T, np.eye(7), atol=1e-8)
    with pytest.raises(InvalidArgument, match="same stimuli"):
        AlignedDecoder(decoder).fit(new[:10], template)
    with pytest.raises(InvalidArgument, match=r"\(7,\)"):
        aligned.predict(template)
    with pytest.raises(FailedPrecondition, match="not fitted"):
        AlignedDecoder(decoder).predict(new)
