"""Declarative preprocessing: ``preprocess(obj, spec, events)`` runs the steps a small dict names.

The spec is a JSON-able dict (the server's StreamData and batch jobs send it as is); a step
runs only when its key is present and not null. Unknown keys or bad values raise
:class:`~braindecode.errors.InvalidArgument` naming the key.

Common keys
-----------
``modality`` (required)
    ``"eeg"``, ``"meg"`` or ``"fmri"``.
``subject``, ``run``
    Group labels given to every trial (strings).

EEG/MEG (``obj`` is an ``mne.io.BaseRaw``)
-------------------------------------------
``picks``
    List of channel types to keep (``eeg``, ``meg``, ``mag``, ``grad``, ``eog``, ...);
    default ``["eeg"]`` for EEG and ``["meg"]`` for MEG.
``reference``
    ``"average"``, a channel name or a list of names.
``notch``
    Line frequency in Hz; its harmonics below Nyquist are removed too.
``l_freq``, ``h_freq``
    Band-pass edges in Hz (either may be null).
``resample``
    New sampling rate in Hz.
``epochs``
    ``{"tmin": -0.2, "tmax": 0.5, "baseline": [null, 0]}`` (``baseline`` null: no correction).
``reject``
    Peak-to-peak limit per channel type, e.g. ``{"eeg": 150e-6}`` (needs ``epochs``).

With ``epochs`` the result is :class:`BrainResponses` of shape (n_trials, n_channels, n_times)
(``info["dropped"]`` lists rejected trials); without, the array (n_channels, n_times).

fMRI (``obj`` is a 4-D nibabel image)
-------------------------------------
``t_r``
    Repetition time in seconds; default: the header's.
``mask``
    ``"auto"`` (default: mean-EPI mask), null (every voxel), or, from Python, a 3-D image/array.
``atlas``
    From Python only: a 3-D labels image/array; features become label mean time series.
``detrend``
    ``true`` (linear), ``false`` or a polynomial order.
``high_pass``
    Cut-off in Hz.
``filter``
    ``"cosine"`` (default: DCT drift regression) or ``"butterworth"``.
``zscore``
    ``true`` to standardise each feature.
``trials``
    ``{"method": "lss"}`` (LSS GLM, SPM HRF, the drifts as confounds) or
    ``{"method": "window", "window": [4, 8]}`` (mean of the scans 4-8 s after onset).

With ``trials`` the result is :class:`BrainResponses` of shape (n_trials, n_features); without,
the array (n_scans, n_features).

Example: ``{"modality": "eeg", "l_freq": 1, "h_freq": 40, "notch": 50, "resample": 100,
"epochs": {"tmin": -0.1, "tmax": 0.6, "baseline": [null, 0]}, "reject": {"eeg": 150e-6}}``.
"""

from __future__ import annotations

from numbers import Real

import numpy as np

from braindecode.errors import InvalidArgument
from braindecode.preprocessing import eeg, fmri

MODALITIES = ("eeg", "meg", "fmri")
_COMMON_KEYS = ("modality", "subject", "run")
_EEG_KEYS = _COMMON_KEYS + ("picks", "reference", "notch", "l_freq", "h_freq", "resample", "epochs", "reject")
_FMRI_KEYS = _COMMON_KEYS + ("t_r", "mask", "atlas", "detrend", "high_pass", "filter", "zscore", "trials")
_EPOCH_KEYS = ("tmin", "tmax", "baseline")
_TRIAL_KEYS = ("method", "window")
#: Per modality: the keys a spec may hold, its per-trial step and the keys of that step.
SPEC_KEYS_BY_MODALITY = {"eeg": (_EEG_KEYS, "epochs", _EPOCH_KEYS), "meg": (_EEG_KEYS, "epochs", _EPOCH_KEYS),
                         "fmri": (_FMRI_KEYS, "trials", _TRIAL_KEYS)}


def _check_keys(spec, allowed, section: str = "") -> dict:
    """``spec`` (or its ``section``, e.g. "epochs") checked to be a dict of ``allowed`` keys."""
    if not isinstance(spec, dict):
        raise InvalidArgument(f"spec key '{section}' must be a dict, got {type(spec).__name__}")
    unknown = [key for key in spec if key not in allowed]
    if unknown:
        prefix = f"{section}." if section else ""
        raise InvalidArgument(f"unknown spec key '{prefix}{unknown[0]}'; allowed: {', '.join(allowed)}")
    return spec


def _number(spec: dict, key: str, default, section: str = ""):
    value = spec.get(key, default)
    if value is not None and (isinstance(value, bool) or not isinstance(value, Real)):
        prefix = f"{section}." if section else ""
        raise InvalidArgument(f"spec key '{prefix}{key}' must be a number, got {value!r}")
    return value


def _label(spec: dict, key: str):
    value = spec.get(key)
    if value is not None and not isinstance(value, (str, int)):
        raise InvalidArgument(f"spec key {key!r} must be a string, got {value!r}")
    return value


