"""What the client returns: small frozen dataclasses with the field names of the wire's messages.

Each class is registered for one message type; :func:`from_message` builds it from a reply, field by
field: repeated fields become tuples, maps dicts, ``Tensor`` messages numpy arrays, nested messages
their registered classes, enums their names, and fields left unset (``optional`` scalars, messages)
None.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
from grpc_health.v1 import health_pb2

from braindecode import tensors
from braindecode.v1 import (
    activations_pb2,
    artifacts_pb2,
    common_pb2,
    comparison_pb2,
    decoding_pb2,
    encoding_pb2,
    jobs_pb2,
    reconstruction_pb2,
    recordings_pb2,
)

#: Message full name -> the reply class built from it.
REPLY_TYPES: dict = {}


class Reply:
    """Base of the reply classes: equal when every field is, arrays compared by dtype and value."""

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in dataclasses.fields(self))

    __hash__ = None


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and np.array_equal(a, b))
    return a == b


def reply(message):
    """Class decorator: a frozen :class:`Reply` dataclass that :func:`from_message` builds from ``message``."""
    def register(cls):
        cls = dataclasses.dataclass(frozen=True, eq=False)(cls)
        REPLY_TYPES[message.DESCRIPTOR.full_name] = cls
        return cls
    return register


def from_message(message) -> Reply:
    """The reply class registered for ``message``'s type, filled from its fields."""
    cls = REPLY_TYPES[message.DESCRIPTOR.full_name]
    fields = message.DESCRIPTOR.fields_by_name
    return cls(**{f.name: _field(message, fields[f.name]) for f in dataclasses.fields(cls)})


def _field(message, field):
    value = getattr(message, field.name)
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        entry = field.message_type.fields_by_name["value"]
        return {key: _value(item, entry) for key, item in value.items()}
    if field.is_repeated:
        return tuple(_value(item, field) for item in value)
    if field.has_presence and not message.HasField(field.name):
        return None
    return _value(value, field)


def _value(value, field):
    if field.enum_type is not None:
        return field.enum_type.values_by_number[value].name
    if field.message_type is None:
        return value
    if field.message_type.full_name == common_pb2.Tensor.DESCRIPTOR.full_name:
        return tensors.from_tensor(value)
    return from_message(value)


# -- shared -------------------------------------------------------------------------------------
@reply(common_pb2.Progress)
class Progress(Reply):
    """Progress of a long call: ``fraction`` (0 to 1) of its current ``stage``, and a ``message``."""

    stage: str
    fraction: float
    message: str


@reply(common_pb2.Event)
class Event(Reply):
    """A stimulus event of a recording: ``onset`` and ``duration`` in seconds, its ``stimulus_id``, and
    its other ``columns`` (name -> text, e.g. ``{"split": "train"}``)."""

    onset: float
    duration: float
    stimulus_id: str
    columns: dict


@reply(health_pb2.HealthCheckResponse)
class HealthStatus(Reply):
    """The standard health check's answer: ``status`` is SERVING, NOT_SERVING or UNKNOWN."""

    status: str


# -- recordings ---------------------------------------------------------------------------------
@reply(recordings_pb2.Channel)
class Channel(Reply):
    """An EEG/MEG channel: its ``name`` and ``type`` (eeg, meg, eog, stim ...)."""

    name: str
    type: str


@reply(recordings_pb2.Recording)
class Recording(Reply):
    """A stored recording, as ``braindecode.v1.Recording`` describes it.

    ``shape`` is the array's; ``sampling_rate`` (Hz) is set for EEG/MEG and ``tr`` (s) for fMRI;
    ``affine`` holds the 4 x 4 voxel-to-world matrix row by row; ``created`` is ISO 8601 (UTC).
    An upload's reply has ``already_stored`` set when the same bytes with the same subject, session,
    task and run were stored before: it is that recording, and nothing new was stored.
    """

    id: str
    subject: str
    session: str
    task: str
    run: str
    modality: str
    format: str
    file_name: str
    shape: tuple
    sampling_rate: float
    tr: float
    channels: tuple[Channel, ...]
    voxel_size: tuple
    affine: tuple
    duration: float
    sha256: str
    events: tuple[Event, ...]
    size_bytes: int
    created: str
    already_stored: bool


