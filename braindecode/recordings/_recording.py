"""A validated recording: its metadata now, its data read from file on demand."""

from __future__ import annotations

import contextlib
import math
import pathlib
from dataclasses import asdict, dataclass

import numpy as np

from braindecode.errors import BraindecodeError, InvalidArgument, ResourceExhausted
from braindecode.recordings._limits import ReadLimits
from braindecode.recordings._workspace import Workspace

_REASON_CHARS = 300  # most characters of a library's error message passed on


@dataclass(frozen=True)
class RecordingMeta:
    """What a recording is, known without reading its data.

    Parameters
    ----------
    modality : str
        "fmri", "eeg", "meg" or "surface".
    format : str
        One of ``FORMATS``.
    shape : tuple of int
        Shape of ``LoadedRecording.data()``: (x, y, z, t) for fMRI, (n_channels, n_times) for
        EEG/MEG, (n_vertices, n_timepoints) for GIfTI.
    sampling_rate : float or None
        Samples per second (EEG/MEG).
    tr : float or None
        Repetition time in seconds (fMRI).
    ch_names, ch_types : tuple of str or None
        Channel names and MNE channel types (EEG/MEG).
    voxel_size : tuple of float or None
        Voxel edge lengths in mm (fMRI).
    affine : array of shape (4, 4) or None
        Voxel to world (mm) transform (fMRI).
    duration : float or None
        Length of the recording in seconds, where the time step is known.
    """

    modality: str
    format: str
    shape: tuple
    sampling_rate: float | None = None
    tr: float | None = None
    ch_names: tuple | None = None
    ch_types: tuple | None = None
    voxel_size: tuple | None = None
    affine: np.ndarray | None = None
    duration: float | None = None

    def to_dict(self) -> dict:
        """The metadata as plain JSON-ready values (lists, floats, strings, None)."""
        out = asdict(self)
        for key in ("shape", "ch_names", "ch_types", "voxel_size"):
            if out[key] is not None:
                out[key] = list(out[key])
        if self.affine is not None:
            out["affine"] = np.asarray(self.affine, dtype=float).tolist()
        return out


@dataclass(frozen=True)
class Source:
    """A file being read.

    Parameters
    ----------
    path : pathlib.Path
        Where the file is.
    name : str
        The name that error messages cite.
    packed : str or None
        "gzip" or "zip" when the recording is inside one, else None.
    workspace : Workspace
        The private folder for its staged, inflated or unpacked copies.
    limits : ReadLimits
        Bounds on what it may make the reader allocate.
    """

    path: pathlib.Path
    name: str
    packed: str | None
    workspace: Workspace
    limits: ReadLimits


class LoadedRecording:
    """A recording that passed validation.

    Parameters
    ----------
    meta : RecordingMeta
        Its metadata.
    source : Source
        The file it was read from; its workspace lives as long as the recording.
    read_data : callable
        Returns the array described by ``meta.shape``.
    make_raw, make_image : callable, optional
        Return an in-memory ``mne.io.Raw`` (EEG/MEG) or nibabel image (NIfTI, GIfTI).
    """

    def __init__(self, meta: RecordingMeta, source: Source, read_data, make_raw=None,
                 make_image=None):
        self.meta, self.name = meta, source.name
        self._read_data, self._make_raw, self._make_image = read_data, make_raw, make_image
        self._workspace = source.workspace

    def __repr__(self) -> str:
        meta = self.meta
        return f"<LoadedRecording {self.name!r} {meta.format} {meta.modality} {meta.shape}>"

    def meta_dict(self) -> dict:
        """``meta`` as a JSON-ready dict."""
        return self.meta.to_dict()

    def data(self) -> np.ndarray:
        """The recording's values, read from file on every call.

        Returns
        -------
        data : array
            fMRI: float32 of shape (x, y, z, t); EEG/MEG: float64 of shape
            (n_channels, n_times) in SI units, as MNE gives; GIfTI: float32 of shape
            (n_vertices, n_timepoints).
        """
        with library_errors(self.name, {self._workspace.path: ""}):
            return self._read_data()

    def to_raw(self):
        """An ``mne.io.Raw`` with the data loaded in memory (EEG/MEG only)."""
        if self._make_raw is None:
            raise InvalidArgument(f"{self.name}: to_raw() needs EEG/MEG; this is "
                                  f"{self.meta.modality}")
        with library_errors(self.name, {self._workspace.path: ""}):
            return self._make_raw()

    def to_image(self):
        """The nibabel image, held in memory (NIfTI and GIfTI only)."""
        if self._make_image is None:
            raise InvalidArgument(f"{self.name}: to_image() needs NIfTI or GIfTI; this is "
                                  f"{self.meta.format}")
        with library_errors(self.name, {self._workspace.path: ""}):
            return self._make_image()

    def close(self) -> None:
        """Remove the private copies of the file; ``data()`` fails afterwards."""
        self._workspace.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


@contextlib.contextmanager
def library_errors(name: str, hide: dict):
    """Re-raise every error as a BraindecodeError whose message starts with ``name``.

    Library exceptions (nibabel, MNE, scipy, zipfile, ...) become InvalidArgument with the
    library's reason, cut to ``_REASON_CHARS`` (it may quote the file); MemoryError becomes
    ResourceExhausted. Each path in ``hide`` is replaced in the messages by its value, so that
    no server path reaches a client.
    """
    try:
        yield
    except BraindecodeError as exc:
        raise type(exc)(f"{name}: {_scrub(str(exc), hide)}") from exc
    except MemoryError as exc:
        raise ResourceExhausted(f"{name}: not enough memory to read the file") from exc
    except Exception as exc:  # noqa: BLE001 - any library failure is a bad file, never a crash
        reason = _scrub(f"{type(exc).__name__}: {exc}", hide)
        if len(reason) > _REASON_CHARS:
            reason = f"{reason[:_REASON_CHARS]}..."
        raise InvalidArgument(f"{name}: cannot read the file ({reason})") from exc


def _scrub(message: str, hide: dict) -> str:
    for secret, shown in hide.items():
        message = message.replace(f"{secret}/", f"{shown}/" if shown else "")
        message = message.replace(str(secret), shown)
    return message


def checked_rate(value, what: str) -> float:
    """``value`` as a float when finite and positive, else InvalidArgument naming ``what``."""
    rate = float(value)
    if not math.isfinite(rate) or rate <= 0:
        raise InvalidArgument(f"{what} is {rate:g}; it must be finite and positive")
    return rate


def has_finite(read, length: int, first: int, most: int) -> bool:
    """Whether any value is finite, reading ``read(start, stop)`` blocks along an axis of
    ``length``: ``first`` items, then twice as many each time, up to ``most`` per block."""
    start, step = 0, max(1, first)
    while start < length:
        if np.isfinite(read(start, min(start + step, length))).any():
            return True
        start, step = start + step, min(step * 2, max(1, most))
    return False
