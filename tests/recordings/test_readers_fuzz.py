"""Fuzzing every reader: valid files, truncated or with bytes overwritten or inserted, either load
or fail with a BraindecodeError; no other exception ever escapes."""

import pathlib
import tempfile

import pytest
from bad_inputs import make_corpus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from braindecode.errors import BraindecodeError
from braindecode.recordings._readers import read_recording

BASES = make_corpus.valid_bases()
HEADER_BYTES = 1024  # half the edits land here, where the parsers look first


@st.composite
def mutated(draw, payload: bytes) -> bytes:
    """``payload`` truncated, with a few bytes overwritten, or with a few bytes inserted."""
    where = st.one_of(st.integers(0, min(len(payload), HEADER_BYTES) - 1),
                      st.integers(0, len(payload) - 1))
    kind = draw(st.sampled_from(["truncate", "overwrite", "insert"]))
    if kind == "truncate":
        return payload[:draw(where)]
    if kind == "insert":
        at = draw(where)
        return payload[:at] + draw(st.binary(min_size=1, max_size=64)) + payload[at:]
    out = bytearray(payload)
    for at, value in draw(st.lists(st.tuples(where, st.integers(0, 255)), min_size=1, max_size=8)):
        out[at] = value
    return bytes(out)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # MNE warns about mangled values
@pytest.mark.parametrize("name", BASES)
@settings(max_examples=50, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_mutated_files_fail_only_with_braindecode_errors(name, data):
    payload = data.draw(mutated(BASES[name]), label="payload")
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder, name)
        path.write_bytes(payload)
        try:
            with read_recording(path) as recording:
                assert recording.data().shape == recording.meta.shape
        except BraindecodeError as exc:
            assert str(exc).startswith(f"{name}: ")
