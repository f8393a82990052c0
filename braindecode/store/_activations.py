"""Stimulus sets kept as ``stimuli`` artifacts, and their extraction into stored activation sets."""

from __future__ import annotations

import json
import pathlib

import PIL

from braindecode.activations import NetworkModel, StimulusSet, extract_activations, model_provenance
from braindecode.errors import InvalidArgument
from braindecode.store._artifacts import save_activation_set
from braindecode.store._kinds import STIMULI_ARTIFACT
from braindecode.store._store import ArtifactInfo, Store

INDEX_FILE = "stimuli.json"


def save_stimulus_set(store: Store, tenant: str, stimuli: StimulusSet) -> ArtifactInfo:
    """Store a stimulus set as one ``stimuli`` artifact (all or nothing).

    Parameters
    ----------
    stimuli : StimulusSet
        Texts, or image files (``StimulusSetBuilder``'s PNGs), stored as ``000000.png``, ...

    Returns
    -------
    info : ArtifactInfo
        ``meta`` holds the name, modality and number of stimuli.
    """
    index = {"name": stimuli.name, "modality": stimuli.modality, "stimulus_ids": list(stimuli.stimulus_ids)}
    with store.scratch() as tmp:
        files = {}
        if stimuli.modality == "image":
            files = {f"{i:06d}{pathlib.Path(path).suffix}": pathlib.Path(path) for i, path in enumerate(stimuli.stimuli)}
            index["files"] = list(files)
        else:
            index["texts"] = list(stimuli.stimuli)
        files[INDEX_FILE] = pathlib.Path(tmp) / INDEX_FILE
        files[INDEX_FILE].write_text(json.dumps(index))
        meta = {"name": stimuli.name, "modality": stimuli.modality, "n_stimuli": len(stimuli.stimulus_ids)}
        provenance = {"decoder": f"Pillow {PIL.__version__}"} if stimuli.modality == "image" else {}
        return store.add_artifact(tenant, STIMULI_ARTIFACT, files, meta, provenance)


def load_stimulus_set(store: Store, tenant: str, set_id: str) -> StimulusSet:
    """The stored stimulus set ``set_id``; ``NotFound`` for unknown ids and other tenants' sets."""
    info = store.get_artifact(tenant, set_id, STIMULI_ARTIFACT)
    folder = store.artifact_dir(tenant, set_id)
    index = json.loads((folder / INDEX_FILE).read_text())
    stimuli = [str(folder / name) for name in index["files"]] if index["modality"] == "image" else index["texts"]
    return StimulusSet(index["stimulus_ids"], stimuli, index["modality"], index["name"], info.id)


def list_stimulus_sets(store: Store, tenant: str, page_size: int = 100, page_token: str = "") -> tuple:
    """(stimulus set artifacts, next_page_token), oldest first, ``page_size`` at a time (0 = 100)."""
    return store.list_artifacts_page(tenant, STIMULI_ARTIFACT, page_size, page_token)


def extract_to_store(store: Store, tenant: str, model: NetworkModel, stimuli, layers=None, pooling="avg",
                     grid=2, batch_size=32, fp16=False, progress=None, provenance=None) -> ArtifactInfo:
    """Extract activations of a stimulus set and store them as an ``activations`` artifact.

    Parameters
    ----------
    store : Store
    tenant : str
    model : NetworkModel
    stimuli : str or StimulusSet
        A stored stimulus set id, or a set sent with the request (``StimulusSetBuilder``): it is
        stored as a new stimulus set once the extraction has succeeded.
    layers, pooling, grid, batch_size, fp16, progress
        As in :func:`braindecode.activations.extract_activations` (``progress(done, total)``
        after each batch).
    provenance : dict, optional
        The model's provenance (:func:`braindecode.activations.model_provenance`), if already known.

    Returns
    -------
    info : ArtifactInfo
        The stored activation set; ``provenance["stimulus_set_id"]`` names its stimuli.
    """
    inline = isinstance(stimuli, StimulusSet)
    stimulus_set = stimuli if inline else load_stimulus_set(store, tenant, stimuli)
    if stimulus_set.modality != model.modality:
        where = "the stimuli are" if inline else f"stimulus set {stimulus_set.id!r} holds"
        raise InvalidArgument(f"{where} {stimulus_set.modality}s, but model {model.name!r} takes "
                              f"{model.modality} stimuli")
    with store.scratch() as out_dir:
        activations = extract_activations(
            model, stimulus_set.stimuli, layers=layers, pooling=pooling, grid=grid, batch_size=batch_size,
            fp16=fp16, out_dir=out_dir, progress=progress, stimulus_ids=stimulus_set.stimulus_ids)
        set_id = save_stimulus_set(store, tenant, stimulus_set).id if inline else stimulus_set.id
        record = dict(provenance or model_provenance(model), stimulus_set_id=set_id, layers=activations.layer_names,
                      pooling=pooling, grid=grid if pooling == "grid" else None, batch_size=batch_size, fp16=fp16)
        try:
            return save_activation_set(store, tenant, activations, record)
        except BaseException:
            if inline:
                store.delete_artifact(tenant, set_id)
            raise
