"""Library objects <-> store artifacts: activation sets, fitted models, arrays.

An artifact is a set of named files with metadata and provenance (see
``Store.add_artifact``); these helpers fix the file layout of each kind.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from braindecode.containers import ActivationSet
from braindecode.store._kinds import ACTIVATIONS_ARTIFACT
from braindecode.store._store import ArtifactInfo, Store


class Stored:
    """Mixin of results kept as an artifact: ``info`` holds its id, meta and provenance."""

    info: ArtifactInfo

    @property
    def id(self) -> str:
        return self.info.id


def save_directory(store: Store, tenant: str, kind: str, directory, meta: dict | None = None,
                   provenance: dict | None = None) -> ArtifactInfo:
    """Store every file of a flat directory (a saved model) as one artifact."""
    files = {p.name: p for p in sorted(pathlib.Path(directory).iterdir()) if p.is_file()}
    return store.add_artifact(tenant, kind, files, meta, provenance)


def save_arrays(store: Store, tenant: str, kind: str, arrays: dict, meta: dict | None = None,
                provenance: dict | None = None) -> ArtifactInfo:
    """Store named arrays as ``<name>.npy`` files (byte-identical for identical arrays)."""
    with store.scratch() as tmp:
        for name, array in arrays.items():
            np.save(pathlib.Path(tmp) / f"{name}.npy", np.asarray(array), allow_pickle=False)
        return save_directory(store, tenant, kind, tmp, meta, provenance)


def load_arrays(store: Store, tenant: str, artifact_id: str, kind: str | None = None) -> dict:
    """The ``.npy`` files of an artifact as read-only memory maps, by name."""
    store.get_artifact(tenant, artifact_id, kind)
    folder = store.artifact_dir(tenant, artifact_id)
    return {p.stem: np.load(p, mmap_mode="r", allow_pickle=False) for p in sorted(folder.glob("*.npy"))}


def save_activation_set(store: Store, tenant: str, activations: ActivationSet,
                        provenance: dict | None = None) -> ArtifactInfo:
    """Store an ActivationSet: one ``layer-<i>.npy`` per layer plus the stimulus ids."""
    arrays = {f"layer-{i:03d}": activations.layers[name] for i, name in enumerate(activations.layers)}
    arrays["stimulus_ids"] = np.asarray(activations.stimulus_ids).astype(str)
    meta = {"model": activations.model, "layers": list(activations.layers),
            "shapes": {k: list(v.shape) for k, v in activations.layers.items()},
            "n_stimuli": len(activations.stimulus_ids), "info": json.loads(json.dumps(activations.info, default=str))}
    return save_arrays(store, tenant, ACTIVATIONS_ARTIFACT, arrays, meta, provenance)


def load_activation_set(store: Store, tenant: str, artifact_id: str) -> ActivationSet:
    """The ActivationSet stored under ``artifact_id`` (arrays are memory maps)."""
    info = store.get_artifact(tenant, artifact_id, ACTIVATIONS_ARTIFACT)
    arrays = load_arrays(store, tenant, artifact_id)
    layers = {name: arrays[f"layer-{i:03d}"] for i, name in enumerate(info.meta["layers"])}
    return ActivationSet(np.asarray(arrays["stimulus_ids"]), layers, info.meta["model"], info.meta["info"])
