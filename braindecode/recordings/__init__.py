"""Recordings: read and validate brain recording files (NIfTI, GIfTI, FIF, EDF/BDF, BrainVision, EEGLAB)."""

from braindecode.recordings._limits import ReadLimits
from braindecode.recordings._readers import detect_format, read_recording
from braindecode.recordings._recording import LoadedRecording, RecordingMeta
from braindecode.recordings._sniff import FORMAT_MODALITIES, FORMATS, sniff_format

__all__ = [
    "FORMAT_MODALITIES",
    "FORMATS",
    "LoadedRecording",
    "ReadLimits",
    "RecordingMeta",
    "detect_format",
    "read_recording",
    "sniff_format",
]
