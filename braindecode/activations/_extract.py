"""``extract_activations``: batches of stimuli through a network, pooled per layer, in memory or on disk."""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import numpy as np
import torch

from braindecode._devices import resolve_device
from braindecode.activations._loading import load_model
from braindecode.activations._network import NetworkModel, TorchNetwork
from braindecode.activations._pooling import check_pooling, pool_layer
from braindecode.activations._stimuli import check_stimuli
from braindecode.containers import ActivationSet
from braindecode.errors import InvalidArgument

log = logging.getLogger("braindecode.activations")

INDEX_FILE = "activations.json"


def _default_ids(stimuli, modality) -> list:
    if modality == "image" and all(isinstance(s, (str, os.PathLike)) for s in stimuli):
        stems = [Path(s).stem for s in stimuli]
        if len(set(stems)) == len(stems):
            return stems
    return [str(i) for i in range(len(stimuli))]


def _check_ids(stimulus_ids, n: int) -> list:
    ids = [str(s) for s in stimulus_ids]
    if len(ids) != n:
        raise InvalidArgument(f"{len(ids)} stimulus_ids for {n} stimuli")
    if len(set(ids)) != n:
        raise InvalidArgument("stimulus_ids must be unique")
    return ids


def _batch_order(stimuli, modality) -> np.ndarray:
    """Row order for batching: longest texts first (less padding, as sentence-transformers does)."""
    if modality == "text":
        return np.argsort([-len(s) for s in stimuli], kind="stable")
    return np.arange(len(stimuli))


def _precision(model: NetworkModel, fp16: bool):
    """(autocast dtype or None, note for provenance)."""
    if not fp16:
        return None, "float32"
    if model.device.type != "cuda":
        note = "float32 (fp16 requested, but float16 runs only on CUDA; ran in float32 on the CPU)"
    elif not isinstance(model, TorchNetwork):
        note = f"float32 (fp16 requested, but autocast applies to torch modules, not {type(model).__name__})"
    else:
        return torch.float16, "float16 autocast on CUDA, features stored as float32"
    log.warning("extract_activations: %s", note)
    return None, note


def _file_name(index: int, layer: str) -> str:
    return f"{index:03d}_{re.sub(r'[^A-Za-z0-9._-]+', '_', layer)}.npy"


