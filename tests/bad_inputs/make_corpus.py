"""Write the bad-input corpus: small malformed recording files and ``manifest.json``.

Each file starts from a small valid recording (``valid_bases()``, checked to load) and breaks
one thing. The manifest gives, per file, the format and modality an uploader would declare,
the status code that ``braindecode.errors`` must answer with, a phrase the (lower-cased)
message must contain, and why the file is bad.

Run from the repository root; the output is byte-for-byte the same on every run (fixed seeds,
no timestamps)::

    python tests/bad_inputs/make_corpus.py
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import pathlib
import struct
import tempfile
import warnings
import zipfile
import zlib

import mne
import nibabel
import numpy as np
import pybv
import scipy.io

HERE = pathlib.Path(__file__).parent
INVALID, EXHAUSTED = "INVALID_ARGUMENT", "RESOURCE_EXHAUSTED"
MAX_FILE_BYTES = 200_000


def cases(rows, **declared) -> list:
    """[(manifest entry, file bytes)] from rows of (file, bytes, code, match, why[, declared])."""
    out = []
    for file, payload, code, match, why, *own in rows:
        assert len(payload) < MAX_FILE_BYTES, (file, len(payload))
        entry = {"file": file, "format": None, "modality": None, "code": code, "match": match,
                 "why": why}
        entry.update(declared, **(own[0] if own else {}))
        out.append((entry, payload))
    return out


# -- NIfTI -------------------------------------------------------------------------------------

def nifti_bytes(data=None, version=1, tr=2.0) -> bytes:
    """A valid single-file NIfTI: float32 (4, 4, 3, 5), 2 mm voxels, TR ``tr`` s."""
    if data is None:
        data = np.random.default_rng(0).standard_normal((4, 4, 3, 5)).astype(np.float32)
    klass = nibabel.Nifti1Image if version == 1 else nibabel.Nifti2Image
    image = klass(data, np.diag([2.0, 2.0, 2.0, 1.0]))
    image.header.set_xyzt_units("mm", "sec")
    image.header.set_zooms((2.0, 2.0, 2.0, tr)[:data.ndim])
    return image.to_bytes()


def patch_nifti(payload: bytes, version=1, **fields) -> bytes:
    """``payload`` with header fields replaced; ``dim``/``pixdim`` take {index: value}."""
    size = 348 if version == 1 else 540
    klass = nibabel.Nifti1Header if version == 1 else nibabel.Nifti2Header
    header = klass(payload[:size], check=False)
    for key, value in fields.items():
        if isinstance(value, dict):
            for index, item in value.items():
                header[key][index] = item
        else:
            header[key] = value
    return header.binaryblock + payload[size:]


def nifti_cases() -> list:
    good, two = nifti_bytes(), nifti_bytes(version=2)
    bomb = nifti_bytes(np.ones((2, 2, 2), np.int16)) + bytes(64 * 2**20)
    huge = {1: 30000, 2: 30000, 3: 30000, 4: 30000}
    return cases([
        ("nifti_truncated_header.nii", good[:200], INVALID, "truncated nifti header",
         "only 200 of the 348 header bytes"),
        ("nifti_truncated_data.nii", good[:700], INVALID, "truncated nifti",
         "the header declares 960 data bytes; the file holds 348"),
        ("nifti_vox_offset_inside_header.nii", patch_nifti(good, vox_offset=100), INVALID,
         "vox_offset", "vox_offset 100 points into the header"),
        ("nifti_vox_offset_past_end.nii", patch_nifti(good, vox_offset=1_000_000), INVALID,
         "vox_offset", "vox_offset beyond the end of the file"),
        ("nifti_vox_offset_fractional.nii", patch_nifti(good, vox_offset=352.5), INVALID,
         "vox_offset", "vox_offset is not a whole number of bytes"),
        ("nifti_negative_dim.nii", patch_nifti(good, dim={2: -4}), INVALID, "dim[2] is -4",
         "a negative dimension"),
        ("nifti_zero_dim.nii", patch_nifti(good, dim={3: 0}), INVALID, "dim[3] is 0",
         "a zero dimension"),
        ("nifti_huge_dim.nii", patch_nifti(good, dim=huge), EXHAUSTED, "more than the limit max_voxels",
         "dims declare 8.1e17 values, past the voxel limit"),
        ("nifti_dim0_out_of_range.nii", patch_nifti(good, dim={0: 9}), INVALID, "dim[0] is 9",
         "dim[0] must be 1..7"),
        ("nifti_2d.nii", nifti_bytes(np.ones((4, 4), np.float32)), INVALID, "not 3-d",
         "a 2-D image is not fMRI"),
        ("nifti_5d_vector.nii", patch_nifti(good, dim={0: 5, 5: 3}), INVALID, "not 3-d",
         "a 5-D (vector-valued) image"),
        ("nifti_bad_datatype.nii", patch_nifti(good, datatype=9999), INVALID,
         "not a nifti type", "datatype code 9999 does not exist"),
        ("nifti_complex_datatype.nii", patch_nifti(good, datatype=32, bitpix=64), INVALID,
         "datatype complex64", "complex voxels are not fMRI data"),
        ("nifti_bitpix_mismatch.nii", patch_nifti(good, bitpix=8), INVALID, "bitpix",
         "bitpix 8 contradicts datatype float32"),
        ("nifti_bad_magic.nii", patch_nifti(good, magic=b"abc"), INVALID, "magic",
         "the magic string is not n+1"),
        ("nifti_pair_magic.nii", patch_nifti(good, magic=b"ni1"), INVALID, ".hdr + .img",
         "the header of a header/image pair, sent alone"),
        ("nifti_all_nan.nii", nifti_bytes(np.full((4, 4, 3, 5), np.nan, np.float32)), INVALID,
         "nan", "every voxel is NaN"),
        ("nifti_zero_tr.nii", patch_nifti(good, pixdim={4: 0.0}), INVALID, "tr (pixdim[4])",
         "a 4-D series with TR 0"),
        ("nifti_nan_tr.nii", patch_nifti(good, pixdim={4: np.nan}), INVALID, "tr (pixdim[4])",
         "a 4-D series with TR NaN"),
        ("nifti_hz_time_unit.nii", patch_nifti(good, xyzt_units=2 | 32), INVALID, "time unit",
         "the time axis is in Hz (spectral data), not a time step"),
        ("nifti_zero_voxel_size.nii", patch_nifti(good, pixdim={1: 0.0}), INVALID,
         "voxel size", "a voxel edge of 0 mm"),
        ("nifti_infinite_affine.nii", patch_nifti(good, srow_x=[np.inf, 0, 0, 0]), INVALID,
         "affine", "the sform holds infinity"),
        ("nifti_gzip_bomb.nii.gz", gzip.compress(bomb, compresslevel=9, mtime=0), EXHAUSTED,
         "gzip bomb", "the header declares 16 data bytes; the stream inflates to 64 MiB"),
        ("nifti_truncated_gzip.nii.gz", gzip.compress(good, mtime=0)[:300], INVALID, "gzip",
         "the gzip stream is cut short"),
        ("nifti2_truncated_data.nii", two[:800], INVALID, "truncated nifti",
         "a NIfTI-2 header declares 960 data bytes; the file stops early"),
        ("nifti2_negative_dim.nii", patch_nifti(two, version=2, dim={1: -1}), INVALID,
         "dim[1] is -1", "a NIfTI-2 with a negative dimension"),
    ], format="nifti", modality="fmri")


# -- format and declaration mismatches -----------------------------------------------------------

def format_cases() -> list:
    good = nifti_bytes()
    return cases([
        ("empty.nii", b"", INVALID, "empty", "no bytes at all", {"format": "nifti"}),
        ("random_bytes.bin", np.random.default_rng(1).bytes(4096), INVALID, "unrecognised",
         "4 KiB of random bytes match no format"),
        ("declared_edf_is_nifti.edf", good, INVALID, "declared format edf but the file is nifti",
         "the declared format contradicts the content", {"format": "edf", "modality": "eeg"}),
        ("declared_eeg_modality_for_nifti.nii", good, INVALID, "declared modality eeg",
         "NIfTI holds fMRI, not EEG", {"format": "nifti", "modality": "eeg"}),
        ("unknown_declared_format.nii", good, INVALID, "unknown format",
         "'dicom' is not a format the readers know", {"format": "dicom"}),
        ("gzip_of_text.gz", gzip.compress(b"hello, not a recording\n" * 20, mtime=0), INVALID,
         "neither a nifti", "gzip data that inflate to text"),
        ("zip_without_recording.zip", zip_bytes([("notes.txt", b"no recording")]), INVALID,
         "the zip must hold", "a zip with no BrainVision or EEGLAB member"),
        ("zip_mixed_formats.zip", zip_bytes([("a.vhdr", b"x"), ("a.set", b"x")]), INVALID,
         "the zip must hold", "a zip mixing BrainVision and EEGLAB files"),
    ])


# -- EDF / BDF ---------------------------------------------------------------------------------

_MAIN_WIDTHS = (("version", 8), ("patient", 80), ("recording", 80), ("startdate", 8),
                ("starttime", 8), ("header_bytes", 8), ("reserved", 44), ("n_records", 8),
                ("duration", 8), ("n_signals", 4))
_SIGNAL_WIDTHS = (("label", 16), ("transducer", 80), ("physical dimension", 8),
                  ("physical minimum", 8), ("physical maximum", 8), ("digital minimum", 8),
                  ("digital maximum", 8), ("prefiltering", 80), ("samples per record", 8),
                  ("signal reserved", 32))


def edf_fields(fmt="edf") -> dict:
    """Header fields of a valid 2-signal EDF/BDF: 4 records of 1 s, 64 samples each."""
    bdf = fmt == "bdf"
    return {
        "version": "\xffBIOSEMI" if bdf else "0", "patient": "X X X X",
        "recording": "Startdate 01-JAN-2000 X X X", "startdate": "01.01.00",
        "starttime": "00.00.00", "header_bytes": str(256 * 3), "reserved": "24BIT" if bdf else "",
        "n_records": "4", "duration": "1", "n_signals": "2", "label": ["Fz", "Cz"],
        "transducer": ["AgAgCl"] * 2, "physical dimension": ["uV"] * 2,
        "physical minimum": ["-3200"] * 2, "physical maximum": ["3200"] * 2,
        "digital minimum": ["-8388608" if bdf else "-32768"] * 2,
        "digital maximum": ["8388607" if bdf else "32767"] * 2,
        "prefiltering": ["HP:0.1Hz"] * 2, "samples per record": ["64"] * 2,
        "signal reserved": [""] * 2,
    }


def edf_header(fields: dict) -> bytes:
    """``fields`` serialised as an EDF/BDF header: the main header, then the signal headers."""
    head = "".join(fields[k].ljust(w)[:w] for k, w in _MAIN_WIDTHS)
    head += "".join(v.ljust(w)[:w] for k, w in _SIGNAL_WIDTHS for v in fields[k])
    return head.encode("latin-1")


def edf_bytes(fields: dict, fmt="edf", records=4) -> bytes:
    """``fields`` serialised as a header, then ``records`` data records of two sines."""
    t = np.arange(64 * records) / 64.0
    signals = [np.round(20000 * np.sin(2 * np.pi * f * t)).astype(np.int32) for f in (3, 7)]
    body = bytearray()
    for r in range(records):
        for signal in signals:
            chunk = signal[r * 64:(r + 1) * 64]
            if fmt == "bdf":
                body += b"".join(int(v).to_bytes(3, "little", signed=True) for v in chunk)
            else:
                body += chunk.astype("<i2").tobytes()
    return edf_header(fields) + bytes(body)


def edf_cases() -> list:
    out = []
    for fmt in ("edf", "bdf"):
        def broken(name, match, why, records=4, **changes):
            fields = dict(edf_fields(fmt), **changes)
            return (f"{fmt}_{name}.{fmt}", edf_bytes(fields, fmt, records), INVALID, match,
                    f"{fmt.upper()}: {why}")

        out += cases([
            broken("record_count_mismatch", "data records",
                   "the header declares 9 records, the file holds 4", n_records="9"),
            broken("truncated_records", "data records",
                   "the header declares 4 records, the file holds 2", records=2),
            broken("broken_signal_count", "not a number", "the number of signals is 'ab'",
                   n_signals="ab"),
            broken("zero_record_duration", "record duration", "a record duration of 0 s",
                   duration="0"),
            broken("header_size_mismatch", "header size", "the header bytes field says 999",
                   header_bytes="999"),
            broken("empty_digital_range", "digital range", "digital minimum equals maximum",
                   **{"digital minimum": ["100"] * 2, "digital maximum": ["100"] * 2}),
            broken("zero_samples_per_record", "samples per record",
                   "a signal with 0 samples per record", **{"samples per record": ["64", "0"]}),
        ], format=fmt, modality="eeg")
    return out + cases([
        ("edf_truncated_header.edf", edf_bytes(edf_fields())[:100], INVALID,
         "truncated edf header", "100 of the 256 fixed header bytes"),
    ], format="edf", modality="eeg")


# -- zips: BrainVision and EEGLAB --------------------------------------------------------------

def zip_bytes(members, symlink=None) -> bytes:
    """A zip of (name, bytes) members with fixed dates; ``symlink`` names a member made a link."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicate names are one of the cases
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = (0o120777 if name == symlink else 0o100644) << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def brainvision_members(sampling_interval=None) -> list:
    """[(name, bytes)] of a valid BrainVision recording (4 channels, 256 Hz, 2 s) from pybv."""
    data = np.random.default_rng(2).standard_normal((4, 512)) * 1e-5
    with tempfile.TemporaryDirectory() as folder:
        pybv.write_brainvision(data=data, sfreq=256.0, ch_names=["Fz", "Cz", "Pz", "Oz"],
                               fname_base="rec", folder_out=folder, overwrite=True)
        members = [(f"rec{s}", pathlib.Path(folder, f"rec{s}").read_bytes())
                   for s in (".vhdr", ".vmrk", ".eeg")]
    if sampling_interval is not None:
        members[0] = ("rec.vhdr", members[0][1].replace(
            b"SamplingInterval=3906.25", f"SamplingInterval={sampling_interval}".encode()))
    return members


