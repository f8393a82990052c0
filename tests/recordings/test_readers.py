"""read_recording on real files: it reads what nibabel or MNE read from the same file."""

import gzip
import json
import pathlib
import tempfile
import zipfile

import mne
import nibabel
import numpy as np
import pytest
import real_files
import scipy.io

from braindecode.errors import BraindecodeError, InvalidArgument, ResourceExhausted
from braindecode.recordings._limits import ReadLimits
from braindecode.recordings._readers import read_recording
from braindecode.recordings._sniff import FORMATS, sniff_format

GIFTI_DATA = pathlib.Path(nibabel.__file__).parent / "gifti" / "tests" / "data"
NIFTI_FILES = {
    "example4d": real_files.EXAMPLE4D,
    "functional": real_files.FUNCTIONAL,
    "nitime-fmri1": real_files.FMRI1,
    "nibabel-nifti2": real_files.NIBABEL_DATA / "example_nifti2.nii.gz",
    "anatomical-3d-big-endian": real_files.NIBABEL_DATA / "anatomical.nii",
}


def _zip(path, members) -> pathlib.Path:
    """Write a zip at ``path`` holding ``members`` (files) under their own names."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in members:
            archive.write(member, arcname=pathlib.Path(member).name)
    return pathlib.Path(path)


def _split_eeglab(directory) -> pathlib.Path:
    """mne.export's EEGLAB recording rewritten as a .set plus a separate .fdt (both in a zip)."""
    set_path = real_files.export_eeg(directory, "eeglab")
    fields = {k: v for k, v in scipy.io.loadmat(set_path).items() if not k.startswith("__")}
    data = fields["data"]
    fields["data"] = "split.fdt"
    split = pathlib.Path(directory, "split.set")
    scipy.io.savemat(split, fields)
    split.with_suffix(".fdt").write_bytes(data.T.astype("<f4").tobytes())
    return split


def _assert_same_raw(recording, raw, fmt):
    data = recording.data()
    assert recording.meta.format == fmt and recording.meta.modality == "eeg"
    assert data.dtype == np.float64 and data.shape == recording.meta.shape
    np.testing.assert_array_equal(data, raw.get_data())
    assert list(recording.meta.ch_names) == raw.ch_names
    assert list(recording.meta.ch_types) == raw.get_channel_types()
    assert recording.meta.sampling_rate == raw.info["sfreq"]
    assert recording.meta.duration == pytest.approx(raw.n_times / raw.info["sfreq"])
    np.testing.assert_array_equal(recording.to_raw().get_data(), raw.get_data())


@pytest.mark.parametrize("path", NIFTI_FILES.values(), ids=NIFTI_FILES.keys())
def test_nifti_equals_nibabel(path):
    expected = nibabel.load(path)
    with read_recording(path) as recording:
        meta, data = recording.meta, recording.data()
        assert meta.format == "nifti" and meta.modality == "fmri"
        assert data.dtype == np.float32 and data.shape == meta.shape and len(meta.shape) == 4
        np.testing.assert_array_equal(data.reshape(expected.shape),
                                      expected.get_fdata(dtype=np.float32))
        np.testing.assert_array_equal(meta.affine, expected.affine)
        assert meta.voxel_size == pytest.approx(expected.header.get_zooms()[:3])
        if meta.shape[3] > 1:
            assert meta.tr == pytest.approx(float(expected.header.get_zooms()[3]))
            assert meta.duration == pytest.approx(meta.tr * meta.shape[3])
        image = recording.to_image()
        assert type(image) is type(expected)
        np.testing.assert_array_equal(image.get_fdata(), expected.get_fdata())


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_nifti2_written_by_nibabel_with_tr_in_ms(tmp_path, suffix):
    rng = np.random.default_rng(0)
    affine = np.array([[0, -2.5, 0, 90], [2.5, 0, 0, -126], [0, 0, 3, -72], [0, 0, 0, 1.0]])
    image = nibabel.Nifti2Image(rng.standard_normal((5, 6, 7, 8)).astype(np.float32), affine)
    image.header.set_xyzt_units("mm", "msec")
    image.header.set_zooms((2.5, 2.5, 3.0, 1500.0))
    path = tmp_path / f"two{suffix}"
    nibabel.save(image, path)
    with read_recording(path, format="nifti", modality="fmri") as recording:
        expected = nibabel.load(path).get_fdata(dtype=np.float32)
        np.testing.assert_array_equal(recording.data(), expected)
        np.testing.assert_array_equal(recording.meta.affine, affine)
        assert recording.meta.tr == pytest.approx(1.5)  # milliseconds converted to seconds
        assert isinstance(recording.to_image(), nibabel.Nifti2Image)


