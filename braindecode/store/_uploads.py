"""Uploads: bytes streamed to a staged file, hashed, validated by the readers, then stored."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import pathlib
import unicodedata

from braindecode.containers import EVENT_FIELDS, Events
from braindecode.errors import AlreadyExists, InvalidArgument, ResourceExhausted, quoted
from braindecode.recordings import read_recording
from braindecode.store._store import DEFAULT_TENANT, LABEL_PREFIXES, RecordingInfo, Store, disk_space_errors, entity_label

REQUIRED_FIELDS = ("subject", "file_name")
TEXT_FIELDS = ("subject", "session", "task", "run", "modality", "format", "file_name")
MAX_CHARS = {"subject": 128, "session": 128, "task": 128, "run": 128, "file_name": 255, "stimulus_id": 128}
"""Longest value of each metadata field, in characters (``modality`` and ``format`` are names the
readers know)."""
MAX_EVENTS = 50_000
"""Most events a recording may carry."""
MAX_HEADER_METADATA_BYTES = 2**20
"""Most bytes of JSON that what a file's header says (channel names and types, shape, affine) may take."""
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


def _check_text(field: str, value: str) -> str:
    """``value`` of metadata ``field`` within its length bound and free of control characters."""
    limit = MAX_CHARS.get(field)
    if limit is not None and len(value) > limit:
        raise InvalidArgument(f"metadata {field} is {len(value)} characters long, more than the limit of {limit}: "
                              f"{quoted(value)}")
    control = next((c for c in value if unicodedata.category(c) == "Cc"), None)
    if control is not None:
        raise InvalidArgument(f"metadata {field} {quoted(value)} holds the control character {control!r}; names "
                              "may not hold control characters (NUL, escape, newlines, tabs ...)")
    return value


def check_event_count(n_events: int) -> None:
    """InvalidArgument when a recording would carry more than ``MAX_EVENTS`` events (a server checks
    the count before it converts the events of a request)."""
    if n_events > MAX_EVENTS:
        raise InvalidArgument(f"{n_events} events, more than the limit of {MAX_EVENTS} a recording may carry")


def check_events(events: list) -> list:
    """The events as stored: dicts of onset, duration, stimulus_id and ``columns`` (name -> text), every
    event with every column (``n/a``, BIDS's missing value, where an event lacks one), within the bounds
    above (at most ``MAX_EVENTS``, stimulus ids of ``MAX_CHARS``, the columns')."""
    check_event_count(len(events))
    for i, event in enumerate(events):
        missing = [k for k in EVENT_FIELDS if k not in event]
        if missing:
            raise InvalidArgument(f"event {i} lacks {', '.join(missing)}")
        _check_text("stimulus_id", str(event["stimulus_id"]))
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


def check_metadata(metadata: dict) -> dict:
    """Validated upload metadata: required fields present, each field within its bound (``MAX_CHARS``,
    ``MAX_EVENTS``) and free of control characters, names safe, labels without their BIDS prefix,
    events well formed, a declared TR positive."""
    clean = {f: _check_text(f, str(metadata.get(f, "")).strip()) for f in TEXT_FIELDS}
    clean.update({f: entity_label(f, clean[f]) for f in LABEL_PREFIXES})
    missing = [f for f in REQUIRED_FIELDS if not clean[f]]
    if missing:
        raise InvalidArgument(f"upload metadata is missing {', '.join(missing)}")
    name = clean["file_name"]
    if os.path.basename(name) != name or name in (".", ".."):
        raise InvalidArgument(f"file_name {quoted(name)} must be a plain file name, without folders")
    clean["events"] = check_events(metadata.get("events") or [])
    tr = metadata.get("tr") or 0.0
    if not isinstance(tr, (int, float)) or not math.isfinite(tr) or tr < 0:
        raise InvalidArgument(f"tr must be a positive number of seconds (0: the file header's), got {quoted(tr)}")
    clean["tr"] = float(tr)
    sha = str(metadata.get("sha256", "") or "").lower()
    if sha and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
        raise InvalidArgument(f"sha256 must be 64 hexadecimal characters, got {quoted(sha)}")
    clean["sha256"] = sha
    return clean