def patch_zip(payload: bytes, magic: bytes, at: int, patch) -> bytes:
    """``payload`` with ``patch(bytearray, offset)`` applied at every ``magic`` record."""
    out = bytearray(payload)
    pos = out.find(magic)
    while pos != -1:
        patch(out, pos + at)
        pos = out.find(magic, pos + 4)
    return bytes(out)


def zip_bomb() -> bytes:
    """A BrainVision zip whose central directory declares 3.75 GiB per member."""
    def declare_huge(out, at):
        out[at:at + 4] = struct.pack("<I", 0xF0000000)
    return patch_zip(zip_bytes(brainvision_members()), b"PK\x01\x02", 24, declare_huge)


def encrypted_zip() -> bytes:
    """A BrainVision zip whose members carry the 'encrypted' flag."""
    def encrypt(out, at):
        out[at] |= 0x1
    payload = patch_zip(zip_bytes(brainvision_members()), b"PK\x03\x04", 6, encrypt)
    return patch_zip(payload, b"PK\x01\x02", 8, encrypt)


def mat_bytes(fields: dict) -> bytes:
    """A MATLAB v5 MAT-file of ``fields`` with a fixed text header (no creation date)."""
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, fields)
    payload = bytearray(buffer.getvalue())
    payload[:116] = b"MATLAB 5.0 MAT-file, written by make_corpus.py".ljust(116)
    return bytes(payload)


