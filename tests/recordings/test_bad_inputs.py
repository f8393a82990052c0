"""Every file of the bad-input corpus gets the status code and message its manifest names."""

import json
import pathlib

import pytest
from bad_inputs import make_corpus

from braindecode import errors
from braindecode.recordings._readers import read_recording

CORPUS = pathlib.Path(make_corpus.__file__).parent
ENTRIES = json.loads((CORPUS / "manifest.json").read_text())["entries"]
CODES = {cls.code for cls in vars(errors).values()
         if isinstance(cls, type) and issubclass(cls, errors.BraindecodeError)}


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_corpus_file_gets_its_status(entry):
    with pytest.raises(errors.BraindecodeError) as err:
        read_recording(CORPUS / entry["file"], format=entry["format"], modality=entry["modality"])
    message = str(err.value)
    assert err.value.code == entry["code"], message
    assert message.startswith(f"{entry['file']}: ") and entry["match"] in message.lower(), message


def test_manifest_covers_the_corpus():
    files = {p.name for p in CORPUS.iterdir() if p.is_file()} - {"make_corpus.py", "manifest.json"}
    assert sorted(files) == sorted(e["file"] for e in ENTRIES)
    assert len(ENTRIES) >= 30
    for entry in ENTRIES:
        assert entry["code"] in CODES and entry["match"] == entry["match"].lower() and entry["why"]
        assert (CORPUS / entry["file"]).stat().st_size < make_corpus.MAX_FILE_BYTES


def test_committed_corpus_is_what_the_generator_writes(tmp_path):
    make_corpus.write(tmp_path)
    for entry in ENTRIES:
        assert (tmp_path / entry["file"]).read_bytes() == (CORPUS / entry["file"]).read_bytes(), \
            entry["file"]
    assert (tmp_path / "manifest.json").read_text() == (CORPUS / "manifest.json").read_text()