# -- activations --------------------------------------------------------------------------------
@reply(activations_pb2.ModelInfo)
class ModelInfo(Reply):
    """A registry network of the server: its ``layers`` (early to late) and its model card."""

    name: str
    modality: str
    layers: tuple
    summary: str
    card: str
    source: str
    training_data: str
    license: str
    preprocessing: str


@reply(activations_pb2.StimulusSet)
class StimulusSetInfo(Reply):
    """A stored stimulus set; ``stimulus_ids`` is empty in listings."""

    id: str
    name: str
    modality: str
    n_stimuli: int
    stimulus_ids: tuple
    created: str


@reply(activations_pb2.ActivationLayer)
class ActivationLayer(Reply):
    """One layer of an activation set: the stored ``shape`` (n_stimuli, n_features) and the
    ``output_shape`` of one stimulus before pooling."""

    name: str
    shape: tuple
    output_shape: tuple


@reply(activations_pb2.ActivationSet)
class ActivationSetInfo(Reply):
    """A stored activation set: its ``layers`` and the ``stimulus_ids`` that order every layer's rows."""

    id: str
    model: str
    stimulus_set_id: str
    layers: tuple[ActivationLayer, ...]
    stimulus_ids: tuple
    pooling: str
    precision: str
    provenance_json: str
    created: str


# -- encoding -----------------------------------------------------------------------------------
@reply(encoding_pb2.EncoderFoldScores)
class EncoderFoldScores(Reply):
    """Scores of one cross-validation fold on its held-out runs (``test_runs``: recording ids)."""

    test_runs: tuple
    n_test_trials: int
    scores: dict


def _named(names, scores, response_shape) -> dict:
    """Rows of ``scores`` (n_scores, n_targets) by name, each in the shape of one trial's response."""
    if scores is None:
        return {}
    return {name: row.reshape(tuple(response_shape)) for name, row in zip(names, scores)}


@reply(encoding_pb2.FitEncoderResult)
class FitEncoderResult(Reply):
    """A fitted, stored encoder.

    ``cv_scores`` are means over targets of the cross-validated scores; ``target_scores`` is an array
    of shape (n_scores, n_targets), one row per name of ``score_names``, and ``named_scores`` the same
    by name.
    """

    encoder_id: str
    modality: str
    response_shape: tuple
    n_features: int
    n_trials: int
    cv_scores: dict
    folds: tuple[EncoderFoldScores, ...]
    score_names: tuple
    target_scores: np.ndarray | None

    @property
    def named_scores(self) -> dict:
        """Score name -> its cross-validated values, an array of ``response_shape`` (one per target)."""
        return _named(self.score_names, self.target_scores, self.response_shape)


@reply(encoding_pb2.ScoreResponse)
class ScoreEncoderResult(Reply):
    """An encoder's scores on recordings.

    ``scores`` is an array of shape (n_scores, n_targets), one row per name of ``score_names``, and
    ``named_scores`` the same by name; ``score_map_nifti`` the .nii.gz bytes of the score map (fMRI
    voxels, one volume per score, named in its header's description; empty otherwise), stored with
    its JSON sidecar as the artifact ``score_map_id``.
    """

    score_names: tuple
    scores: np.ndarray | None
    summary: dict
    response_shape: tuple
    n_trials: int
    score_map_nifti: bytes
    score_map_id: str

    @property
    def named_scores(self) -> dict:
        """Score name -> its values on single trials, an array of ``response_shape`` (one per target)."""
        return _named(self.score_names, self.scores, self.response_shape)


# -- decoding -----------------------------------------------------------------------------------
@reply(decoding_pb2.FoldScores)
class DecoderFoldScores(Reply):
    """Scores of one cross-validation fold; ``n_test_stimuli`` candidates were retrieved among. A shared
    decoder's folds name the ``subject`` whose runs they held out."""

    test_runs: tuple
    n_test_trials: int
    n_test_stimuli: int
    scores: dict
    subject: str


@reply(decoding_pb2.SubjectInput)
class SubjectInput(Reply):
    """A subject of a shared decoder and the ``input_shape`` (n_voxels,) of its adapter."""

    subject: str
    input_shape: tuple


@reply(decoding_pb2.RetrievalMatches)
class RetrievalMatches(Reply):
    """The top-k candidates of one query: their ``stimulus_ids``, most similar first, and cosine ``scores``."""

    stimulus_ids: tuple
    scores: tuple


