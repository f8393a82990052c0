"""Recordings: read and validate brain recording files, and keep them in the store."""

from braindecode.recordings._ingest import Upload, check_metadata, load_array, open_recording
from braindecode.recordings._limits import ReadLimits
from braindecode.recordings._readers import detect_format, read_recording
from braindecode.recordings._recording import LoadedRecording, RecordingMeta
from braindecode.recordings._responses import load_responses
from braindecode.recordings._selection import recordings_of_one_modality
from braindecode.recordings._sniff import FORMATS, MODALITIES, sniff_format
from braindecode.recordings._store import (
    DEFAULT_TENANT,
    ArtifactInfo,
    RecordingInfo,
    Store,
    sha256_file,
)

__all__ = [
    "DEFAULT_TENANT",
    "FORMATS",
    "MODALITIES",
    "ArtifactInfo",
    "LoadedRecording",
    "ReadLimits",
    "RecordingMeta",
    "RecordingInfo",
    "Store",
    "Upload",
    "check_metadata",
    "detect_format",
    "load_array",
    "load_responses",
    "open_recording",
    "read_recording",
    "recordings_of_one_modality",
    "sha256_file",
    "sniff_format",
]
