"""BIDS datasets of real files for the tests: EEG written by ``mne_bids.write_raw_bids``, fMRI laid out
from NIfTI files that nitime and nibabel ship, and the official validator run on a folder."""

import json
import pathlib
import shutil
import subprocess
import sys

import mne
import mne_bids
import mne_bids.config
import nibabel
import numpy as np
import real_files
from PIL import Image

EEG_FORMATS = ("BrainVision", "EDF", "BDF", "EEGLAB")
#: Two images shown alternately: (onset s, duration, stim_file, trial_type) per event.
FMRI_EVENTS = [(4.0 + 6.0 * i, "2.0" if i else "n/a", f"image-{i % 2}.png", "face" if i % 2 else "house")
               for i in range(6)]
#: The fMRI runs: (subject, run, real file); their headers' TRs are 1.35 s (nitime) and 2 s (nibabel).
FMRI_RUNS = (("01", "1", real_files.FMRI1), ("01", "2", real_files.NITIME_DATA / "fmri2.nii.gz"),
             ("02", "1", real_files.FUNCTIONAL))


def _description(root: pathlib.Path, name: str) -> None:
    (root / "dataset_description.json").write_text(json.dumps(
        {"Name": name, "BIDSVersion": mne_bids.config.BIDS_VERSION, "DatasetType": "raw",
         "Authors": ["braindecode tests"], "License": "CC0"}, indent=2))
    (root / "README").write_text(f"{name}: written by the braindecode tests from files that PyPI packages ship.\n")


def write_eeg_bids(root, subjects=("01",), formats=EEG_FORMATS) -> pathlib.Path:
    """One run per format and subject of ``real_files.make_raw`` (8 channels, 10 s), written by
    ``mne_bids.write_raw_bids`` with its events ("cat" and "dog" stimuli)."""
    root = pathlib.Path(root)
    for s, subject in enumerate(subjects):
        for run, fmt in enumerate(formats, 1):
            raw = real_files.make_raw(seconds=10, seed=10 * s + run)
            raw.set_annotations(mne.Annotations([1.0, 3.5, 6.0], [0.5, 0.5, 0.5], ["cat", "dog", "cat"]))
            path = mne_bids.BIDSPath(subject=subject, task="images", run=run, datatype="eeg", root=root)
            mne_bids.write_raw_bids(raw, path, format=fmt, allow_preload=True, overwrite=True, verbose="error")
    _description(root, "braindecode EEG test data")
    return root


def write_meg_bids(root, subjects=("01",)) -> pathlib.Path:
    """One FIF run per subject of random magnetometer data (6 channels, 10 s at 200 Hz), written by
    ``mne_bids.write_raw_bids`` in ``meg/`` with its events ("cat" and "dog" stimuli)."""
    root = pathlib.Path(root)
    for s, subject in enumerate(subjects):
        info = mne.create_info([f"MEG{i:03d}" for i in range(6)], 200.0, "mag")
        data = np.random.default_rng(s).standard_normal((6, 2000)) * 1e-13  # tesla
        raw = mne.io.RawArray(data, info, verbose="error")
        raw.info["line_freq"] = 50
        raw.set_annotations(mne.Annotations([1.0, 3.5, 6.0], [0.5, 0.5, 0.5], ["cat", "dog", "cat"]))
        path = mne_bids.BIDSPath(subject=subject, task="images", datatype="meg", root=root)
        mne_bids.write_raw_bids(raw, path, format="FIF", allow_preload=True, overwrite=True, verbose="error")
    _description(root, "braindecode MEG test data")
    return root


def write_fmri_bids(root) -> pathlib.Path:
    """``FMRI_RUNS`` as ``func/*_bold.nii.gz`` with ``FMRI_EVENTS`` (their images in ``stimuli/``); the
    repetition time of subject 01 comes from the dataset's top-level sidecar, subject 02's from its own
    (inheritance)."""
    root = pathlib.Path(root)
    for subject, run, source in FMRI_RUNS:
        func = root / f"sub-{subject}" / "func"
        func.mkdir(parents=True, exist_ok=True)
        stem = f"sub-{subject}_task-images_run-{run}"
        if source.suffix == ".nii":
            nibabel.save(nibabel.load(source), func / f"{stem}_bold.nii.gz")
        else:
            shutil.copyfile(source, func / f"{stem}_bold.nii.gz")
        lines = ["onset\tduration\tstim_file\ttrial_type"]
        lines += [f"{onset}\t{duration}\t{stim}\t{kind}" for onset, duration, stim, kind in FMRI_EVENTS]
        (func / f"{stem}_events.tsv").write_text("\n".join(lines) + "\n")
    (root / "stimuli").mkdir(exist_ok=True)
    for value, name in enumerate(sorted({stim for _, _, stim, _ in FMRI_EVENTS})):
        Image.new("L", (8, 8), 80 * value).save(root / "stimuli" / name)
    (root / "task-images_bold.json").write_text(json.dumps({"TaskName": "images", "RepetitionTime": 1.35}))
    (root / "sub-02" / "sub-02_task-images_bold.json").write_text(json.dumps({"RepetitionTime": 2.0}))
    _description(root, "braindecode fMRI test data")
    return root


def validate(root) -> list:
    """The errors of the official BIDS validator (``bids-validator-deno``, offline) on ``root``."""
    validator = pathlib.Path(sys.executable).with_name("bids-validator-deno")
    done = subprocess.run([str(validator), str(root), "--format", "json"], capture_output=True, text=True,
                          timeout=300)
    try:
        issues = json.loads(done.stdout)["issues"]["issues"]
    except (json.JSONDecodeError, KeyError):
        raise AssertionError(f"the validator gave no report (exit {done.returncode}):\n{done.stderr[-2000:]}") from None
    return [f"{i['code']} {i.get('location', '')} {i.get('issueMessage', '')[:200]}"
            for i in issues if i["severity"] == "error"]
