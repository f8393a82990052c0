"""Benchmark: read_recording(...).data() against nibabel and MNE reading the same file.

read_recording stages the file, checks its header, inflates gzip/zip within limits, scans for
a finite value and then reads with nibabel or MNE, so it costs more than the bare library
call; this measures how much. Files: a synthetic 64 x 64 x 40 x 150 int16 NIfTI (plain and
gzip), nibabel's example4d.nii.gz, pyedflib's test_generator.edf, and 64-channel, 60 s, 1 kHz
EEG (colin27_1020 montage) written by mne.export as BrainVision (zipped for us) and EEGLAB.

Usage: python benchmarks/bench_readers.py [--repeats 3]
Prints ``ratio <what>: <peer_time/our_time>x`` lines (below 1: we are slower).
"""

from __future__ import annotations

import argparse
import pathlib
import tempfile
import time
import zipfile

import mne
import nibabel
import numpy as np
import pyedflib

from braindecode.recordings._readers import read_recording

def _best(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def _ours(path):
    def run():
        with read_recording(path) as recording:
            recording.data()
    return run


def _files(folder: pathlib.Path) -> list:
    """[(label, our file, peer reader)] written into ``folder``."""
    rng = np.random.default_rng(0)
    volume = rng.integers(0, 2000, (64, 64, 40, 150), dtype=np.int16)
    image = nibabel.Nifti1Image(volume, np.eye(4))
    image.header.set_zooms((3.0, 3.0, 3.0, 2.0))
    files = []
    for suffix in (".nii", ".nii.gz"):
        path = folder / f"synthetic{suffix}"
        nibabel.save(image, path)
        files.append((f"nifti {path.name} (49 MB of int16)", path,
                      lambda p=path: nibabel.load(p).get_fdata(dtype=np.float32)))
    example = pathlib.Path(nibabel.__file__).parent / "tests" / "data" / "example4d.nii.gz"
    files.append(("nifti example4d.nii.gz", example,
                  lambda: nibabel.load(example).get_fdata(dtype=np.float32)))
    edf = pathlib.Path(pyedflib.__file__).parent / "tests" / "data" / "test_generator.edf"
    files.append(("edf test_generator.edf", edf,
                  lambda: mne.io.read_raw_edf(edf, preload=True, verbose="error").get_data()))
    montage = mne.channels.make_standard_montage("colin27_1020")
    info = mne.create_info(montage.ch_names[:64], 1000.0, "eeg")
    raw = mne.io.RawArray(rng.standard_normal((64, 60_000)) * 1e-5, info, verbose="error")
    raw.set_montage(montage)
    vhdr = folder / "eeg.vhdr"
    mne.export.export_raw(vhdr, raw, verbose="error")
    bundle = folder / "eeg.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
        for suffix in (".vhdr", ".vmrk", ".eeg"):
            archive.write(vhdr.with_suffix(suffix), arcname=f"eeg{suffix}")
    files.append(("brainvision 64 ch x 60 s (zip)", bundle, lambda: mne.io.read_raw_brainvision(
        vhdr, preload=True, verbose="error").get_data()))
    eeglab = folder / "eeg.set"
    mne.export.export_raw(eeglab, raw, verbose="error")
    files.append(("eeglab 64 ch x 60 s", eeglab,
                  lambda: mne.io.read_raw_eeglab(eeglab, preload=True, verbose="error").get_data()))
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for label, path, peer in _files(pathlib.Path(folder)):
            _ours(path)()  # warm-up: imports, MNE's first-call costs
            peer()
            ours = _best(_ours(path), args.repeats)
            theirs = _best(peer, args.repeats)
            print(f"{label}: read_recording {ours * 1e3:.1f} ms, library {theirs * 1e3:.1f} ms")
            print(f"ratio {label}: {theirs / ours:.2f}x")


if __name__ == "__main__":
    main()
