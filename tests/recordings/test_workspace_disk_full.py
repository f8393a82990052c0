"""A full disk while unpacking an upload is the server's problem (RESOURCE_EXHAUSTED), not the file's."""

import errno
import shutil
import zipfile

import pytest
import real_files

from braindecode.errors import ResourceExhausted
from braindecode.recordings import read_recording


def _full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_full_disk_while_unzipping(tmp_path, monkeypatch):
    vhdr = real_files.export_eeg(tmp_path, "brainvision")
    packed = tmp_path / "eeg.zip"
    with zipfile.ZipFile(packed, "w") as z:
        for suffix in (".vhdr", ".vmrk", ".eeg"):
            z.write(vhdr.with_suffix(suffix), arcname=vhdr.with_suffix(suffix).name)
    monkeypatch.setattr(shutil, "copyfileobj", _full_disk)
    with pytest.raises(ResourceExhausted, match="no space left"):
        read_recording(packed)