def eeglab_set(data_field=None, values=None, srate=256.0, **extra) -> bytes:
    """An EEGLAB .set (4 channels x 512 samples in uV); ``data_field`` names a separate .fdt."""
    if values is None:
        values = np.random.default_rng(3).standard_normal((4, 512)) * 10
    chanlocs = np.array([(name,) for name in ("Fz", "Cz", "Pz", "Oz")],
                        dtype=[("labels", object)])
    fields = {"setname": "rec", "nbchan": 4.0, "pnts": float(values.shape[1]), "trials": 1.0,
              "srate": srate, "xmin": 0.0, "xmax": (values.shape[1] - 1) / max(srate, 1.0),
              "chanlocs": chanlocs, "event": np.array([]), "ref": "common",
              "icawinv": np.array([]), "icasphere": np.array([]), "icaweights": np.array([]),
              "data": values if data_field is None else data_field}
    return mat_bytes(dict(fields, **extra))


def bad_type_code(payload: bytes) -> bytes:
    """``payload`` (a .set) with type code 255 on the characters of its first variable.

    That variable is 'setname' = 'rec': after the 128-byte file header come the matrix tag
    (8 bytes), flags (16), dims (16) and the padded name (16), then the characters' tag.
    """
    at = 128 + 8 + 16 + 16 + 16
    assert payload[at:at + 4] == b"\x10\x00\x03\x00"  # small element: miUTF8, 3 bytes
    return payload[:at] + b"\xff" + payload[at + 1:]


