import mne
import numpy as np
import pytest

from braindecode.containers import Events
from braindecode.errors import InvalidArgument
from braindecode.preprocessing import epoch_responses, preprocess_raw

LINE = 50.0  # the line noise simulated by the eeg_raw fixture


def _mne_events(raw, events):
    samples = raw.first_samp + np.round(events.onset * raw.info["sfreq"]).astype(int)
    return np.column_stack([samples, np.zeros_like(samples), np.ones_like(samples)])


def _amplitude_at(raw, freq):
    """Amplitude of the sinusoid at ``freq`` in each EEG channel (Fourier coefficient)."""
    phasor = np.exp(-2j * np.pi * freq * raw.times)
    return 2 * np.abs(raw.get_data(picks="eeg") @ phasor) / len(raw.times)


def _line_power(raw, freq):
    spectrum = raw.compute_psd(fmin=freq - 1, fmax=freq + 1, picks="eeg", verbose=False)
    return spectrum.get_data().mean()


def test_preprocess_raw_equals_mne_chain(eeg_raw):
    ours = preprocess_raw(eeg_raw, picks=["eeg", "eog"], reference="average", notch=LINE,
                          l_freq=1.0, h_freq=40.0, sfreq=100.0)
    ref = eeg_raw.copy().pick(["eeg", "eog"]).set_eeg_reference("average", verbose=False)
    ref.notch_filter([LINE, 2 * LINE], picks="all", verbose=False)
    ref.filter(1.0, 40.0, picks="all", verbose=False).resample(100.0, verbose=False)
    assert ours.ch_names == ref.ch_names
    assert ours.info["sfreq"] == 100.0
    np.testing.assert_array_equal(ours.get_data(), ref.get_data())
    assert eeg_raw.info["sfreq"] == 250.0, "the input must be left untouched"


def test_notch_and_band_pass_remove_line_noise_and_drift(eeg_raw):
    notched = preprocess_raw(eeg_raw, notch=LINE)
    assert _line_power(notched, LINE) < 1e-2 * _line_power(eeg_raw, LINE)
    drift = 0.05  # the slow drift simulated by the eeg_raw fixture
    assert _amplitude_at(eeg_raw, drift).min() > 10e-6
    assert _amplitude_at(preprocess_raw(eeg_raw, l_freq=1.0), drift).max() < 1e-6


def test_average_and_named_reference(eeg_raw):
    averaged = preprocess_raw(eeg_raw, reference="average").get_data()
    np.testing.assert_allclose(averaged.mean(axis=0), 0.0, atol=1e-18)
    cz = preprocess_raw(eeg_raw, reference="Cz")
    np.testing.assert_array_equal(cz.get_data(picks="Cz"), 0.0)
    linked = preprocess_raw(eeg_raw, reference=["T7", "T8"]).get_data(picks=["T7", "T8"])
    np.testing.assert_allclose(linked.sum(axis=0), 0.0, atol=1e-18)


def test_epochs_equal_mne_epochs(eeg_raw, eeg_events):
    raw = preprocess_raw(eeg_raw, picks=["eeg", "eog"], l_freq=1.0, h_freq=40.0)
    responses = epoch_responses(raw, eeg_events, tmin=-0.1, tmax=0.6, baseline=(None, 0), subject="s1", run="2")
    ref = mne.Epochs(raw, _mne_events(raw, eeg_events), tmin=-0.1, tmax=0.6, baseline=(None, 0),
                     preload=True, verbose=False)
    assert responses.data.shape == (24, 16, len(ref.times))
    np.testing.assert_allclose(responses.data, ref.get_data(), rtol=1e-5, atol=1e-12)
    np.testing.assert_array_equal(responses.times, ref.times)
    assert responses.feature_names == ref.ch_names
    np.testing.assert_array_equal(responses.stimulus_ids, eeg_events.stimulus_id)
    assert set(responses.subjects) == {"s1"} and set(responses.runs) == {"2"}
    assert responses.info["dropped"] == [] and responses.info["ch_types"][-1] == "eog"


def test_baseline_correction_and_evoked_peak(eeg_raw, eeg_events):
    responses = epoch_responses(preprocess_raw(eeg_raw, l_freq=1.0, h_freq=40.0), eeg_events,
                                tmin=-0.2, tmax=0.5, baseline=(-0.2, 0.0))
    base = responses.times <= 0
    np.testing.assert_allclose(responses.data[:, :, base].mean(axis=2), 0.0, atol=1e-10)
    evoked = responses.data.mean(axis=(0, 1))
    assert abs(responses.times[evoked.argmax()] - 0.17) < 0.02
    unbaselined = epoch_responses(eeg_raw, eeg_events, tmin=-0.2, tmax=0.5, baseline=None)
    assert unbaselined.info["baseline"] is None
    assert np.abs(unbaselined.data[:, :, base].mean(axis=2)).max() > 1e-7