def test_scaled_integer_nifti(tmp_path):
    data = np.arange(4 * 3 * 2 * 6, dtype=np.int16).reshape(4, 3, 2, 6)
    image = nibabel.Nifti1Image(data, np.eye(4))
    image.header.set_slope_inter(0.5, 10.0)
    image.header.set_zooms((3.0, 3.0, 3.0, 2.0))
    nibabel.save(image, tmp_path / "scaled.nii")
    with read_recording(tmp_path / "scaled.nii") as recording:
        np.testing.assert_array_equal(
            recording.data(), nibabel.load(tmp_path / "scaled.nii").get_fdata(dtype=np.float32))
        assert recording.data()[0, 0, 0, 1] == pytest.approx(10.5)


@pytest.mark.parametrize("name", ["task.func.gii", "gzipbase64.gii", "label.gii"])
def test_gifti_equals_nibabel(name):
    path = GIFTI_DATA / name
    expected = nibabel.load(path)
    columns = [d.data.reshape(len(d.data), -1) for d in expected.darrays]
    with read_recording(path) as recording:
        assert recording.meta.format == "gifti" and recording.meta.modality == "surface"
        np.testing.assert_array_equal(recording.data(),
                                      np.hstack(columns).astype(np.float32))
        assert recording.data().shape == recording.meta.shape
        assert len(recording.to_image().darrays) == len(expected.darrays)


@pytest.mark.parametrize("path", [real_files.EDF, real_files.BDF], ids=["edf", "bdf"])
def test_pyedflib_files_equal_mne(path):
    raw = mne.io.read_raw(path, preload=True, verbose="error")
    with read_recording(path) as recording:
        _assert_same_raw(recording, raw, path.suffix[1:])


def test_mne_exported_edf(tmp_path):
    path = real_files.export_eeg(tmp_path, "edf")
    with read_recording(path, format="edf", modality="eeg") as recording:
        _assert_same_raw(recording, mne.io.read_raw_edf(path, preload=True, verbose="error"), "edf")


def test_mne_exported_brainvision_zip(tmp_path):
    vhdr = real_files.export_eeg(tmp_path, "brainvision")
    bundle = _zip(tmp_path / "bv.zip", [vhdr.with_suffix(s) for s in (".vhdr", ".vmrk", ".eeg")])
    raw = mne.io.read_raw_brainvision(vhdr, preload=True, verbose="error")
    with read_recording(bundle, format="brainvision") as recording:
        _assert_same_raw(recording, raw, "brainvision")
        np.testing.assert_array_equal(recording.to_raw().annotations.onset, raw.annotations.onset)


def test_brainvision_zip_in_a_folder_with_macos_metadata_and_hostile_references(tmp_path):
    vhdr = real_files.export_eeg(tmp_path, "brainvision")
    header = vhdr.read_text().replace("DataFile=eeg.eeg", "DataFile=/etc/passwd")
    header = header.replace("MarkerFile=eeg.vmrk", "MarkerFile=../../../dev/zero")
    bundle = tmp_path / "nested.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("session/", b"")
        archive.writestr("session/eeg.vhdr", header)
        archive.write(vhdr.with_suffix(".vmrk"), "session/eeg.vmrk")
        archive.write(vhdr.with_suffix(".eeg"), "session/eeg.eeg")
        archive.writestr("__MACOSX/session/._eeg.vhdr", b"\x00\x05\x16\x07")
    raw = mne.io.read_raw_brainvision(vhdr, preload=True, verbose="error")
    with read_recording(bundle) as recording:  # the zip's .eeg and .vmrk, whatever the .vhdr says
        np.testing.assert_array_equal(recording.data(), raw.get_data())


def test_mne_exported_eeglab_embedded(tmp_path):
    path = real_files.export_eeg(tmp_path, "eeglab")
    with read_recording(path, modality="eeg") as recording:
        _assert_same_raw(recording, mne.io.read_raw_eeglab(path, preload=True, verbose="error"),
                         "eeglab")


