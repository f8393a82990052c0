"""One shard of a job: preprocess its recordings, decode them, write the outputs.

A shard is a pure function of its inputs (the recordings' bytes, the spec, the decoder
artifact): its files are written with ``np.save`` and sorted-key JSON, hold no times, and
appear atomically, so a retried or re-run shard leaves byte-identical files.

Files of a shard folder (``shard-00003/``), the same in server job outputs and batch runs:

``stimulus_ids.npy`` (n_trials,), ``recording_ids.npy`` (n_trials,)
    The trials' stimuli and recordings, in the rows' order.
``embeddings.npy`` (n_trials, n_dims) float32
    Decoded embeddings (``outputs.embeddings``).
``retrieval_ids.npy``, ``retrieval_scores.npy`` (n_trials, k)
    The k most similar candidate stimuli and their cosine similarities (``outputs.retrieval``).
``reconstructions.npy`` (n_trials, H, W, 3) uint8
    Images from the diffusion model (``outputs.reconstructions``).
``shard.json``
    The shard's recordings (id, sha256, subject), model, spec, trial count and dropped trials.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import pathlib
import shutil
import time
import uuid

import numpy as np

from braindecode.jobs._readonly import ReadOnlyStore

OUTPUT_FORMAT = "braindecode.job-output"
OUTPUT_VERSION = 1
SUMMARY = "shard.json"


@dataclasses.dataclass(frozen=True)
class JobContext:
    """What every shard of a job shares; plain values, so it pickles and serialises as JSON.

    Parameters
    ----------
    data_dir, tenant : str
        The store folder (opened read-only by workers) and the tenant whose recordings are read.
    model_id : str
        The decoder artifact id (recorded in the outputs).
    decoder_dir : str
        Folder holding the saved decoder.
    preprocessing, outputs : dict
        The checked spec's ``preprocessing`` and ``outputs``.
    out_dir : str
        Shard folders are written below it.
    candidates_path : str
        ``.npy`` file of shape (n_stimuli, n_dims): the retrieval layer (with ``outputs.retrieval``).
    candidate_ids : tuple of str
        The candidates' stimulus ids, in row order.
    reconstruction_model : str
        Diffusion model folder (with ``outputs.reconstructions``); empty: the shipped model.
    device : str
        Torch device of the decoder and the diffusion model.
    """

    data_dir: str
    tenant: str
    model_id: str
    decoder_dir: str
    preprocessing: dict
    outputs: dict
    out_dir: str
    candidates_path: str = ""
    candidate_ids: tuple = ()
    reconstruction_model: str = ""
    device: str = "cpu"


@dataclasses.dataclass(frozen=True)
class ShardTask:
    """A shard to run: its index and recordings (``{"id", "sha256", "subject"}`` each)."""

    index: int
    recordings: tuple


@dataclasses.dataclass
class ShardResult:
    """How a shard attempt ended: ``error`` is empty on success."""

    index: int
    error: str = ""
    seconds: float = 0.0
    n_trials: int = 0

    @property
    def ok(self) -> bool:
        return not self.error


def shard_name(index: int) -> str:
    """The folder name of shard ``index``."""
    return f"shard-{index:05d}"


def fsync_dir(path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_outputs(directory, arrays: dict, summary: dict, summary_name: str = SUMMARY) -> pathlib.Path:
    """Write ``<name>.npy`` per array and the ``summary`` JSON into ``directory``, all at once.

    The files are staged in a sibling folder, synced, and renamed into place (replacing an
    earlier attempt's folder). The parent folder must exist.
    """
    directory = pathlib.Path(directory)
    stage = directory.parent / f".{directory.name}.{uuid.uuid4().hex}"
    stage.mkdir()
    try:
        for name, array in arrays.items():
            with open(stage / f"{name}.npy", "wb") as f:
                np.save(f, np.asarray(array), allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
        with open(stage / summary_name, "w") as f:
            f.write(json.dumps(summary, sort_keys=True, indent=2) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(stage, directory)
        fsync_dir(directory.parent)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return directory


@functools.lru_cache(maxsize=4)
def _decoder(decoder_dir: str, device: str):
    from braindecode.decoding import load_decoder

    return load_decoder(decoder_dir, device=device)


@functools.lru_cache(maxsize=4)
def _store(data_dir: str) -> ReadOnlyStore:
    return ReadOnlyStore(data_dir)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def decode_outputs(responses, decoder, context: JobContext) -> dict:
    """The output arrays of one shard's responses (see the module docstring for the names).

    Parameters
    ----------
    responses : BrainResponses
        data of shape (n_trials, n_features) or (n_trials, n_channels, n_times).
    decoder : BaseDecoder
        Fitted.
    context : JobContext
    """
    embeddings = decoder.predict(responses.data)
    arrays = {"stimulus_ids": responses.stimulus_ids, "recording_ids": responses.runs}
    if context.outputs["embeddings"]:
        arrays["embeddings"] = embeddings
    retrieval = context.outputs.get("retrieval")
    if retrieval:
        from braindecode.decoding import retrieve

        candidates = np.load(context.candidates_path, allow_pickle=False)
        candidates = candidates.reshape(len(candidates), -1)
        arrays["retrieval_ids"], arrays["retrieval_scores"] = retrieve(
            embeddings, candidates, np.asarray(context.candidate_ids), k=retrieval["k"], device=context.device)
    reconstructions = context.outputs.get("reconstructions")
    if reconstructions:
        from braindecode.reconstruction import reconstruct

        arrays["reconstructions"] = reconstruct(
            embeddings, model=context.reconstruction_model or None, n_steps=reconstructions["n_steps"],
            seed=reconstructions["seed"], guidance=reconstructions["guidance"],
            scheduler=reconstructions["scheduler"], device=context.device)
    return arrays


class ShardWorker:
    """Runs the shards of one job; holds the job's loaded decoder (a Ray actor keeps one).

    Calling it never raises: a failure becomes a :class:`ShardResult` with an ``error``.
    """

    def __init__(self, context: JobContext):
        self.context = context
        try:
            self.decoder, self.load_error = _decoder(context.decoder_dir, context.device), ""
        except Exception as exc:  # noqa: BLE001 - reported on every shard of the job
            self.decoder, self.load_error = None, f"cannot load decoder {context.model_id}: {_describe(exc)}"

    def __call__(self, task: ShardTask) -> ShardResult:
        start = time.perf_counter()
        if self.load_error:
            return ShardResult(task.index, self.load_error)
        try:
            n_trials = self._run(task)
        except Exception as exc:  # noqa: BLE001 - a failed shard is recorded, retried, and the job goes on
            return ShardResult(task.index, _describe(exc), time.perf_counter() - start)
        return ShardResult(task.index, "", time.perf_counter() - start, n_trials)

    def _run(self, task: ShardTask) -> int:
        from braindecode.recordings import load_responses

        ctx = self.context
        responses = load_responses(_store(ctx.data_dir), ctx.tenant, [r["id"] for r in task.recordings],
                                   ctx.preprocessing)
        arrays = decode_outputs(responses, self.decoder, ctx)
        summary = {
            "format": OUTPUT_FORMAT, "version": OUTPUT_VERSION, "shard": task.index,
            "recordings": list(task.recordings), "model": {"decoder": ctx.model_id},
            "preprocessing": ctx.preprocessing, "outputs": ctx.outputs, "n_trials": responses.n_trials,
            "dropped": responses.info.get("dropped", {}), "files": sorted(f"{name}.npy" for name in arrays),
        }
        write_outputs(pathlib.Path(ctx.out_dir) / shard_name(task.index), arrays, summary)
        return responses.n_trials


def run_shard(context: JobContext, task: ShardTask) -> ShardResult:
    """Run one shard (the function a process pool calls; decoders are cached per process)."""
    return ShardWorker(context)(task)
