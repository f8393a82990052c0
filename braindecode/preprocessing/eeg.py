"""EEG/MEG preprocessing on MNE: channel picks, re-reference, filters, resampling, epochs.

:func:`preprocess_raw` returns a cleaned copy of an :class:`mne.io.BaseRaw`;
:func:`epoch_responses` cuts it into baseline-corrected epochs around
:class:`~braindecode.containers.Events` (onsets in seconds from the start of the
recording), rejects epochs by peak-to-peak amplitude per channel type and returns
:class:`~braindecode.containers.BrainResponses` with data of shape
(n_trials, n_channels, n_times). What was dropped is listed in
``responses.info["dropped"]``: one dict per trial with its index, stimulus id,
onset, the reason and the channels that exceeded their threshold.
"""

from __future__ import annotations

import warnings

import mne
import numpy as np

from braindecode.containers import BrainResponses
from braindecode.errors import InvalidArgument
from braindecode.preprocessing._checks import check_events, check_finite, check_positive

__all__ = ["CHANNEL_TYPES", "preprocess_raw", "epoch_responses"]

CHANNEL_TYPES = (
    "eeg", "meg", "mag", "grad", "eog", "ecg", "emg", "seeg", "ecog", "dbs", "misc", "fnirs", "ref_meg",
)


def _check_raw(raw) -> None:
    if not isinstance(raw, mne.io.BaseRaw):
        raise InvalidArgument(f"expected an mne.io.BaseRaw recording, got {type(raw).__name__}")


def _pick(raw, picks):
    if isinstance(picks, str):
        picks = [picks]
    unknown = [p for p in picks if p not in CHANNEL_TYPES]
    if unknown or not picks:
        raise InvalidArgument(
            f"picks: unknown channel types {unknown}; choose from {', '.join(CHANNEL_TYPES)}"
        )
    bads = set(raw.info["bads"])
    present = {kind for kind, name in zip(raw.get_channel_types(), raw.ch_names) if name not in bads}
    wanted = {"mag", "grad"} if "meg" in picks else set()
    if not (present & (set(picks) | wanted)):
        raise InvalidArgument(
            f"picks: the recording has no good channels of type {list(picks)} "
            f"(it has {sorted(present)})"
        )
    return raw.copy().pick(list(picks), exclude="bads", verbose=False)


def _reference(raw, reference) -> None:
    if "eeg" not in raw.get_channel_types():
        raise InvalidArgument("reference: re-referencing needs EEG channels among the picks")
    if isinstance(reference, str) and reference != "average":
        reference = [reference]
    if reference != "average":
        reference = list(reference)
        missing = [ch for ch in reference if ch not in raw.ch_names]
        if missing or not reference:
            raise InvalidArgument(f"reference: channels {missing} are not in the recording")
    raw.set_eeg_reference(reference, projection=False, verbose=False)


def _check_band(l_freq, h_freq, nyquist: float) -> None:
    if l_freq is not None:
        check_positive(l_freq, "l_freq")
    if h_freq is not None:
        check_positive(h_freq, "h_freq")
        if h_freq >= nyquist:
            raise InvalidArgument(f"h_freq ({h_freq} Hz) must be below Nyquist ({nyquist} Hz)")
    if l_freq is not None and h_freq is not None and l_freq >= h_freq:
        raise InvalidArgument(f"l_freq ({l_freq} Hz) must be below h_freq ({h_freq} Hz)")


def preprocess_raw(raw, *, picks=("eeg",), reference=None, notch=None, l_freq=None, h_freq=None,
                   sfreq=None):
    """Pick, re-reference, notch, band-pass and resample a continuous recording.

    The steps run in this order; each is skipped when its argument is None.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording; it is not modified.
    picks : sequence of str
        Channel types to keep (see ``CHANNEL_TYPES``); channels marked bad are dropped.
    reference : "average", str or list of str, optional
        EEG reference: the average of the EEG channels or the mean of the named channels.
    notch : float, optional
        Line frequency in Hz; it and its harmonics below Nyquist are removed.
    l_freq, h_freq : float, optional
        Band-pass edges in Hz (MNE's zero-phase FIR); None leaves that side open.
    sfreq : float, optional
        New sampling rate in Hz.

    Returns
    -------
    raw : mne.io.BaseRaw
        A preprocessed, preloaded copy.
    """
    _check_raw(raw)
    nyquist = raw.info["sfreq"] / 2.0
    if notch is not None and check_positive(notch, "notch") >= nyquist:
        raise InvalidArgument(f"notch ({notch} Hz) must be below Nyquist ({nyquist} Hz)")
    _check_band(l_freq, h_freq, nyquist)
    if sfreq is not None:
        check_positive(sfreq, "resample")
    raw = _pick(raw, picks)
    raw.load_data(verbose=False)
    check_finite(raw.get_data(), "the EEG/MEG recording")
    if reference is not None:
        _reference(raw, reference)
    if notch is not None:
        raw.notch_filter(np.arange(notch, nyquist, notch), picks="all", verbose=False)
    if l_freq is not None or h_freq is not None:
        raw.filter(l_freq, h_freq, picks="all", verbose=False)
    if sfreq is not None:
        raw.resample(sfreq, verbose=False)
    return raw