def fdt_bytes() -> bytes:
    """The .fdt of ``eeglab_set(data_field=...)``: float32, channels varying fastest."""
    return (np.random.default_rng(3).standard_normal((4, 512)) * 10).T.astype("<f4").tobytes()


def zip_cases() -> list:
    bv = brainvision_members()
    fdt_set = eeglab_set(data_field="rec.fdt")
    brainvision = cases([
        ("brainvision_missing_eeg.zip", zip_bytes(bv[:2]), INVALID, "(.eeg)",
         "the .vhdr and .vmrk without the .eeg data"),
        ("brainvision_missing_vmrk.zip", zip_bytes([bv[0], bv[2]]), INVALID, "(.vmrk)",
         "the .vhdr and .eeg without the .vmrk markers"),
        ("brainvision_two_headers.zip", zip_bytes(bv + [("copy.vhdr", bv[0][1])]), INVALID,
         "exactly one brainvision header", "two .vhdr files in one zip"),
        ("brainvision_path_traversal.zip", zip_bytes([(f"../../{n}", d) for n, d in bv]),
         INVALID, "path traversal", "member names climb out of the extraction folder"),
        ("brainvision_backslash_traversal.zip", zip_bytes([(f"..\\..\\{n}", d) for n, d in bv]),
         INVALID, "path traversal", "Windows-style '..\\' member names"),
        ("brainvision_absolute_path.zip", zip_bytes([("/tmp/rec.vhdr", bv[0][1])] + bv[1:]),
         INVALID, "absolute path", "a member with an absolute path"),
        ("brainvision_symlink.zip", zip_bytes(bv + [("link", b"/etc/passwd")], symlink="link"),
         INVALID, "symbolic link", "a member stored as a symbolic link"),
        ("brainvision_zip_bomb.zip", zip_bomb(), EXHAUSTED, "zip bomb",
         "the members declare 11 GiB uncompressed; refused before inflating"),
        ("brainvision_too_many_members.zip",
         zip_bytes(bv + [(f"extra/{i:03d}.txt", b"x") for i in range(40)]), EXHAUSTED,
         "members", "43 members, past the member limit"),
        ("brainvision_encrypted.zip", encrypted_zip(), INVALID, "encrypted",
         "encrypted members cannot be read"),
        ("brainvision_duplicate_members.zip", zip_bytes(bv + [bv[1]]), INVALID, "two members",
         "the same member name twice"),
        ("brainvision_corrupt_zip.zip", b"PK\x03\x04" + np.random.default_rng(4).bytes(2000),
         INVALID, "corrupt zip", "a zip signature followed by random bytes"),
        ("brainvision_garbage_header.zip", zip_bytes([("rec.vhdr", b"not a header\n")] + bv[1:]),
         INVALID, "common infos", "the .vhdr is not a BrainVision header"),
        ("brainvision_billion_channels.zip", zip_bytes([("rec.vhdr", bv[0][1].replace(
            b"NumberOfChannels=4", b"NumberOfChannels=1000000000"))] + bv[1:]), INVALID,
         "numberofchannels", "a header declaring 1e9 channels, which MNE would allocate"),
        ("brainvision_zero_sampling_interval.zip", zip_bytes(brainvision_members(0)), INVALID,
         "samplinginterval", "SamplingInterval=0 gives no sampling rate"),
        ("brainvision_negative_sampling_interval.zip", zip_bytes(brainvision_members(-3906.25)),
         INVALID, "samplinginterval", "a negative SamplingInterval"),
        ("brainvision_empty_eeg.zip", zip_bytes(bv[:2] + [("rec.eeg", b"")]), INVALID,
         "0 samples", "the .eeg data file is empty"),
    ], format="brainvision", modality="eeg")
    mat73 = b"MATLAB 7.3 MAT-file, Platform: x".ljust(512) + b"\x89HDF\r\n\x1a\n" + bytes(200)
    eeglab = cases([
        ("eeglab_missing_fdt.set", fdt_set, INVALID, "not sent",
         "the .set keeps its data in rec.fdt, which is not there"),
        ("eeglab_zip_missing_fdt.zip", zip_bytes([("rec.set", fdt_set)]), INVALID, "not sent",
         "a zip with the .set but not its .fdt"),
        ("eeglab_fdt_too_short.zip",
         zip_bytes([("rec.set", fdt_set), ("rec.fdt", fdt_bytes()[:1000])]), INVALID,
         ".fdt holds 1000 bytes", "the .fdt is shorter than nbchan x pnts float32"),
        ("eeglab_fdt_path_traversal.zip",
         zip_bytes([("rec.set", eeglab_set(data_field="../../etc/rec.fdt")),
                    ("rec.fdt", fdt_bytes())]), INVALID, "plain file name",
         "the .set points its data at a path outside the zip"),
        ("eeglab_no_eeg_variables.set", mat_bytes({"something": np.arange(4.0)}), INVALID,
         "no eeg data", "a MAT-file with neither 'data' nor 'EEG'"),
        ("eeglab_all_nan.set", eeglab_set(values=np.full((4, 512), np.nan)), INVALID, "nan",
         "every sample is NaN"),
        ("eeglab_zero_srate.set", eeglab_set(srate=0.0), INVALID, "sfreq must be positive",
         "a sampling rate of 0"),
        ("eeglab_matlab73.set", mat73, INVALID, "v7.3", "a MATLAB v7.3 (HDF5) .set"),
        ("eeglab_billion_channels.set", eeglab_set(nbchan=1e9), INVALID, "channels",
         "nbchan 1e9, which MNE would allocate channel names for"),
        ("eeglab_bad_type_code.set", bad_type_code(eeglab_set()), INVALID, "type code",
         "characters with type code 255, which crash scipy's reader (segfault)"),
        ("eeglab_epoched.set", eeglab_set(trials=2.0, pnts=256.0), INVALID, "number of trials",
         "an epoched .set is not a continuous recording"),
    ], format="eeglab", modality="eeg")
    return brainvision + eeglab