def test_eeglab_set_with_fdt_in_a_zip(tmp_path):
    split = _split_eeglab(tmp_path)
    bundle = _zip(tmp_path / "split.zip", [split, split.with_suffix(".fdt")])
    raw = mne.io.read_raw_eeglab(split, preload=True, verbose="error")
    with read_recording(bundle, format="eeglab") as recording:
        _assert_same_raw(recording, raw, "eeglab")


def test_eeglab_data_file_outside_the_upload_is_refused(tmp_path):
    split = _split_eeglab(tmp_path)
    fields = {k: v for k, v in scipy.io.loadmat(split).items() if not k.startswith("__")}
    fields["data"] = str(split.with_suffix(".fdt"))  # an absolute path that exists on the server
    scipy.io.savemat(split, fields)
    with pytest.raises(InvalidArgument, match="plain file name"):
        read_recording(split)


def test_fif_with_meg_and_eeg(tmp_path):
    info = mne.create_info(["MEG 0111", "MEG 0112", "EEG 001", "STI 014"], 600.0,
                           ["mag", "grad", "eeg", "stim"])
    data = np.random.default_rng(1).standard_normal((4, 1200)) * 1e-12
    path = tmp_path / "meg_raw.fif"
    mne.io.RawArray(data, info, verbose="error").save(path, verbose="error")
    raw = mne.io.read_raw_fif(path, preload=True, verbose="error")
    with read_recording(path) as recording:
        assert recording.meta.modality == "meg" and recording.meta.format == "fif"
        np.testing.assert_array_equal(recording.data(), raw.get_data())
        assert list(recording.meta.ch_types) == ["mag", "grad", "eeg", "stim"]
    assert read_recording(path, modality="eeg").meta.modality == "eeg"


@pytest.mark.parametrize("suffix", ["_raw.fif", "_raw.fif.gz"])
def test_fif_written_by_mne(tmp_path, suffix):
    path = tmp_path / f"eeg{suffix}"
    real_files.make_raw().save(path, verbose="error")
    raw = mne.io.read_raw_fif(path, preload=True, verbose="error")
    with read_recording(path, format="fif", modality="eeg") as recording:
        _assert_same_raw(recording, raw, "fif")


def test_sniff_format_names_every_format(tmp_path):
    bv = real_files.export_eeg(tmp_path, "brainvision")
    split = _split_eeglab(tmp_path)
    heads = {
        "nifti": [real_files.FUNCTIONAL, real_files.EXAMPLE4D,
                  NIFTI_FILES["nibabel-nifti2"], NIFTI_FILES["anatomical-3d-big-endian"]],
        "gifti": [GIFTI_DATA / "task.func.gii"],
        "edf": [real_files.EDF, real_files.export_eeg(tmp_path, "edf")],
        "bdf": [real_files.BDF],
        "brainvision": [_zip(tmp_path / "bv.zip", [bv.with_suffix(s) for s in (".vhdr", ".eeg")])],
        "eeglab": [real_files.export_eeg(tmp_path, "eeglab"),
                   _zip(tmp_path / "split.zip", [split.with_suffix(".fdt"), split])],
    }
    real_files.make_raw().save(tmp_path / "x_raw.fif", verbose="error")
    heads["fif"] = [tmp_path / "x_raw.fif"]
    assert set(heads) == set(FORMATS)
    for fmt, paths in heads.items():
        for path in paths:
            assert sniff_format(pathlib.Path(path).read_bytes()[:65536]) == fmt, path
    assert sniff_format(np.random.default_rng(0).bytes(1000)) is None
    assert sniff_format(b"") is None
    assert sniff_format(gzip.compress(b"plain text")) is None
    assert sniff_format((GIFTI_DATA / "task.func.gii").read_bytes()[:20]) is None  # no <GIFTI yet


def test_declared_format_and_modality_must_match():
    with pytest.raises(InvalidArgument, match="declared format edf but the file is nifti"):
        read_recording(real_files.FUNCTIONAL, format="edf")
    with pytest.raises(InvalidArgument, match="declared format nifti but the file is edf"):
        read_recording(real_files.EDF, format="nifti")
    with pytest.raises(InvalidArgument, match="declared modality eeg does not fit a nifti file"):
        read_recording(real_files.FUNCTIONAL, modality="eeg")
    with pytest.raises(InvalidArgument, match="unknown modality"):
        read_recording(real_files.EDF, modality="ecog")
    recording = read_recording(real_files.FUNCTIONAL, format=" NIfTI ", modality="FMRI")
    assert recording.meta.format == "nifti" and recording.meta.modality == "fmri"


