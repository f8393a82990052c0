import json

import mne
import nibabel
import numpy as np
import pytest
from nilearn.maskers import NiftiMasker

from braindecode.containers import BrainResponses, Events
from braindecode.errors import InvalidArgument
from braindecode.preprocessing import (
    apply_mask,
    atlas_time_series,
    clean,
    compute_epi_mask,
    drift_regressors,
    epoch_responses,
    preprocess,
    preprocess_raw,
    trial_responses,
    voxel_names,
)

EEG_SPEC = {"modality": "eeg", "l_freq": 1, "h_freq": 40, "notch": 50, "resample": 100,
            "epochs": {"tmin": -0.1, "tmax": 0.6, "baseline": [None, 0]}, "reject": {"eeg": 150e-6}}
FMRI_SPEC = {"modality": "fmri", "mask": "auto", "detrend": True, "zscore": True, "high_pass": 0.01,
             "trials": {"method": "lss"}}
FMRI_EVENTS = Events([2.0, 11.5, 20.0, 29.7, 38.0], np.ones(5), ["a", "b", "c", "a", "b"])


@pytest.fixture(scope="module")
def bold_img(nitime_fmri_path):
    return nibabel.load(nitime_fmri_path)


def test_eeg_spec_from_json_equals_the_steps_and_mne(eeg_raw, eeg_events):
    spec = json.loads(json.dumps(EEG_SPEC))
    responses = preprocess(eeg_raw, spec, eeg_events)
    assert isinstance(responses, BrainResponses)
    steps = epoch_responses(
        preprocess_raw(eeg_raw, notch=50, l_freq=1, h_freq=40, sfreq=100), eeg_events,
        tmin=-0.1, tmax=0.6, baseline=(None, 0), reject={"eeg": 150e-6},
    )
    np.testing.assert_array_equal(responses.data, steps.data)
    assert responses.info == steps.info
    ref_raw = eeg_raw.copy().pick("eeg").notch_filter([50.0, 100.0], verbose=False)
    ref_raw.filter(1, 40, verbose=False).resample(100, verbose=False)
    samples = np.round(eeg_events.onset * 100).astype(int)
    ref = mne.Epochs(ref_raw, np.column_stack([samples, 0 * samples, 1 + 0 * samples]), tmin=-0.1, tmax=0.6,
                     baseline=(None, 0), reject={"eeg": 150e-6}, preload=True, verbose=False)
    np.testing.assert_allclose(responses.data, ref.get_data(), rtol=1e-5, atol=1e-12)
    assert responses.data.shape == (24, 15, 71)


def test_eeg_spec_without_epochs_returns_continuous_array(eeg_raw):
    data = preprocess(eeg_raw, {"modality": "eeg", "picks": ["eeg", "eog"], "reference": "average",
                                "resample": 125})
    assert isinstance(data, np.ndarray) and data.dtype == np.float32
    assert data.shape == (16, 5000)
    ref = preprocess_raw(eeg_raw, picks=["eeg", "eog"], reference="average", sfreq=125).get_data()
    np.testing.assert_array_equal(data, ref.astype(np.float32))


def test_eeg_spec_groups_and_reference_list(eeg_raw, eeg_events):
    spec = {"modality": "eeg", "reference": ["T7", "T8"], "epochs": {"tmin": 0, "tmax": 0.3, "baseline": None},
            "subject": "sub-01", "run": 2}
    responses = preprocess(eeg_raw, spec, eeg_events)
    assert set(responses.subjects) == {"sub-01"} and set(responses.runs) == {"2"}
    assert responses.info["baseline"] is None


@pytest.mark.parametrize("spec, match", [
    ({"l_freq": 1}, "modality"),
    ({"modality": "ecog"}, "modality"),
    ({"modality": "eeg", "lfreq": 1}, "unknown spec key 'lfreq'"),
    ({"modality": "eeg", "mask": "auto"}, "unknown spec key 'mask'"),
    ({"modality": "eeg", "l_freq": "1"}, "'l_freq' must be a number"),
    ({"modality": "eeg", "l_freq": True}, "'l_freq' must be a number"),
    ({"modality": "eeg", "notch": 300}, "notch"),
    ({"modality": "eeg", "resample": -1}, "resample"),
    ({"modality": "eeg", "picks": "brain"}, "picks"),
    ({"modality": "eeg", "picks": [1]}, "'picks' must be a list of strings"),
    ({"modality": "eeg", "reference": 3}, "'reference' must be a list of strings"),
    ({"modality": "meg"}, "no good channels of type \\['meg'\\]"),
    ({"modality": "eeg", "reject": {"eeg": 1e-4}}, "'reject' needs an 'epochs' step"),
    ({"modality": "eeg", "epochs": {"start": 0}}, "unknown spec key 'epochs.start'"),
    ({"modality": "eeg", "epochs": {"tmin": "a"}}, "'epochs.tmin' must be a number"),
    ({"modality": "eeg", "epochs": {"baseline": 0}}, "baseline"),
    ({"modality": "eeg", "epochs": [0, 1]}, "spec key 'epochs' must be a dict"),
    ({"modality": "eeg", "epochs": {}, "reject": {"eeg": "x"}}, "reject\\['eeg'\\]"),
    ({"modality": "eeg", "epochs": {}, "subject": ["a"]}, "'subject' must be a string"),
])
def test_eeg_spec_errors_name_the_key(eeg_raw, eeg_events, spec, match):
    with pytest.raises(InvalidArgument, match=match):
        preprocess(eeg_raw, spec, eeg_events)


