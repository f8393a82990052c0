"""The store opened for reading: what shard workers and batch runs use beside a live server."""

from __future__ import annotations

import os
import pathlib
import shutil
import sqlite3
import tempfile
import threading

from braindecode.errors import NotFound
from braindecode.store._limits import RequestLimits
from braindecode.store._store import Store


class ReadOnlyStore(Store):
    """A :class:`~braindecode.store.Store` that is only read.

    Unlike ``Store(data_dir)`` it opens the metadata read-only, writes no schema, runs no
    recovery and fills no cache, so any number of workers (processes, Ray actors, SLURM
    tasks) may use the folder while a server does, or on a read-only mount. Lookups
    (``get_recording``, ``list_recordings``, ``get_artifact``, ``blob_path``) work;
    ``artifact_dir`` links the artifact's blobs into a folder of this object in ``work_dir``,
    removed by ``close``; adding or deleting raises ``sqlite3.OperationalError``.

    Parameters
    ----------
    data_dir : path
        The store folder.
    work_dir : path, optional
        Where recordings are unpacked for reading and ``artifact_dir`` folders go (default: the
        system's temporary folder). Workers on other machines (Ray, SLURM) need a folder they
        share, such as a batch run's output; a server's job workers use the job's folder in the
        store.
    limits : RequestLimits, optional
        As for ``Store``.
    """

    def __init__(self, data_dir, work_dir=None, limits: RequestLimits | None = None):
        self.limits = limits or RequestLimits()
        self.root = pathlib.Path(data_dir).expanduser().resolve()
        path = self.root / "meta.sqlite"
        if not path.is_file():
            raise NotFound(f"no braindecode store in {self.root} (meta.sqlite missing)")
        self._lock = threading.RLock()
        self._db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False,
                                   isolation_level=None)
        self._work_dir = None if work_dir is None else pathlib.Path(work_dir)
        self._links = None

    @property
    def work_dir(self) -> pathlib.Path | None:
        """The ``work_dir`` given (None: the system's temporary folder)."""
        return self._work_dir

    def artifact_dir(self, tenant: str, artifact_id: str) -> pathlib.Path:
        """A folder of links to the artifact's files, outside the store."""
        info = self.get_artifact(tenant, artifact_id)
        with self._lock:
            if self._links is None:
                self._links = pathlib.Path(tempfile.mkdtemp(prefix=".artifacts-", dir=self._work_dir))
            folder = self._links / info.id
            if not folder.is_dir():
                folder.mkdir()
                for name, rel in info.files.items():
                    os.symlink(self.stored_blob(rel, f"artifact {info.id!r}"), folder / name)
        return folder

    def close(self) -> None:
        super().close()
        if self._links is not None:
            shutil.rmtree(self._links, ignore_errors=True)
