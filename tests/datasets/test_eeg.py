import mne
import numpy as np
import pytest
from scipy.signal import welch

from braindecode.containers import Events
from braindecode.datasets import (
    CHANNELS,
    COMPONENTS,
    MONTAGE,
    eeg_info,
    jittered_soa_events,
    layer_components,
    presentation_runs,
    simulate_eeg,
)
from braindecode.datasets import _eeg
from braindecode.datasets._eeg import pink_noise, sphere_gain
from braindecode.errors import InvalidArgument


def _setup(n_stimuli=40, n_test=8, n_repeats=2, n_runs=2, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.array([f"s{i:02d}" for i in range(n_stimuli)])
    split = np.where(np.arange(n_stimuli) < n_stimuli - n_test, "train", "test")
    runs = [jittered_soa_events(r, (0.9, 1.1), 0.5, 2.0, rng)
            for r in presentation_runs(ids, split, n_repeats, n_runs, rng)]
    drives = {name: (f"layer_{name}", layer_components(rng.standard_normal((n_stimuli, 20)), 8))
              for name in COMPONENTS}
    return ids, runs, drives


def _epochs(sim, tmin=-0.1, tmax=0.5):
    """Unfiltered epochs (n_trials, n_channels, n_times) at the annotated onsets."""
    out = []
    for raw in sim.runs:
        sfreq = raw.info["sfreq"]
        data = raw.get_data()
        starts = np.rint(raw.annotations.onset * sfreq).astype(int)
        offsets = np.arange(int(round(tmin * sfreq)), int(round(tmax * sfreq)) + 1)
        out.append(data[:, starts[:, None] + offsets].transpose(1, 0, 2))
    return np.concatenate(out), offsets / sfreq


def test_cap_uses_the_colin27_1020_positions():
    info = eeg_info()
    reference = mne.create_info(list(CHANNELS), 250.0, "eeg").set_montage(mne.channels.make_standard_montage(MONTAGE))
    assert info.ch_names == list(CHANNELS) and info["line_freq"] == 50
    np.testing.assert_allclose(
        [ch["loc"][:3] for ch in info["chs"]], [ch["loc"][:3] for ch in reference["chs"]]
    )


def test_outward_occipital_dipole_is_positive_and_largest_at_the_back():
    info = eeg_info()
    centre = np.asarray(mne.make_sphere_model("auto", "auto", info, verbose=False)["r0"])
    direction = np.array([0.0, -1.0, 0.0])
    gain = sphere_gain(info, (centre + 0.05 * direction)[None], direction[None])[:, 0]
    names = np.array(CHANNELS)
    assert set(names[np.argsort(-gain)[:3]]) <= {"O1", "Oz", "O2", "PO9", "PO10"}
    assert gain[names == "Oz"][0] > 0 > gain[names == "Fz"][0]


def test_pink_noise_has_a_one_over_f_spectrum():
    noise = pink_noise(8, 250 * 120, 250.0, np.random.default_rng(0))
    np.testing.assert_allclose(noise.std(axis=1), 1.0)
    freqs, power = welch(noise, fs=250.0, nperseg=2048)
    band = (freqs >= 2) & (freqs <= 60)
    slope = np.polyfit(np.log(freqs[band]), np.log(power.mean(axis=0)[band]), 1)[0]
    assert abs(slope + 1) < 0.1


def test_component_snr_at_the_peak_matches_the_ground_truth(monkeypatch):
    monkeypatch.setattr(_eeg, "BLINK_RATE_HZ", 0.0)
    monkeypatch.setattr(_eeg, "LINE_NOISE_UV", (0.0, 0.0))
    ids, runs, drives = _setup(n_stimuli=300, n_test=20, n_repeats=1, n_runs=1)
    sim = simulate_eeg(ids, drives, runs, snr=0.5, seed=2)
    epochs, times = _epochs(sim)
    background = epochs[:, :, times < 0].var(axis=0).mean()
    np.testing.assert_allclose(background, (_eeg.BACKGROUND_UV**2 + _eeg.SENSOR_NOISE_UV**2) * 1e-12, rtol=0.1)
    for name, comp in sim.ground_truth["components"].items():
        peak = np.argmin(np.abs(times - comp["latency_s"]))
        snr = (epochs[:, :, peak].var(axis=0).mean() - background) / background
        assert abs(snr - comp["snr"]) < 0.15, name
        # the mean response makes the peak visible in the average
        assert np.abs(epochs.mean(axis=0)[:, peak]).max() > 3 * np.abs(epochs.mean(axis=0)[:, times < 0]).max()


def test_line_noise_and_blinks_are_where_the_ground_truth_says():
    ids, runs, drives = _setup(n_runs=1)
    sim = simulate_eeg(ids, drives, runs, seed=3)
    raw = sim.runs[0]
    data, sfreq = raw.get_data(), raw.info["sfreq"]
    freqs, power = welch(data, fs=sfreq, nperseg=1000)
    at = lambda f: power[:, np.argmin(np.abs(freqs - f))].mean()  # noqa: E731
    assert at(50.0) > 20 * at(45.0) and at(50.0) > 20 * at(55.0)
    blinks = sim.ground_truth["blinks"]
    assert set(blinks["peak_channels"]) == {"Fp1", "Fp2"}
    onsets = np.array(blinks["onsets_s"][0])
    assert len(onsets) > 0
    peak = np.rint((onsets + _eeg.BLINK_SECONDS / 2) * sfreq).astype(int)
    fp1, o1 = CHANNELS.index("Fp1"), CHANNELS.index("O1")
    assert data[fp1, peak].mean() > 50e-6 and abs(data[o1, peak].mean()) < 20e-6


def test_annotations_carry_the_stimulus_ids_on_the_sample_grid():
    ids, runs, drives = _setup()
    sim = simulate_eeg(ids, drives, runs, seed=4)
    for raw, events, design in zip(sim.runs, sim.events, runs):
        np.testing.assert_array_equal(raw.annotations.description, design.stimulus_id)
        np.testing.assert_allclose(raw.annotations.onset, events.onset)
        np.testing.assert_allclose(events.onset * 250.0, np.rint(events.onset * 250.0), atol=1e-9)
        assert np.abs(events.onset - design.onset).max() <= 0.5 / 250.0


def test_same_seed_same_data():
    ids, runs, drives = _setup()
    a, b = simulate_eeg(ids, drives, runs, seed=7), simulate_eeg(ids, drives, runs, seed=7)
    c = simulate_eeg(ids, drives, runs, seed=8)
    for x, y in zip(a.runs, b.runs):
        np.testing.assert_array_equal(x.get_data(), y.get_data())
    assert not np.array_equal(a.runs[0].get_data(), c.runs[0].get_data())
    assert a.ground_truth == b.ground_truth


def test_bad_input_names_the_problem():
    ids, runs, drives = _setup()
    with pytest.raises(InvalidArgument, match="every component"):
        simulate_eeg(ids, {"early": drives["early"]}, runs)
    with pytest.raises(InvalidArgument, match="sfreq"):
        simulate_eeg(ids, drives, runs, sfreq=80.0)
    with pytest.raises(InvalidArgument, match="rows"):
        simulate_eeg(ids[:-1], drives, runs)
    with pytest.raises(InvalidArgument, match="non-empty"):
        simulate_eeg(ids, drives, [Events([], [], [])])