def test_spec_must_be_a_dict_and_epochs_need_events(eeg_raw):
    with pytest.raises(InvalidArgument, match="spec must be a dict"):
        preprocess(eeg_raw, "eeg")
    with pytest.raises(InvalidArgument, match="no events"):
        preprocess(eeg_raw, {"modality": "eeg", "epochs": {}})
    with pytest.raises(InvalidArgument, match="BaseRaw"):
        preprocess(np.zeros((3, 100)), {"modality": "eeg"})


def test_fmri_spec_equals_the_steps(bold_img):
    spec = json.loads(json.dumps(FMRI_SPEC))
    responses = preprocess(bold_img, spec, FMRI_EVENTS)
    mask = compute_epi_mask(bold_img)
    signals = clean(apply_mask(bold_img, mask), t_r=1.35, detrend=True, zscore=True, high_pass=0.01)
    steps = trial_responses(signals, FMRI_EVENTS, 1.35,
                            confounds=drift_regressors(40, 1.35, detrend=True, high_pass=0.01),
                            feature_names=voxel_names(mask))
    assert responses.data.shape == (5, mask.sum())
    np.testing.assert_array_equal(responses.data, steps.data)
    assert responses.feature_names == steps.feature_names
    np.testing.assert_array_equal(responses.stimulus_ids, FMRI_EVENTS.stimulus_id)
    np.testing.assert_array_equal(responses.mask, mask)  # the voxels, with the image's affine
    np.testing.assert_array_equal(responses.affine, bold_img.affine)
    np.testing.assert_array_equal(responses.trials, np.arange(5))
    kept = responses.subset([0, 2])
    assert list(kept.trials) == [0, 2] and kept.mask is responses.mask
    averaged = responses.average_repeats()
    assert averaged.trials is None and averaged.mask is responses.mask
    both = BrainResponses.concatenate([responses, kept])
    assert list(both.trials) == [0, 1, 2, 3, 4, 0, 2] and both.mask is responses.mask and both.data.shape[0] == 7


def test_labels_of_responses_are_checked():
    data = np.zeros((2, 3), np.float32)
    with pytest.raises(InvalidArgument, match=r"trials has shape \(3,\), expected \(2,\)"):
        BrainResponses(data, ["a", "b"], trials=[0, 1, 2])
    with pytest.raises(InvalidArgument, match=r"the mask holds 2 voxels for responses of shape \(3,\)"):
        BrainResponses(data, ["a", "b"], mask=np.eye(2, dtype=bool)[..., None], affine=np.eye(4))
    with pytest.raises(InvalidArgument, match="a mask goes with the affine"):
        BrainResponses(data, ["a", "b"], mask=np.ones((3, 1, 1), bool))
    with pytest.raises(InvalidArgument, match="different shapes"):
        BrainResponses.concatenate([BrainResponses(data, ["a", "b"]), BrainResponses(data[:, :2], ["a", "b"])])
    other_grid = BrainResponses.concatenate([
        BrainResponses(data, ["a", "b"], mask=np.ones((3, 1, 1), bool), affine=np.eye(4)),
        BrainResponses(data, ["a", "b"], mask=np.ones((3, 1, 1), bool), affine=2 * np.eye(4))])
    assert other_grid.mask is None and other_grid.trials is None