def _check_epoch(tmin, tmax, baseline) -> tuple:
    """(tmin, tmax, baseline) of an epoch window checked: tmin below tmax, the baseline within."""
    tmin, tmax = float(tmin), float(tmax)
    if not tmin < tmax:
        raise InvalidArgument(f"epochs: tmin ({tmin}) must be below tmax ({tmax})")
    return tmin, tmax, _check_baseline(baseline, tmin, tmax)


def _check_baseline(baseline, tmin: float, tmax: float):
    if baseline is None:
        return None
    if not isinstance(baseline, (list, tuple)) or len(baseline) != 2 or any(
        b is not None and (isinstance(b, bool) or not isinstance(b, (int, float))) for b in baseline
    ):
        raise InvalidArgument(f"baseline must be null or [start, end] in seconds, got {baseline!r}")
    start = tmin if baseline[0] is None else float(baseline[0])
    end = tmax if baseline[1] is None else float(baseline[1])
    if not tmin <= start <= end <= tmax:
        raise InvalidArgument(f"baseline {list(baseline)} must lie within the epoch [{tmin}, {tmax}] s")
    return tuple(baseline)


def _check_reject(reject, raw) -> dict | None:
    if reject is None:
        return None
    if not isinstance(reject, dict) or not reject:
        raise InvalidArgument(f"reject must map channel types to peak-to-peak limits, got {reject!r}")
    present = set(raw.get_channel_types())
    for ch_type, limit in reject.items():
        if ch_type not in present:
            raise InvalidArgument(
                f"reject: no {ch_type!r} channels in the recording (it has {sorted(present)})"
            )
        check_positive(limit, f"reject[{ch_type!r}]")
    return {k: float(v) for k, v in reject.items()}


def _dropped(drop_log, trials, events, ch_names) -> list:
    report = []
    for log, trial in zip(drop_log, trials):
        if not log:
            continue
        channels = [entry for entry in log if entry in ch_names]
        reason = "peak-to-peak" if channels else ", ".join(log)
        report.append({
            "trial": int(trial), "stimulus_id": str(events.stimulus_id[trial]),
            "onset": float(events.onset[trial]), "reason": reason, "channels": channels,
        })
    return report


def epoch_responses(raw, events, *, tmin=-0.2, tmax=0.5, baseline=(None, 0), reject=None,
                    subject=None, run=None) -> BrainResponses:
    """Baseline-corrected epochs around events, with peak-to-peak rejection.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        A (preprocessed) recording; stimulus and bad channels are left out.
    events : Events
        Trials; onsets in seconds from the first sample of ``raw``.
    tmin, tmax : float
        Epoch window around each onset, in seconds.
    baseline : (float or None, float or None) or None
        Interval subtracted per channel (None ends mean the epoch's edges); None keeps the offset.
    reject : dict of str -> float, optional
        Peak-to-peak limits per channel type, e.g. ``{"eeg": 150e-6}`` (volts).
    subject, run : str, optional
        Group labels copied to every trial.

    Returns
    -------
    responses : BrainResponses
        ``data`` of shape (n_kept, n_channels, n_times), ``times`` of shape (n_times,),
        channel names as ``feature_names``; ``info["dropped"]`` lists rejected trials.
    """
    _check_raw(raw)
    tmin, tmax, baseline = _check_epoch(tmin, tmax, baseline)
    reject = _check_reject(reject, raw)
    check_events(events, -tmin, raw.times[-1] - tmax, what=f"recording for epochs of [{tmin}, {tmax}] s")
    sfreq = raw.info["sfreq"]
    samples = raw.first_samp + np.round(events.onset * sfreq).astype(np.int64)
    order = np.argsort(samples, kind="stable")
    clash = np.flatnonzero(np.diff(samples[order]) == 0)
    if clash.size:
        a, b = order[clash[0]], order[clash[0] + 1]
        raise InvalidArgument(f"events {a} and {b} fall on the same sample at {sfreq} Hz")
    mne_events = np.column_stack([samples[order], np.zeros(len(order), np.int64), np.ones(len(order), np.int64)])
    types = raw.get_channel_types()
    picks = [i for i, (name, kind) in enumerate(zip(raw.ch_names, types))
             if kind != "stim" and name not in raw.info["bads"]]
    if not picks:
        raise InvalidArgument("epochs: the recording has no good data channels")
    with warnings.catch_warnings():  # an empty result raises InvalidArgument below
        warnings.filterwarnings("ignore", "All epochs were dropped", RuntimeWarning)
        epochs = mne.Epochs(raw, mne_events, tmin=tmin, tmax=tmax, baseline=baseline, picks=picks,
                            reject=reject, preload=True, verbose=False)
    dropped = _dropped(epochs.drop_log, order, events, set(epochs.ch_names))
    if len(epochs) == 0:
        raise InvalidArgument(
            f"all {len(events)} trials were rejected (reject={reject}); first: {dropped[0]}"
        )
    kept = order[epochs.selection]
    rows = np.argsort(kept, kind="stable")
    n = len(kept)
    return BrainResponses(
        epochs.get_data()[rows], events.stimulus_id[kept[rows]],
        subjects=None if subject is None else np.full(n, str(subject)),
        runs=None if run is None else np.full(n, str(run)),
        feature_names=list(epochs.ch_names), times=epochs.times,
        info={
            "modality": "eeg", "sfreq": float(sfreq), "tmin": tmin, "tmax": tmax,
            "baseline": None if baseline is None else list(baseline), "reject": reject,
            "ch_types": [types[i] for i in picks], "n_events": len(events),
            "trials": kept[rows].tolist(), "dropped": dropped,
        },
    )