def test_peak_to_peak_rejection_reports_trials_and_channels(eeg_raw, eeg_events):
    data = eeg_raw.get_data()
    cz, eog = eeg_raw.ch_names.index("Cz"), eeg_raw.ch_names.index("EOG")
    sfreq = eeg_raw.info["sfreq"]
    sample = int(eeg_events.onset[5] * sfreq) + 50
    data[cz, sample:sample + 10] += 400e-6
    sample = int(eeg_events.onset[7] * sfreq) + 25
    data[eog, sample:sample + 50] += 900e-6
    raw = mne.io.RawArray(data, eeg_raw.info, verbose=False)
    reject = {"eeg": 150e-6, "eog": 500e-6}
    responses = epoch_responses(raw, eeg_events, tmin=-0.1, tmax=0.5, reject=reject)
    assert responses.n_trials == 22
    dropped = responses.info["dropped"]
    assert [(d["trial"], d["channels"], d["reason"]) for d in dropped] == [
        (5, ["Cz"], "peak-to-peak"), (7, ["EOG"], "peak-to-peak")]
    assert dropped[0]["stimulus_id"] == eeg_events.stimulus_id[5]
    assert responses.info["trials"] == responses.trials.tolist() == [i for i in range(24) if i not in (5, 7)]
    ref = mne.Epochs(raw, _mne_events(raw, eeg_events), tmin=-0.1, tmax=0.5, reject=reject,
                     preload=True, verbose=False)
    np.testing.assert_array_equal(ref.selection, responses.info["trials"])
    np.testing.assert_allclose(responses.data, ref.get_data(), rtol=1e-5, atol=1e-12)


def test_bad_annotation_drops_are_reported(eeg_raw, eeg_events):
    raw = eeg_raw.copy().set_annotations(mne.Annotations([eeg_events.onset[3]], [0.2], ["BAD_motion"]))
    responses = epoch_responses(raw, eeg_events)
    assert [(d["trial"], d["reason"]) for d in responses.info["dropped"]] == [(3, "BAD_motion")]


def test_unsorted_events_keep_their_order(eeg_raw, eeg_events):
    order = np.random.default_rng(1).permutation(len(eeg_events))
    shuffled = Events(eeg_events.onset[order], eeg_events.duration[order], eeg_events.stimulus_id[order])
    sorted_ = epoch_responses(eeg_raw, eeg_events)
    responses = epoch_responses(eeg_raw, shuffled)
    np.testing.assert_array_equal(responses.stimulus_ids, shuffled.stimulus_id)
    np.testing.assert_array_equal(responses.data, sorted_.data[order])


@pytest.mark.parametrize("kwargs, match", [
    ({"picks": ["brain"]}, "unknown channel types"),
    ({"picks": ["meg"]}, "no good channels of type"),
    ({"reference": ["Xx"]}, "not in the recording"),
    ({"picks": ["eog"], "reference": "average"}, "needs EEG channels"),
    ({"notch": 200.0}, "Nyquist"),
    ({"notch": -50}, "notch"),
    ({"l_freq": 40.0, "h_freq": 1.0}, "l_freq"),
    ({"h_freq": 125.0}, "h_freq"),
    ({"sfreq": 0}, "resample"),
])
def test_preprocess_raw_rejects_bad_arguments(eeg_raw, kwargs, match):
    with pytest.raises(InvalidArgument, match=match):
        preprocess_raw(eeg_raw, **kwargs)


def test_bad_channels_are_dropped(eeg_raw):
    eeg_raw.info["bads"] = ["Cz"]
    assert "Cz" not in preprocess_raw(eeg_raw).ch_names
    eeg_raw.info["bads"] = ["EOG"]
    with pytest.raises(InvalidArgument, match="no good channels of type \\['eog'\\]"):
        preprocess_raw(eeg_raw, picks="eog")


def test_nan_data_and_wrong_type_are_rejected(eeg_raw):
    data = eeg_raw.get_data()
    data[2, 100] = np.nan
    with pytest.raises(InvalidArgument, match="NaN"):
        preprocess_raw(mne.io.RawArray(data, eeg_raw.info, verbose=False))
    with pytest.raises(InvalidArgument, match="BaseRaw"):
        preprocess_raw(data)


@pytest.mark.parametrize("events, kwargs, match", [
    (None, {}, "no events"),
    (Events([], [], []), {}, "no events"),
    (Events([10.0, 39.9], [0, 0], ["a", "b"]), {}, "outside the recording"),
    (Events([0.05], [0], ["a"]), {"tmin": -0.2}, "outside the recording"),
    (Events([5.0, 5.001], [0, 0], ["a", "b"]), {}, "same sample"),
    (Events([5.0], [0], ["a"]), {"tmin": 0.5, "tmax": 0.1}, "tmin"),
    (Events([5.0], [0], ["a"]), {"baseline": (-1.0, 0.0)}, "baseline"),
    (Events([5.0], [0], ["a"]), {"baseline": ("a", 0.0)}, "baseline"),
    (Events([5.0], [0], ["a"]), {"reject": {"mag": 1e-12}}, "no 'mag' channels"),
    (Events([5.0], [0], ["a"]), {"reject": {"eeg": -1}}, "reject"),
    (Events([5.0, 9.0], [0, 0], ["a", "b"]), {"reject": {"eeg": 1e-9}}, "all 2 trials were rejected"),
])
def test_epoch_responses_rejects_bad_input(eeg_raw, events, kwargs, match):
    with pytest.raises(InvalidArgument, match=match):
        epoch_responses(eeg_raw, events, **kwargs)
