"""MATLAB v5 MAT-file (EEGLAB .set) checks, done before scipy reads the file.

scipy's MAT reader is not hardened for untrusted input: a data element whose type code is
out of range makes it index past a table and crash the whole process, cell and struct arrays
allocate what their dims declare before reading a single item, and compressed variables
inflate to whatever size they hold. Here the element tree is walked once, the way scipy will
read it: compressed variables are inflated within a byte budget, every data element must
carry a type code scipy knows, and cell and struct arrays must hold the items their dims
declare.
"""

from __future__ import annotations

import math
import struct
import zlib

from braindecode.errors import InvalidArgument, ResourceExhausted

_HEADER_BYTES = 128
_MATRIX, _COMPRESSED = 14, 15  # miMATRIX, miCOMPRESSED
_INT8, _INT32, _UINT32, _UTF8 = 1, 5, 6, 16
_NUMBERS = frozenset({1, 2, 3, 4, 5, 6, 7, 9, 12, 13})  # miINT8 ... miUINT64 (8, 10, 11 unused)
_TEXT = _NUMBERS | {16, 17, 18}  # and miUTF8/16/32
_NAMES = frozenset({_INT8, _UTF8})
_CELL, _STRUCT, _OBJECT, _CHAR, _SPARSE = 1, 2, 3, 4, 5
_NUMERIC_CLASSES = range(6, 16)  # double ... uint64
_MAX_DIMS_BYTES = 128  # 32 int32 dims, scipy's bound
_MAX_DEPTH = 64
_MAX_BLANK_CHARS = 4096  # char arrays stored with no data bytes become this many blanks at most
_CHUNK = 2**20


def check_mat_file(path, max_bytes: int, what: str) -> None:
    """Raise InvalidArgument for an element tree scipy cannot read safely; ResourceExhausted
    when the compressed variables inflate past ``max_bytes`` in all (``what`` says in the
    error message what the bound stands for)."""
    with open(path, "rb") as f:
        content = f.read()
    if len(content) < _HEADER_BYTES:
        raise InvalidArgument(f"the .set has {len(content)} bytes, less than a MAT-file header")
    order = "<" if content[126:128] == b"IM" else ">"
    tag = struct.Struct(order + "II")
    pos, budget = _HEADER_BYTES, max_bytes
    while pos + tag.size <= len(content):
        kind, nbytes = tag.unpack_from(content, pos)
        body = content[pos + tag.size:pos + tag.size + nbytes]
        if nbytes == 0 or len(body) < nbytes:
            raise InvalidArgument(f"the .set has a variable of {nbytes} bytes at byte {pos} "
                                  "that the file does not hold")
        if kind == _COMPRESSED:
            body = _inflate(body, budget, f"{max_bytes} bytes, {what}")
            budget -= len(body)
        elif kind != _MATRIX:
            raise InvalidArgument(f"the .set holds an element of type {kind} where a variable "
                                  "should be")
        stream = _Stream(body, order)
        if kind == _COMPRESSED:
            stream.matrix_tag()
        stream.matrix_body(depth=0)
        pos += tag.size + nbytes


