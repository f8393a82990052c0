"""Recordings: read and validate brain recording files, and keep them in the store."""

from braindecode.recordings._ingest import Upload, check_metadata, load_array, open_recording
from braindecode.recordings._readers import read_recording
from braindecode.recordings._responses import load_responses
from braindecode.recordings._store import (
    DEFAULT_TENANT,
    ArtifactInfo,
    RecordingInfo,
    Store,
    sha256_file,
)

__all__ = [
    "DEFAULT_TENANT",
    "ArtifactInfo",
    "RecordingInfo",
    "Store",
    "Upload",
    "check_metadata",
    "load_array",
    "load_responses",
    "open_recording",
    "read_recording",
    "sha256_file",
]
