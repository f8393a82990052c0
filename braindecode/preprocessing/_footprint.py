"""What reading a recording, raw or preprocessed, will hold in memory, known from its header alone.

:func:`footprint` takes what a reader found in the header (``RecordingMeta.to_dict()``: modality,
shape, sampling rate, channel types), the preprocessing spec and the number of events, and gives
the shape of the result and the most bytes held at once on the way, before anything is read. A
server compares that with its per-request bound, so that a request for more than the bound (a
resampling to 10 MHz, epochs of five minutes around 40,000 events, a 2 GiB image) is refused
before it allocates.

The estimate counts the arrays each step keeps alive together, as the steps make them (MNE reads
EEG/MEG as float64, nibabel's bytes and float32 data of an image, the float64 copies of
``clean``, the (n_scans, n_trials) designs of the trial steps); tests check it against the peak
that numpy allocates on real recordings.
"""

from __future__ import annotations

import dataclasses
import math

from braindecode.errors import InvalidArgument
from braindecode.preprocessing._spec import EEGSpec, preprocessing_spec

_F32, _F64 = 4, 8
_FILE_ITEM = 8  # widest NIfTI/GIfTI item a file may hold, read into memory with the image
_BUFFERS = 8 * 2**20  # what reading takes whatever the size: gzip chunks, zlib's window, headers
_MEG = {"mag", "grad"}


@dataclasses.dataclass(frozen=True)
class Footprint:
    """The result of reading a recording, and the memory that reading it takes.

    Attributes
    ----------
    shape : tuple of int
        Shape of the result: the raw array, the preprocessed time series, or the per-trial
        responses (n_trials, ...).
    dtype : str
        Its dtype: "float32", or "float64" for EEG/MEG read raw.
    peak_bytes : int
        Most bytes held at once while making it, the result included (an upper estimate).
    """

    shape: tuple
    dtype: str
    peak_bytes: int

    @property
    def result_bytes(self) -> int:
        """Bytes of the result."""
        return math.prod(self.shape) * (_F64 if self.dtype == "float64" else _F32)

    def describe(self) -> str:
        """E.g. "a float32 result of shape (8, 2000)"."""
        return f"a {self.dtype} result of shape {tuple(self.shape)}"


def footprint(meta: dict, spec=None, n_events: int = 0) -> Footprint:
    """The :class:`Footprint` of reading a recording described by ``meta``, raw or with ``spec``.

    Parameters
    ----------
    meta : dict
        The header's metadata (``RecordingMeta.to_dict()``): ``modality``, ``shape`` ((x, y, z, t),
        (n_channels, n_times) or (n_vertices, n_timepoints)), ``sampling_rate`` and
        ``ch_types`` for EEG/MEG.
    spec : dict, EEGSpec or FMRISpec, optional
        The preprocessing (see :func:`~braindecode.preprocessing.preprocess`); None reads the
        raw array.
    n_events : int
        The recording's events (the trials of an ``epochs`` or ``trials`` step).

    Returns
    -------
    footprint : Footprint

    Raises
    ------
    InvalidArgument
        A spec that is not valid, or that is of another modality than the recording.
    """
    shape = tuple(int(n) for n in meta["shape"])
    n_values = math.prod(shape)
    eeg = meta["modality"] in ("eeg", "meg")
    if spec is None:
        if eeg:  # MNE's float64 array, and its copy on the wire
            return Footprint(shape, "float64", _BUFFERS + 2 * _F64 * n_values)
        return Footprint(shape, "float32", _BUFFERS + (_FILE_ITEM + _F32) * n_values)
    spec = preprocessing_spec(spec)
    if isinstance(spec, EEGSpec) != eeg:
        raise InvalidArgument(f"a preprocessing spec of modality {spec.modality} cannot preprocess a "
                              f"{meta['modality']} recording")
    made = _eeg(meta, shape, spec, n_events) if eeg else _fmri(meta, shape, spec, n_events)
    return dataclasses.replace(made, peak_bytes=_BUFFERS + made.peak_bytes)


def _picked_channels(meta: dict, spec: EEGSpec) -> int:
    types = meta.get("ch_types") or []
    if not types:
        return int(meta["shape"][0])
    wanted = set(spec.channel_types) | (_MEG if "meg" in spec.channel_types else set())
    return sum(kind in wanted for kind in types)


def _eeg(meta: dict, shape: tuple, spec: EEGSpec, n_events: int) -> Footprint:
    """MNE loads every channel as float64, copies the picked ones, filters in place with a copy's
    worth of work space, resamples into a new array; epochs hold three float64 copies of the
    trials (MNE's, ``get_data``'s, the trials' order) beside the float32 responses, a continuous
    result a float64 copy and the float32 result."""
    n_all = math.prod(shape)
    n_channels, n_times = _picked_channels(meta, spec), shape[1]
    sfreq = float(meta.get("sampling_rate") or 1.0)
    new_sfreq = sfreq if spec.resample is None else float(spec.resample)
    n_new = max(1, round(n_times * new_sfreq / sfreq))
    continuous = _F64 * n_all + 2 * _F64 * n_channels * n_times
    if spec.epochs is None:
        return Footprint((n_channels, n_new), "float32",
                         continuous + (_F64 + _F64 + _F32) * n_channels * n_new)
    n_samples = max(1, round(spec.epochs.tmax * new_sfreq) - round(spec.epochs.tmin * new_sfreq) + 1)
    trials = n_events * n_channels * n_samples
    return Footprint((n_events, n_channels, n_samples), "float32",
                     continuous + _F64 * n_channels * n_new + 4 * _F64 * trials)


def _fmri(meta: dict, shape: tuple, spec, n_events: int) -> Footprint:
    """The image's bytes and float32 data, the masked float32 signals, ``clean``'s float64 copy with
    as much work space (three more for a Butterworth filter's padded passes), its cosine drifts
    (three (n_scans, n_cosines) float64 arrays) and the float32 result; the trial step's
    (n_scans, n_trials) designs (a dozen float64 arrays for LSS, the window method's lags,
    selection and weights) and its responses."""
    n_scans = shape[-1]
    n_voxels = math.prod(shape[:-1])
    n_values = n_voxels * n_scans
    cleaning = 2 * _F64
    n_cosines = 0
    if spec.high_pass is not None and spec.filter == "butterworth":
        cleaning += 3 * _F64
    elif spec.high_pass is not None:
        t_r = float(spec.t_r or meta.get("tr") or 1.0)
        n_cosines = min(n_scans, math.floor(2 * n_scans * spec.high_pass * t_r))
    peak = (_FILE_ITEM + _F32 + _F32 + cleaning + _F32) * n_values + 3 * _F64 * n_scans * n_cosines
    if spec.trials is None:
        return Footprint((n_scans, n_voxels), "float32", peak)
    design = (12 * _F64 if spec.trials.method == "lss" else 2 * _F64) * n_scans * n_events
    return Footprint((n_events, n_voxels), "float32", peak + design + 2 * _F32 * n_events * n_voxels)
