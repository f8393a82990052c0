"""Real recording files that installed PyPI packages ship, and EEG written by mne.export."""

import pathlib

import mne
import nibabel
import nitime
import numpy as np
import pyedflib

NIBABEL_DATA = pathlib.Path(nibabel.__file__).parent / "tests" / "data"
NITIME_DATA = pathlib.Path(nitime.__file__).parent / "data"
PYEDFLIB_DATA = pathlib.Path(pyedflib.__file__).parent / "tests" / "data"

EXAMPLE4D = NIBABEL_DATA / "example4d.nii.gz"
FUNCTIONAL = NIBABEL_DATA / "functional.nii"
FMRI1 = NITIME_DATA / "fmri1.nii.gz"
EDF = PYEDFLIB_DATA / "test_generator.edf"
BDF = PYEDFLIB_DATA / "test_generator.bdf"


def make_raw(n_channels: int = 8, sfreq: float = 256.0, seconds: float = 4.0, seed: int = 0) -> mne.io.RawArray:
    """Random EEG (volts) on the colin27_1020 montage with two annotated stimuli."""
    montage = mne.channels.make_standard_montage("colin27_1020")
    names = ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "O1", "O2", "P3", "P4", "T7", "T8"][:n_channels]
    info = mne.create_info(names, sfreq, "eeg")
    data = np.random.default_rng(seed).standard_normal((n_channels, int(sfreq * seconds))) * 20e-6
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_montage(montage, on_missing="ignore")
    raw.set_annotations(mne.Annotations([0.5, 2.0], [0.1, 0.1], ["stim-a", "stim-b"]))
    return raw


def export_eeg(directory, fmt: str) -> pathlib.Path:
    """Write make_raw() with mne.export as 'edf', 'brainvision' (.vhdr) or 'eeglab' (.set)."""
    suffix = {"edf": ".edf", "brainvision": ".vhdr", "eeglab": ".set"}[fmt]
    path = pathlib.Path(directory) / f"eeg{suffix}"
    mne.export.export_raw(path, make_raw(), fmt=fmt, overwrite=True, verbose="error")
    return path