class _Stream:
    """Reads MAT elements from a buffer in the order and manner scipy's VarReader5 does."""

    def __init__(self, buffer: bytes, order: str):
        self.buffer, self.pos, self.order = buffer, 0, order
        self.pair = struct.Struct(order + "II")

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.buffer):
            raise InvalidArgument("the .set ends in the middle of a variable")
        self.pos += size
        return self.buffer[self.pos - size:self.pos]

    def element(self, kinds: frozenset, what: str) -> bytes:
        """One data element's bytes; its type must be one of ``kinds``."""
        kind, nbytes = self.pair.unpack(self.take(8))
        if kind >> 16:  # small data element: size and type share the first word
            kind, nbytes = kind & 0xFFFF, kind >> 16
            if nbytes > 4:
                raise InvalidArgument(f"the .set has a small data element of {nbytes} bytes")
            data = self.buffer[self.pos - 4:self.pos - 4 + nbytes]
        else:
            data = self.take(nbytes)
            self.pos = min(len(self.buffer), self.pos + -nbytes % 8)  # scipy seeks past padding
        if kind not in kinds:
            raise InvalidArgument(f"the .set has {what} of unknown or wrong type code {kind}")
        return data

    def int32s(self, what: str, max_bytes: int) -> list:
        data = self.element(frozenset({_INT32, _UINT32}), what)
        if len(data) > max_bytes:
            raise InvalidArgument(f"the .set has {what} of {len(data)} bytes")
        count = len(data) // 4
        values = list(struct.unpack(f"{self.order}{count}i", data[:count * 4]))
        if any(v < 0 for v in values):
            raise InvalidArgument(f"the .set has negative {what}: {values}")
        return values

    def matrix_tag(self) -> int:
        kind, nbytes = self.pair.unpack(self.take(8))
        if kind != _MATRIX:
            raise InvalidArgument(f"the .set has an element of type {kind} where an array "
                                  "should be")
        return nbytes

    def matrix(self, depth: int) -> None:
        """A nested array: its tag, then (unless empty) its body."""
        if self.matrix_tag():
            self.matrix_body(depth)

    def matrix_body(self, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise InvalidArgument(f"the .set nests arrays more than {_MAX_DEPTH} deep")
        self.take(8)  # the flags element's tag, which scipy skips
        flags, _ = self.pair.unpack(self.take(8))
        mclass, is_complex = flags & 0xFF, flags >> 11 & 1
        dims = self.int32s("array dims", _MAX_DIMS_BYTES)
        self.element(_NAMES, "an array name")
        length = math.prod(dims)
        if mclass in _NUMERIC_CLASSES:
            for _ in range(1 + is_complex):
                self.element(_NUMBERS, "numeric data")
        elif mclass == _SPARSE:
            for _ in range(3 + is_complex):
                self.element(_NUMBERS, "sparse data")
        elif mclass == _CHAR:
            if not self.element(_TEXT, "character data") and length > _MAX_BLANK_CHARS:
                raise InvalidArgument(f"the .set declares {length} characters but stores none")
        elif mclass == _CELL:
            self.items(length, length, depth)
        elif mclass in (_STRUCT, _OBJECT):
            if mclass == _OBJECT:
                self.element(_NAMES, "a class name")
            name_length = self.int32s("a field name length", 4)
            names = self.element(_NAMES, "field names")
            if name_length[:1] < [1] or len(name_length) > 1:
                raise InvalidArgument(f"the .set has a field name length of {name_length}")
            self.items(length, length * (len(names) // name_length[0]), depth)
        else:
            raise InvalidArgument(f"the .set holds an array of class {mclass} (functions, "
                                  "opaque objects), which cannot be read")

    def items(self, length: int, count: int, depth: int) -> None:
        """A cell or struct array of ``length`` elements holding ``count`` nested arrays.

        scipy allocates ``length`` slots first, and each nested array takes at least 8 bytes.
        """
        if max(length, count) * 8 > len(self.buffer) - self.pos:
            raise InvalidArgument(f"the .set declares a cell or struct array of {length} "
                                  "elements, more than it holds")
        for _ in range(count):
            self.matrix(depth + 1)


def _inflate(packed: bytes, budget: int, bound: str) -> bytes:
    """``packed`` (zlib) inflated; past ``budget`` bytes raises ResourceExhausted, naming
    ``bound``."""
    inflater, parts, total = zlib.decompressobj(), [], 0
    try:
        chunk = packed
        while chunk and not inflater.eof:
            part = inflater.decompress(chunk, _CHUNK)
            total += len(part)
            if total > budget:
                raise ResourceExhausted(f"compressed variables in the .set inflate past {bound} "
                                        "(zip bomb?)")
            parts.append(part)
            chunk = inflater.unconsumed_tail
    except zlib.error as exc:
        raise InvalidArgument(f"a compressed variable in the .set is corrupt ({exc})") from exc
    return b"".join(parts)
