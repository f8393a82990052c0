"""The stored recordings a fit or a comparison runs on."""

from __future__ import annotations

from braindecode.errors import InvalidArgument
from braindecode.recordings._store import Store


def recordings_of_one_modality(store: Store, tenant: str, recording_ids, supported=None,
                               refusal: str = "cannot use {modality} recordings; use {supported}") -> list:
    """The RecordingInfo of each id, checked to be given, distinct and of one modality.

    Parameters
    ----------
    store : Store
    tenant : str
    recording_ids : iterable of str
    supported : sequence of str, optional
        The modalities the caller takes (default: any).
    refusal : str
        Message of the InvalidArgument raised for another modality; ``{modality}`` and
        ``{supported}`` (comma-separated) are filled in.

    Returns
    -------
    infos : list of RecordingInfo
        In the order of ``recording_ids``; all share ``infos[0].modality``.
    """
    recording_ids = list(recording_ids)
    if not recording_ids:
        raise InvalidArgument("no recording ids given")
    repeated = sorted({r for r in recording_ids if recording_ids.count(r) > 1})
    if repeated:
        raise InvalidArgument(f"recording ids given more than once: {', '.join(repeated)}")
    infos = [store.get_recording(tenant, rid) for rid in recording_ids]
    modalities = sorted({info.modality for info in infos})
    if len(modalities) > 1:
        raise InvalidArgument(f"the recordings mix modalities {', '.join(modalities)}; use one modality")
    if supported is not None and modalities[0] not in supported:
        raise InvalidArgument(refusal.format(modality=modalities[0], supported=", ".join(supported)))
    return infos
