"""Stored recordings read back: raw arrays, preprocessed responses (of the voxels and trials a selection
keeps), and the recordings a fit runs on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from braindecode.containers import BrainResponses, Events
from braindecode.errors import InvalidArgument
from braindecode.preprocessing import Selection, matching_events, preprocess, selected_voxels, selection_spec
from braindecode.recordings import read_recording
from braindecode.store._checks import distinct_ids
from braindecode.store._store import RecordingInfo, Store

_SELECTION_KEYS = ("mask_id", "atlas_id", "labels")


def open_recording(store: Store, tenant: str, recording_id: str):
    """(RecordingInfo, LoadedRecording) for a stored recording."""
    info = store.get_recording(tenant, recording_id)
    path = store.stored_blob(info.blob, f"recording {info.id!r}")
    return info, read_recording(path, format=info.format, modality=info.modality, name=info.file_name)


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


def _preprocessed(store: Store, tenant: str, info: RecordingInfo, preprocessing: dict, voxels, events,
                  only_selected: bool = False):
    """The recording preprocessed (of ``voxels`` only), its trials those of the kept ``events`` (bool per event);
    with ``only_selected`` the other events are left out of the preprocessing too."""
    _, loaded = open_recording(store, tenant, info.id)
    obj = loaded.to_raw() if info.modality in ("eeg", "meg") else loaded.to_image()
    modelled = recording_events(info)
    if events is not None and only_selected:
        modelled = modelled.subset(events)
    result = preprocess(obj, dict(preprocessing), events=modelled, voxels=voxels)
    if events is None:
        return result
    if not isinstance(result, BrainResponses):
        raise InvalidArgument("a trial selection needs per-trial responses: end the preprocessing in an 'epochs' "
                              "or 'trials' step")
    trials = np.asarray(result.info["trials"], dtype=np.int64)
    if only_selected:
        result.info["trials"] = np.flatnonzero(events)[trials].tolist()
        return result
    selected = result.subset(events[trials])
    selected.info["trials"] = trials[events[trials]].tolist()
    return selected


def model_selection(selection, provenance: dict) -> Selection:
    """``selection``, its voxels those the model of ``provenance`` was fitted on when it names none.

    A model fitted on a voxel selection takes those voxels only; its provenance records them.
    """
    selection = selection_spec(selection)
    fitted = (provenance.get("selection") or {}).get("voxels")
    if selection.voxels is not None or not fitted:
        return selection
    return Selection(voxels={k: fitted[k] for k in _SELECTION_KEYS if k in fitted}, trials=selection.trials)


def load_array(store: Store, tenant: str, recording_id: str, preprocessing: dict | None = None,
               as_responses: bool = False, selection=None):
    """The stored recording's array, raw or preprocessed.

    Parameters
    ----------
    preprocessing : dict, optional
        A ``braindecode.preprocessing.preprocess`` spec.
    as_responses : bool
        Return the whole BrainResponses of a spec with an epochs/trials step.
    selection : dict or Selection, optional
        With ``preprocessing``: the voxels (fMRI) and the trials (per-trial responses) to keep.

    Returns
    -------
    array
        fMRI (x, y, z, t) raw; EEG/MEG (n_channels, n_times) raw; or, with ``preprocessing``
        (see ``braindecode.preprocessing.preprocess``), its output — per-trial responses of
        shape (n_trials, ...) when the spec has an epochs/trials step (the whole BrainResponses
        with ``as_responses``).
    """
    selection = selection_spec(selection)
    if not preprocessing:
        if selection.voxels is not None or selection.trials is not None:
            raise InvalidArgument("a selection applies to preprocessed data: give a preprocessing spec too")
        _, loaded = open_recording(store, tenant, recording_id)
        return np.asarray(loaded.data())
    info = store.get_recording(tenant, recording_id)
    resolved = _resolve(store, tenant, selection, [info])
    result = _preprocessed(store, tenant, info, preprocessing, resolved.voxels,
                           None if resolved.events is None else resolved.events[info.id], resolved.only_selected)
    return result if as_responses else getattr(result, "data", result)


def load_responses(store: Store, tenant: str, recording_ids, preprocessing: dict, selection=None) -> BrainResponses:
    """Preprocess each recording into per-trial responses, keep the selected voxels and trials, and stack them.

    Every entry point that reads responses of stored recordings reads them here.

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
        cross-validation never splits one recording across train and test; ``info["selection"]``
        records the selection (with its image's sha256 and what it kept).
    """
    if not recording_ids:
        raise InvalidArgument("no recording ids given")
    selection = selection_spec(selection)
    infos = [store.get_recording(tenant, rid) for rid in recording_ids]
    resolved = _resolve(store, tenant, selection, infos)
    parts = []
    for info in infos:
        events = None if resolved.events is None else resolved.events[info.id]
        if events is not None and not events.any():
            continue  # nothing selected in this run
        result = _preprocessed(store, tenant, info, preprocessing, resolved.voxels, events, resolved.only_selected)
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
        {"recordings": list(recording_ids), "preprocessing": preprocessing, "selection": resolved.provenance,
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
