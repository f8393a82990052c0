"""Stored recordings read back: raw arrays, preprocessed responses, and the recordings a fit runs on."""

from __future__ import annotations

import numpy as np

from braindecode.containers import BrainResponses, Events
from braindecode.errors import InvalidArgument
from braindecode.recordings import read_recording
from braindecode.store._checks import distinct_ids
from braindecode.store._store import Store


def open_recording(store: Store, tenant: str, recording_id: str):
    """(RecordingInfo, LoadedRecording) for a stored recording."""
    info = store.get_recording(tenant, recording_id)
    path = store.stored_blob(info.blob, f"recording {info.id!r}")
    return info, read_recording(path, format=info.format, modality=info.modality, name=info.file_name)


def load_array(store: Store, tenant: str, recording_id: str, preprocessing: dict | None = None,
               as_responses: bool = False):
    """The stored recording's array, raw or preprocessed.

    Returns an array: fMRI (x, y, z, t) raw; EEG/MEG (n_channels, n_times) raw; or, with
    ``preprocessing`` (see ``braindecode.preprocessing.preprocess``), its output — per-trial
    responses of shape (n_trials, ...) when the spec has an epochs/trials step (the whole
    BrainResponses with ``as_responses``).
    """
    info, loaded = open_recording(store, tenant, recording_id)
    if not preprocessing:
        return np.asarray(loaded.data())
    from braindecode.preprocessing import preprocess

    obj = loaded.to_raw() if info.modality in ("eeg", "meg") else _with_declared_tr(loaded.to_image(), info.meta)
    events = None
    if info.events:
        events = Events([e["onset"] for e in info.events], [e["duration"] for e in info.events],
                        [e["stimulus_id"] for e in info.events])
    result = preprocess(obj, dict(preprocessing), events=events)
    return result if as_responses else getattr(result, "data", result)


def _with_declared_tr(img, meta: dict):
    """``img`` with the repetition time declared at upload (e.g. from BIDS sidecars) in its header."""
    if "header_tr" not in meta or len(img.shape) != 4:
        return img
    img.header.set_zooms(img.header.get_zooms()[:3] + (meta["tr"],))
    return img


def load_responses(store: Store, tenant: str, recording_ids, preprocessing: dict) -> BrainResponses:
    """Preprocess each recording into per-trial responses and stack them.

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
        cross-validation never splits one recording across train and test.
    """
    if not recording_ids:
        raise InvalidArgument("no recording ids given")
    parts = []
    for rid in recording_ids:
        info = store.get_recording(tenant, rid)
        result = load_array(store, tenant, rid, preprocessing, as_responses=True)
        if not isinstance(result, BrainResponses):
            raise InvalidArgument("preprocessing must end in an 'epochs' or 'trials' step to give per-trial responses")
        parts.append((info, result))
    shapes = {r.data.shape[1:] for _, r in parts}
    if len(shapes) != 1:
        raise InvalidArgument(f"recordings give responses of different shapes {sorted(shapes)}; "
                              "use a common mask or channel set")
    first = parts[0][1]
    for info, result in parts[1:]:
        if result.feature_names != first.feature_names:
            raise InvalidArgument(f"recording {info.id} gives other features than {parts[0][0].id} "
                                  "(e.g. a different automatic mask); use a common mask or channel set")
    return BrainResponses(
        np.concatenate([r.data for _, r in parts]),
        np.concatenate([r.stimulus_ids for _, r in parts]),
        np.concatenate([np.full(r.n_trials, i.subject) for i, r in parts]),
        np.concatenate([np.full(r.n_trials, i.id) for i, r in parts]),
        first.feature_names, first.times,
        {"recordings": list(recording_ids), "preprocessing": preprocessing,
         "dropped": {i.id: r.info.get("dropped") for i, r in parts if r.info.get("dropped")}},
    )


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
