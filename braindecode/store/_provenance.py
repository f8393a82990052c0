"""What a stored result records of the recordings it was computed from."""

from __future__ import annotations

RECORDING_FIELDS = ("id", "sha256", "subject", "session", "task", "run", "modality")


def recording_provenance(infos) -> list:
    """The provenance entry of each recording.

    Parameters
    ----------
    infos : list of RecordingInfo

    Returns
    -------
    recordings : list of dict
        One ``{"id", "sha256", "subject", "session", "task", "run", "modality"}`` per
        recording, in order: the bytes (by their hash) and the labels the result came from.
    """
    return [{field: getattr(info, field) for field in RECORDING_FIELDS} for info in infos]