def _fsync(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


class _DiskWriter:
    """Stream each layer into ``<out_dir>/<index>_<layer>.npy``; files appear only once complete."""

    def __init__(self, out_dir, layers):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.files = {layer: _file_name(i, layer) for i, layer in enumerate(layers)}
        self.arrays = {}

    def allocate(self, layer, n_rows, n_features):
        partial = self.out_dir / (self.files[layer] + ".partial")
        self.arrays[layer] = np.lib.format.open_memmap(
            partial, mode="w+", dtype=np.float32, shape=(n_rows, n_features))
        return self.arrays[layer]

    def commit(self, stimulus_ids, model_name, info) -> dict:
        for layer, array in self.arrays.items():
            array.flush()
            partial = self.out_dir / (self.files[layer] + ".partial")
            _fsync(partial)
            os.replace(partial, self.out_dir / self.files[layer])
        index = {"model": model_name, "stimulus_ids": list(stimulus_ids), "layers": self.files, "info": info}
        tmp = self.out_dir / (INDEX_FILE + ".partial")
        tmp.write_text(json.dumps(index, indent=1))
        _fsync(tmp)
        os.replace(tmp, self.out_dir / INDEX_FILE)
        return {layer: np.load(self.out_dir / name, mmap_mode="r") for layer, name in self.files.items()}

    def abort(self):
        self.arrays.clear()
        for name in self.files.values():
            (self.out_dir / (name + ".partial")).unlink(missing_ok=True)


class _MemoryWriter:
    def __init__(self):
        self.arrays = {}

    def allocate(self, layer, n_rows, n_features):
        self.arrays[layer] = np.empty((n_rows, n_features), dtype=np.float32)
        return self.arrays[layer]

    def commit(self, stimulus_ids, model_name, info) -> dict:
        return self.arrays

    def abort(self):
        self.arrays.clear()


def extract_activations(model, stimuli, layers=None, pooling="avg", grid=2, batch_size=32, device=None,
                        fp16=False, out_dir=None, progress=None, stimulus_ids=None) -> ActivationSet:
    """Layer activations of a network for a list of stimuli.

    Layers are read with forward hooks (torch), graph outputs (ONNX) or graph rewriting
    (TorchScript); the network itself is never modified.

    Parameters
    ----------
    model : NetworkModel or str
        A loaded model, or anything :func:`load_model` accepts.
    stimuli : list
        PIL images, uint8 arrays of shape (H, W, 3) or image paths for image models;
        strings for text models.
    layers : list of str, optional
        Layers to read, from ``model.layers``; all of them by default.
    pooling : {"none", "avg", "grid"}
        "none" flattens each layer; "avg" averages over spatial positions (or real tokens);
        "grid" averages over a ``grid`` x ``grid`` spatial grid of cells.
    grid : int
        Cells per side for ``pooling="grid"``.
    batch_size : int
    device : {"cpu", "cuda", "cuda:N"}, optional
        Where to run; the model is moved there. Defaults to the model's device.
    fp16 : bool
        float16 autocast on CUDA for torch networks; elsewhere the run stays in float32 and
        ``info["precision"]`` says so.
    out_dir : path-like, optional
        Stream each layer to ``out_dir/<i>_<layer>.npy`` (plus ``activations.json``) while
        extracting, so memory holds one batch; the returned arrays are read-only memmaps.
    progress : callable, optional
        ``progress(done, total)`` after each batch, in stimuli.
    stimulus_ids : list of str, optional
        One unique id per stimulus; defaults to file stems for image paths (when unique), else
        ``"0"``, ``"1"``, ...

    Returns
    -------
    activations : ActivationSet
        ``layers[name]`` is an array of shape (n_stimuli, n_features), float32.
    """
    if not isinstance(model, NetworkModel):
        model = load_model(model, device=device or "cpu")
    if isinstance(stimuli, (str, bytes)) or not hasattr(stimuli, "__len__"):
        raise InvalidArgument("stimuli must be a list (of images, image paths or strings)")
    stimuli = list(stimuli)
    if not stimuli:
        raise InvalidArgument("stimuli is empty")
    check_stimuli(stimuli, model.modality)
    layers = model.check_layers(layers)
    check_pooling(pooling, grid)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidArgument(f"batch_size must be a positive int, got {batch_size!r}")
    ids = _check_ids(stimulus_ids, len(stimuli)) if stimulus_ids is not None else _default_ids(stimuli, model.modality)
    if device is not None and resolve_device(device) != model.device:
        model.to(device)
    autocast_dtype, precision = _precision(model, fp16)
    n_tokens = model.max_tokens(stimuli) if model.modality == "text" and pooling == "none" else None

    writer = _DiskWriter(out_dir, layers) if out_dir is not None else _MemoryWriter()
    shapes = {}
    try:
        order = _batch_order(stimuli, model.modality)
        for start in range(0, len(stimuli), batch_size):
            rows = order[start:start + batch_size]
            batch = [stimuli[i] for i in rows]
            inputs = model.preprocess(batch)
            outputs = model.capture(inputs, layers, autocast_dtype)
            mask = model.token_mask(inputs)
            for layer in layers:
                features = pool_layer(outputs[layer], pooling, grid, mask, n_tokens, layer)
                if layer not in writer.arrays:
                    shapes[layer] = list(outputs[layer].shape[1:])
                    writer.allocate(layer, len(stimuli), features.shape[1])
                writer.arrays[layer][rows] = features.cpu().numpy()
            if progress is not None:
                progress(min(start + batch_size, len(stimuli)), len(stimuli))
        info = {"pooling": pooling, "grid": grid if pooling == "grid" else None, "precision": precision,
                "device": str(model.device), "preprocessing": model.preprocessing, "layer_shapes": shapes,
                "n_tokens": n_tokens, "modality": model.modality}
        arrays = writer.commit(ids, model.name, info)
    except BaseException:
        writer.abort()
        raise
    return ActivationSet(np.asarray(ids), {layer: arrays[layer] for layer in layers}, model.name, info)


def read_activations(out_dir) -> ActivationSet:
    """An ActivationSet written by ``extract_activations(..., out_dir=...)``, as read-only memmaps."""
    out_dir = Path(out_dir)
    try:
        index = json.loads((out_dir / INDEX_FILE).read_text())
    except FileNotFoundError:
        raise InvalidArgument(f"{out_dir} holds no {INDEX_FILE}; was the extraction completed?") from None
    layers = {layer: np.load(out_dir / name, mmap_mode="r") for layer, name in index["layers"].items()}
    return ActivationSet(np.asarray(index["stimulus_ids"]), layers, index["model"], index["info"])
