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


@pytest.mark.parametrize("shape, fragment", [
    ([0, 10**12, 10**12], "spans 1000000000000000000000000 values (its non-zero dimensions), more than the limit"),
    ([2**16, 2**16, 0], "spans 4294967296 values"),
    ([1] * 33, "33 dimensions, more than the limit of 32"),
    ([-1, 4], "negative dimension"),
])
def test_shapes_past_the_bounds_are_refused_before_allocating(shape, fragment):
    with pytest.raises(InvalidArgument) as err:
        tensors.from_tensor(common_pb2.Tensor(dtype="float32", shape=shape, data=b""))
    assert fragment in str(err.value)
    assert tensors.from_tensor(common_pb2.Tensor(dtype="float32", shape=[0, 2**15, 2**16], data=b"")).shape == (
        0, 2**15, 2**16)  # exactly at the limit


def test_chunks_are_checked_against_the_size_the_first_announces():
    chunks = list(tensors.to_chunks(np.zeros(10, np.float32), chunk_bytes=8))
    lying = common_pb2.TensorChunk()
    lying.CopyFrom(chunks[0])
    lying.shape[:] = [0, 10**12, 10**12]
    with pytest.raises(InvalidArgument, match="spans"):
        tensors.from_chunks([lying, *chunks[1:]])
    lying.shape[:] = [2]
    lying.total_bytes = 8
    with pytest.raises(InvalidArgument, match="more than the 8 bytes the first one announced"):
        tensors.from_chunks([lying, *chunks[1:]])


def test_dtype_errors_quote_a_short_prefix():
    with pytest.raises(InvalidArgument) as err:
        tensors.from_tensor(common_pb2.Tensor(dtype="f" * 10**6, shape=[1], data=b"\0"))
    assert "unsupported tensor dtype 'ffff" in str(err.value) and len(str(err.value)) < 400
