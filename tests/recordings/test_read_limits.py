"""ReadLimits: every size a header declares is checked before anything is unpacked or read.

Each bomb is a valid file, small on disk (tests/bombs.py): read under the default limits, or
under limits above what it makes, it loads; past a bound it gets ResourceExhausted naming the
bound and the size, and the unpacking or reading step it would have reached is never called.
"""

import gzip
import pathlib
import tempfile
import zipfile

import bombs
import mne
import numpy as np
import pytest
import real_files
import scipy.io
from bad_inputs import make_corpus

from braindecode.errors import InvalidArgument, ResourceExhausted
from braindecode.recordings import ReadLimits, read_recording
from braindecode.recordings._workspace import PREFIX, Workspace

STRICT = ReadLimits(max_expansion=10, expansion_grace_bytes=0)


def _write(path: pathlib.Path, payload: bytes) -> pathlib.Path:
    path.write_bytes(payload)
    return path


@pytest.fixture
def never(monkeypatch):
    """``never(owner, name)``: calling ``owner.name`` from now on fails the test."""
    def forbid(owner, name):
        def called(*args, **kwargs):
            raise AssertionError(f"{name} was called for a file past its bounds")
        monkeypatch.setattr(owner, name, called)
    return forbid


def test_edf_whose_fastest_signal_makes_mne_read_every_signal_at_its_rate(tmp_path, never):
    path = _write(tmp_path / "mixed.edf", bombs.edf_bomb(8, 2048, records=2))
    made = 8 * 2048 * 2 * 8  # every signal at 2048 samples per record, as float64
    assert read_recording(path).data().shape == (8, 4096)
    never(mne.io, "read_raw_edf")
    with pytest.raises(ResourceExhausted) as err:
        read_recording(path, limits=STRICT)
    assert str(err.value).startswith("mixed.edf: EDF header (8 signals read at the 2048 samples per "
                                     "record of the fastest, 2 records)")
    assert f"{made} bytes out of a file of {path.stat().st_size} bytes" in str(err.value)
    assert "max_expansion=10" in str(err.value)
    with pytest.raises(ResourceExhausted, match="32768 values, more than the limit max_samples=1000"):
        read_recording(path, limits=ReadLimits(max_samples=1000))


def test_issue_edf_bomb_is_refused_under_the_default_limits(tmp_path, never):
    """1.5 MB: one signal at 244,140 samples per record, 4,095 at one; MNE would read 8 GB."""
    path = _write(tmp_path / "bomb.edf", bombs.edf_bomb(4096, 244_140))
    never(mne.io, "read_raw_edf")
    with pytest.raises(ResourceExhausted, match=f"7999979520 bytes out of a file of {path.stat().st_size}"):
        read_recording(path)


@pytest.mark.parametrize("path", [real_files.EDF, real_files.BDF], ids=["edf", "bdf"])
def test_edf_at_one_rate_is_far_below_the_expansion_bound(path):
    assert read_recording(path, limits=STRICT).meta.format == path.suffix[1:]


def test_nifti_gz_declaring_far_more_than_it_holds(tmp_path, never):
    path = _write(tmp_path / "bomb.nii.gz", bombs.nifti_gz_bomb((16, 16, 16, 64), np.float32))
    declared = 352 + 16**3 * 64 * 4
    assert path.stat().st_size < 2000 and read_recording(path).meta.shape == (16, 16, 16, 64)
    never(Workspace, "gunzip")
    with pytest.raises(ResourceExhausted) as err:
        read_recording(path, limits=ReadLimits(expansion_grace_bytes=2**16))
    assert str(err.value).startswith("bomb.nii.gz: the NIfTI header (dim 16 x 16 x 16 x 64 of float32) "
                                     f"declares {declared} bytes out of a file of {path.stat().st_size}")
    assert "max_expansion=100" in str(err.value) and "expansion_grace_bytes=65536" in str(err.value)


def test_nifti_of_bytes_counts_as_float32_once_read(tmp_path):
    """A uint8 .nii holds a quarter of what reading it makes."""
    image = make_corpus.nifti_bytes(np.ones((4, 4, 4, 10), np.uint8))
    path = _write(tmp_path / "bytes.nii", image)
    with pytest.raises(ResourceExhausted, match="declares 2560 bytes"):
        read_recording(path, limits=ReadLimits(max_expansion=1, expansion_grace_bytes=0))
    assert read_recording(path, limits=ReadLimits(max_expansion=8, expansion_grace_bytes=0)).meta.shape == (4, 4, 4, 10)


