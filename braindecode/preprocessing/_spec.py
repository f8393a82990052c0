"""The preprocessing spec: the steps ``preprocess`` runs, as typed documents checked as a whole.

Callers send a JSON-able dict (StreamData, batch jobs and every ``*_from_store`` entry point
do); :func:`preprocessing_spec` turns it into an :class:`EEGSpec` (``modality`` "eeg" or "meg")
or an :class:`FMRISpec` ("fmri") and raises one InvalidArgument that lists every problem. A step
runs only when its key is present and not null; a default is the one of the function that runs
the step. Example::

    {"modality": "eeg", "l_freq": 1, "h_freq": 40, "notch": 50, "resample": 100,
     "epochs": {"tmin": -0.1, "tmax": 0.6, "baseline": [null, 0]}, "reject": {"eeg": 150e-6}}

:func:`preprocessing_reference` lists every key.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
)

from braindecode._schema import (
    INVALID,
    Checked,
    Expect,
    Problems,
    check_document,
    markdown_table,
    parameter_default,
    reference,
    valid,
)
from braindecode.preprocessing._checks import check_positive
from braindecode.preprocessing._signal import FILTERS, clean
from braindecode.preprocessing._trials import METHODS, _check_window, trial_responses
from braindecode.preprocessing.eeg import (
    CHANNEL_TYPES,
    _check_band,
    _check_epoch,
    epoch_responses,
)

MODALITIES = ("eeg", "meg", "fmri")


def _as_list(value):
    return [value] if isinstance(value, str) else value


def _channel_types(picks: list) -> list:
    if not picks or any(p not in CHANNEL_TYPES for p in picks):
        raise ValueError("unknown channel type")
    return picks


def _auto_or_image(mask):
    if isinstance(mask, str) and mask != "auto":
        raise ValueError("a string mask must be 'auto'")
    return mask


Number = StrictFloat
PositiveNumber = Annotated[StrictFloat, Field(gt=0)]
Label = StrictStr | StrictInt
Picks = Annotated[list[StrictStr], BeforeValidator(_as_list), AfterValidator(_channel_types),
                  Expect(f"a list of strings, each a channel type ({', '.join(CHANNEL_TYPES)})")]
Reference = Annotated[Literal["average"] | list[StrictStr],
                      BeforeValidator(lambda v: v if v == "average" else _as_list(v)),
                      Expect("a list of strings (channel names) or 'average'")]
Baseline = Annotated[tuple[StrictFloat | None, StrictFloat | None],
                     Expect("null or [start, end] in seconds (a null end: the epoch's edge)")]
Window = Annotated[tuple[StrictFloat, StrictFloat], Expect("[start, end] in seconds after onset")]
Detrend = Annotated[StrictBool | Annotated[StrictInt, Field(ge=0)],
                    Expect("true, false or a polynomial order >= 0")]
Mask = Annotated[Any, AfterValidator(_auto_or_image), Expect("'auto', null or (from Python) a 3-D image or array")]


class Epochs(Checked):
    """The per-trial step of EEG/MEG: epochs around the events."""

    tmin: Number = parameter_default(epoch_responses, "tmin")
    """Start of the epoch relative to each onset, in seconds."""
    tmax: Number = parameter_default(epoch_responses, "tmax")
    """End of the epoch relative to each onset, in seconds."""
    baseline: Baseline | None = parameter_default(epoch_responses, "baseline")
    """Interval subtracted per channel; null keeps the offset."""

    def rules(self, problems: Problems) -> None:
        if valid(self.tmin) and valid(self.tmax):
            problems.call(_check_epoch, self.tmin, self.tmax, None if self.baseline is INVALID else self.baseline)


class EEGSpec(Checked):
    """EEG/MEG steps on an ``mne.io.BaseRaw``: picks, reference, notch, band-pass, resampling, epochs.

    With ``epochs`` ``preprocess`` gives :class:`BrainResponses` of shape (n_trials, n_channels,
    n_times) (``info["dropped"]`` lists rejected trials); without, the array (n_channels, n_times).
    """

    modality: Literal["eeg", "meg"]
    """The recordings' modality."""
    subject: Label | None = None
    """Group label given to every trial."""
    run: Label | None = None
    """Group label given to every trial."""
    picks: Picks | None = None
    """Channel types to keep (``eeg``, ``meg``, ``mag``, ``grad``, ``eog``, ...); default: the modality."""
    reference: Reference | None = None
    """``"average"``, a channel name or a list of names."""
    notch: PositiveNumber | None = None
    """Line frequency in Hz; its harmonics below Nyquist are removed too."""
    l_freq: PositiveNumber | None = None
    """Low edge of the band-pass, in Hz."""
    h_freq: PositiveNumber | None = None
    """High edge of the band-pass, in Hz."""
    resample: PositiveNumber | None = None
    """New sampling rate in Hz."""
    epochs: Epochs | None = None
    """Per-trial step: ``{"tmin": -0.2, "tmax": 0.5, "baseline": [null, 0]}``."""
    reject: Annotated[dict[StrictStr, Any], Expect("a dict of channel types to peak-to-peak limits")] | None = None
    """Peak-to-peak limit per channel type, e.g. ``{"eeg": 150e-6}`` (needs ``epochs``)."""

    @property
    def channel_types(self) -> list:
        """The channel types to keep: ``picks``, else the modality's."""
        return self.picks if self.picks is not None else [self.modality]

    def rules(self, problems: Problems) -> None:
        if valid(self.reject):
            if self.epochs is None:
                problems.add("{0} needs an 'epochs' step", ("reject",))
            for kind, limit in self.reject.items():
                problems.call(check_positive, limit, f"reject[{kind!r}]")
        if valid(self.l_freq) and valid(self.h_freq):
            problems.call(_check_band, self.l_freq, self.h_freq, math.inf)


