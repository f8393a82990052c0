"""One shard of a job: preprocess its recordings, run the decoder or encoder, write the outputs.

A shard is a pure function of its inputs (the recordings' bytes, the spec, the model
artifact and the encoder's activation set): its files are written with ``np.save``,
sorted-key JSON and gzip without a time stamp, hold no times, and appear atomically, so a
retried or re-run shard leaves byte-identical files.

Files of a shard folder (``shard-00003/``), the same in server job outputs and batch runs:

``stimulus_ids.npy`` (n_trials,), ``recording_ids.npy`` (n_trials,)
    The trials' stimuli and recordings, in the rows' order.
``embeddings.npy`` (n_trials, n_dims) float32
    Decoded embeddings (``outputs.embeddings``).
``retrieval_ids.npy``, ``retrieval_scores.npy`` (n_trials, k)
    The k most similar candidate stimuli and their cosine similarities (``outputs.retrieval``).
``reconstructions.npy`` (n_trials, H, W, 3) uint8
    Images from the diffusion model (``outputs.reconstructions``).
``predictions.npy`` (n_trials, *response_shape) float32
    The encoder's predicted responses to the trials' stimuli (``outputs.predictions``).
``scores.npy`` (n_scores, n_targets) float32
    The encoder's per-target scores on the shard's trials (``outputs.score_maps``), one row
    per name in ``shard.json``'s ``score_names`` (``braindecode.encoding.target_scores``).
``score_map.nii.gz``, ``score_map.json``
    fMRI voxel encoders: the scores in the recordings' space, one volume per score, and the
    sidecar that says what each volume is (``braindecode.encoding.score_map_sidecar``).
``shard.json``
    The shard's recordings (id, sha256, subject), model, spec, trial count and dropped trials;
    ``files`` lists the per-trial arrays (concatenated by ``merge_outputs``), ``shard_files``
    the per-shard ones.
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

from braindecode._io import PRIVATE_DIR_MODE, fsync_dir, private_opener
from braindecode.store import MAX_REQUEST_BYTES, ReadOnlyStore, RequestLimits

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
        The decoder or encoder artifact id (recorded in the outputs).
    model_dir : str
        Folder holding the saved decoder or encoder.
    preprocessing, outputs : dict
        The checked spec's ``preprocessing`` and ``outputs``.
    out_dir : str
        Shard folders are written below it, and recordings unpacked there while they are read.
    candidates_path : str
        ``.npy`` file of shape (n_stimuli, n_dims): the retrieval layer (with ``outputs.retrieval``).
    candidate_ids : tuple of str
        The candidates' stimulus ids, in row order.
    reconstruction_model : str
        Directory of the diffusion model ``outputs.reconstructions.model`` names; empty: the shipped model.
    device : str
        Torch device of the model and the diffusion model.
    model_kind : {"decoder", "encoder"}
    activation_set_id : str
        The encoder's activation set (encoder jobs): the features of the trials' stimuli.
    max_request_bytes : int
        Most bytes reading one shard's recordings may hold (``RequestLimits.max_request_bytes``).
    job_id : str
        The server's job (empty for a batch run).
    selection : dict, optional
        The voxels the model was fitted on (``braindecode.preprocessing.Selection``), read from each recording.
    subject : str
        A shared decoder's subject whose adapter decodes every trial; empty: each trial's subject.
    """

    data_dir: str
    tenant: str
    model_id: str
    model_dir: str
    preprocessing: dict
    outputs: dict
    out_dir: str
    candidates_path: str = ""
    candidate_ids: tuple = ()
    reconstruction_model: str = ""
    device: str = "cpu"
    model_kind: str = "decoder"
    activation_set_id: str = ""
    max_request_bytes: int = MAX_REQUEST_BYTES
    job_id: str = ""
    selection: dict | None = None
    subject: str = ""


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


