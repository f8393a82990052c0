"""The store opened for reading: what shard workers and batch runs use beside a live server."""

from __future__ import annotations

import pathlib
import sqlite3
import threading

from braindecode.errors import NotFound
from braindecode.recordings import Store


class ReadOnlyStore(Store):
    """A :class:`~braindecode.recordings.Store` whose metadata is opened read-only.

    Unlike ``Store(data_dir)`` it writes no schema and runs no recovery, so any number of
    workers (processes, Ray actors, SLURM tasks) may open the folder while a server uses it.
    Lookups (``get_recording``, ``list_recordings``, ``get_artifact``, ``artifact_dir``) work;
    adding or deleting raises ``sqlite3.OperationalError``.
    """

    def __init__(self, data_dir):
        self.root = pathlib.Path(data_dir).expanduser().resolve()
        path = self.root / "meta.sqlite"
        if not path.is_file():
            raise NotFound(f"no braindecode store in {self.root} (meta.sqlite missing)")
        self._lock = threading.RLock()
        self._db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False,
                                   isolation_level=None)
