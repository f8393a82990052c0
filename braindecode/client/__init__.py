"""The Python client of a braindecode server: one :class:`Client` (a channel and its call options)
with a client per service, each returning numpy arrays and small frozen dataclasses, never protobufs.

Example::

    with Client("127.0.0.1:50051", api_key=key) as client:
        rec = client.recordings.upload("sub-01_bold.nii.gz", subject="01", task="images", events="events.tsv")
        trials = client.recordings.data(rec.id, preprocessing=spec)
        fit = client.decoding.fit([rec.id], spec, activation_set_id, "pool")
        job = client.jobs.submit("job.yaml")
        client.artifacts.download(fit.decoder_id, "decoder/")

Service clients share their verbs: ``get``, ``list``, ``delete``, ``download``, ``upload``, ``fit``,
``submit``, ``cancel``, ``watch``. Listings read every page; long calls take an ``on_progress`` callback that
receives :class:`Progress`. Arguments of the wrong type raise a TypeError that names them before
anything is sent; the server's refusals arrive as ``grpc.RpcError`` with a status and a message.
"""

from braindecode.client._activations import ActivationsClient, stimulus_messages
from braindecode.client._artifacts import ArtifactsClient
from braindecode.client._base import CallOptions, ServiceClient
from braindecode.client._client import Client
from braindecode.client._comparison import ComparisonClient
from braindecode.client._decoding import DecodingClient
from braindecode.client._encoding import EncodingClient
from braindecode.client._export import ExportClient
from braindecode.client._jobs import JobsClient
from braindecode.client._reconstruction import ReconstructionClient
from braindecode.client._recordings import BIDSUpload, RecordingsClient, pack_recording
from braindecode.client._replies import (
    ActivationLayer,
    ActivationSetInfo,
    Artifact,
    ArtifactFile,
    Channel,
    CompareResult,
    DecoderFoldScores,
    EncoderFoldScores,
    Event,
    FitDecoderResult,
    FitEncoderResult,
    Job,
    JobEvent,
    JobSpecInfo,
    ModelInfo,
    ModelScore,
    NoiseCeilingBounds,
    Progress,
    RDMInfo,
    RecommendedSampling,
    ReconstructionModel,
    ReconstructResult,
    Recording,
    RecordingRetrieval,
    RetrievalMatches,
    ScoreEncoderResult,
    ScoreMatrixResult,
    Shard,
    StimulusSetInfo,
    SubjectInput,
)

__all__ = [
    "ActivationLayer",
    "ActivationSetInfo",
    "ActivationsClient",
    "Artifact",
    "ArtifactFile",
    "ArtifactsClient",
    "BIDSUpload",
    "CallOptions",
    "Channel",
    "Client",
    "CompareResult",
    "ComparisonClient",
    "DecoderFoldScores",
    "DecodingClient",
    "EncoderFoldScores",
    "EncodingClient",
    "ExportClient",
    "Event",
    "FitDecoderResult",
    "FitEncoderResult",
    "Job",
    "JobEvent",
    "JobSpecInfo",
    "JobsClient",
    "ModelInfo",
    "ModelScore",
    "NoiseCeilingBounds",
    "Progress",
    "RDMInfo",
    "RecommendedSampling",
    "ReconstructResult",
    "ReconstructionModel",
    "ReconstructionClient",
    "Recording",
    "RecordingRetrieval",
    "RecordingsClient",
    "RetrievalMatches",
    "ScoreEncoderResult",
    "ScoreMatrixResult",
    "ServiceClient",
    "Shard",
    "StimulusSetInfo",
    "SubjectInput",
    "pack_recording",
    "stimulus_messages",
]