@reply(decoding_pb2.RetrieveResponse)
class RecordingRetrieval(Reply):
    """Retrieval from decoded trials: ``query_ids`` (the stimulus of each query), its ``matches`` and the
    decoded ``query_embeddings`` (n_queries, n_dims)."""

    matches: tuple[RetrievalMatches, ...]
    query_ids: tuple
    query_embeddings: np.ndarray | None


@reply(decoding_pb2.FitDecoderResult)
class FitDecoderResult(Reply):
    """A fitted, stored decoder: the ``input_shape`` of one sample (a shared decoder's ``subjects``,
    each with its own), ``n_dims`` of its embeddings, and ``cv_scores`` (means over the ``folds``)."""

    decoder_id: str
    modality: str
    input_shape: tuple
    n_dims: int
    cv_scores: dict
    folds: tuple[DecoderFoldScores, ...]
    n_trials: int
    subjects: tuple[SubjectInput, ...]


# -- comparison ---------------------------------------------------------------------------------
@reply(comparison_pb2.RDM)
class RDMInfo(Reply):
    """A stored RDM; ``rdm`` is its matrix of shape (n_conditions, n_conditions), or None when it was
    too large for one reply (read it with ``Client.comparison.get_rdm_matrix``)."""

    id: str
    subject: str
    method: str
    condition_ids: tuple
    rdm: np.ndarray | None
    source: str
    layer: str
    provenance_json: str
    created: str


@reply(comparison_pb2.ModelScore)
class ModelScore(Reply):
    """One model RDM's score (mean over subjects) and ``subject_scores``; the interval and p-values
    are None when the comparison drew no bootstrap samples or permutations."""

    name: str
    rdm_id: str
    score: float
    subject_scores: tuple
    ci_lower: float | None
    ci_upper: float | None
    p_value: float | None
    p_value_fdr: float | None


@reply(comparison_pb2.NoiseCeiling)
class NoiseCeilingBounds(Reply):
    """The ``lower`` and ``upper`` bounds of the noise ceiling."""

    lower: float
    upper: float


@reply(comparison_pb2.CompareResult)
class CompareResult(Reply):
    """A stored brain-model RDM comparison.

    ``noise_ceiling`` is None with a single brain RDM; ``pairwise_p_values`` and
    ``pairwise_p_values_fdr`` are arrays of shape (n_models, n_models), or None without bootstrap
    samples or with one model.
    """

    comparison_id: str
    method: str
    condition_ids: tuple
    models: tuple[ModelScore, ...]
    noise_ceiling: NoiseCeilingBounds | None
    pairwise_p_values: np.ndarray | None
    pairwise_p_values_fdr: np.ndarray | None
    bootstrap: str
    n_bootstrap: int
    n_valid_bootstrap: int
    n_permutations: int
    seed: int
    ci: float


@reply(comparison_pb2.ScoreMatrixResponse)
class ScoreMatrixResult(Reply):
    """A stored score matrix: ``scores`` of shape (n_rows, n_columns), the mean of ``subject_scores``
    of shape (n_subjects, n_rows, n_columns); rows are layers, columns ROIs (or ``times`` in s)."""

    score_matrix_id: str
    rows: tuple
    columns: tuple
    scores: np.ndarray | None
    subjects: tuple
    subject_scores: np.ndarray | None
    method: str
    times: tuple


# -- reconstruction -----------------------------------------------------------------------------
@reply(reconstruction_pb2.ReconstructResult)
class ReconstructResult(Reply):
    """A stored reconstruction: its images' ``stimulus_ids`` in order, and their size in pixels."""

    reconstruction_id: str
    stimulus_ids: tuple
    height: int
    width: int


# -- artifacts ----------------------------------------------------------------------------------
@reply(artifacts_pb2.ArtifactFile)
class ArtifactFile(Reply):
    """One stored file of an artifact: its ``size_bytes``, ``sha256`` and, from ``get``, the ``dtype`` and
    ``shape`` of the array it holds (.npy, NIfTI, PNG; empty otherwise)."""

    name: str
    size_bytes: int
    sha256: str
    dtype: str
    shape: tuple


@reply(artifacts_pb2.Artifact)
class Artifact(Reply):
    """A stored artifact: its ``kind``, ``files``, ``created`` (ISO 8601, UTC), and ``meta`` (what it holds)
    and ``provenance`` (what it was computed from) as dicts."""

    id: str
    kind: str
    files: tuple[ArtifactFile, ...]
    size_bytes: int
    meta_json: str
    provenance_json: str
    created: str

    @property
    def meta(self) -> dict:
        return json.loads(self.meta_json or "{}")

    @property
    def provenance(self) -> dict:
        return json.loads(self.provenance_json or "{}")


