"""Checks of what store entry points are given: lists of ids, preprocessing specs."""

from __future__ import annotations

from braindecode.errors import InvalidArgument, quoted


def distinct_ids(ids, what: str, plural: str) -> list:
    """``ids`` as a list, refused when empty or when an id repeats.

    Parameters
    ----------
    ids : iterable of str
    what : str
        Names the ids in the message on repeats, e.g. ``"recording ids"``.
    plural : str
        Names them in the message when there are none, e.g. ``"recording ids"``.

    Returns
    -------
    ids : list of str
    """
    ids = list(ids)
    if not ids:
        raise InvalidArgument(f"no {plural} given")
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise InvalidArgument(f"{what} given more than once: {', '.join(repeated)}")
    return ids


def check_preprocessing(preprocessing, modality: str) -> dict:
    """``preprocessing`` if it is a spec (dict) of the recordings' ``modality``, else InvalidArgument."""
    if not isinstance(preprocessing, dict) or preprocessing.get("modality") != modality:
        raise InvalidArgument(f"preprocessing must be a spec with modality {modality!r} like the recordings, "
                              f"got {quoted(preprocessing)}")
    return preprocessing
