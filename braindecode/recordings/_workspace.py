"""A private temporary folder for a recording's files: staged copies, inflated gzip, unpacked zip.

Unpacking is where hostile uploads bite, so every step here is bounded: gzip inflates to at
most a given size; zips are checked for path traversal, links, encryption, duplicate names,
member count and declared unpacked size before anything is written (zipfile never inflates a
member past its declared size), and members are written with exclusive creation inside the
folder only.
"""

from __future__ import annotations

import gzip
import os
import pathlib
import re
import shutil
import stat
import tempfile
import weakref
import zipfile
import zlib

from braindecode._io import is_disk_full
from braindecode.errors import InvalidArgument, ResourceExhausted, quoted
from braindecode.recordings._limits import ReadLimits

_CHUNK = 2**20
_DRIVE = re.compile(r"^[A-Za-z]:")


PREFIX = "braindecode-recording-"
"""Name prefix of the workspace folders."""


class Workspace:
    """A folder only this process can read, removed by ``close()`` or when garbage collected.

    Parameters
    ----------
    parent : path-like, optional
        The folder to create it in (a server passes its store's ``tmp``, so that recovery after
        a crash and the disk-full handling cover it); the system's temporary folder by default.
    """

    def __init__(self, parent=None):
        self.path = pathlib.Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.path, ignore_errors=True)

    def close(self) -> None:
        self._finalizer()

    def stage(self, src, name: str) -> pathlib.Path:
        """``src`` under ``name`` in the workspace: a hard link where possible, else a copy."""
        dest = self.path / name
        try:
            os.link(src, dest)
        except OSError:
            shutil.copyfile(src, dest)
        return dest

    def gunzip(self, src, name: str, max_bytes: int, what: str) -> pathlib.Path:
        """Inflate gzip ``src`` to ``name``; more than ``max_bytes`` raises ResourceExhausted.

        ``what`` says in the error message what the bound stands for.
        """
        dest, total = self.path / name, 0
        try:
            with gzip.open(src, "rb") as fin, open(dest, "xb") as fout:
                while chunk := fin.read(_CHUNK):
                    total += len(chunk)
                    if total > max_bytes:
                        raise ResourceExhausted(
                            f"gzip data inflate past {max_bytes} bytes, {what} (gzip bomb?)")
                    fout.write(chunk)
        except (OSError, EOFError, zlib.error) as exc:
            raise _unpack_error(exc, f"corrupt or truncated gzip data ({exc})") from exc
        return dest

    def unzip(self, src, limits: ReadLimits) -> list:
        """Unpack zip ``src`` into the workspace; returns the member files' relative paths."""
        try:
            archive = zipfile.ZipFile(src)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise InvalidArgument(f"corrupt zip archive ({exc})") from exc
        with archive:
            members = _checked_members(archive.infolist(), limits, os.path.getsize(src))
            root, files = self.path / "unzipped", []
            for info, parts in members:
                if info.is_dir():
                    continue
                dest = root.joinpath(*parts)
                try:  # zipfile stops each member at its declared size, checked above
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(info) as fin, open(dest, "xb") as fout:
                        shutil.copyfileobj(fin, fout, _CHUNK)
                except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError,
                        RuntimeError, ValueError) as exc:
                    raise _unpack_error(exc, f"zip member {quoted(info.filename)} cannot be unpacked "
                                             f"({exc})") from exc
                files.append(pathlib.PurePosixPath(*parts))
        return files


def _unpack_error(exc: BaseException, message: str) -> Exception:
    """A full disk is the server's problem (ResourceExhausted); anything else is the file's."""
    if is_disk_full(exc):
        return ResourceExhausted(f"no space left on the server's disk to unpack the upload ({exc.strerror})")
    return InvalidArgument(message)


def _checked_members(infos: list, limits: ReadLimits, archive_bytes: int) -> list:
    """[(ZipInfo, path parts)] after refusing anything unsafe, before a byte is unpacked;
    ``archive_bytes`` is the size of the zip."""
    if len(infos) > limits.max_zip_members:
        raise ResourceExhausted(
            f"zip holds {len(infos)} members, more than the limit max_zip_members={limits.max_zip_members}")
    members, seen = [], set()
    for info in infos:
        name = info.filename
        if stat.S_ISLNK(info.external_attr >> 16):
            raise InvalidArgument(f"zip member {quoted(name)} is a symbolic link; links are not accepted")
        if info.flag_bits & 0x1:
            raise InvalidArgument(f"zip member {quoted(name)} is encrypted; send an unencrypted zip")
        posix = name.replace("\\", "/")
        if posix.startswith("/") or _DRIVE.match(posix):
            raise InvalidArgument(f"zip member {quoted(name)} has an absolute path; paths must be "
                                  "relative")
        parts = [p for p in posix.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise InvalidArgument(f"zip member {quoted(name)} climbs out of the archive with '..' "
                                  "(path traversal)")
        if not parts:
            raise InvalidArgument(f"zip member {quoted(name)} has an empty name")
        key = "/".join(parts)
        if key in seen:
            raise InvalidArgument(f"zip holds two members named {quoted(key)}")
        seen.add(key)
        members.append((info, parts))
    declared = sum(info.file_size for info in infos)
    if declared > limits.max_unpacked_bytes:
        raise ResourceExhausted(f"zip members unpack to {declared} bytes, more than the limit "
                                f"max_unpacked_bytes={limits.max_unpacked_bytes} (zip bomb?)")
    limits.check_expansion("zip members unpack to", declared, archive_bytes)
    return members
