"""Stored recordings read back: raw arrays, preprocessed responses (of the voxels and trials a selection
keeps), and the recordings a fit runs on."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from braindecode.containers import BrainResponses, Events
from braindecode.errors import InvalidArgument
from braindecode.preprocessing import (
    Footprint,
    Selection,
    footprint,
    matching_events,
    preprocess,
    selected_voxels,
    selection_spec,
)
from braindecode.recordings import read_recording
from braindecode.store._checks import distinct_ids
from braindecode.store._store import RecordingInfo, Store

_SELECTION_KEYS = ("mask_id", "atlas_id", "labels")


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


def recording_events(info: RecordingInfo) -> Events | None:
    """The stored events of a recording with their columns; None when it has none."""
    if not info.events:
        return None
    names = list(info.events[0].get("columns") or {})
    return Events([e["onset"] for e in info.events], [e["duration"] for e in info.events],
                  [e["stimulus_id"] for e in info.events],
                  {name: [e["columns"][name] for e in info.events] for name in names})


@dataclass
class _Resolved:
    """A selection made concrete for some recordings.

    Attributes
    ----------
    voxels : bool array of shape (x, y, z) or None
        The voxels kept (fMRI).
    events : dict of str -> bool array of shape (n_events,), or None
        Per recording id, the events whose trials are kept.
    only_selected : bool
        The other events are left out of the preprocessing (``TrialSelection.model_events``).
    provenance : dict
        The selection as given, with the image's sha256 and what it kept.
    """

    voxels: np.ndarray | None
    events: dict | None
    only_selected: bool
    provenance: dict


def _grid_text(meta: dict) -> str:
    affine = np.array2string(np.asarray(meta["affine"], dtype=np.float64), precision=3, separator=", ",
                             suppress_small=True).replace("\n", "")
    return f"shape {' x '.join(str(n) for n in meta['shape'][:3])} and affine {affine}"


def _resolve_voxels(store: Store, tenant: str, voxels, infos: list) -> tuple:
    """(bool volume, provenance) of a voxel selection: its image, checked to lie on every recording's grid."""
    image_id = voxels.mask_id or voxels.atlas_id
    what = f"{'mask' if voxels.mask_id else 'atlas'} {image_id!r}"
    others = sorted({info.modality for info in infos} - {"fmri"})
    if others:
        raise InvalidArgument(f"a voxel selection applies to fMRI recordings; these are {', '.join(others)}")
    image = store.get_recording(tenant, image_id)
    if image.modality != "fmri" or image.format != "nifti" or image.meta["shape"][3:] not in ([], [1]):
        raise InvalidArgument(f"{what} must be one 3-D NIfTI volume; it is a {image.format} {image.modality} "
                              f"recording of shape {tuple(image.meta['shape'])}")
    for info in infos:
        same_shape = list(info.meta["shape"][:3]) == list(image.meta["shape"][:3])
        if not same_shape or not np.allclose(info.meta["affine"], image.meta["affine"], atol=1e-4):
            raise InvalidArgument(f"{what} lies on another voxel grid than recording {info.id!r}: {what} has "
                                  f"{_grid_text(image.meta)}, recording {info.id!r} has {_grid_text(info.meta)}; "
                                  "upload the image on the recordings' grid")
    _, loaded = open_recording(store, tenant, image_id)
    with loaded:
        kept = selected_voxels(loaded.data()[..., 0], voxels.labels, what)
    provenance = dict(voxels.model_dump(exclude_none=True), sha256=image.sha256, n_voxels=int(kept.sum()))
    return kept, provenance


def _resolve_trials(trials, infos: list) -> tuple:
    """(recording id -> bool per event, provenance) of a trial selection, which must keep a trial."""
    kept = {}
    for info in infos:
        events = recording_events(info)
        if events is None:
            raise InvalidArgument(f"recording {info.id!r} has no events to select trials from")
        if trials.stimulus_ids is not None:
            kept[info.id] = np.isin(events.stimulus_id, trials.stimulus_ids)
        else:
            kept[info.id] = matching_events(events, trials.where, f"recording {info.id!r}")
    if trials.stimulus_ids is not None:
        shown = {str(e["stimulus_id"]) for info in infos for e in info.events}
        absent = [s for s in dict.fromkeys(trials.stimulus_ids) if s not in shown]
        if absent:
            raise InvalidArgument(f"{len(absent)} selected stimulus ids are in no event of the recordings, "
                                  f"e.g. {absent[:3]}")
    n_events = sum(len(k) for k in kept.values())
    n_kept = int(sum(k.sum() for k in kept.values()))
    if n_kept == 0:
        rule = f"where {trials.where!r}" if trials.where is not None else "stimulus_ids"
        raise InvalidArgument(f"the trial selection ({rule}) keeps none of the {n_events} events of the recordings")
    return kept, dict(trials.model_dump(exclude_none=True), n_events=n_kept)


def _resolve(store: Store, tenant: str, selection: Selection, infos: list) -> _Resolved:
    """The selection made concrete for ``infos``; every problem is raised before anything is preprocessed."""
    voxels = events = None
    provenance = {}
    if selection.voxels is not None:
        voxels, provenance["voxels"] = _resolve_voxels(store, tenant, selection.voxels, infos)
    if selection.trials is not None:
        events, provenance["trials"] = _resolve_trials(selection.trials, infos)
    only_selected = selection.trials is not None and selection.trials.model_events == "selected"
    return _Resolved(voxels, events, only_selected, provenance)


