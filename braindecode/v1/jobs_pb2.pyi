from braindecode.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RecordingSelection(_message.Message):
    __slots__ = ("ids", "filter")
    IDS_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    filter: RecordingFilter
    def __init__(self, ids: _Optional[_Iterable[str]] = ..., filter: _Optional[_Union[RecordingFilter, _Mapping]] = ...) -> None: ...

class RecordingFilter(_message.Message):
    __slots__ = ("subject", "task", "modality")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    subject: str
    task: str
    modality: str
    def __init__(self, subject: _Optional[str] = ..., task: _Optional[str] = ..., modality: _Optional[str] = ...) -> None: ...

class ModelRef(_message.Message):
    __slots__ = ("decoder", "encoder", "subject")
    DECODER_FIELD_NUMBER: _ClassVar[int]
    ENCODER_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    decoder: str
    encoder: str
    subject: str
    def __init__(self, decoder: _Optional[str] = ..., encoder: _Optional[str] = ..., subject: _Optional[str] = ...) -> None: ...

class RetrievalOutput(_message.Message):
    __slots__ = ("candidates", "layer", "k")
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    LAYER_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    candidates: str
    layer: str
    k: int
    def __init__(self, candidates: _Optional[str] = ..., layer: _Optional[str] = ..., k: _Optional[int] = ...) -> None: ...

class ReconstructionOutput(_message.Message):
    __slots__ = ("n_steps", "seed", "guidance", "scheduler", "model")
    N_STEPS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    GUIDANCE_FIELD_NUMBER: _ClassVar[int]
    SCHEDULER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    n_steps: int
    seed: int
    guidance: float
    scheduler: str
    model: str
    def __init__(self, n_steps: _Optional[int] = ..., seed: _Optional[int] = ..., guidance: _Optional[float] = ..., scheduler: _Optional[str] = ..., model: _Optional[str] = ...) -> None: ...

class JobOutputs(_message.Message):
    __slots__ = ("embeddings", "retrieval", "reconstructions", "score_maps", "predictions")
    EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    RETRIEVAL_FIELD_NUMBER: _ClassVar[int]
    RECONSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    SCORE_MAPS_FIELD_NUMBER: _ClassVar[int]
    PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    embeddings: bool
    retrieval: RetrievalOutput
    reconstructions: ReconstructionOutput
    score_maps: bool
    predictions: bool
    def __init__(self, embeddings: _Optional[bool] = ..., retrieval: _Optional[_Union[RetrievalOutput, _Mapping]] = ..., reconstructions: _Optional[_Union[ReconstructionOutput, _Mapping]] = ..., score_maps: _Optional[bool] = ..., predictions: _Optional[bool] = ...) -> None: ...

class JobSpec(_message.Message):
    __slots__ = ("name", "recordings", "preprocessing_json", "model", "outputs", "shard_by")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RECORDINGS_FIELD_NUMBER: _ClassVar[int]
    PREPROCESSING_JSON_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    SHARD_BY_FIELD_NUMBER: _ClassVar[int]
    name: str
    recordings: RecordingSelection
    preprocessing_json: str
    model: ModelRef
    outputs: JobOutputs
    shard_by: str
    def __init__(self, name: _Optional[str] = ..., recordings: _Optional[_Union[RecordingSelection, _Mapping]] = ..., preprocessing_json: _Optional[str] = ..., model: _Optional[_Union[ModelRef, _Mapping]] = ..., outputs: _Optional[_Union[JobOutputs, _Mapping]] = ..., shard_by: _Optional[str] = ...) -> None: ...

class SubmitJobRequest(_message.Message):
    __slots__ = ("spec", "spec_document", "request_id")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    SPEC_DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    spec: JobSpec
    spec_document: str
    request_id: str
    def __init__(self, spec: _Optional[_Union[JobSpec, _Mapping]] = ..., spec_document: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class Shard(_message.Message):
    __slots__ = ("index", "recording_ids", "state", "failures", "error", "output_id", "seconds")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    RECORDING_IDS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_ID_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    index: int
    recording_ids: _containers.RepeatedScalarFieldContainer[str]
    state: str
    failures: int
    error: str
    output_id: str
    seconds: float
    def __init__(self, index: _Optional[int] = ..., recording_ids: _Optional[_Iterable[str]] = ..., state: _Optional[str] = ..., failures: _Optional[int] = ..., error: _Optional[str] = ..., output_id: _Optional[str] = ..., seconds: _Optional[float] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "state", "spec", "request_id", "shards_total", "shards_done", "shards_failed", "shards_running", "shards", "created", "started", "finished", "error")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SHARDS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    SHARDS_DONE_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FAILED_FIELD_NUMBER: _ClassVar[int]
    SHARDS_RUNNING_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    id: str
    state: str
    spec: JobSpec
    request_id: str
    shards_total: int
    shards_done: int
    shards_failed: int
    shards_running: int
    shards: _containers.RepeatedCompositeFieldContainer[Shard]
    created: str
    started: str
    finished: str
    error: str
    def __init__(self, id: _Optional[str] = ..., state: _Optional[str] = ..., spec: _Optional[_Union[JobSpec, _Mapping]] = ..., request_id: _Optional[str] = ..., shards_total: _Optional[int] = ..., shards_done: _Optional[int] = ..., shards_failed: _Optional[int] = ..., shards_running: _Optional[int] = ..., shards: _Optional[_Iterable[_Union[Shard, _Mapping]]] = ..., created: _Optional[str] = ..., started: _Optional[str] = ..., finished: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("state", "page")
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    state: str
    page: _common_pb2.PageRequest
    def __init__(self, state: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("job_id", "state", "shards_total", "shards_done", "shards_failed", "shards_running", "shards_per_second", "eta_seconds", "progress", "result")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SHARDS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    SHARDS_DONE_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FAILED_FIELD_NUMBER: _ClassVar[int]
    SHARDS_RUNNING_FIELD_NUMBER: _ClassVar[int]
    SHARDS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    ETA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    state: str
    shards_total: int
    shards_done: int
    shards_failed: int
    shards_running: int
    shards_per_second: float
    eta_seconds: float
    progress: _common_pb2.Progress
    result: Job
    def __init__(self, job_id: _Optional[str] = ..., state: _Optional[str] = ..., shards_total: _Optional[int] = ..., shards_done: _Optional[int] = ..., shards_failed: _Optional[int] = ..., shards_running: _Optional[int] = ..., shards_per_second: _Optional[float] = ..., eta_seconds: _Optional[float] = ..., progress: _Optional[_Union[_common_pb2.Progress, _Mapping]] = ..., result: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...
