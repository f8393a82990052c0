import os

import mne
import nibabel
import nitime
import numpy as np
import pytest

from braindecode.containers import Events

EEG_CHANNELS = ["Fp1", "Fp2", "F3", "F4", "Fz", "C3", "C4", "Cz", "P3", "P4", "Pz", "O1", "O2", "T7", "T8"]
SFREQ = 250.0
LINE = 50.0


@pytest.fixture(scope="session")
def nibabel_epi_path():
    """nibabel's real EPI run: 128 x 96 x 24 voxels, 2 volumes."""
    return os.path.join(os.path.dirname(nibabel.__file__), "tests", "data", "example4d.nii.gz")


@pytest.fixture(scope="session")
def nitime_fmri_path():
    """nitime's real BOLD run: 10 x 10 x 18 voxels, 40 volumes, TR 1.35 s."""
    return os.path.join(os.path.dirname(nitime.__file__), "data", "fmri1.nii.gz")


@pytest.fixture(scope="session")
def eeg_events():
    """24 trials of 3 stimuli, every 1.5 s from 2 s."""
    onsets = 2.0 + 1.5 * np.arange(24)
    return Events(onsets, np.full(24, 0.5), np.array(["face", "house", "car"])[np.arange(24) % 3])


@pytest.fixture()
def eeg_raw(eeg_events):
    """40 s of 15-channel EEG (colin27 10-20 positions) plus one EOG channel, in volts.

    Pink-ish noise, 50 Hz line noise, a slow drift and an evoked response after each onset.
    """
    rng = np.random.default_rng(0)
    n_times = int(40 * SFREQ)
    times = np.arange(n_times) / SFREQ
    data = np.cumsum(rng.normal(scale=2e-6, size=(len(EEG_CHANNELS) + 1, n_times)), axis=1)
    data -= data.mean(axis=1, keepdims=True)
    data += rng.normal(scale=5e-6, size=data.shape)
    data += 20e-6 * np.sin(2 * np.pi * LINE * times) + 30e-6 * np.sin(2 * np.pi * 0.05 * times)
    for onset in eeg_events.onset:
        lag = times - onset
        data[:-1] += 8e-6 * np.exp(-((lag - 0.17) ** 2) / (2 * 0.03**2))
    info = mne.create_info(EEG_CHANNELS + ["EOG"], SFREQ, ["eeg"] * len(EEG_CHANNELS) + ["eog"])
    raw = mne.io.RawArray(data, info, verbose=False)
    raw.set_montage(mne.channels.make_standard_montage("colin27_1020"), verbose=False)
    return raw