def _read(store: Store, info: RecordingInfo, preprocessing: dict | None, voxels=None, events=None,
          only_selected: bool = False):
    """The recording raw, or preprocessed (of ``voxels`` only) with the trials of the kept ``events`` (bool
    per event; None keeps all); with ``only_selected`` the other events are left out of the preprocessing
    too. Per-trial responses are labelled by the recording (subjects, runs, the index of each row's event)."""
    with _open(store, info) as loaded:
        if not preprocessing:
            return np.asarray(loaded.data())
        obj = loaded.to_raw() if info.modality in ("eeg", "meg") else _with_declared_tr(loaded.to_image(), info.meta)
    modelled = recording_events(info)
    if events is not None and only_selected:
        modelled = modelled.subset(events)
    result = preprocess(obj, dict(preprocessing), events=modelled, voxels=voxels)
    if not isinstance(result, BrainResponses):
        if events is not None:
            raise InvalidArgument("a trial selection needs per-trial responses: end the preprocessing in an "
                                  "'epochs' or 'trials' step")
        return result
    n = result.n_trials
    result = dataclasses.replace(result, subjects=np.full(n, info.subject), runs=np.full(n, info.id),
                                 info={**result.info, "recording": info.id, "n_events": len(info.events)})
    if events is None:
        return result
    if only_selected:  # rows index the selected events: name them among all the recording's
        return dataclasses.replace(result, trials=np.flatnonzero(events)[result.trials])
    return result.subset(events[result.trials])


def _with_declared_tr(img, meta: dict):
    """``img`` with the repetition time declared at upload (e.g. from BIDS sidecars) in its header."""
    if "header_tr" not in meta or len(img.shape) != 4:
        return img
    img.header.set_zooms(img.header.get_zooms()[:3] + (meta["tr"],))
    return img


def model_selection(selection, provenance: dict) -> Selection:
    """``selection``, its voxels those the model of ``provenance`` was fitted on when it names none.

    A model fitted on a voxel selection takes those voxels only; its provenance records them.
    """
    selection = selection_spec(selection)
    fitted = (provenance.get("selection") or {}).get("voxels")
    if selection.voxels is not None or not fitted:
        return selection
    return Selection(voxels={k: fitted[k] for k in _SELECTION_KEYS if k in fitted}, trials=selection.trials)


def load_array(store: Store, tenant: str, recording_id: str, preprocessing: dict | None = None, selection=None):
    """The stored recording's array, raw or preprocessed.

    What that holds in memory is estimated from the recording's header first
    (``braindecode.preprocessing.footprint``); past ``store.limits.max_request_bytes`` nothing is
    read and ResourceExhausted names the bound and the size.

    Parameters
    ----------
    recording_id : str
    preprocessing : dict, optional
        A ``braindecode.preprocessing.preprocess`` spec.
    selection : dict or Selection, optional
        With ``preprocessing``: the voxels (fMRI) and the trials (per-trial responses) to keep.

    Returns
    -------
    array or BrainResponses
        Raw: fMRI (x, y, z, t), EEG/MEG (n_channels, n_times). Preprocessed: its output, the
        continuous array or, with an ``epochs``/``trials`` step, per-trial responses of shape
        (n_trials, ...) labelled by the recording: ``subjects`` its subject, ``runs`` its id,
        ``trials`` the index of each row's event among its events (with fMRI voxels, ``mask``
        and ``affine``).
    """
    selection = selection_spec(selection)
    if not preprocessing and (selection.voxels is not None or selection.trials is not None):
        raise InvalidArgument("a selection applies to preprocessed data: give a preprocessing spec too")
    info = store.get_recording(tenant, recording_id)
    planned = _planned(info, preprocessing)
    store.limits.check_request(f"reading recording {info.id!r} into {planned.describe()}", planned.peak_bytes)
    resolved = _resolve(store, tenant, selection, [info])
    return _read(store, info, preprocessing, resolved.voxels,
                 None if resolved.events is None else resolved.events[info.id], resolved.only_selected)


def load_responses(store: Store, tenant: str, recording_ids, preprocessing: dict, selection=None) -> BrainResponses:
    """Preprocess each recording into per-trial responses (``load_array``), keep the selected voxels and
    trials, and stack them. Every entry point that reads responses of stored recordings reads them here.

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
    selection : dict or Selection, optional
        The voxels and trials to keep (see ``braindecode.preprocessing.Selection``): a voxel
        selection restricts the preprocessing to its voxels; trials are preprocessed with every
        event of their run (one GLM per run), then the selected ones are kept (or, with
        ``model_events="selected"``, with the selected events only). Every problem (an
        image on another grid, an unknown column, a selection that keeps nothing) is raised
        before anything is preprocessed.

    Returns
    -------
    responses : BrainResponses
        data of shape (n_trials_total, n_features) or (n_trials_total, n_channels, n_times);
        ``subjects`` from each recording's subject and ``runs`` from its id, so grouped
        cross-validation never splits one recording across train and test; ``trials`` index the
        events of each row's recording; ``info["selection"]`` records the selection (with its
        image's sha256 and what it kept).
    """
    if not recording_ids:
        raise InvalidArgument("no recording ids given")
    selection = selection_spec(selection)
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
    resolved = _resolve(store, tenant, selection, infos)
    parts = []
    for info in infos:
        events = None if resolved.events is None else resolved.events[info.id]
        if events is not None and not events.any():
            continue  # nothing selected in this run
        result = _read(store, info, preprocessing, resolved.voxels, events, resolved.only_selected)
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
        "recordings": list(recording_ids), "preprocessing": preprocessing, "selection": resolved.provenance,
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
