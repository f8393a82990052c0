"""Benchmark: read_recording(...).data() against nibabel and MNE reading the same file.

read_recording stages the file, checks its header, inflates gzip/zip within limits, scans for
a finite value and then reads with nibabel or MNE, so it costs more than the bare library
call; this measures how much. Files: a synthetic 64 x 64 x 40 x 150 int16 NIfTI (plain and
gzip), nibabel's example4d.nii.gz, pyedflib's test_generator.edf, and 64-channel, 60 s, 1 kHz
EEG (colin27_1020 montage) written by mne.export as BrainVision (zipped for us) and EEGLAB.

The floor is reading the file's bytes from disk, inflated where the file is compressed
(gzip, zip), timed in the same run: what no reader avoids.

Usage: python benchmarks/bench_readers.py [--repeats 3] [--quick]
Ours, the library and the floor alternate, ``--repeats`` rounds, best kept. Prints
``ratio <what>: <peer_time/our_time>x`` lines (below 1: we are slower) and
``limit <what>: <our_time/floor_time>x`` lines; every time carries the load average and CPU steal.
"""

from __future__ import annotations

import argparse
import gzip
import pathlib
import tempfile
import zipfile

import mne
import nibabel
import numpy as np
import pyedflib
from _measure import alternate, describe_machine

from braindecode.recordings._readers import read_recording


def _floor(path: pathlib.Path):
    """Read the file's bytes, inflating gzip and zip."""
    def run():
        if path.suffix == ".gz":
            with gzip.open(path) as stream:
                return len(stream.read())
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                return sum(len(archive.read(name)) for name in archive.namelist())
        return len(path.read_bytes())
    return run


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
    parser.add_argument("--quick", action="store_true", help="2 rounds")
    args = parser.parse_args()
    if args.quick:
        args.repeats = min(args.repeats, 2)
    print(f"machine: {describe_machine()}")
    with tempfile.TemporaryDirectory() as folder:
        for label, path, peer in _files(pathlib.Path(folder)):
            runs = {"ours": _ours(path), "library": peer, "floor": _floor(path)}
            for run in runs.values():
                run()  # warm-up: imports, MNE's first-call costs, the page cache
            ours, theirs, floor = alternate(runs, args.repeats, f"{label} ").values()
            print(f"ratio {label}: {theirs.seconds / ours.seconds:.2f}x")
            print(f"limit {label}: {ours.seconds / floor.seconds:.2f}x")


if __name__ == "__main__":
    main()
