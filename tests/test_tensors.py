import numpy as np
import pytest

from braindecode import tensors
from braindecode.errors import InvalidArgument
from braindecode.v1 import common_pb2


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "uint8", "bool", "float16"])
def test_tensor_round_trip(dtype):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((3, 4, 5)) * 10).astype(dtype)
    message = tensors.to_tensor(array)
    assert list(message.shape) == [3, 4, 5] and message.dtype == dtype
    np.testing.assert_array_equal(tensors.from_tensor(message), array)


def test_big_endian_input_travels_little_endian():
    array = np.arange(6, dtype=">f4").reshape(2, 3)
    message = tensors.to_tensor(array)
    assert message.data == np.arange(6, dtype="<f4").tobytes()
    np.testing.assert_array_equal(tensors.from_tensor(message), array)


def test_chunks_round_trip_and_sizes():
    array = np.random.default_rng(1).standard_normal((100, 37)).astype(np.float32)
    chunks = list(tensors.to_chunks(array, chunk_bytes=1000))
    assert len(chunks) == int(np.ceil(array.nbytes / 1000))
    assert all(len(c.data) <= 1000 for c in chunks) and chunks[0].dtype == "float32"
    np.testing.assert_array_equal(tensors.from_chunks(iter(chunks)), array)
    empty = np.zeros((0, 3), np.float32)
    np.testing.assert_array_equal(tensors.from_chunks(tensors.to_chunks(empty)), empty)


def test_bad_tensors_are_refused():
    with pytest.raises(InvalidArgument, match="needs 24 bytes"):
        tensors.from_tensor(common_pb2.Tensor(dtype="float32", shape=[2, 3], data=b"\0" * 20))
    with pytest.raises(InvalidArgument, match="unsupported tensor dtype"):
        tensors.from_tensor(common_pb2.Tensor(dtype="object", shape=[1], data=b"\0"))
    chunks = list(tensors.to_chunks(np.zeros(10, np.float32), chunk_bytes=8))
    with pytest.raises(InvalidArgument, match="offset"):
        tensors.from_chunks([chunks[0], chunks[2]])
