"""Uploads: bytes streamed to a staged file, hashed, validated by the readers, then stored."""

from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib

from braindecode.containers import EVENT_FIELDS, Events
from braindecode.errors import InvalidArgument, ResourceExhausted, quoted
from braindecode.recordings import read_recording
from braindecode.store._store import DEFAULT_TENANT, RecordingInfo, Store, disk_space_errors

REQUIRED_FIELDS = ("subject", "file_name")
TEXT_FIELDS = ("subject", "session", "task", "run", "modality", "format", "file_name")
#: Bounds on the other columns of an event (``Event.columns``): how many, and the characters of a
#: column's name and of its value.
MAX_EVENT_COLUMNS = 64
MAX_COLUMN_NAME_CHARS = 64
MAX_COLUMN_VALUE_CHARS = 256
_SUFFIXES = (".nii.gz", ".nii", ".gii", ".fif", ".fif.gz", ".edf", ".bdf", ".zip", ".set", ".vhdr")


def file_suffix(file_name: str) -> str:
    """The recognised suffix of a file name ('.nii.gz', '.edf', ...), or '' when none matches."""
    lower = file_name.lower()
    return next((s for s in _SUFFIXES if lower.endswith(s)), "")


def check_metadata(metadata: dict) -> dict:
    """Validated upload metadata: required fields present, names safe, events well formed."""
    missing = [f for f in REQUIRED_FIELDS if not str(metadata.get(f, "")).strip()]
    if missing:
        raise InvalidArgument(f"upload metadata is missing {', '.join(missing)}")
    clean = {f: str(metadata.get(f, "")).strip() for f in TEXT_FIELDS}
    name = clean["file_name"]
    if os.path.basename(name) != name or name in (".", ".."):
        raise InvalidArgument(f"file_name {name!r} must be a plain file name, without folders")
    for field in ("subject", "session", "task", "run"):
        if len(clean[field]) > 128:
            raise InvalidArgument(f"metadata {field} is longer than 128 characters")
    clean["events"] = _checked_events(metadata.get("events") or [])
    sha = str(metadata.get("sha256", "") or "").lower()
    if sha and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
        raise InvalidArgument("sha256 must be 64 hexadecimal characters")
    clean["sha256"] = sha
    return clean


class Upload:
    """One upload in flight. Use as a context manager: leaving with an error discards it.

    >>> with Upload(store, metadata, max_bytes=2**30) as up:
    ...     for chunk in chunks:
    ...         up.write(chunk)
    ...     info = up.commit()
    """

    def __init__(self, store: Store, metadata: dict, max_bytes: int, tenant: str = DEFAULT_TENANT):
        self.store, self.tenant, self.max_bytes = store, tenant, int(max_bytes)
        self.metadata = check_metadata(metadata)
        self.suffix = file_suffix(self.metadata["file_name"])
        self.path = store.staging_file(self.suffix)
        try:
            with disk_space_errors():
                self._file = open(self.path, "wb")
        except BaseException:
            self.path.unlink(missing_ok=True)
            raise
        self._hash = hashlib.sha256()
        self.size = 0

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        self.abort()
        return False

    def write(self, chunk: bytes) -> None:
        """Append bytes; past ``max_bytes`` the upload is refused with RESOURCE_EXHAUSTED."""
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise ResourceExhausted(f"upload exceeds the size limit of {self.max_bytes} bytes")
        with disk_space_errors():
            self._file.write(chunk)
        self._hash.update(chunk)

    def commit(self) -> RecordingInfo:
        """Check the hash, parse and validate the file, store it; returns the stored recording."""
        with disk_space_errors():
            self._file.close()
        if self.size == 0:
            raise InvalidArgument(f"{self.metadata['file_name']}: the file is empty (no bytes were sent)")
        sha = self._hash.hexdigest()
        if self.metadata["sha256"] and self.metadata["sha256"] != sha:
            raise InvalidArgument(
                f"sha256 mismatch: declared {self.metadata['sha256']}, received bytes hash to {sha}")
        loaded = read_recording(self.path, format=self.metadata["format"] or None,
                                modality=self.metadata["modality"] or None, name=self.metadata["file_name"])
        meta = loaded.meta_dict()
        _check_events(self.metadata["events"], meta)
        blob = self.store.put_blob(self.path, sha, self.suffix)
        fields = dict(self.metadata, modality=meta["modality"], format=meta["format"])
        return self.store.add_recording(self.tenant, blob, sha, self.size, fields, meta,
                                        self.metadata["events"])

    def abort(self) -> None:
        """Discard the staged bytes (no-op once committed)."""
        with contextlib.suppress(OSError):  # flushing onto a full disk fails; the file closes anyway
            self._file.close()
        pathlib.Path(self.path).unlink(missing_ok=True)


def _checked_events(events: list) -> list:
    """The events as stored: dicts of onset, duration, stimulus_id and ``columns`` (name -> text), every
    event with every column (``n/a``, BIDS's missing value, where an event lacks one), within the bounds
    above."""
    for i, event in enumerate(events):
        missing = [k for k in EVENT_FIELDS if k not in event]
        if missing:
            raise InvalidArgument(f"event {i} lacks {', '.join(missing)}")
    table = [{str(k): str(v) for k, v in (event.get("columns") or {}).items()} for event in events]
    names = sorted({name for columns in table for name in columns})
    if len(names) > MAX_EVENT_COLUMNS:
        raise InvalidArgument(f"the events have {len(names)} columns; at most {MAX_EVENT_COLUMNS}")
    for name in names:
        if not name.strip() or len(name) > MAX_COLUMN_NAME_CHARS:
            raise InvalidArgument(f"an events column name must have 1 to {MAX_COLUMN_NAME_CHARS} characters, "
                                  f"got {quoted(name)}")
    columns = {name: [row.get(name, "n/a") for row in table] for name in names}
    for name, values in columns.items():
        if any(len(value) > MAX_COLUMN_VALUE_CHARS for value in values):
            raise InvalidArgument(f"events column {quoted(name)} holds a value of more than {MAX_COLUMN_VALUE_CHARS} "
                                  "characters")
    if events:
        Events([e["onset"] for e in events], [e["duration"] for e in events], [e["stimulus_id"] for e in events],
               columns)
    return [{"onset": float(e["onset"]), "duration": float(e["duration"]), "stimulus_id": str(e["stimulus_id"]),
             "columns": {name: values[i] for name, values in columns.items()}} for i, e in enumerate(events)]


def _check_events(events: list, meta: dict) -> None:
    duration = float(meta.get("duration") or 0.0)
    late = [e for e in events if duration and e["onset"] > duration]
    if late:
        raise InvalidArgument(
            f"{len(late)} events start after the recording ends ({duration:.3f} s), "
            f"first at {late[0]['onset']:.3f} s")
    if any(e["onset"] < 0 or e["duration"] < 0 for e in events):
        raise InvalidArgument("events must have non-negative onsets and durations")
