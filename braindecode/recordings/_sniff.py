"""Recognise a recording's format from its first bytes (magic numbers and headers)."""

from __future__ import annotations

import posixpath
import struct
import zlib

FORMATS = ("nifti", "gifti", "fif", "edf", "bdf", "brainvision", "eeglab")
"""Format names accepted by ``read_recording``."""

FORMAT_MODALITIES = {
    "nifti": ("fmri",),
    "gifti": ("surface",),
    "fif": ("meg", "eeg"),
    "edf": ("eeg",),
    "bdf": ("eeg",),
    "brainvision": ("eeg",),
    "eeglab": ("eeg",),
}
"""The modalities each format can hold."""

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members / an empty zip
FIF_MAGIC = struct.pack(">iii", 100, 31, 20)  # FIFF_FILE_ID tag: kind, type (id struct), size
EDF_MAGIC = b"0       "
BDF_MAGIC = b"\xffBIOSEMI"
MAT5_MAGIC = b"MATLAB 5.0 MAT-file"
MAT73_MAGIC = b"MATLAB 7.3 MAT-file"
NIFTI_HEADER_SIZES = (348, 540)  # sizeof_hdr of NIfTI-1 and NIfTI-2

_MEMBER_FORMATS = {".vhdr": "brainvision", ".vmrk": "brainvision", ".eeg": "brainvision",
                   ".set": "eeglab", ".fdt": "eeglab"}
_LOCAL_HEADER = struct.Struct("<4s2xH2x8x2I2H")  # signature, flags, sizes, name/extra lengths


def sniff_format(head_bytes) -> str | None:
    """The recording format that a file's first bytes announce.

    Parameters
    ----------
    head_bytes : bytes
        The start of the file; 64 KiB is plenty (a GIfTI needs its ``<GIFTI`` tag in it, a zip
        its first member's local header).

    Returns
    -------
    format : str or None
        One of ``FORMATS``, or None when the bytes match none of them. A gzip stream counts as
        NIfTI or FIF by what it inflates to; a zip as BrainVision or EEGLAB by the names of the
        members whose local headers lie within ``head_bytes``.
    """
    head = bytes(head_bytes)
    if head.startswith(GZIP_MAGIC):
        inner = _inflate_prefix(head)
        return "nifti" if is_nifti(inner) else "fif" if inner.startswith(FIF_MAGIC) else None
    if head.startswith(ZIP_MAGICS):
        return format_of_members(_local_member_names(head))
    return plain_format(head)


def plain_format(head: bytes) -> str | None:
    """The format of an uncompressed, unarchived file from its first bytes, or None."""
    if is_nifti(head):
        return "nifti"
    if head.startswith(FIF_MAGIC):
        return "fif"
    if head.startswith(EDF_MAGIC):
        return "edf"
    if head.startswith(BDF_MAGIC):
        return "bdf"
    if head.startswith((MAT5_MAGIC, MAT73_MAGIC)):
        return "eeglab"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith((b"<?xml", b"<!DOCTYPE", b"<GIFTI")) and b"<GIFTI" in text:
        return "gifti"
    return None


def is_nifti(head: bytes) -> bool:
    """Whether ``head`` starts with a NIfTI-1 or NIfTI-2 ``sizeof_hdr`` (either byte order)."""
    if len(head) < 4:
        return False
    return bool({struct.unpack("<i", head[:4])[0], struct.unpack(">i", head[:4])[0]}
                & set(NIFTI_HEADER_SIZES))


def is_archive_junk(name: str) -> bool:
    """Folders and the metadata that macOS adds to zips (``__MACOSX/``, ``._name``)."""
    return (name.endswith("/") or name.startswith("__MACOSX/")
            or posixpath.basename(name).startswith("._"))


def format_of_members(names) -> str | None:
    """'brainvision' or 'eeglab' from a zip's member names; None when neither or both match."""
    found = {_MEMBER_FORMATS.get(posixpath.splitext(n)[1].lower())
             for n in names if not is_archive_junk(n)} - {None}
    return found.pop() if len(found) == 1 else None


def _inflate_prefix(head: bytes, size: int = 1024) -> bytes:
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, size)
    except zlib.error:
        return b""


def _local_member_names(head: bytes) -> list:
    names, pos = [], 0
    while pos + _LOCAL_HEADER.size <= len(head):
        magic, flags, packed, _, name_len, extra_len = _LOCAL_HEADER.unpack_from(head, pos)
        if magic != ZIP_MAGICS[0]:
            break
        start = pos + _LOCAL_HEADER.size
        names.append(head[start:start + name_len].decode("utf-8", "replace"))
        if flags & 0x08:  # sizes follow the data in a descriptor: the next header is not findable
            break
        pos = start + name_len + extra_len + packed
    return names
