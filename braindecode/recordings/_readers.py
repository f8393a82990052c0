"""``read_recording``: one entry point that recognises, checks and opens a recording file."""

from __future__ import annotations

import dataclasses
import gzip
import pathlib
import zipfile

from braindecode.errors import InvalidArgument, quoted
from braindecode.recordings._gifti import read_gifti
from braindecode.recordings._limits import ReadLimits
from braindecode.recordings._mne_readers import read_brainvision, read_edf, read_eeglab, read_fif
from braindecode.recordings._nifti import read_nifti
from braindecode.recordings._recording import LoadedRecording, Source, library_errors
from braindecode.recordings._sniff import (
    FIF_MAGIC,
    FORMAT_MODALITIES,
    FORMATS,
    GZIP_MAGIC,
    ZIP_MAGICS,
    format_of_members,
    is_nifti,
    plain_format,
)
from braindecode.recordings._workspace import Workspace

_HEAD_BYTES = 65536
_READERS = {
    "nifti": read_nifti,
    "gifti": read_gifti,
    "fif": read_fif,
    "edf": lambda source: read_edf(source, "edf"),
    "bdf": lambda source: read_edf(source, "bdf"),
    "brainvision": read_brainvision,
    "eeglab": read_eeglab,
}


def read_recording(path, format: str | None = None, modality: str | None = None, *,
                   limits: ReadLimits | None = None, name: str | None = None,
                   work_dir=None) -> LoadedRecording:
    """Recognise, validate and open a recording file.

    The format comes from the content (magic bytes, headers, zip members), never from the
    file name. NIfTI and GIfTI are read with nibabel; FIF, EDF, BDF, BrainVision (its .vhdr,
    .vmrk and .eeg sent as one .zip) and EEGLAB (a .set with embedded data, or a .zip of the
    .set and its .fdt) with MNE. The file is staged into a private folder in ``work_dir``
    that lives as long as the returned recording. Every size the header declares is checked
    against ``limits`` before anything is unpacked or allocated.

    Parameters
    ----------
    path : path-like
        The file.
    format : str, optional
        The declared format, one of ``FORMATS``; it must match the content.
    modality : str, optional
        The declared modality ("fmri", "eeg", "meg", "surface"); it must fit the file.
    limits : ReadLimits, optional
        Bounds on sizes; ``ReadLimits()`` by default.
    name : str, optional
        The file name that error messages cite (an upload's original name); defaults to the
        name of ``path``.
    work_dir : path-like, optional
        Where the private folder is made (a server gives its store's ``tmp``); the system's
        temporary folder by default.

    Returns
    -------
    recording : LoadedRecording
        ``meta`` is known; ``data()``, ``to_raw()`` and ``to_image()`` read on demand.

    Raises
    ------
    InvalidArgument
        Unrecognised, corrupt, truncated or inconsistent files, a declared format or modality
        that does not match, all-NaN data, unsafe zip members.
    ResourceExhausted
        A file past one of ``limits``: a gzip or zip bomb, a zip with too many members, a header
        declaring more values than ``max_voxels`` or ``max_samples``, or more bytes than
        ``max_expansion`` times the file.
    """
    path = pathlib.Path(path)
    name = name or path.name
    limits = limits or ReadLimits()
    workspace = Workspace(work_dir)
    try:
        with library_errors(name, {path: name, workspace.path: ""}):
            fmt, packed = detect_format(path)
            _check_declared(fmt, format, modality)
            recording = _READERS[fmt](Source(path, name, packed, workspace, limits))
            if modality:
                recording.meta = _declared_modality(recording.meta, modality.strip().lower())
    except BaseException:
        workspace.close()
        raise
    return recording


def detect_format(path) -> tuple:
    """(format, packing) of a file from its content; packing is "gzip", "zip" or None."""
    with open(path, "rb") as f:
        head = f.read(_HEAD_BYTES)
    if not head:
        raise InvalidArgument("the file is empty")
    if head.startswith(GZIP_MAGIC):
        return _gzip_format(path), "gzip"
    if head.startswith(ZIP_MAGICS):
        return _zip_format(path), "zip"
    fmt = plain_format(head)
    if fmt is None:
        raise InvalidArgument("unrecognised content: not NIfTI, GIfTI, FIF, EDF, BDF, EEGLAB, "
                              "or a zip of BrainVision or EEGLAB files")
    return fmt, None


def _gzip_format(path) -> str:
    try:
        with gzip.open(path, "rb") as f:
            inner = f.read(len(FIF_MAGIC))
    except (OSError, EOFError) as exc:
        raise InvalidArgument(f"corrupt or truncated gzip data ({exc})") from exc
    if is_nifti(inner):
        return "nifti"
    if inner.startswith(FIF_MAGIC):
        return "fif"
    raise InvalidArgument("the gzip data hold neither a NIfTI image nor a FIF file")


def _zip_format(path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InvalidArgument(f"corrupt zip archive ({exc})") from exc
    fmt = format_of_members(names)
    if fmt is None:
        raise InvalidArgument(
            "the zip must hold the files of one BrainVision (.vhdr, .vmrk, .eeg) or one EEGLAB "
            f"(.set, .fdt) recording; it holds {', '.join(map(quoted, names[:8])) or 'nothing'}")
    return fmt


def _check_declared(fmt: str, declared_format: str | None, declared_modality: str | None) -> None:
    if declared_format:
        declared = declared_format.strip().lower()
        if declared not in FORMATS:
            raise InvalidArgument(f"unknown format {quoted(declared_format)}; expected one of "
                                  f"{', '.join(FORMATS)}")
        if declared != fmt:
            raise InvalidArgument(f"declared format {declared} but the file is {fmt}")
    if declared_modality:
        declared = declared_modality.strip().lower()
        known = sorted({m for ms in FORMAT_MODALITIES.values() for m in ms})
        if declared not in known:
            raise InvalidArgument(f"unknown modality {quoted(declared_modality)}; expected one of "
                                  f"{', '.join(known)}")
        if declared not in FORMAT_MODALITIES[fmt]:
            raise InvalidArgument(f"declared modality {declared} does not fit a {fmt} file, "
                                  f"which holds {' or '.join(FORMAT_MODALITIES[fmt])}")


def _declared_modality(meta, declared: str):
    """``meta`` with the declared modality, when the channels allow it (FIF: EEG + MEG)."""
    if declared == meta.modality:
        return meta
    if declared == "eeg" and "eeg" in (meta.ch_types or ()):
        return dataclasses.replace(meta, modality="eeg")
    raise InvalidArgument(f"declared modality {declared} but the file holds {meta.modality} data")