# -- GIfTI -------------------------------------------------------------------------------------

def gifti_bytes(arrays=None, encoding="GIFTI_ENCODING_B64GZ") -> bytes:
    """A valid GIfTI: 5 time points over 50 vertices, one float32 array per time point."""
    if arrays is None:
        arrays = list(np.random.default_rng(5).standard_normal((5, 50)).astype(np.float32))
    darrays = [nibabel.gifti.GiftiDataArray(a, intent="NIFTI_INTENT_TIME_SERIES",
                                            datatype="NIFTI_TYPE_FLOAT32", encoding=encoding)
               for a in arrays]
    return nibabel.GiftiImage(darrays=darrays).to_xml()


def gifti_cases() -> list:
    good = gifti_bytes()
    plain = gifti_bytes(encoding="GIFTI_ENCODING_ASCII")
    external = plain.replace(b'Encoding="ASCII"', b'Encoding="ExternalFileBinary"', 1).replace(
        b'ExternalFileName=""', b'ExternalFileName="/etc/passwd"', 1)
    laughs = b'[<!ENTITY e0 "lol">' + b"".join(
        b'<!ENTITY e%d "&e%d;&e%d;&e%d;&e%d;">' % ((i,) + (i - 1,) * 4) for i in range(1, 12))
    entity = good.replace(b'gifti.dtd">', b'gifti.dtd" ' + laughs + b']>', 1).replace(
        b"<MetaData />", b"<MetaData><MD><Name>x</Name><Value>&e11;</Value></MD></MetaData>", 1)
    mesh = nibabel.GiftiImage(darrays=[
        nibabel.gifti.GiftiDataArray(np.zeros((4, 3), np.float32),
                                     intent="NIFTI_INTENT_POINTSET"),
        nibabel.gifti.GiftiDataArray(np.array([[0, 1, 2], [1, 2, 3]], np.int32),
                                     intent="NIFTI_INTENT_TRIANGLE")]).to_xml()
    small = gifti_bytes(arrays=[np.zeros(10, np.float32)])
    start = small.index(b"<Data>") + len(b"<Data>")
    payload = small[start:small.index(b"</Data>")]
    bomb = small.replace(payload, base64.b64encode(zlib.compress(bytes(16 * 2**20), 9)), 1)
    return cases([
        ("gifti_external_file.gii", external, INVALID, "external files",
         "a data array to be read from a file on the server"),
        ("gifti_entity_expansion.gii", entity, INVALID, "entities",
         "a billion-laughs entity expansion"),
        ("gifti_malformed_xml.gii", good[:len(good) // 2], INVALID, "malformed gifti xml",
         "the XML stops half way"),
        ("gifti_mesh_only.gii", mesh, INVALID, "surface mesh",
         "a bare mesh carries no recording"),
        ("gifti_gzip_bomb.gii", bomb, EXHAUSTED, "inflates past",
         "a 10-value array whose payload inflates to 16 MiB"),
        ("gifti_all_nan.gii", gifti_bytes(arrays=[np.full(50, np.nan, np.float32)] * 3),
         INVALID, "nan", "every value is NaN"),
        ("gifti_huge_dims.gii", plain.replace(b'Dim0="50"', b'Dim0="2000000000"', 1), EXHAUSTED,
         "more than the limit max_voxels", "a data array declaring 2e9 values"),
        ("gifti_bad_dims.gii", plain.replace(b'Dim0="50"', b'Dim0="-5"', 1), INVALID,
         "must be positive", "a negative Dim0"),
        ("gifti_mismatched_lengths.gii",
         gifti_bytes(arrays=[np.ones(50, np.float32), np.ones(49, np.float32)]), INVALID,
         "different numbers of vertices", "time points over different vertex counts"),
        ("gifti_no_arrays.gii", nibabel.GiftiImage().to_xml(), INVALID, "no data arrays",
         "a GIfTI without data arrays"),
    ], format="gifti", modality="surface")


# -- FIF ---------------------------------------------------------------------------------------

def fif_bytes(ch_types="eeg", n_times=512, split_size=None) -> bytes:
    """A raw FIF (4 channels, 256 Hz) with its file and block ids zeroed (deterministic).

    With ``split_size``, the first file of a split recording (it names the next file).
    """
    data = np.random.default_rng(6).standard_normal((4, n_times)) * 1e-5
    raw = mne.io.RawArray(data, mne.create_info(["Fz", "Cz", "Pz", "Oz"], 256.0, ch_types),
                          verbose="error")
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder, "rec_raw.fif")
        split = {} if split_size is None else {"split_size": split_size, "buffer_size_sec": 1.0}
        raw.save(path, verbose="error", **split)
        payload = bytearray(path.read_bytes())
    pos = 0
    while pos + 16 <= len(payload):
        _, kind_type, size, _ = struct.unpack(">iiii", payload[pos:pos + 16])
        if kind_type == 31 and size == 20:  # FIFFT_ID_STRUCT: version, machid[2], secs, usecs
            payload[pos + 20:pos + 36] = bytes(16)
        pos += 16 + size
    return bytes(payload)


