"""Files on disk: atomic writes, private folders and files, and the JSON configs of saved models."""

from __future__ import annotations

import errno
import json
import os
import pathlib
import sqlite3
import stat
import tempfile

from braindecode.errors import InvalidArgument, NotFound


def atomic_write(path: pathlib.Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a synced temporary file and a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(path) -> None:
    """Make the names created, renamed or removed in folder ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


STORE_WORK_DIR = "tmp"
"""The store's folder for files in flight (``Store.work_dir``), emptied on every start."""
PRIVATE_DIR_MODE, PRIVATE_FILE_MODE = 0o700, 0o600
"""Modes of the folders and files that only the owner may read: a store and its outputs."""


def private_dir(path) -> pathlib.Path:
    """Folder ``path`` (and its missing parents), made with mode 0700 where it is new."""
    path = pathlib.Path(path)
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    return path


def private_opener(path, flags: int) -> int:
    """``open(..., opener=private_opener)``: a file created with mode 0600."""
    return os.open(path, flags, PRIVATE_FILE_MODE)


def connect_private(path, **kwargs) -> sqlite3.Connection:
    """``sqlite3.connect(path, **kwargs)`` to a database created with mode 0600, so that its WAL
    and SHM files, which SQLite creates with the database's mode, are 0600 too."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE))
    return sqlite3.connect(path, **kwargs)


def make_private(root) -> list:
    """Give ``root`` and every folder in it mode 0700 and every file mode 0600 (links are left as
    they are); returns the paths whose mode was changed."""
    changed = []

    def tighten(path, mode):
        if stat.S_IMODE(os.lstat(path).st_mode) != mode:
            os.chmod(path, mode)
            changed.append(path)

    tighten(root, PRIVATE_DIR_MODE)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                tighten(path, PRIVATE_DIR_MODE)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                tighten(path, PRIVATE_FILE_MODE)
    return changed


def is_disk_full(exc: BaseException) -> bool:
    """Whether an OSError says the disk (or the quota) is full."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def read_saved_config(directory, name: str, fmt: str, version: int, kind: str) -> dict:
    """The JSON config ``name`` of a model saved in ``directory``, checked for format and version.

    Parameters
    ----------
    directory : str or os.PathLike
    name : str
        File name of the config, e.g. ``"config.json"``.
    fmt : str
        Expected value of the config's ``"format"`` field.
    version : int
        Expected value of its ``"format_version"`` field.
    kind : str
        What was saved (``"decoder"``, ``"encoder"``), for error messages.

    Returns
    -------
    config : dict
    """
    path = pathlib.Path(directory) / name
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise NotFound(f"no saved {kind} in {directory} ({name} missing)") from None
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"cannot read {path}: {exc}") from None
    if not isinstance(config, dict) or config.get("format") != fmt:
        raise InvalidArgument(f"{path} is not a {fmt} config")
    if config.get("format_version") != version:
        raise InvalidArgument(
            f"{path} has format version {config.get('format_version')}; this library reads {version}")
    return config
