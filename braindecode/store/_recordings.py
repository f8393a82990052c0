"""Stored recordings read back: raw arrays, preprocessed responses, and the recordings a fit runs on."""

from __future__ import annotations

import dataclasses

import numpy as np

from braindecode.containers import BrainResponses, Events
from braindecode.errors import InvalidArgument
from braindecode.preprocessing import Footprint, footprint, preprocess
from braindecode.recordings import read_recording
from braindecode.store._checks import distinct_ids
from braindecode.store._store import Store


def open_recording(store: Store, tenant: str, recording_id: str):
    """(RecordingInfo, LoadedRecording) for a stored recording; the recording's private folder
    is in the store's ``work_dir`` until it is closed."""
    info = store.get_recording(tenant, recording_id)
    return info, _open(store, info)


def _open(store: Store, info):
    path = store.stored_blob(info.blob, f"recording {info.id!r}")
    return read_recording(path, format=info.format, modality=info.modality, name=info.file_name,
                          limits=store.limits.read, work_dir=store.work_dir)


def _planned(info, preprocessing) -> Footprint:
    """What reading the stored recording with ``preprocessing`` makes, from its header alone."""
    return footprint(info.meta, preprocessing or None, len(info.events))


def load_array(store: Store, tenant: str, recording_id: str, preprocessing: dict | None = None):
    """The stored recording's array, raw or preprocessed.

    What that holds in memory is estimated from the recording's header first
    (``braindecode.preprocessing.footprint``); past ``store.limits.max_request_bytes`` nothing is
    read and ResourceExhausted names the bound and the size.

    Parameters
    ----------
    recording_id : str
    preprocessing : dict, optional
        A ``braindecode.preprocessing.preprocess`` spec.

    Returns
    -------
    array or BrainResponses
        Raw: fMRI (x, y, z, t), EEG/MEG (n_channels, n_times). Preprocessed: its output, the
        continuous array or, with an ``epochs``/``trials`` step, per-trial responses of shape
        (n_trials, ...) labelled by the recording: ``subjects`` its subject, ``runs`` its id,
        ``trials`` the index of each row's event among its events (with fMRI voxels, ``mask``
        and ``affine``).
    """
    info = store.get_recording(tenant, recording_id)
    planned = _planned(info, preprocessing)
    store.limits.check_request(f"reading recording {info.id!r} into {planned.describe()}", planned.peak_bytes)
    return _read(store, info, preprocessing)


def _read(store: Store, info, preprocessing: dict | None):
    with _open(store, info) as loaded:
        if not preprocessing:
            return np.asarray(loaded.data())
        obj = loaded.to_raw() if info.modality in ("eeg", "meg") else _with_declared_tr(loaded.to_image(), info.meta)
    events = None
    if info.events:
        events = Events([e["onset"] for e in info.events], [e["duration"] for e in info.events],
                        [e["stimulus_id"] for e in info.events])
    result = preprocess(obj, dict(preprocessing), events=events)
    if not isinstance(result, BrainResponses):
        return result
    n = result.n_trials
    return dataclasses.replace(result, subjects=np.full(n, info.subject), runs=np.full(n, info.id),
                               info={**result.info, "recording": info.id, "n_events": len(info.events)})


def _with_declared_tr(img, meta: dict):
    """``img`` with the repetition time declared at upload (e.g. from BIDS sidecars) in its header."""
    if "header_tr" not in meta or len(img.shape) != 4:
        return img
    img.header.set_zooms(img.header.get_zooms()[:3] + (meta["tr"],))
    return img


