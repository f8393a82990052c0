"""MATLAB v5 MAT-file (EEGLAB .set) checks, done before scipy reads the file.

Variables saved with compression are zlib streams that scipy inflates to whatever size
they declare; a small .set could inflate to many gigabytes. Here each compressed top-level
variable is inflated once, counting bytes without keeping them, against a bound.
"""

from __future__ import annotations

import os
import struct
import zlib

from braindecode.errors import InvalidArgument, ResourceExhausted

_HEADER_BYTES = 128
_COMPRESSED = 15  # miCOMPRESSED
_CHUNK = 2**20


def check_mat_inflation(path, max_bytes: int) -> None:
    """Raise ResourceExhausted when the compressed variables inflate past ``max_bytes``."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        header = f.read(_HEADER_BYTES)
        tag = struct.Struct(">II" if header[126:128] == b"MI" else "<II")
        pos, total = _HEADER_BYTES, 0
        while pos + tag.size <= size:
            f.seek(pos)
            kind, nbytes = tag.unpack(f.read(tag.size))
            if nbytes == 0:
                break
            if kind == _COMPRESSED:
                total += _inflated_size(f, nbytes, max_bytes - total)
            pos += tag.size + nbytes


def _inflated_size(f, nbytes: int, budget: int) -> int:
    """Bytes the zlib stream of ``nbytes`` at the file position inflates to, up to ``budget``."""
    inflater, total, left = zlib.decompressobj(), 0, nbytes
    try:
        while left > 0 and not inflater.eof:
            chunk = f.read(min(_CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            while chunk:
                total += len(inflater.decompress(chunk, _CHUNK))
                if total > budget:
                    raise ResourceExhausted("compressed variables in the .set inflate past the "
                                            "unpacked size limit (zip bomb?)")
                chunk = inflater.unconsumed_tail
    except zlib.error as exc:
        raise InvalidArgument(f"a compressed variable in the .set is corrupt ({exc})") from exc
    return total