def test_brainvision_zip_bomb_is_refused_before_unpacking(tmp_path, never):
    path = _write(tmp_path / "bv.zip", bombs.brainvision_zip_bomb(2**20))
    assert read_recording(path).meta.shape == (4, 2**16)
    never(zipfile.ZipFile, "open")
    size = path.stat().st_size
    with pytest.raises(ResourceExhausted, match=rf"zip members unpack to {2**20 + 1187} bytes out of a file of "
                                                rf"{size} bytes, more than the {100 * size} allowed"):
        read_recording(path, limits=ReadLimits(expansion_grace_bytes=2**16))


def test_gzip_fif_inflating_past_the_expansion_bound(tmp_path):
    fif = make_corpus.fif_bytes()
    path = _write(tmp_path / "rec_raw.fif.gz", gzip.compress(fif))
    assert read_recording(path, limits=STRICT).meta.format == "fif"
    padded = _write(tmp_path / "padded_raw.fif.gz", bombs.gzip_bomb(fif, 2**20))
    with pytest.raises(ResourceExhausted, match=r"inflate past \d+ bytes, the limit for a file of "
                                                rf"{padded.stat().st_size} bytes \(max_unpacked_bytes="):
        read_recording(padded, limits=ReadLimits(expansion_grace_bytes=2**16))


def test_compressed_set_variables_inflating_past_the_expansion_bound(tmp_path):
    path = real_files.export_eeg(tmp_path, "eeglab")
    fields = {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}
    fields["padding"] = np.zeros(2**21)  # 16 MiB of zeros that compress to a few KiB
    scipy.io.savemat(path, fields, do_compression=True)
    assert read_recording(path).meta.format == "eeglab"
    with pytest.raises(ResourceExhausted, match="inflate past .* max_expansion=100"):
        read_recording(path, limits=ReadLimits(expansion_grace_bytes=2**16))


def test_gifti_compressed_arrays_declaring_far_more_than_the_file(tmp_path):
    path = _write(tmp_path / "zeros.func.gii", make_corpus.gifti_bytes([np.zeros(2**16, np.float32)] * 2))
    assert read_recording(path).meta.shape == (2**16, 2)
    with pytest.raises(ResourceExhausted, match=rf"GIfTI data arrays declare {2**18} bytes out of a file "
                                                rf"of {path.stat().st_size} bytes"):
        read_recording(path, limits=ReadLimits(expansion_grace_bytes=2**16))


def test_workspaces_live_in_the_folder_the_caller_gives(tmp_path, monkeypatch):
    system = tmp_path / "system-tmp"
    system.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system))
    work = tmp_path / "store-tmp"
    work.mkdir()
    bundle = _write(tmp_path / "bv.zip", bombs.brainvision_zip_bomb(2**10))
    with read_recording(bundle, work_dir=work) as recording:
        (workspace,) = work.iterdir()
        assert workspace.name.startswith(PREFIX) and (workspace / "unzipped" / "rec.eeg").is_file()
        assert recording.data().shape == (4, 64)
        assert list(system.iterdir()) == []
    assert list(work.iterdir()) == []
    with pytest.raises(ResourceExhausted):
        read_recording(bundle, work_dir=work, limits=ReadLimits(max_zip_members=1))
    assert list(work.iterdir()) == []
    with read_recording(real_files.FUNCTIONAL):  # library use: the system's temporary folder
        assert [p.name.startswith(PREFIX) for p in system.iterdir()] == [True]


def test_messages_quote_a_short_prefix_of_the_input(tmp_path):
    huge = "x" * 2**20
    for kwargs, fragment in [({"modality": huge}, "unknown modality 'xxxx"),
                             ({"format": huge}, "unknown format 'xxxx")]:
        with pytest.raises(InvalidArgument) as err:
            read_recording(real_files.EDF, **kwargs)
        message = str(err.value)
        assert fragment in message and f"... ({2**20} characters)" in message and len(message) < 300
    names = [("a" * 5000 + ".txt", b"notes", 0)]
    path = _write(tmp_path / "notes.zip", bombs.zip_bomb(names))
    with pytest.raises(InvalidArgument, match="the zip must hold") as err:
        read_recording(path)
    assert len(str(err.value)) < 300