def _string_list(spec: dict, key: str, default):
    value = spec.get(key, default)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"spec key {key!r} must be a list of strings, got {value!r}")
    return list(value)


def _section(spec: dict, key: str, allowed, events):
    """The ``epochs``/``trials`` sub-dict, checked, or None when the step is absent."""
    section = spec.get(key)
    if section is None:
        return None
    _check_keys(section, allowed, key)
    if events is None:
        raise InvalidArgument(f"no events: spec key '{key}' needs events")
    return section


def _preprocess_eeg(raw, spec: dict, events):
    _check_keys(spec, _EEG_KEYS)
    epochs = _section(spec, "epochs", _EPOCH_KEYS, events)
    if epochs is None and spec.get("reject") is not None:
        raise InvalidArgument("spec key 'reject' needs an 'epochs' step")
    if epochs is not None:
        tmin, tmax = _number(epochs, "tmin", -0.2, "epochs"), _number(epochs, "tmax", 0.5, "epochs")
    subject, run = _label(spec, "subject"), _label(spec, "run")
    reference = spec.get("reference")
    if reference is not None and reference != "average":
        reference = _string_list(spec, "reference", None)
    raw = eeg.preprocess_raw(
        raw, picks=_string_list(spec, "picks", ["meg" if spec["modality"] == "meg" else "eeg"]),
        reference=reference, notch=_number(spec, "notch", None), l_freq=_number(spec, "l_freq", None),
        h_freq=_number(spec, "h_freq", None), sfreq=_number(spec, "resample", None),
    )
    if epochs is None:
        return raw.get_data().astype(np.float32)
    return eeg.epoch_responses(
        raw, events, tmin=tmin, tmax=tmax, baseline=epochs.get("baseline", (None, 0)),
        reject=spec.get("reject"), subject=subject, run=run,
    )


def _preprocess_fmri(img, spec: dict, events):
    _check_keys(spec, _FMRI_KEYS)
    trials = _section(spec, "trials", _TRIAL_KEYS, events)
    if trials is not None and trials.get("method", "lss") == "lss" and "window" in trials:
        raise InvalidArgument("spec key 'trials.window' applies to method 'window' only")
    zscore = spec.get("zscore", False)
    if not isinstance(zscore, bool):
        raise InvalidArgument(f"spec key 'zscore' must be true or false, got {zscore!r}")
    detrend, high_pass = spec.get("detrend", False), _number(spec, "high_pass", None)
    filter = spec.get("filter", "cosine")
    subject, run = _label(spec, "subject"), _label(spec, "run")
    t_r = fmri.repetition_time(img, _number(spec, "t_r", None))
    data = fmri.bold_array(img)
    mask = spec.get("mask", "auto")
    if isinstance(mask, str):
        if mask != "auto":
            raise InvalidArgument(f"spec key 'mask' must be 'auto', null or a 3-D image, got {mask!r}")
        mask = fmri.compute_epi_mask(data)
    if spec.get("atlas") is not None:
        signals, labels = fmri.atlas_time_series(data, spec["atlas"], mask=mask)
        names = [str(label) for label in labels]
    else:
        mask = np.ones(data.shape[:3], bool) if mask is None else fmri.check_mask(mask, data.shape[:3])
        signals, names = fmri.apply_mask(data, mask), fmri.voxel_names(mask)
    signals = fmri.clean(signals, t_r=t_r, detrend=detrend, high_pass=high_pass, filter=filter, zscore=zscore)
    if trials is None:
        return signals
    confounds = fmri.drift_regressors(len(signals), t_r, detrend=detrend, high_pass=high_pass, filter=filter)
    return fmri.trial_responses(
        signals, events, t_r, method=trials.get("method", "lss"), window=trials.get("window", (4.0, 8.0)),
        confounds=confounds, feature_names=names, subject=subject, run=run,
    )


def preprocess(obj, spec: dict, events=None):
    """Run the preprocessing steps named by ``spec`` (schema in this module's docstring).

    Parameters
    ----------
    obj : mne.io.BaseRaw or nibabel 4-D image
        The recording, matching ``spec["modality"]``.
    spec : dict
        JSON-able step description.
    events : Events, optional
        Needed by the ``epochs`` and ``trials`` steps; onsets in seconds.

    Returns
    -------
    result : BrainResponses or ndarray
        Per-trial responses when an ``epochs``/``trials`` step is present; otherwise the
        continuous float32 array, (n_channels, n_times) for EEG/MEG, (n_scans, n_features) for fMRI.
    """
    if not isinstance(spec, dict):
        raise InvalidArgument(f"spec must be a dict, got {type(spec).__name__}")
    modality = spec.get("modality")
    if modality not in MODALITIES:
        raise InvalidArgument(f"spec key 'modality' must be one of {MODALITIES}, got {modality!r}")
    if modality == "fmri":
        return _preprocess_fmri(obj, spec, events)
    return _preprocess_eeg(obj, spec, events)
