"""Declarative preprocessing: ``preprocess(obj, spec, events)`` runs the steps a small dict names.

The spec is a JSON-able dict (the server's StreamData and batch jobs send it as is), checked
as a whole into an :class:`~braindecode.preprocessing.EEGSpec` or
:class:`~braindecode.preprocessing.FMRISpec` (their keys are in ``_spec``; every problem is
listed in one :class:`~braindecode.errors.InvalidArgument`). A step runs only when its key is
present and not null. What depends on the recording (a cut-off above Nyquist, a mask of
another shape, events outside the run) is checked as the step runs.

EEG/MEG (``obj`` is an ``mne.io.BaseRaw``): picks, reference, notch, band-pass, resampling,
then with ``epochs`` :class:`BrainResponses` of shape (n_trials, n_channels, n_times), without
the array (n_channels, n_times).

fMRI (``obj`` is a 4-D nibabel image): mask or atlas, detrend, high-pass, z-score, then with
``trials`` :class:`BrainResponses` of shape (n_trials, n_features), without the array
(n_scans, n_features).

Example: ``{"modality": "eeg", "l_freq": 1, "h_freq": 40, "notch": 50, "resample": 100,
"epochs": {"tmin": -0.1, "tmax": 0.6, "baseline": [null, 0]}, "reject": {"eeg": 150e-6}}``.
"""

from __future__ import annotations

import numpy as np

from braindecode.errors import InvalidArgument
from braindecode.preprocessing import eeg, fmri
from braindecode.preprocessing._spec import EEGSpec, FMRISpec, preprocessing_spec


def _needs_events(events, step: str) -> None:
    if events is None:
        raise InvalidArgument(f"no events: spec key '{step}' needs events")


def _preprocess_eeg(raw, spec: EEGSpec, events):
    if spec.epochs is not None:
        _needs_events(events, "epochs")
    raw = eeg.preprocess_raw(raw, picks=spec.channel_types, reference=spec.reference, notch=spec.notch,
                             l_freq=spec.l_freq, h_freq=spec.h_freq, sfreq=spec.resample)
    if spec.epochs is None:
        return raw.get_data().astype(np.float32)
    return eeg.epoch_responses(raw, events, tmin=spec.epochs.tmin, tmax=spec.epochs.tmax,
                               baseline=spec.epochs.baseline, reject=spec.reject, subject=spec.subject,
                               run=spec.run)


def _preprocess_fmri(img, spec: FMRISpec, events):
    if spec.trials is not None:
        _needs_events(events, "trials")
    t_r = fmri.repetition_time(img, spec.t_r)
    data = fmri.bold_array(img)
    mask = fmri.compute_epi_mask(data) if isinstance(spec.mask, str) else spec.mask
    if spec.atlas is not None:
        signals, labels = fmri.atlas_time_series(data, spec.atlas, mask=mask)
        names = [str(label) for label in labels]
    else:
        mask = np.ones(data.shape[:3], bool) if mask is None else fmri.check_mask(mask, data.shape[:3])
        signals, names = fmri.apply_mask(data, mask), fmri.voxel_names(mask)
    drifts = {"detrend": spec.detrend, "high_pass": spec.high_pass, "filter": spec.filter}
    signals = fmri.clean(signals, t_r=t_r, zscore=spec.zscore, **drifts)
    if spec.trials is None:
        return signals
    return fmri.trial_responses(
        signals, events, t_r, method=spec.trials.method, window=spec.trials.window,
        confounds=fmri.drift_regressors(len(signals), t_r, **drifts), feature_names=names,
        subject=spec.subject, run=spec.run,
    )


def preprocess(obj, spec, events=None):
    """Run the preprocessing steps named by ``spec``.

    Parameters
    ----------
    obj : mne.io.BaseRaw or nibabel 4-D image
        The recording, matching the spec's modality.
    spec : dict, EEGSpec or FMRISpec
        The steps (see :class:`EEGSpec` and :class:`FMRISpec`); a dict is checked into its typed spec.
    events : Events, optional
        Needed by the ``epochs`` and ``trials`` steps; onsets in seconds.

    Returns
    -------
    result : BrainResponses or ndarray
        Per-trial responses when an ``epochs``/``trials`` step is present; otherwise the
        continuous float32 array, (n_channels, n_times) for EEG/MEG, (n_scans, n_features) for fMRI.
    """
    spec = preprocessing_spec(spec)
    if isinstance(spec, FMRISpec):
        return _preprocess_fmri(obj, spec, events)
    return _preprocess_eeg(obj, spec, events)
