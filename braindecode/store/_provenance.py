"""What a stored result records of the recordings (and the decoder) it was computed from."""

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



def decoder_provenance(info) -> dict:
    """What a result records of the stored decoder it came from.

    Parameters
    ----------
    info : ArtifactInfo
        A ``decoder`` artifact.

    Returns
    -------
    decoder : dict
        ``{"id", "subjects", "recordings", "activation_set_id"}``: the subjects it decodes (a shared
        decoder's every adapter, else those of its recordings) and every recording it was fitted on,
        those of the decoder it was fine-tuned from first.
    """
    provenance = info.provenance or {}
    recordings = provenance.get("base_decoder", {}).get("recordings", []) + provenance.get("recordings", [])
    subjects = info.meta.get("subjects") or dict.fromkeys(r["subject"] for r in recordings)
    return {"id": info.id, "subjects": list(subjects), "recordings": recordings,
            "activation_set_id": provenance.get("activation_set_id", "")}
