import numpy as np
import pytest

from braindecode.containers import BrainResponses
from braindecode.decoding import check_embeddings, check_input
from braindecode.errors import InvalidArgument


def test_fmri_input_is_float32_and_accepts_brain_responses():
    X = np.arange(12, dtype=np.float64).reshape(3, 4)
    out = check_input(X, "fmri", input_shape=(4,))
    assert out.dtype == np.float32 and out.shape == (3, 4)
    np.testing.assert_array_equal(check_input(BrainResponses(X, ["a", "b", "c"]), "fmri"), out)


def test_eeg_input_keeps_epochs():
    assert check_input(np.zeros((2, 3, 5)), "eeg", input_shape=(3, 5)).shape == (2, 3, 5)


@pytest.mark.parametrize("X, modality, shape, message", [
    (np.zeros((4, 3, 5)), "fmri", None, "looks like EEG/MEG epochs"),
    (np.zeros((4, 5)), "eeg", None, "looks like fMRI responses"),
    (np.zeros(5), "fmri", None, "expects 2-D"),
    (np.zeros((0, 5)), "fmri", None, "no samples"),
    (np.zeros((4, 5)), "fmri", (6,), r"fitted on samples of shape \(6,\), got \(5,\)"),
    (np.zeros((4, 3, 5)), "eeg", (3, 6), r"shape \(3, 6\), got \(3, 5\)"),
    (np.array([[1.0, np.nan]]), "fmri", None, "1 NaN or infinite"),
    (np.array([[1.0, np.inf]]), "fmri", None, "NaN or infinite"),
    (np.array([["a", "b"]]), "fmri", None, "numeric"),
    (np.zeros((4, 5)), "meg", None, "unknown modality"),
])
def test_bad_brain_data(X, modality, shape, message):
    with pytest.raises(InvalidArgument, match=message):
        check_input(X, modality, shape)


@pytest.mark.parametrize("Y, kwargs, message", [
    (np.zeros(3), {}, "2-D"),
    (np.zeros((3, 2)), {"n_samples": 4}, "3 rows for 4 brain samples"),
    (np.zeros((3, 2)), {"n_dims": 5}, "2 dimensions, expected 5"),
    (np.zeros((3, 0)), {}, "empty"),
    (np.array([[np.nan, 1.0]]), {}, "NaN"),
])
def test_bad_embeddings(Y, kwargs, message):
    with pytest.raises(InvalidArgument, match=message):
        check_embeddings(Y, **kwargs)
