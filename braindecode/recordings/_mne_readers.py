"""FIF, EDF, BDF, BrainVision and EEGLAB recordings via MNE.

Every file is read from the recording's private workspace. Headers can name other files
(FIF split files, the BrainVision data and marker files, the EEGLAB .fdt), which MNE joins to
the header's folder and would open wherever they point: FIF references are refused, the
BrainVision files are the zip's own members whatever the .vhdr says, the .fdt must be a plain
name, and no reader may end up with a file outside the workspace.
"""

from __future__ import annotations

import configparser
import os
import pathlib
import posixpath

import mne
import numpy as np
import scipy.io

from braindecode.errors import InvalidArgument, quoted
from braindecode.recordings._edf import MNE_ITEMSIZE, check_edf_header
from braindecode.recordings._fif import check_fif_tags
from braindecode.recordings._matfile import check_mat_file
from braindecode.recordings._recording import (
    LoadedRecording,
    RecordingMeta,
    Source,
    checked_rate,
    has_finite,
)
from braindecode.recordings._sniff import MAT73_MAGIC, is_archive_junk

_MEG_TYPES = {"mag", "grad", "ref_meg"}
_SCAN_VALUES = 2**22  # values per block when looking for a finite value


def read_fif(source: Source) -> LoadedRecording:
    """A single-file raw FIF (.fif, or .fif.gz when ``source.packed`` is "gzip")."""
    if source.packed == "gzip":
        path = source.workspace.gunzip(source.path, "recording_raw.fif", *_unpack_budget(source))
    else:
        path = source.workspace.stage(source.path, "recording_raw.fif")
    check_fif_tags(path)
    raw = mne.io.read_raw_fif(path, preload=False, verbose="error")
    types = set(raw.get_channel_types())
    modality = "meg" if types & _MEG_TYPES else "eeg" if "eeg" in types else None
    if modality is None:
        raise InvalidArgument(f"FIF holds no MEG or EEG channels (channel types: "
                              f"{', '.join(sorted(types))})")
    return _loaded(raw, source, "fif", modality)


def read_edf(source: Source, fmt: str) -> LoadedRecording:
    """An EDF/EDF+ (``fmt`` "edf") or BDF (``fmt`` "bdf") file."""
    path = source.workspace.stage(source.path, f"recording.{fmt}")
    check_edf_header(path, fmt, source.limits)
    reader = mne.io.read_raw_edf if fmt == "edf" else mne.io.read_raw_bdf
    # integer samples scaled by the finite ranges checked above: no NaN scan needed
    return _loaded(reader(path, preload=False, verbose="error"), source, fmt, "eeg", scan=False)


def read_brainvision(source: Source) -> LoadedRecording:
    """A zip of the BrainVision .vhdr, .vmrk and .eeg files.

    The data and marker files are the zip's .eeg and .vmrk, whatever the .vhdr calls them.
    """
    root, files = _unzip(source)
    vhdr = _only_member(files, ".vhdr", "BrainVision header")
    eeg = _only_member(files, ".eeg", "BrainVision data file")
    vmrk = _only_member(files, ".vmrk", "BrainVision marker file")
    _check_vhdr(root / vhdr, source.limits)
    raw = mne.io.read_raw_brainvision(
        root / vhdr, preload=False, verbose="error",
        overrides={"data_fname": root / eeg, "marker_fname": root / vmrk})
    return _loaded(raw, source, "brainvision", "eeg")


def read_eeglab(source: Source) -> LoadedRecording:
    """An EEGLAB .set with its data embedded, or a zip of the .set and its .fdt."""
    if source.packed == "zip":
        root, files = _unzip(source)
        set_path = root / _only_member(files, ".set", "EEGLAB .set")
    else:
        set_path = source.workspace.stage(source.path, "recording.set")
    with open(set_path, "rb") as f:
        if f.read(len(MAT73_MAGIC)) == MAT73_MAGIC:
            raise InvalidArgument("the .set is a MATLAB v7.3 (HDF5) file, which cannot be read; "
                                  "save it as MATLAB v7 (EEGLAB's default)")
    check_mat_file(set_path, *_unpack_budget(source))
    data_file = _eeglab_header(set_path, source.limits)
    if data_file is not None:
        plain = posixpath.basename(data_file.replace("\\", "/"))
        if data_file != plain or data_file in ("", ".", ".."):
            raise InvalidArgument(f"the .set names its data file as {quoted(data_file)}; it must be a "
                                  "plain file name")
        candidates = (set_path.parent / data_file, set_path.with_suffix(".fdt"))  # as MNE tries
        if not any(path.is_file() for path in candidates):
            raise InvalidArgument(
                f"the .set keeps its data in {quoted(data_file)} (a separate .fdt) that was not sent; "
                "upload a .zip holding the .set and its .fdt")
    raw = mne.io.read_raw_eeglab(set_path, preload=False, verbose="error")
    _check_inside(raw, source)
    if data_file is not None:
        needed = raw.info["nchan"] * raw.n_times * 4
        held = os.path.getsize(raw.filenames[0])
        if held < needed:
            raise InvalidArgument(f"the .fdt holds {held} bytes but the .set declares "
                                  f"{raw.info['nchan']} channels x {raw.n_times} float32 samples "
                                  f"({needed} bytes)")
    return _loaded(raw, source, "eeglab", "eeg")


def _check_inside(raw, source: Source) -> None:
    """Refuse a recording whose data MNE would read from outside the workspace."""
    root = source.workspace.path.resolve()
    for name in raw.filenames:
        if name is not None and root not in pathlib.Path(name).resolve().parents:
            raise InvalidArgument(f"the recording refers to a file outside the upload "
                                  f"({pathlib.Path(name).name})")