@reply(reconstruction_pb2.RecommendedSampling)
class RecommendedSampling(Reply):
    """The sampling settings a model uses for those a call leaves unset (``family_settings``: its own, e.g.
    Stable unCLIP's ``noise_level``)."""

    n_steps: int
    scheduler: str
    guidance: float
    strength: float
    family_settings: dict


@reply(reconstruction_pb2.ReconstructionModel)
class ReconstructionModel(Reply):
    """A served reconstruction model: its ``family``, conditioning space and images.

    A decoder for it maps to the ``embedding_dim``-d ``encoder_output`` of ``encoder``, which
    ``client.activations.extract(encoder, ..., layers=[encoder_output])`` computes when
    ``encoder_served``. ``error`` says why a model cannot be loaded (the other fields are empty then).
    """

    name: str
    family: str
    embedding_dim: int
    encoder: str
    encoder_output: str
    encoder_served: bool
    image_height: int
    image_width: int
    sampling: RecommendedSampling | None
    max_steps: int
    error: str


# -- jobs ---------------------------------------------------------------------------------------
# The job spec as the server checked it: the fields of braindecode.v1.JobSpec and its parts.
@reply(jobs_pb2.RecordingFilter)
class JobRecordingFilter(Reply):
    """The recordings of a job given as a filter (empty fields match every value)."""

    subject: str
    task: str
    modality: str


@reply(jobs_pb2.RecordingSelection)
class JobRecordings(Reply):
    """A job's recordings: their ``ids``, or a ``filter``."""

    ids: tuple
    filter: JobRecordingFilter | None


@reply(jobs_pb2.ModelRef)
class JobModel(Reply):
    """The stored model a job applies: a ``decoder`` or an ``encoder`` artifact id (and a shared decoder's
    ``subject``, if the spec names one)."""

    decoder: str
    encoder: str
    subject: str


@reply(jobs_pb2.RetrievalOutput)
class JobRetrieval(Reply):
    """Top-``k`` retrieval among a ``layer`` of the activation set ``candidates``."""

    candidates: str
    layer: str
    k: int


@reply(jobs_pb2.ReconstructionOutput)
class JobReconstructions(Reply):
    """Reconstructions from the decoded embeddings by the served ``model``, with these sampling settings."""

    n_steps: int
    seed: int
    guidance: float
    scheduler: str
    model: str


@reply(jobs_pb2.JobOutputs)
class JobOutputs(Reply):
    """What a job writes per shard; ``retrieval`` and ``reconstructions`` are None when not asked for."""

    embeddings: bool
    retrieval: JobRetrieval | None
    reconstructions: JobReconstructions | None
    score_maps: bool
    predictions: bool


@reply(jobs_pb2.JobSpec)
class JobSpecInfo(Reply):
    """A job's spec as the server checked it (``preprocessing_json``: the preprocessing spec as JSON)."""

    name: str
    recordings: JobRecordings | None
    preprocessing_json: str
    model: JobModel | None
    outputs: JobOutputs | None
    shard_by: str


@reply(jobs_pb2.Shard)
class Shard(Reply):
    """One shard of a job: its recordings, ``state``, failures and, once done, its ``output_id``."""

    index: int
    recording_ids: tuple
    state: str
    failures: int
    error: str
    output_id: str
    seconds: float


@reply(jobs_pb2.Job)
class Job(Reply):
    """A batch job: ``state`` (queued, running, completed, completed_with_failures, failed,
    cancelled), shard counts and ``shards``; times are ISO 8601 (UTC)."""

    id: str
    state: str
    spec: JobSpecInfo | None
    request_id: str
    shards_total: int
    shards_done: int
    shards_failed: int
    shards_running: int
    shards: tuple[Shard, ...]
    created: str
    started: str
    finished: str
    error: str


@reply(jobs_pb2.JobEvent)
class JobEvent(Reply):
    """One event of a watched job: shard counts and throughput, then either ``progress`` or, in the
    last event, ``result`` (the job in its final state); the other is None. ``eta_seconds`` is -1
    while unknown."""

    job_id: str
    state: str
    shards_total: int
    shards_done: int
    shards_failed: int
    shards_running: int
    shards_per_second: float
    eta_seconds: float
    progress: Progress | None
    result: Job | None