@pytest.mark.parametrize("filter", ["cosine", "butterworth"])
def test_fmri_spec_without_trials_equals_nilearn_masker(bold_img, filter):
    spec = {"modality": "fmri", "detrend": True, "zscore": True, "high_pass": 0.01, "filter": filter}
    ours = preprocess(bold_img, spec)
    masker = NiftiMasker(mask_strategy="epi", detrend=True, standardize="zscore_sample", high_pass=0.01, t_r=1.35,
                         clean_args={"filter": filter})
    ref = masker.fit_transform(bold_img)
    assert isinstance(ours, np.ndarray) and ours.dtype == np.float32
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_fmri_spec_mask_options_atlas_and_window(bold_img):
    assert preprocess(bold_img, {"modality": "fmri", "mask": None}).shape == (40, 1800)
    mask = np.zeros(bold_img.shape[:3], bool)
    mask[2:8, 2:8, 5:12] = True
    given = preprocess(bold_img, {"modality": "fmri", "mask": mask, "t_r": 2.0})
    np.testing.assert_array_equal(given, apply_mask(bold_img, mask))
    labels = np.zeros(bold_img.shape[:3], np.int16)
    labels[:, :, :9], labels[:, :, 9:] = 1, 2
    by_label = preprocess(bold_img, {"modality": "fmri", "mask": None, "atlas": labels, "zscore": True,
                                     "trials": {"method": "window", "window": [2.7, 6.0]}}, FMRI_EVENTS)
    assert by_label.feature_names == ["1", "2"] and by_label.info["window"] == [2.7, 6.0]
    assert by_label.mask is None  # ROI features are no voxels
    series = clean(atlas_time_series(bold_img, labels)[0], zscore=True)
    np.testing.assert_allclose(by_label.data[0], series[[4, 5]].mean(axis=0), rtol=1e-5)  # 3.4, 4.75 s after 2 s


@pytest.mark.parametrize("spec, match", [
    ({"modality": "fmri", "smoothing": 6}, "unknown spec key 'smoothing'"),
    ({"modality": "fmri", "mask": "epi"}, "'mask' must be 'auto'"),
    ({"modality": "fmri", "mask": np.ones((10, 10, 17))}, "mask has shape"),
    ({"modality": "fmri", "t_r": 0}, "t_r"),
    ({"modality": "fmri", "t_r": "2"}, "'t_r' must be a number"),
    ({"modality": "fmri", "zscore": "yes"}, "'zscore' must be true or false"),
    ({"modality": "fmri", "detrend": "linear"}, "detrend"),
    ({"modality": "fmri", "high_pass": 1.0}, "high_pass"),
    ({"modality": "fmri", "filter": "fir", "high_pass": 0.01}, "filter"),
    ({"modality": "fmri", "trials": {"method": "lsa"}}, "method"),
    ({"modality": "fmri", "trials": {"method": "lss", "window": [4, 8]}}, "'trials.window'"),
    ({"modality": "fmri", "trials": {"hrf": "glover"}}, "unknown spec key 'trials.hrf'"),
    ({"modality": "fmri", "trials": {"method": "window", "window": [8]}}, "window"),
    ({"modality": "fmri", "trials": {"method": "window", "window": 8}}, "window"),
    ({"modality": "fmri", "trials": "lss"}, "spec key 'trials' must be a dict"),
    ({"modality": "fmri", "atlas": 5}, "labels image must be a nibabel image"),
])
def test_fmri_spec_errors_name_the_key(bold_img, spec, match):
    with pytest.raises(InvalidArgument, match=match):
        preprocess(bold_img, spec, FMRI_EVENTS)


def test_fmri_bad_recordings_and_events(bold_img):
    with pytest.raises(InvalidArgument, match="no events"):
        preprocess(bold_img, FMRI_SPEC)
    with pytest.raises(InvalidArgument, match="outside the run"):
        preprocess(bold_img, FMRI_SPEC, Events([10.0, 60.0], [1, 1], ["a", "b"]))
    data = bold_img.get_fdata(dtype=np.float32, caching="unchanged")
    data[0, 0, 0, 0] = np.nan
    with pytest.raises(InvalidArgument, match="NaN"):
        preprocess(nibabel.Nifti1Image(data, bold_img.affine, bold_img.header), FMRI_SPEC, FMRI_EVENTS)
    no_tr = nibabel.Nifti1Image(np.ones((4, 4, 4, 10), np.float32), np.eye(4))
    no_tr.header.set_zooms((1.0, 1.0, 1.0, 0.0))
    with pytest.raises(InvalidArgument, match="t_r is missing"):
        preprocess(no_tr, {"modality": "fmri"})
    with pytest.raises(InvalidArgument, match="fMRI image must be 4-D"):
        preprocess(nibabel.Nifti1Image(np.ones((4, 4, 4), np.float32), np.eye(4)), {"modality": "fmri", "t_r": 2})