def _check_header_metadata(meta: dict, name: str) -> None:
    size = len(json.dumps(meta))
    if size > MAX_HEADER_METADATA_BYTES:
        raise InvalidArgument(f"{name}: its header describes {size} bytes of metadata (channel names and types, "
                              f"shape, affine), more than the limit of {MAX_HEADER_METADATA_BYTES}")


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
        """Check the hash, parse and validate the file, store it; returns the stored recording.

        The same bytes with the same labels as a stored recording return that recording
        (``already_stored`` set), unless the upload declares other events: AlreadyExists then.
        """
        with disk_space_errors():
            self._file.close()
        if self.size == 0:
            raise InvalidArgument(f"{self.metadata['file_name']}: the file is empty (no bytes were sent)")
        sha = self._hash.hexdigest()
        if self.metadata["sha256"] and self.metadata["sha256"] != sha:
            raise InvalidArgument(
                f"sha256 mismatch: declared {self.metadata['sha256']}, received bytes hash to {sha}")
        info = self.store.find_recording(self.tenant, sha, self.metadata)
        if info is None:  # else the same bytes with the same labels were read and checked before
            with read_recording(self.path, format=self.metadata["format"] or None,
                                modality=self.metadata["modality"] or None, name=self.metadata["file_name"],
                                limits=self.store.limits.read, work_dir=self.store.work_dir) as loaded:
                meta = _declared_tr(loaded.meta_dict(), self.metadata["tr"], self.metadata["file_name"])
            _check_header_metadata(meta, self.metadata["file_name"])
            _check_events(self.metadata["events"], meta)
            blob = self.store.put_blob(self.path, sha, self.suffix)
            fields = dict(self.metadata, modality=meta["modality"], format=meta["format"])
            info = self.store.add_recording(self.tenant, blob, sha, self.size, fields, meta, self.metadata["events"])
        if info.already_stored and self.metadata["events"] and self.metadata["events"] != info.events:
            raise AlreadyExists(
                f"{self.metadata['file_name']} is stored as {info.id} with the same subject, session, task and run "
                f"but other events; replace its events with 'braindecode events {info.id} EVENTS.tsv' "
                "(client.recordings.set_events)")
        return info

    def abort(self) -> None:
        """Discard the staged bytes (no-op once committed)."""
        with contextlib.suppress(OSError):  # flushing onto a full disk fails; the file closes anyway
            self._file.close()
        pathlib.Path(self.path).unlink(missing_ok=True)


def _check_events(events: list, meta: dict) -> None:
    duration = float(meta.get("duration") or 0.0)
    late = [e for e in events if duration and e["onset"] > duration]
    if late:
        raise InvalidArgument(
            f"{len(late)} events start after the recording ends ({duration:.3f} s), "
            f"first at {late[0]['onset']:.3f} s")
    if any(e["onset"] < 0 or e["duration"] < 0 for e in events):
        raise InvalidArgument("events must have non-negative onsets and durations")


def set_recording_events(store: Store, tenant: str, recording_id: str, events: list) -> RecordingInfo:
    """Attach ``events`` (dicts with onset, duration and stimulus_id) to a stored recording, replacing
    those it had; they are checked against the recording as at upload."""
    info = store.get_recording(tenant, recording_id)
    events = check_events(events)
    _check_events(events, info.meta)
    return store.set_events(tenant, recording_id, events)


def _declared_tr(meta: dict, tr: float, name: str) -> dict:
    """The reader's ``meta`` with a declared repetition time in place of the header's (fMRI volumes)."""
    if not tr:
        return meta
    if meta["modality"] != "fmri" or len(meta.get("shape") or ()) != 4:
        raise InvalidArgument(f"{name}: a repetition time applies to 4-D fMRI volumes; this is "
                              f"{meta['modality']} of shape {tuple(meta.get('shape') or ())}")
    return dict(meta, tr=tr, header_tr=meta.get("tr"), duration=tr * meta["shape"][3])