class Trials(Checked):
    """The per-trial step of fMRI: one response per event."""

    method: Literal[METHODS] = parameter_default(trial_responses, "method")
    """``lss``: LSS GLM betas (SPM HRF, the drifts as confounds); ``window``: mean of the scans in ``window``."""
    window: Window = parameter_default(trial_responses, "window")
    """Seconds after onset whose scans the ``window`` method averages."""

    def rules(self, problems: Problems) -> None:
        if "window" in self.model_fields_set and self.method == "lss":
            problems.add("{0} applies to method 'window' only", ("window",))
        if valid(self.window):
            problems.call(_check_window, self.window)


class FMRISpec(Checked):
    """fMRI steps on a 4-D nibabel image: mask or atlas, detrend, high-pass, z-score, trials.

    With ``trials`` ``preprocess`` gives :class:`BrainResponses` of shape (n_trials, n_features);
    without, the array (n_scans, n_features).
    """

    modality: Literal["fmri"]
    """The recordings' modality."""
    subject: Label | None = None
    """Group label given to every trial."""
    run: Label | None = None
    """Group label given to every trial."""
    t_r: PositiveNumber | None = None
    """Repetition time in seconds; default: the header's."""
    mask: Mask = "auto"
    """``"auto"`` (mean-EPI mask), null (every voxel), or, from Python, a 3-D image or array."""
    atlas: Any = None
    """From Python only: a 3-D labels image or array; features become label mean time series."""
    detrend: Detrend = parameter_default(clean, "detrend")
    """``true`` (linear), ``false`` or a polynomial order."""
    high_pass: PositiveNumber | None = None
    """High-pass cut-off in Hz."""
    filter: Literal[FILTERS] = parameter_default(clean, "filter")
    """``cosine`` (DCT drift regression) or ``butterworth``."""
    zscore: StrictBool = parameter_default(clean, "zscore")
    """Standardise each feature."""
    trials: Trials | None = None
    """Per-trial step: ``{"method": "lss"}`` or ``{"method": "window", "window": [4, 8]}``."""


def _modality_tag(value):
    modality = value.get("modality") if isinstance(value, dict) else getattr(value, "modality", None)
    return {"eeg": "eeg", "meg": "eeg", "fmri": "fmri"}.get(modality) if isinstance(modality, str) else None


PreprocessingSpec = Annotated[Annotated[EEGSpec, Tag("eeg")] | Annotated[FMRISpec, Tag("fmri")],
                              Discriminator(_modality_tag),
                              Expect(f"a dict whose 'modality' is one of {', '.join(MODALITIES)}")]
"""An :class:`EEGSpec` or an :class:`FMRISpec`, told apart by ``modality``."""


def preprocessing_spec(spec) -> EEGSpec | FMRISpec:
    """The typed spec of a preprocessing dict (a typed spec is returned as it is).

    Raises
    ------
    InvalidArgument
        Listing every problem of the spec.
    """
    return check_document(PreprocessingSpec, spec, "preprocessing spec", "spec key")


def preprocessing_reference() -> str:
    """Every key of a preprocessing spec, per modality, as Markdown tables."""
    header = ("key", "value", "default", "description")
    return "\n".join(f"{title}\n\n{markdown_table(header, reference(model))}"
                     for title, model in (("EEG and MEG (`EEGSpec`)", EEGSpec), ("fMRI (`FMRISpec`)", FMRISpec)))
