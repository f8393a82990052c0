"""The embedded store: content-addressed blobs on disk plus SQLite metadata.

Layout of ``data_dir``::

    meta.sqlite        recordings and artifacts (WAL, synchronous=FULL)
    blobs/ab/<sha256><suffix>
    tmp/               uploads in progress, recordings unpacked for reading, files staged for
                       artifacts; emptied on every start
    cache/<artifact>/  artifact files materialised as hard links

Whoever can read the folder can read every tenant's data, so it is private: the folder and
every folder in it have mode 0700, every file 0600. Each start checks that, tightens what is
looser and logs it.

Every write is atomic: bytes go to ``tmp/``, are fsynced, renamed into ``blobs/``
(and the directory fsynced), and only then is the row committed. A crash at any
point leaves either no row (the orphan blob is removed by :meth:`Store.recover`
on the next start) or a complete recording.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime
import hashlib
import json
import logging
import os
import pathlib
import shutil
import sqlite3
import tempfile
import threading

from braindecode._io import PRIVATE_DIR_MODE, STORE_WORK_DIR, connect_private, fsync_dir, is_disk_full, make_private, private_dir
from braindecode._paging import MAX_PAGE_BYTES, next_page_token, page_bounds, sized_page
from braindecode.errors import DataLoss, InvalidArgument, ResourceExhausted, quoted
from braindecode.store._limits import RequestLimits
from braindecode.store._kinds import RECORDING, new_id, not_found

_SCHEMA = """
CREATE TABLE IF NOT EXISTS recordings (
    id TEXT PRIMARY KEY, tenant TEXT NOT NULL, blob TEXT NOT NULL, sha256 TEXT NOT NULL,
    size_bytes INTEGER NOT NULL, subject TEXT NOT NULL, session TEXT, task TEXT, run TEXT,
    modality TEXT NOT NULL, format TEXT NOT NULL, file_name TEXT NOT NULL,
    meta TEXT NOT NULL, events TEXT NOT NULL, created TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS recordings_tenant ON recordings (tenant, subject, modality, task);
CREATE TABLE IF NOT EXISTS artifacts (
    id TEXT PRIMARY KEY, tenant TEXT NOT NULL, kind TEXT NOT NULL, files TEXT NOT NULL,
    meta TEXT NOT NULL, provenance TEXT NOT NULL, created TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS artifacts_tenant ON artifacts (tenant, kind);
"""

_ROW_BYTES = " + ".join([f"length(CAST({column} AS BLOB))" for column in (
    "meta", "events", "id", "sha256", "subject", "session", "task", "run", "modality", "format", "file_name")] + ["512"])
"""What a recording's row takes in a listing: the bytes of its JSON and texts, which its message
(packed numbers, one tag per field) does not outgrow, and room for its fixed fields."""

DEFAULT_TENANT = "default"

#: BIDS entity prefixes that recording labels are stored without ("sub-01" is subject "01").
LABEL_PREFIXES = {"subject": "sub-", "session": "ses-", "task": "task-", "run": "run-"}

log = logging.getLogger("braindecode.store")


def sha256_file(path, block: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(block), b""):
            digest.update(piece)
    return digest.hexdigest()


@contextlib.contextmanager
def disk_space_errors():
    """Report a full disk (ENOSPC, EDQUOT, SQLite's SQLITE_FULL) as ResourceExhausted."""
    try:
        yield
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        raise ResourceExhausted(f"no space left on the server's disk ({exc.strerror}); "
                                "nothing was stored") from exc
    except sqlite3.OperationalError as exc:
        if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_FULL:
            raise
        raise ResourceExhausted(f"no space left on the server's disk ({exc}); nothing was stored") from exc


def entity_label(field: str, value: str) -> str:
    """A recording label as stored: stripped, without its BIDS prefix ("sub-01" -> "01").

    Parameters
    ----------
    field : {"subject", "session", "task", "run"}
    value : str
    """
    value = str(value or "").strip()
    prefix = LABEL_PREFIXES[field]
    return value[len(prefix):] if value.lower().startswith(prefix) else value


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


@dataclasses.dataclass
class RecordingInfo:
    """A stored recording: its metadata row. ``meta`` is what the reader found in the file."""

    id: str
    tenant: str
    sha256: str
    size_bytes: int
    subject: str
    session: str
    task: str
    run: str
    modality: str
    format: str
    file_name: str
    meta: dict
    events: list
    created: str
    blob: str
    already_stored: bool = False
    """Set on an upload's result when the tenant had stored the same bytes with the same labels."""


@dataclasses.dataclass
class ArtifactInfo:
    """A stored artifact (fitted model, score map, reconstruction, job output)."""

    id: str
    tenant: str
    kind: str
    files: dict  # file name -> blob relative path
    meta: dict
    provenance: dict
    created: str


class Store:
    """Content-addressed blob store with SQLite metadata, safe under crashes.

    Parameters
    ----------
    data_dir : path
        The store folder (made if missing).
    limits : RequestLimits, optional
        What one call of an entry point on this store may allocate (``RequestLimits()`` by
        default; a server passes its configured bounds).
    """

    def __init__(self, data_dir, limits: RequestLimits | None = None):
        self.limits = limits or RequestLimits()
        self.root = pathlib.Path(data_dir).expanduser().resolve()
        for sub in ("", "blobs", STORE_WORK_DIR, "cache"):
            private_dir(self.root / sub)
        loose = make_private(self.root)
        if loose:
            log.warning("the store %s was readable by others: %d folders and files now have modes 0700 and "
                        "0600, e.g. %s", self.root, len(loose), loose[0])
        self._lock = threading.RLock()
        self._pins = collections.Counter()  # blob -> uploads placed but not yet committed as rows
        self._db = connect_private(self.root / "meta.sqlite", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self.recover()

    def close(self) -> None:
        self._db.close()

    # -- atomic blob writes -------------------------------------------------------------
    @property
    def work_dir(self) -> pathlib.Path:
        """Where reads unpack recordings and writes stage files: ``tmp/``, which :meth:`recover`
        empties, so that nothing outlives a crash."""
        return self.root / STORE_WORK_DIR

    @contextlib.contextmanager
    def scratch(self):
        """A private folder in :attr:`work_dir` for files on their way into the store; removed on exit."""
        with disk_space_errors():
            folder = pathlib.Path(tempfile.mkdtemp(dir=self.work_dir))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def staging_file(self, suffix: str = "") -> pathlib.Path:
        """A fresh path under tmp/ for bytes in flight (removed by recover() after a crash)."""
        with disk_space_errors():
            fd, name = tempfile.mkstemp(dir=self.work_dir, suffix=suffix)
        os.close(fd)
        return pathlib.Path(name)

    def put_blob(self, src, sha256: str, suffix: str = "") -> str:
        """Move a staged file into blobs/ under its hash; returns the blob's relative path.

        The blob is pinned: no delete removes it until a row that references it is committed
        (:meth:`add_recording`, :meth:`add_artifact`) or it is discarded (:meth:`discard_blob`).
        Reusing an existing blob and removing an unused one both happen under the store lock, so
        a tenant deleting its copy of some bytes never removes the blob of another tenant's
        upload of the same bytes. A full disk raises ResourceExhausted and adds no blob; ``src``
        is then left to the caller.
        """
        rel = f"blobs/{sha256[:2]}/{sha256}{suffix}"
        dest = self.root / rel
        with disk_space_errors():
            dest.parent.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
            with open(src, "rb") as f:
                os.fsync(f.fileno())
            with self._lock:
                if dest.exists():
                    os.unlink(src)
                else:
                    os.replace(src, dest)
                    try:
                        fsync_dir(dest.parent)
                    except OSError:
                        self._drop_blob_if_unused(rel)
                        raise
                self._pins[rel] += 1
        return rel

    def _unpin(self, rel: str) -> None:
        """Release the pin that :meth:`put_blob` took (a no-op for a blob no longer pinned)."""
        if self._pins[rel] > 1:
            self._pins[rel] -= 1
        else:
            self._pins.pop(rel, None)

    def discard_blob(self, rel: str) -> None:
        """Unpin a blob whose write did not commit, and remove it if nothing references it."""
        with self._lock:
            self._unpin(rel)
            self._drop_blob_if_unused(rel)

    def blob_path(self, rel: str) -> pathlib.Path:
        return self.root / rel

    def stored_blob(self, rel: str, owner: str) -> pathlib.Path:
        """The path of a blob that ``owner`` (e.g. "recording 'rec_...'") references.

        Raises DataLoss, and logs it, when the blob is gone: the store lost data it had
        acknowledged, which is the server's fault and not the caller's.
        """
        path = self.root / rel
        if not path.is_file():
            log.error("data loss: %s references blob %s, which is missing from %s", owner, rel, self.root)
            raise DataLoss(f"the stored data of {owner} is missing from the server's store; "
                           "the server's administrator has been notified in its log")
        return path

    # -- recordings ---------------------------------------------------------------------
    def find_recording(self, tenant: str, sha256: str, fields: dict) -> RecordingInfo | None:
        """The tenant's recording of these bytes with the same subject, session, task and run, if any
        (returned with ``already_stored`` set)."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM recordings WHERE tenant=? AND sha256=? AND subject=? AND session=? AND task=? "
                "AND run=? ORDER BY rowid LIMIT 1",
                (tenant, sha256, *(fields.get(f, "") for f in LABEL_PREFIXES))).fetchone()
        return None if row is None else dataclasses.replace(self._recording(row), already_stored=True)

    def add_recording(self, tenant: str, blob: str, sha256: str, size_bytes: int, fields: dict,
                      meta: dict, events: list) -> RecordingInfo:
        """Commit a recording row for a blob already in place; if that fails the blob is discarded.

        When the tenant already has these bytes with the same labels (:meth:`find_recording`), that
        recording is returned and no row is added.
        """
        info = RecordingInfo(
            id=new_id(RECORDING), tenant=tenant, sha256=sha256, size_bytes=size_bytes,
            subject=fields["subject"], session=fields.get("session", ""), task=fields.get("task", ""),
            run=fields.get("run", ""), modality=fields["modality"], format=fields["format"],
            file_name=fields["file_name"], meta=meta, events=events, created=_now(), blob=blob)
        try:
            with self._lock, disk_space_errors():
                existing = self.find_recording(tenant, sha256, fields)
                if existing is not None:
                    self.discard_blob(blob)
                    return existing
                self._db.execute(
                    "INSERT INTO recordings VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (info.id, tenant, blob, sha256, size_bytes, info.subject, info.session, info.task,
                     info.run, info.modality, info.format, info.file_name, json.dumps(meta),
                     json.dumps(events), info.created))
                self._unpin(blob)
        except BaseException:
            self.discard_blob(blob)
            raise
        return info

    def _recording(self, row) -> RecordingInfo:
        (rid, tenant, blob, sha, size, subject, session, task, run, modality, fmt, name,
         meta, events, created) = row
        return RecordingInfo(rid, tenant, sha, size, subject, session, task, run, modality, fmt,
                             name, json.loads(meta), json.loads(events), created, blob)

    def get_recording(self, tenant: str, recording_id: str) -> RecordingInfo:
        """The recording, or NotFound (also when it belongs to another tenant; naming the kind of the
        tenant's artifact that has the id, if one has)."""
        with self._lock:
            row = self._db.execute("SELECT * FROM recordings WHERE id=? AND tenant=?",
                                   (recording_id, tenant)).fetchone()
            other = None if row is not None else self._db.execute(
                "SELECT kind FROM artifacts WHERE id=? AND tenant=?", (recording_id, tenant)).fetchone()
        if row is None:
            raise not_found(RECORDING, recording_id, None if other is None else other[0])
        return self._recording(row)

    def list_recordings(self, tenant: str, subject: str = "", modality: str = "", task: str = "",
                        page_size: int = 100, page_token: str = "", max_bytes: int = MAX_PAGE_BYTES) -> tuple:
        """(recordings, next_page_token) ordered by creation, filtered by the non-empty fields.

        Subject and task match with or without their BIDS prefix ("sub-01" is "01"); modality
        ignores case.

        A page holds at most ``page_size`` recordings and, past its first, only as many as keep
        the page's metadata (events, channels, names: ``_ROW_BYTES``) within ``max_bytes``; a
        server passes half its message limit, which a page's message then stays below.
        """
        page_size, offset = page_bounds(page_size, page_token)
        clauses, args = ["tenant=?"], [tenant]
        filters = (("subject", entity_label("subject", subject)), ("modality", modality.strip().lower()),
                   ("task", entity_label("task", task)))
        for column, value in filters:
            if value:
                clauses.append(f"{column}=?")
                args.append(value)
        where = " AND ".join(clauses)
        with self._lock:
            sized = self._db.execute(f"SELECT rowid, {_ROW_BYTES} FROM recordings WHERE {where} ORDER BY rowid "
                                     "LIMIT ? OFFSET ?", (*args, page_size + 1, offset)).fetchall()
            n, token = sized_page([size for _, size in sized], page_size, offset, max_bytes)
            rows = self._db.execute(f"SELECT * FROM recordings WHERE {where} AND rowid BETWEEN ? AND ? "
                                    "ORDER BY rowid", (*args, sized[0][0], sized[n - 1][0])).fetchall() if n else []
        return [self._recording(r) for r in rows], token

    def set_events(self, tenant: str, recording_id: str, events: list) -> RecordingInfo:
        """Replace the stored events of a recording (checked by the caller); returns the recording."""
        self.get_recording(tenant, recording_id)
        with self._lock, disk_space_errors():
            self._db.execute("UPDATE recordings SET events=? WHERE id=? AND tenant=?",
                             (json.dumps(events), recording_id, tenant))
        return self.get_recording(tenant, recording_id)

    def delete_recording(self, tenant: str, recording_id: str) -> None:
        info = self.get_recording(tenant, recording_id)
        with self._lock:
            self._db.execute("DELETE FROM recordings WHERE id=?", (recording_id,))
            self._drop_blob_if_unused(info.blob)

    # -- artifacts ----------------------------------------------------------------------
    def add_artifact(self, tenant: str, kind: str, files: dict, meta: dict | None = None,
                     provenance: dict | None = None) -> ArtifactInfo:
        """Store files (name -> path) as blobs and commit one artifact row referencing them.

        All or nothing: if any file or the row cannot be written (a full disk raises
        ResourceExhausted), the blobs written so far are discarded.
        """
        for name in files:
            if "/" in name or name in ("", ".", ".."):
                raise InvalidArgument(f"artifact file name {quoted(name)} must be a plain name")
        blobs = {}
        try:
            for name, path in files.items():
                staged = self.staging_file()
                try:
                    with disk_space_errors():
                        shutil.copyfile(path, staged)
                    blobs[name] = self.put_blob(staged, sha256_file(staged), pathlib.Path(name).suffix)
                finally:
                    staged.unlink(missing_ok=True)
            info = ArtifactInfo(new_id(kind), tenant, kind, blobs, meta or {},
                                provenance or {}, _now())
            with self._lock, disk_space_errors():
                self._db.execute("INSERT INTO artifacts VALUES (?,?,?,?,?,?,?)",
                                 (info.id, tenant, kind, json.dumps(blobs), json.dumps(info.meta),
                                  json.dumps(info.provenance), info.created))
                for rel in blobs.values():
                    self._unpin(rel)
        except BaseException:
            for rel in blobs.values():
                self.discard_blob(rel)
            raise
        return info

    def get_artifact(self, tenant: str, artifact_id: str, kind: str | None = None) -> ArtifactInfo:
        """The artifact, or NotFound (also for another tenant's, and for another kind's, whose kind the
        message names)."""
        with self._lock:
            row = self._db.execute("SELECT * FROM artifacts WHERE id=? AND tenant=?",
                                   (artifact_id, tenant)).fetchone()
        if row is None or (kind is not None and row[2] != kind):
            raise not_found(kind or "artifact", artifact_id, None if row is None else row[2])
        return self._artifact(row)

    def _artifact(self, row) -> ArtifactInfo:
        return ArtifactInfo(row[0], row[1], row[2], json.loads(row[3]), json.loads(row[4]),
                            json.loads(row[5]), row[6])

    def list_artifacts(self, tenant: str, kind: str | None = None) -> list:
        """All of the tenant's artifacts (of ``kind`` when given), ordered by creation."""
        return [self._artifact(r) for r in self._artifact_rows(tenant, kind, -1, 0)]

    def list_artifacts_page(self, tenant: str, kind: str | None = None, page_size: int = 100,
                            page_token: str = "") -> tuple:
        """(artifacts, next_page_token) ordered by creation, of ``kind`` when given."""
        page_size, offset = page_bounds(page_size, page_token)
        rows = self._artifact_rows(tenant, kind, page_size + 1, offset)
        return [self._artifact(r) for r in rows[:page_size]], next_page_token(rows, page_size, offset)

    def _artifact_rows(self, tenant: str, kind: str | None, limit: int, offset: int) -> list:
        query, args = "SELECT * FROM artifacts WHERE tenant=?", [tenant]
        if kind:
            query, args = query + " AND kind=?", args + [kind]
        with self._lock:
            return self._db.execute(query + " ORDER BY rowid LIMIT ? OFFSET ?", (*args, limit, offset)).fetchall()

    def artifact_dir(self, tenant: str, artifact_id: str) -> pathlib.Path:
        """A read-only folder holding the artifact's files (hard links to the blobs)."""
        info = self.get_artifact(tenant, artifact_id)
        folder = self.root / "cache" / info.id
        if not folder.is_dir():
            staging = pathlib.Path(tempfile.mkdtemp(dir=self.work_dir))
            for name, rel in info.files.items():
                os.link(self.stored_blob(rel, f"artifact {info.id!r}"), staging / name)
            with contextlib.suppress(FileExistsError, OSError):
                os.rename(staging, folder)
            shutil.rmtree(staging, ignore_errors=True)
        return folder

    def delete_artifact(self, tenant: str, artifact_id: str) -> None:
        info = self.get_artifact(tenant, artifact_id)
        with self._lock:
            self._db.execute("DELETE FROM artifacts WHERE id=?", (artifact_id,))
            shutil.rmtree(self.root / "cache" / info.id, ignore_errors=True)
            for rel in info.files.values():
                self._drop_blob_if_unused(rel)

    # -- consistency --------------------------------------------------------------------
    def _referenced_blobs(self) -> set:
        refs = {r[0] for r in self._db.execute("SELECT blob FROM recordings")}
        for (files,) in self._db.execute("SELECT files FROM artifacts"):
            refs.update(json.loads(files).values())
        return refs

    def _drop_blob_if_unused(self, rel: str) -> None:
        """Remove a blob that no row references and no upload in flight has pinned (lock held)."""
        if rel not in self._pins and rel not in self._referenced_blobs():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.root / rel)

    def recover(self) -> dict:
        """Remove what a crash can leave behind: staged files and blobs no row references."""
        with self._lock:
            staged = list(self.work_dir.iterdir())
            for path in staged:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
            refs = self._referenced_blobs() | set(self._pins)
            orphans = [p for p in (self.root / "blobs").glob("*/*")
                       if str(p.relative_to(self.root)) not in refs]
            for path in orphans:
                path.unlink()
        return {"staged_removed": len(staged), "orphans_removed": len(orphans)}

    def verify(self) -> list:
        """Relative paths of blobs whose bytes no longer match their sha256 name (empty = intact)."""
        bad = []
        with self._lock:
            refs = sorted(self._referenced_blobs())
        for rel in refs:
            path = self.root / rel
            expected = path.name.split(".")[0]
            if not path.exists() or sha256_file(path) != expected:
                bad.append(rel)
        return bad
