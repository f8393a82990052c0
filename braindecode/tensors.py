"""numpy arrays <-> the wire's Tensor / TensorChunk messages (little-endian, C order)."""

from __future__ import annotations

import math

import numpy as np

from braindecode.errors import InvalidArgument, quoted
from braindecode.v1 import common_pb2

DEFAULT_CHUNK_BYTES = 2 * 1024 * 1024
MAX_DIMS = 32
"""Most dimensions a tensor may declare (numpy allows 64)."""
MAX_VALUES = 2**31
"""Most values a tensor's shape may span, counting only its non-zero dimensions (a shape
(0, 10**12, 10**12) holds no value but spans 10**24, past what numpy can index)."""
_ALLOWED = {"float16", "float32", "float64", "int8", "int16", "int32", "int64",
            "uint8", "uint16", "uint32", "uint64", "bool"}
_WIRE = {name: np.dtype(name).newbyteorder("<") for name in _ALLOWED}  # wire name -> little-endian dtype
_NAMES = {np.dtype(name): name for name in _ALLOWED}  # native dtype -> wire name (no dtype.name lookup)


def _wire_dtype(name: str) -> np.dtype:
    dtype = _WIRE.get(name)
    if dtype is None:
        raise InvalidArgument(f"unsupported tensor dtype {quoted(name)}; use one of {sorted(_ALLOWED)}")
    return dtype


def to_tensor(array) -> common_pb2.Tensor:
    """A Tensor message holding ``array`` (any shape)."""
    array = np.asarray(array)
    name = _NAMES.get(array.dtype) or array.dtype.name  # the name lookup for non-native byte orders
    return common_pb2.Tensor(dtype=name, shape=array.shape,
                             data=np.ascontiguousarray(array, dtype=_wire_dtype(name)).tobytes())


def checked_layout(dtype_name: str, shape, n_bytes: int) -> tuple:
    """(little-endian dtype, shape) of a tensor declared as ``dtype_name`` and ``shape``, checked
    against ``MAX_DIMS``, ``MAX_VALUES`` and its ``n_bytes`` before anything is allocated."""
    dtype = _wire_dtype(dtype_name)
    if len(shape) > MAX_DIMS:
        raise InvalidArgument(f"tensor has {len(shape)} dimensions, more than the limit of {MAX_DIMS}")
    shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise InvalidArgument(f"tensor shape {shape} has a negative dimension")
    span = math.prod(s for s in shape if s)
    if span > MAX_VALUES:
        raise InvalidArgument(f"tensor shape {shape} spans {span} values (its non-zero dimensions), "
                              f"more than the limit of {MAX_VALUES}")
    expected = math.prod(shape) * dtype.itemsize
    if expected != n_bytes:
        raise InvalidArgument(
            f"tensor of shape {shape} and dtype {dtype_name} needs {expected} bytes, got {n_bytes}")
    return dtype, shape


def from_tensor(message) -> np.ndarray:
    """The array in a Tensor message, with its dtype and shape checked against the bytes
    (``checked_layout``)."""
    dtype, shape = checked_layout(message.dtype, message.shape, len(message.data))
    return np.frombuffer(message.data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def to_chunks(array, chunk_bytes: int = DEFAULT_CHUNK_BYTES):
    """Yield TensorChunk messages that together hold ``array``."""
    array = np.asarray(array)
    raw = np.ascontiguousarray(array, dtype=_wire_dtype(array.dtype.name)).reshape(-1).view(np.uint8)
    total = len(raw)
    chunk_bytes = max(int(chunk_bytes), 1)
    offset = 0
    while True:
        piece = raw[offset:offset + chunk_bytes]
        first = offset == 0
        yield common_pb2.TensorChunk(
            dtype=array.dtype.name if first else "", shape=list(array.shape) if first else [],
            offset=offset, data=piece.tobytes(), total_bytes=total)
        offset += len(piece)
        if offset >= total:
            return


def from_chunks(chunks) -> np.ndarray:
    """Join TensorChunk messages (in order) back into an array; the first chunk's dtype and
    shape are checked against its ``total_bytes`` (``checked_layout``) before the rest is read."""
    header = None
    buffer = bytearray()
    for chunk in chunks:
        if header is None:
            header = chunk
            checked_layout(header.dtype, header.shape, header.total_bytes)
        if chunk.offset != len(buffer):
            raise InvalidArgument(f"tensor chunk at offset {chunk.offset}, expected {len(buffer)}")
        if len(buffer) + len(chunk.data) > header.total_bytes:
            raise InvalidArgument(f"tensor chunks hold more than the {header.total_bytes} bytes "
                                  "the first one announced")
        buffer += chunk.data
    if header is None:
        raise InvalidArgument("no tensor chunks received")
    return from_tensor(common_pb2.Tensor(dtype=header.dtype, shape=header.shape, data=bytes(buffer)))
