"""Valid recording files that are small on disk and huge once read: the allocation bombs of
the reader tests and the hostile-tenant suite.

The zeros of a compressed bomb are one deflated MiB repeated (about 1,000 to 1): a gigabyte
costs a megabyte and no compression time. Every file is well formed (right CRCs and sizes),
so that a reader without bounds would unpack and read all of it.
"""

from __future__ import annotations

import base64
import re
import struct
import zlib

import nibabel
import numpy as np
from bad_inputs.make_corpus import brainvision_members, edf_fields, edf_header, gifti_bytes

_BLOCK = bytes(2**20)
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # deflate, no name, no mtime
_ZIP_DATE = 0x21  # 1980-01-01
_ZIP_FILE_MODE = 0o100644 << 16


def noisy_block(n_noise: int, seed: int = 0) -> bytes:
    """A MiB of ``n_noise`` random bytes, then zeros: it deflates to about ``n_noise`` bytes."""
    return np.random.default_rng(seed).bytes(n_noise) + bytes(len(_BLOCK) - n_noise)


def deflated(head: bytes, n_zeros: int, block: bytes = _BLOCK) -> tuple:
    """(raw deflate stream, CRC-32, size) of ``head`` followed by ``n_zeros`` bytes of ``block``
    repeated (zeros by default)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    parts = [packer.compress(head), packer.flush(zlib.Z_FULL_FLUSH)]
    full, rest = divmod(n_zeros, len(block))
    if full:  # after a full flush a block compresses to the same bytes every time
        parts.append((packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)) * full)
    parts += [packer.compress(block[:rest]), packer.flush()]
    crc = zlib.crc32(head)
    for _ in range(full):
        crc = zlib.crc32(block, crc)
    return b"".join(parts), zlib.crc32(block[:rest], crc), len(head) + n_zeros


def zlib_bomb(n_zeros: int) -> bytes:
    """A zlib stream (as GIfTI's GZipBase64Binary holds) of ``n_zeros`` zero bytes."""
    stream, _, _ = deflated(b"", n_zeros)
    adler = 1
    for _ in range(n_zeros // len(_BLOCK)):
        adler = zlib.adler32(_BLOCK, adler)
    adler = zlib.adler32(bytes(n_zeros % len(_BLOCK)), adler)
    return b"\x78\xda" + stream + struct.pack(">I", adler)


def gzip_bomb(head: bytes, n_zeros: int, block: bytes = _BLOCK) -> bytes:
    """A gzip file of ``head`` followed by ``n_zeros`` bytes of ``block`` repeated (zeros by default)."""
    stream, crc, size = deflated(head, n_zeros, block)
    return _GZIP_HEADER + stream + struct.pack("<II", crc, size % 2**32)


def zip_bomb(members) -> bytes:
    """A zip of deflated members given as (name, head bytes, zero bytes after the head)."""
    local, central = bytearray(), bytearray()
    for name, head, n_zeros in members:
        stream, crc, size = deflated(head, n_zeros)
        encoded = name.encode()
        central += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 0x0314, 20, 0, 8, 0, _ZIP_DATE, crc,
                               len(stream), size, len(encoded), 0, 0, 0, 0, _ZIP_FILE_MODE, len(local))
        central += encoded
        local += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, _ZIP_DATE, crc, len(stream),
                             size, len(encoded), 0) + encoded + stream
    n = len(members)
    return bytes(local + central + struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, n, n, len(central),
                                               len(local), 0))


def nifti_gz_bomb(shape: tuple, dtype=np.int16, block: bytes = _BLOCK) -> bytes:
    """A .nii.gz whose header declares ``shape`` (x, y, z, t) of ``dtype``, of zeros (or of ``block``
    repeated: with a :func:`noisy_block` it compresses no better than the readers allow)."""
    header = nibabel.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(dtype)
    header.set_zooms((2.0, 2.0, 2.0, 1.0)[:len(shape)])
    header.set_xyzt_units("mm", "sec")
    header.set_sform(np.diag([2.0, 2.0, 2.0, 1.0]), code=1)
    header["vox_offset"] = 352
    data_bytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return gzip_bomb(header.binaryblock + bytes(4), data_bytes, block)


def edf_bomb(n_signals: int, fastest: int, records: int = 1, fmt: str = "edf") -> bytes:
    """An EDF (or, ``fmt`` "bdf", a BDF) of zeros: one signal of ``fastest`` samples per record
    and ``n_signals - 1`` of one sample, which MNE reads all at the fastest rate."""
    fields = edf_fields(fmt)
    for name, value in fields.items():
        if isinstance(value, list):
            fields[name] = value[:1] * n_signals
    samples = [fastest] + [1] * (n_signals - 1)
    fields.update(label=[f"S{i}" for i in range(n_signals)], n_signals=str(n_signals),
                  header_bytes=str(256 * (n_signals + 1)), n_records=str(records),
                  **{"samples per record": [str(n) for n in samples]})
    return edf_header(fields) + bytes((3 if fmt == "bdf" else 2) * sum(samples) * records)


def brainvision_zip_bomb(eeg_bytes: int) -> bytes:
    """A BrainVision zip (4 float32 channels) whose .eeg holds ``eeg_bytes`` of zeros."""
    return zip_bomb([(name, payload, 0) if not name.endswith(".eeg") else (name, b"", eeg_bytes)
                     for name, payload in brainvision_members()])


def gifti_bomb(n_values: int) -> bytes:
    """A GIfTI of one float32 array of ``n_values`` zeros, compressed (GZipBase64Binary)."""
    template = gifti_bytes([np.zeros(4, np.float32)]).decode()
    data = base64.b64encode(zlib_bomb(4 * n_values)).decode()
    template = template.replace('Dim0="4"', f'Dim0="{n_values}"')
    return re.sub("<Data>[^<]*</Data>", f"<Data>{data}</Data>", template).encode()