def load_responses(store: Store, tenant: str, recording_ids, preprocessing: dict) -> BrainResponses:
    """Preprocess each recording into per-trial responses (``load_array``) and stack them.

    What that holds in memory (each recording's preprocessing beside the responses of those before
    it, then their concatenation) is estimated from the headers first; past
    ``store.limits.max_request_bytes`` nothing is read and ResourceExhausted names the bound and
    the size.

    Parameters
    ----------
    recording_ids : list of str
        Recordings of one modality; their trial counts may differ, their features may not.
    preprocessing : dict
        A ``braindecode.preprocessing.preprocess`` spec with an ``epochs`` (EEG/MEG) or
        ``trials`` (fMRI) step.

    Returns
    -------
    responses : BrainResponses
        data of shape (n_trials_total, n_features) or (n_trials_total, n_channels, n_times);
        ``subjects`` from each recording's subject and ``runs`` from its id, so grouped
        cross-validation never splits one recording across train and test; ``trials`` index the
        events of each row's recording.
    """
    if not recording_ids:
        raise InvalidArgument("no recording ids given")
    infos = [store.get_recording(tenant, rid) for rid in recording_ids]
    planned = [_planned(info, preprocessing) for info in infos]
    held, peak = 0, 0
    for part in planned:
        peak = max(peak, held + part.peak_bytes)
        held += part.result_bytes
    n_trials = sum(part.shape[0] for part in planned)
    store.limits.check_request(
        f"preprocessing {len(infos)} recordings into {n_trials} trials of shape {planned[0].shape[1:]}",
        max(peak, 2 * held))
    parts = []
    for info in infos:
        result = _read(store, info, preprocessing)
        if not isinstance(result, BrainResponses):
            raise InvalidArgument("preprocessing must end in an 'epochs' or 'trials' step to give per-trial responses")
        parts.append(result)
    shapes = {r.data.shape[1:] for r in parts}
    if len(shapes) != 1:
        raise InvalidArgument(f"recordings give responses of different shapes {sorted(shapes)}; "
                              "use a common mask or channel set")
    first = parts[0]
    for result in parts[1:]:
        if result.feature_names != first.feature_names:
            raise InvalidArgument(f"recording {result.info['recording']} gives other features than "
                                  f"{first.info['recording']} (e.g. a different automatic mask); use a common mask "
                                  "or channel set")
    return BrainResponses.concatenate(parts, {
        "recordings": list(recording_ids), "preprocessing": preprocessing,
        "dropped": {r.info["recording"]: r.info["dropped"] for r in parts if r.info.get("dropped")}})


def recordings_of_one_modality(store: Store, tenant: str, recording_ids, supported=None,
                               refusal: str = "cannot use {modality} recordings; use {supported}") -> list:
    """The RecordingInfo of each id, checked to be given, distinct and of one modality.

    Parameters
    ----------
    store : Store
    tenant : str
    recording_ids : iterable of str
    supported : sequence of str, optional
        The modalities the caller takes (default: any).
    refusal : str
        Message of the InvalidArgument raised for another modality; ``{modality}`` and
        ``{supported}`` (comma-separated) are filled in.

    Returns
    -------
    infos : list of RecordingInfo
        In the order of ``recording_ids``; all share ``infos[0].modality``.
    """
    recording_ids = distinct_ids(recording_ids, "recording ids", "recording ids")
    infos = [store.get_recording(tenant, rid) for rid in recording_ids]
    modalities = sorted({info.modality for info in infos})
    if len(modalities) > 1:
        raise InvalidArgument(f"the recordings mix modalities {', '.join(modalities)}; use one modality")
    if supported is not None and modalities[0] not in supported:
        raise InvalidArgument(refusal.format(modality=modalities[0], supported=", ".join(supported)))
    return infos


def voxel_grid(infos) -> tuple | None:
    """(shape, affine) of the voxel grid that fMRI recordings share; None for EEG/MEG.

    Parameters
    ----------
    infos : list of RecordingInfo
        Recordings of one modality.

    Returns
    -------
    grid : (tuple of int, array of shape (4, 4)) or None
        The (x, y, z) shape and the voxel to world transform; InvalidArgument when the
        recordings lie on different grids.
    """
    if infos[0].modality != "fmri":
        return None
    shape, affine = tuple(infos[0].meta["shape"][:3]), np.asarray(infos[0].meta["affine"], dtype=np.float64)
    for info in infos[1:]:
        other = np.asarray(info.meta["affine"], dtype=np.float64)
        if tuple(info.meta["shape"][:3]) != shape or not np.allclose(other, affine, atol=1e-4):
            raise InvalidArgument(f"recording {info.id!r} lies on another voxel grid than {infos[0].id!r} "
                                  f"(shape {tuple(info.meta['shape'][:3])} vs {shape}, or another affine); "
                                  "resample the runs to one grid")
    return shape, affine