def _loaded(raw, source: Source, fmt: str, modality: str, scan: bool = True) -> LoadedRecording:
    """Check what MNE made of the file (``scan``: that some sample is finite) and wrap it."""
    _check_inside(raw, source)
    sfreq = checked_rate(raw.info["sfreq"], "sampling rate")
    n_channels, n_times = int(raw.info["nchan"]), int(raw.n_times)
    if n_channels < 1 or n_times < 1:
        raise InvalidArgument(f"the recording holds {n_channels} channels x {n_times} samples")
    holds = f"the recording holds {n_channels} channels x {n_times} samples:"
    source.limits.check_values(holds, n_channels * n_times, "max_samples")
    source.limits.check_expansion(f"{holds} MNE reads", n_channels * n_times * MNE_ITEMSIZE,
                                  source.path.stat().st_size)
    if scan and not has_finite(lambda start, stop: raw.get_data(start=start, stop=stop),
                               n_times, 1024, _SCAN_VALUES // n_channels):
        raise InvalidArgument("all values are NaN or infinite")
    meta = RecordingMeta(
        modality=modality, format=fmt, shape=(n_channels, n_times), sampling_rate=sfreq,
        ch_names=tuple(raw.ch_names), ch_types=tuple(raw.get_channel_types()),
        duration=n_times / sfreq)
    return LoadedRecording(meta, source, read_data=lambda: raw.get_data(),
                           make_raw=lambda: raw.copy().load_data(verbose="error"))


def _unpack_budget(source: Source) -> tuple:
    """(most bytes, what the bound is) that the packed parts of ``source`` may unpack to."""
    size, limits = source.path.stat().st_size, source.limits
    return (min(limits.max_unpacked_bytes, limits.most_made(size)),
            f"the limit for a file of {size} bytes (max_unpacked_bytes={limits.max_unpacked_bytes}, "
            f"max_expansion={limits.max_expansion:g}, expansion_grace_bytes="
            f"{limits.expansion_grace_bytes})")


def _unzip(source: Source) -> tuple:
    files = source.workspace.unzip(source.path, source.limits)
    return source.workspace.path / "unzipped", [f for f in files if not is_archive_junk(str(f))]


def _only_member(files: list, suffix: str, what: str) -> pathlib.PurePosixPath:
    found = [f for f in files if f.suffix.lower() == suffix]
    if len(found) != 1:
        raise InvalidArgument(f"the zip must hold exactly one {what} ({suffix}); it holds "
                              f"{len(found)}: {', '.join(map(str, found)) or 'none'}")
    return found[0]


def _check_vhdr(vhdr: pathlib.Path, limits) -> None:
    """Channel count and sampling interval as MNE will parse them, checked before MNE
    allocates per channel or divides by the interval."""
    text = vhdr.read_bytes().decode("latin-1").partition("\n")[2].split("[Comment]")[0]
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise InvalidArgument(f"the .vhdr is not a BrainVision header ({exc})") from exc
    section = next((s for s in ("Common Infos", "Common infos") if parser.has_section(s)), None)
    if section is None:
        raise InvalidArgument("the .vhdr has no [Common Infos] section")
    n_channels = _number(parser.get(section, "NumberOfChannels", fallback=""),
                         "BrainVision NumberOfChannels", int)
    if not 1 <= n_channels <= limits.max_channels:
        raise InvalidArgument(f"BrainVision NumberOfChannels is {n_channels}; expected 1 to "
                              f"{limits.max_channels}")
    interval = _number(parser.get(section, "SamplingInterval", fallback=""),
                       "BrainVision SamplingInterval", float)
    checked_rate(interval, "BrainVision SamplingInterval (microseconds)")


def _eeglab_header(set_path: pathlib.Path, limits) -> str | None:
    """Check nbchan and pnts before MNE allocates per channel; returns the .fdt name the .set
    keeps its data in, or None when the data are embedded."""
    classes = {name: cls for name, _, cls in scipy.io.whosmat(set_path)}
    if "data" in classes:  # embedded data are left for MNE; a .fdt name is read
        names = [n for n in ("nbchan", "pnts") if n in classes]
        names += ["data"] if classes["data"] == "char" else []
        fields = scipy.io.loadmat(set_path, variable_names=names, squeeze_me=True)
    elif "EEG" in classes:
        fields = scipy.io.loadmat(set_path, variable_names=["EEG"], simplify_cells=True)["EEG"]
        if not isinstance(fields, dict):
            raise InvalidArgument("the .set's EEG variable is not a struct")
    else:
        raise InvalidArgument("the .set holds no EEG data (no 'data' or 'EEG' variable)")
    n_channels = _number(fields.get("nbchan", 1), "EEGLAB nbchan", int)
    n_times = _number(fields.get("pnts", 1), "EEGLAB pnts", int)
    if not 1 <= n_channels <= limits.max_channels or n_times < 1:
        raise InvalidArgument(f"the .set declares {n_channels} channels x {n_times} samples; "
                              f"expected 1 to {limits.max_channels} channels and 1 sample or more")
    limits.check_values(f"the .set declares {n_channels} channels x {n_times} samples:",
                        n_channels * n_times, "max_samples")
    data = fields.get("data")
    if isinstance(data, str) or (isinstance(data, np.ndarray) and data.dtype.kind == "U"):
        return str(data)
    return None


def _number(value, what: str, kind):
    """``value`` converted by ``kind`` (int or float), or InvalidArgument naming ``what``."""
    try:
        number = float(value if isinstance(value, str) else np.asarray(value).item())
        if kind is int and not number.is_integer():
            raise ValueError
        return kind(number)
    except (ValueError, TypeError, OverflowError):
        raise InvalidArgument(f"{what} is {quoted(value)}, not a number") from None
