"""FIF tag-chain checks, done before MNE opens the file.

Without a tag directory MNE walks the chain of tags, each naming the next by offset; a chain
that points backwards makes that walk loop forever. A FIF can also name other files (split
recordings), which MNE opens from wherever the name points.
"""

from __future__ import annotations

import struct

from mne._fiff.open import fiff_open  # the tag directory exactly as MNE will use it

from braindecode.errors import InvalidArgument

_TAG = struct.Struct(">iIii")  # kind, type, size, next
_FILE_REFERENCES = (118, 119)  # FIFF_REF_FILE_NAME, FIFF_REF_FILE_NUM
_NEXT_SEQUENTIAL = 0


def check_fif_tags(path) -> None:
    """Raise InvalidArgument when the tag chain loops or any tag refers to another file."""
    with open(path, "rb") as f:
        pos = 0
        while True:
            f.seek(pos)
            head = f.read(_TAG.size)
            if len(head) < _TAG.size:
                break
            kind, _, size, following = _TAG.unpack(head)
            _refuse_reference(kind)
            if following < 0:
                break
            step = pos + _TAG.size + size if following == _NEXT_SEQUENTIAL else following
            if step <= pos:
                raise InvalidArgument(f"FIF tag at byte {pos} points back to byte {step}; "
                                      "the tag chain loops")
            pos = step
    fid, _, directory = fiff_open(path, verbose="error")
    fid.close()
    for tag in directory:
        _refuse_reference(tag.kind)


def _refuse_reference(kind: int) -> None:
    if kind in _FILE_REFERENCES:
        raise InvalidArgument("FIF file refers to other files (a split recording); "
                              "only single-file FIF is accepted")