def loop_fif_chain(payload: bytes) -> bytes:
    """``payload`` with its third tag's 'next' pointing back to the second tag."""
    second = 16 + struct.unpack(">i", payload[8:12])[0]
    third = second + 16 + struct.unpack(">i", payload[second + 8:second + 12])[0]
    return payload[:third + 12] + struct.pack(">i", second) + payload[third + 16:]


def fif_cases() -> list:
    good = fif_bytes()
    return cases([
        ("fif_truncated.fif", good[:len(good) // 2], INVALID, "cannot read the file",
         "the FIF stops half way through its tags"),
        ("fif_misc_channels_only.fif", fif_bytes("misc"), INVALID, "no meg or eeg channels",
         "a FIF holding only misc channels", {"modality": None}),
        ("fif_magic_then_garbage.fif", good[:16] + np.random.default_rng(7).bytes(3000),
         INVALID, "cannot read the file", "a FIF file-id tag followed by random bytes"),
        ("fif_declared_meg_for_eeg.fif", good, INVALID, "declared modality meg",
         "the FIF holds EEG channels only", {"modality": "meg"}),
        ("fif_split_part.fif", fif_bytes(n_times=256 * 60, split_size=1_100_000), INVALID,
         "refers to other files",
         "the first part of a split recording names its next file, which MNE would open"),
        ("fif_tag_chain_loop.fif", loop_fif_chain(good), INVALID, "loops",
         "a tag's next pointer goes backwards: MNE's tag walk would never end"),
    ], format="fif", modality="eeg")


# -- the corpus --------------------------------------------------------------------------------

def valid_bases() -> dict:
    """{file name: bytes} of one valid recording per reader, the corpus files' starting points."""
    return {"nifti.nii": nifti_bytes(), "nifti.nii.gz": gzip.compress(nifti_bytes(), mtime=0),
            "nifti2.nii": nifti_bytes(version=2), "edf.edf": edf_bytes(edf_fields()),
            "bdf.bdf": edf_bytes(edf_fields("bdf"), "bdf"),
            "brainvision.zip": zip_bytes(brainvision_members()), "embedded.set": eeglab_set(),
            "eeglab.zip": zip_bytes([("rec.set", eeglab_set(data_field="rec.fdt")),
                                     ("rec.fdt", fdt_bytes())]),
            "surface.gii": gifti_bytes(), "raw.fif": fif_bytes()}


def corpus() -> list:
    """[(manifest entry, file bytes)] of every corpus file."""
    return nifti_cases() + format_cases() + edf_cases() + zip_cases() + gifti_cases() + fif_cases()


def write(out: pathlib.Path) -> list:
    """Write the corpus files and manifest.json into ``out``; returns the manifest entries."""
    built = corpus()
    entries = [entry for entry, _ in built]
    assert len({e["file"] for e in entries}) == len(entries), "duplicate corpus file names"
    for entry, payload in built:
        (out / entry["file"]).write_bytes(payload)
    manifest = {"description": "Malformed recordings and the status each must get from "
                               "read_recording; written by make_corpus.py.",
                "entries": entries}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return entries


def main() -> None:
    from braindecode.recordings._readers import read_recording

    with tempfile.TemporaryDirectory() as folder:
        for name, payload in valid_bases().items():
            path = pathlib.Path(folder, name)
            path.write_bytes(payload)
            with read_recording(path) as recording:  # each family's unbroken file loads
                assert np.isfinite(recording.data()).all(), name
    for old in HERE.iterdir():
        if old.is_file() and old.name not in ("make_corpus.py", "manifest.json"):
            old.unlink()
    print(f"wrote {len(write(HERE))} files to {HERE}")


if __name__ == "__main__":
    main()