def write_outputs(directory, arrays: dict, summary: dict, summary_name: str = SUMMARY,
                  files: dict | None = None) -> pathlib.Path:
    """Write ``<name>.npy`` per array, ``files`` (name -> bytes) and the ``summary`` JSON into
    ``directory``, all at once.

    The files are staged in a sibling folder, synced, and renamed into place (replacing an
    earlier attempt's folder). The parent folder must exist. Only the owner may read them
    (folder 0700, files 0600): they hold a tenant's data.
    """
    directory = pathlib.Path(directory)
    stage = directory.parent / f".{directory.name}.{uuid.uuid4().hex}"
    stage.mkdir(mode=PRIVATE_DIR_MODE)
    try:
        for name, array in arrays.items():
            with open(stage / f"{name}.npy", "wb", opener=private_opener) as f:
                np.save(f, np.asarray(array), allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
        for name, data in (files or {}).items():
            with open(stage / name, "wb", opener=private_opener) as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        with open(stage / summary_name, "w", opener=private_opener) as f:
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
def _model(kind: str, model_dir: str, device: str):
    if kind == "encoder":
        from braindecode.encoding import load_encoder

        return load_encoder(model_dir, device=device)
    from braindecode.decoding import load_decoder

    return load_decoder(model_dir, device=device)


@functools.lru_cache(maxsize=4)
def _store(data_dir: str, work_dir: str, max_request_bytes: int) -> ReadOnlyStore:
    return ReadOnlyStore(data_dir, work_dir, RequestLimits(max_request_bytes=max_request_bytes))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def decode_outputs(responses, decoder, context: JobContext) -> dict:
    """The output arrays of one shard's responses (see the module docstring for the names).

    Parameters
    ----------
    responses : BrainResponses
        data of shape (n_trials, n_features) or (n_trials, n_channels, n_times).
    decoder : BaseDecoder or SharedDecoder
        Fitted; a shared decoder decodes each trial through the adapter of ``context.subject``,
        or else of the trial's subject.
    context : JobContext
    """
    from braindecode.decoding import SharedDecoder

    if isinstance(decoder, SharedDecoder):
        subjects = np.full(responses.n_trials, context.subject) if context.subject else responses.subjects
        embeddings = np.empty((responses.n_trials, decoder.n_dims_), dtype=np.float32)
        for subject in dict.fromkeys(subjects.tolist()):
            rows = subjects == subject
            embeddings[rows] = decoder.predict(responses.data[rows], subject)
    else:
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


def encode_outputs(responses, encoder, activations, grid, context: JobContext) -> tuple:
    """The output arrays and files of one shard's responses under an encoder.

    The scores are those of ``braindecode.store.score_encoder_from_store`` on the same
    recordings (``braindecode.encoding.score_encoder``).

    Parameters
    ----------
    responses : BrainResponses
        data of shape (n_trials, *encoder.space.response_shape), in the encoder's space.
    encoder : braindecode.encoding.Encoder
    activations : ActivationSet
        Holds every trial's stimulus and the encoder's layers.
    grid : (tuple of int, array of shape (4, 4)) or None
        Shape and affine of the responses' voxel grid (``braindecode.store.voxel_grid``), for
        voxel encoders.
    context : JobContext

    Returns
    -------
    arrays : dict of str -> array
    files : dict of str -> bytes
        ``score_map.nii.gz`` and its sidecar ``score_map.json`` (fMRI voxel encoders with
        ``outputs.score_maps``).
    score_names : list of str
        The rows of ``arrays["scores"]``.
    """
    from braindecode.encoding import predict_responses, score_encoder
    from braindecode.store import score_map_files

    arrays = {"stimulus_ids": responses.stimulus_ids, "recording_ids": responses.runs}
    files, score_names = {}, []
    if context.outputs["score_maps"]:
        scored = score_encoder(encoder, responses, activations, grid, context.model_id)
        predicted = scored.predictions
        score_names = list(scored.target_scores)
        arrays["scores"] = np.stack(list(scored.target_scores.values()))
        files = score_map_files(scored.score_map, score_names)
    else:
        predicted = predict_responses(encoder, responses, activations, grid, context.model_id)
    if context.outputs["predictions"]:
        arrays["predictions"] = predicted
    return arrays, files, score_names


class ShardWorker:
    """Runs the shards of one job with its model (cached per process: the shards after the first reuse it).

    Calling it never raises: a failure becomes a :class:`ShardResult` with an ``error``.
    """

    def __init__(self, context: JobContext):
        self.context = context
        try:
            self.model, self.load_error = _model(context.model_kind, context.model_dir, context.device), ""
        except Exception as exc:  # noqa: BLE001 - reported on every shard of the job
            self.model = None
            self.load_error = f"cannot load {context.model_kind} {context.model_id}: {_describe(exc)}"

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
        from braindecode.store import load_responses

        ctx = self.context
        store = _store(ctx.data_dir, ctx.out_dir, ctx.max_request_bytes)
        responses = load_responses(store, ctx.tenant, [r["id"] for r in task.recordings], ctx.preprocessing,
                                   ctx.selection)
        summary = {
            "format": OUTPUT_FORMAT, "version": OUTPUT_VERSION, "shard": task.index,
            "recordings": list(task.recordings), "model": {ctx.model_kind: ctx.model_id},
            "preprocessing": ctx.preprocessing, "outputs": ctx.outputs, "n_trials": responses.n_trials,
            "dropped": responses.info.get("dropped", {}),
        }
        files = {}
        if ctx.model_kind == "encoder":
            from braindecode.store import load_activation_set, voxel_grid

            activations = load_activation_set(store, ctx.tenant, ctx.activation_set_id)
            recordings = [store.get_recording(ctx.tenant, r["id"]) for r in task.recordings]
            grid = voxel_grid(recordings) if self.model.space.mask is not None else None
            arrays, files, score_names = encode_outputs(responses, self.model, activations, grid, ctx)
            if "scores" in arrays:
                summary.update(score_names=score_names, response_shape=list(self.model.space.response_shape))
        else:
            arrays = decode_outputs(responses, self.model, ctx)
        per_shard = [f"{name}.npy" for name in arrays if name == "scores"] + list(files)
        summary["files"] = sorted(f"{name}.npy" for name in arrays if name != "scores")
        summary["shard_files"] = sorted(per_shard)
        write_outputs(pathlib.Path(ctx.out_dir) / shard_name(task.index), arrays, summary, files=files)
        return responses.n_trials


def run_shard(context: JobContext, task: ShardTask) -> ShardResult:
    """Run one shard (the function a process pool calls; models are cached per process)."""
    return ShardWorker(context)(task)