def test_limits_are_configurable(tmp_path):
    with pytest.raises(ResourceExhausted, match="21420 values, more than the limit max_voxels=100"):
        read_recording(real_files.FUNCTIONAL, limits=ReadLimits(max_voxels=100))
    with pytest.raises(ResourceExhausted, match="more than the limit max_samples=1000"):
        read_recording(real_files.EDF, limits=ReadLimits(max_samples=1000))
    vhdr = real_files.export_eeg(tmp_path, "brainvision")
    bundle = _zip(tmp_path / "bv.zip", [vhdr.with_suffix(s) for s in (".vhdr", ".vmrk", ".eeg")])
    with pytest.raises(ResourceExhausted, match="zip bomb"):
        read_recording(bundle, limits=ReadLimits(max_unpacked_bytes=10_000))
    with pytest.raises(ResourceExhausted, match="3 members"):
        read_recording(bundle, limits=ReadLimits(max_zip_members=2))
    with pytest.raises(ResourceExhausted, match="limit"):
        read_recording(GIFTI_DATA / "task.func.gii", limits=ReadLimits(max_xml_bytes=1000))


def test_gzip_may_inflate_only_slightly_past_the_declared_size(tmp_path):
    path = tmp_path / "trailing.nii.gz"
    path.write_bytes(gzip.compress(real_files.FUNCTIONAL.read_bytes() + bytes(5000)))
    assert read_recording(path).meta.shape == (17, 21, 3, 20)
    with pytest.raises(ResourceExhausted, match="gzip bomb"):
        read_recording(path, limits=ReadLimits(gzip_slack_bytes=1000))


def test_compressed_mat_variables_are_bounded(tmp_path):
    path = real_files.export_eeg(tmp_path, "eeglab")
    fields = {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}
    fields["padding"] = np.zeros(2**18)  # 2 MiB of zeros that compress to a few KiB
    scipy.io.savemat(path, fields, do_compression=True)
    assert read_recording(path).meta.format == "eeglab"
    with pytest.raises(ResourceExhausted, match="inflate past"):
        read_recording(path, limits=ReadLimits(max_unpacked_bytes=2**20))


def test_private_copies_live_as_long_as_the_recording(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    recording = read_recording(real_files.EXAMPLE4D)
    assert len(list(tmp_path.glob("braindecode-recording-*"))) == 1
    image = recording.to_image()
    recording.close()
    assert list(tmp_path.glob("braindecode-recording-*")) == []
    assert image.get_fdata().shape == (128, 96, 24, 2)  # held in memory, not on the removed copy
    with pytest.raises(BraindecodeError, match="example4d.nii.gz"):
        recording.data()
    with pytest.raises(InvalidArgument):
        read_recording(real_files.FUNCTIONAL, format="edf")
    assert list(tmp_path.glob("braindecode-recording-*")) == []


def test_messages_name_the_upload_and_hide_server_paths(tmp_path):
    path = tmp_path / "blob-7f3a"
    path.write_bytes(real_files.EXAMPLE4D.read_bytes()[:5000])
    with pytest.raises(InvalidArgument) as err:
        read_recording(path, name="upload.nii.gz")
    message = str(err.value)
    assert message.startswith("upload.nii.gz: ") and "gzip" in message
    assert str(tmp_path) not in message and tempfile.gettempdir() + "/" not in message


def test_conversions_need_the_right_modality():
    with read_recording(real_files.FUNCTIONAL) as fmri, read_recording(real_files.EDF) as eeg:
        with pytest.raises(InvalidArgument, match="to_raw"):
            fmri.to_raw()
        with pytest.raises(InvalidArgument, match="to_image"):
            eeg.to_image()


def test_meta_dict_is_json():
    with read_recording(real_files.EXAMPLE4D) as fmri, read_recording(real_files.EDF) as eeg:
        for recording in (fmri, eeg):
            meta = json.loads(json.dumps(recording.meta_dict()))
            assert meta["shape"] == list(recording.meta.shape)
            assert meta["format"] == recording.meta.format
        assert np.asarray(json.loads(json.dumps(fmri.meta_dict()))["affine"]).shape == (4, 4)
        assert eeg.meta_dict()["ch_names"][0] == "squarewave"
