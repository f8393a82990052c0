"""Write the bad-input corpus: small malformed recording files and ``manifest.json``.

Each file starts from a small valid recording (checked to load) and breaks one thing. The
manifest gives, per file, the format and modality an uploader would declare, the status code
that ``braindecode.errors`` must answer with, a phrase the message must contain, and why.

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
ENTRIES = []


def add(name, payload: bytes, code: str, match: str, why: str, format=None, modality=None):
    """Write one corpus file and its manifest entry."""
    assert len(payload) < MAX_FILE_BYTES, (name, len(payload))
    (HERE / name).write_bytes(payload)
    ENTRIES.append({"file": name, "format": format, "modality": modality, "code": code,
                    "match": match, "why": why})


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


def nifti_cases():
    good = nifti_bytes()
    decl = dict(format="nifti", modality="fmri")
    add("nifti_truncated_header.nii", good[:200], INVALID, "truncated nifti header",
        "only 200 of the 348 header bytes", **decl)
    add("nifti_truncated_data.nii", good[:700], INVALID, "truncated nifti",
        "header declares 960 data bytes; the file stops after 348", **decl)
    add("nifti_vox_offset_inside_header.nii", patch_nifti(good, vox_offset=100), INVALID,
        "vox_offset", "vox_offset 100 points into the header", **decl)
    add("nifti_vox_offset_past_end.nii", patch_nifti(good, vox_offset=1_000_000), INVALID,
        "vox_offset", "vox_offset beyond the end of the file", **decl)
    add("nifti_vox_offset_fractional.nii", patch_nifti(good, vox_offset=352.5), INVALID,
        "vox_offset", "vox_offset is not a whole number of bytes", **decl)
    add("nifti_negative_dim.nii", patch_nifti(good, dim={2: -4}), INVALID, "dim[2] is -4",
        "a negative dimension", **decl)
    add("nifti_zero_dim.nii", patch_nifti(good, dim={3: 0}), INVALID, "dim[3] is 0",
        "a zero dimension", **decl)
    add("nifti_huge_dim.nii", patch_nifti(good, dim={1: 30000, 2: 30000, 3: 30000, 4: 30000}),
        INVALID, "more than the limit", "dims declare 8.1e17 values, past the voxel limit", **decl)
    add("nifti_dim0_out_of_range.nii", patch_nifti(good, dim={0: 9}), INVALID, "dim[0] is 9",
        "dim[0] must be 1..7", **decl)
    add("nifti_2d.nii", nifti_bytes(np.ones((4, 4), np.float32)), INVALID, "not 3-d",
        "a 2-D image is not fMRI", **decl)
    add("nifti_5d_vector.nii", patch_nifti(good, dim={0: 5, 5: 3}), INVALID, "not 3-d",
        "a 5-D (vector-valued) image", **decl)
    add("nifti_bad_datatype.nii", patch_nifti(good, datatype=9999), INVALID,
        "not a nifti type", "datatype code 9999 does not exist", **decl)
    add("nifti_complex_datatype.nii", patch_nifti(good, datatype=32, bitpix=64), INVALID,
        "datatype complex64", "complex voxels are not fMRI data", **decl)
    add("nifti_bitpix_mismatch.nii", patch_nifti(good, bitpix=8), INVALID, "bitpix",
        "bitpix 8 contradicts datatype float32", **decl)
    add("nifti_bad_magic.nii", patch_nifti(good, magic=b"abc"), INVALID, "magic",
        "magic string is not n+1", **decl)
    add("nifti_pair_magic.nii", patch_nifti(good, magic=b"ni1"), INVALID, ".hdr + .img",
        "a header/image pair header sent alone", **decl)
    add("nifti_all_nan.nii", nifti_bytes(np.full((4, 4, 3, 5), np.nan, np.float32)), INVALID,
        "nan", "every voxel is NaN", **decl)
    add("nifti_zero_tr.nii", patch_nifti(good, pixdim={4: 0.0}), INVALID, "tr (pixdim[4])",
        "a 4-D series with TR 0", **decl)
    add("nifti_nan_tr.nii", patch_nifti(good, pixdim={4: np.nan}), INVALID, "tr (pixdim[4])",
        "a 4-D series with TR NaN", **decl)
    add("nifti_hz_time_unit.nii", patch_nifti(good, xyzt_units=2 | 32), INVALID, "time unit",
        "time axis in Hz (spectral data), not a time step", **decl)
    add("nifti_zero_voxel_size.nii", patch_nifti(good, pixdim={1: 0.0}), INVALID, "voxel size",
        "a voxel edge of 0 mm", **decl)
    add("nifti_infinite_affine.nii", patch_nifti(good, srow_x=[np.inf, 0, 0, 0]), INVALID,
        "affine", "the sform holds infinity", **decl)
    bomb_header = nifti_bytes(np.ones((2, 2, 2), np.int16))
    add("nifti_gzip_bomb.nii.gz",
        gzip.compress(bomb_header + bytes(64 * 2**20), compresslevel=9, mtime=0), EXHAUSTED,
        "gzip bomb", "header declares 16 data bytes; the stream inflates to 64 MiB", **decl)
    add("nifti_truncated_gzip.nii.gz", gzip.compress(good, mtime=0)[:300], INVALID, "gzip",
        "the gzip stream is cut short", **decl)
    two = nifti_bytes(version=2)
    add("nifti2_truncated_data.nii", two[:800], INVALID, "truncated nifti",
        "NIfTI-2 header declares 960 data bytes; the file stops early", **decl)
    add("nifti2_negative_dim.nii", patch_nifti(two, version=2, dim={1: -1}), INVALID,
        "dim[1] is -1", "NIfTI-2 with a negative dimension", **decl)


# -- format and declaration mismatches -----------------------------------------------------------

def format_cases():
    good = nifti_bytes()
    add("empty.nii", b"", INVALID, "empty", "no bytes at all", format="nifti")
    add("random_bytes.bin", np.random.default_rng(1).bytes(4096), INVALID, "unrecognised",
        "4 KiB of random bytes match no format")
    add("declared_edf_is_nifti.edf", good, INVALID, "declared format edf but the file is nifti",
        "the declared format contradicts the content", format="edf", modality="eeg")
    add("declared_eeg_modality_for_nifti.nii", good, INVALID, "declared modality eeg",
        "NIfTI holds fMRI, not EEG", format="nifti", modality="eeg")
    add("unknown_declared_format.nii", good, INVALID, "unknown format",
        "'dicom' is not a format the readers know", format="dicom")
    add("gzip_of_text.gz", gzip.compress(b"hello, not a recording\n" * 20, mtime=0), INVALID,
        "neither a nifti", "gzip data that inflate to text")
    add("zip_without_recording.zip", zip_bytes([("notes.txt", b"no recording here")]), INVALID,
        "the zip must hold", "a zip with no BrainVision or EEGLAB member")
    add("zip_mixed_formats.zip", zip_bytes([("a.vhdr", b"x"), ("a.set", b"x")]), INVALID,
        "the zip must hold", "a zip mixing BrainVision and EEGLAB files")


# -- EDF / BDF ---------------------------------------------------------------------------------

def edf_fields(fmt="edf") -> dict:
    """Header fields of a valid 2-signal EDF/BDF: 4 records of 1 s, 64 samples each."""
    bdf = fmt == "bdf"
    n = 2
    return {
        "version": "\xffBIOSEMI" if bdf else "0", "patient": "X X X X",
        "recording": "Startdate 01-JAN-2000 X X X", "startdate": "01.01.00",
        "starttime": "00.00.00", "header_bytes": str(256 * (n + 1)),
        "reserved": "24BIT" if bdf else "", "n_records": "4", "duration": "1", "n_signals": str(n),
        "label": ["Fz", "Cz"], "transducer": ["AgAgCl"] * n, "physical dimension": ["uV"] * n,
        "physical minimum": ["-3200"] * n, "physical maximum": ["3200"] * n,
        "digital minimum": ["-8388608" if bdf else "-32768"] * n,
        "digital maximum": ["8388607" if bdf else "32767"] * n,
        "prefiltering": ["HP:0.1Hz"] * n, "samples per record": ["64"] * n,
        "signal reserved": [""] * n,
    }


_MAIN_WIDTHS = (("version", 8), ("patient", 80), ("recording", 80), ("startdate", 8),
                ("starttime", 8), ("header_bytes", 8), ("reserved", 44), ("n_records", 8),
                ("duration", 8), ("n_signals", 4))
_SIGNAL_WIDTHS = (("label", 16), ("transducer", 80), ("physical dimension", 8),
                  ("physical minimum", 8), ("physical maximum", 8), ("digital minimum", 8),
                  ("digital maximum", 8), ("prefiltering", 80), ("samples per record", 8),
                  ("signal reserved", 32))


def edf_bytes(fields: dict, fmt="edf", records=4) -> bytes:
    """Serialise ``fields`` and ``records`` data records of sines."""
    head = "".join(fields[k].ljust(w)[:w] for k, w in _MAIN_WIDTHS)
    head += "".join(v.ljust(w)[:w] for k, w in _SIGNAL_WIDTHS for v in fields[k])
    t = np.arange(64 * records) / 64.0
    signals = [np.round(20000 * np.sin(2 * np.pi * f * t)).astype(np.int32) for f in (3, 7)]
    body = bytearray()
    for r in range(records):
        for s in signals:
            chunk = s[r * 64:(r + 1) * 64]
            if fmt == "bdf":
                body += b"".join(int(v).to_bytes(3, "little", signed=True) for v in chunk)
            else:
                body += chunk.astype("<i2").tobytes()
    return head.encode("latin-1") + bytes(body)


def edf_cases():
    for fmt in ("edf", "bdf"):
        decl = dict(format=fmt, modality="eeg")
        up = fmt.upper()

        def case(name, match, why, records=4, code=INVALID, **changes):
            fields = edf_fields(fmt)
            fields.update(changes)
            add(f"{fmt}_{name}.{fmt}", edf_bytes(fields, fmt, records), code, match,
                f"{up}: {why}", **decl)

        case("record_count_mismatch", "data records", "header declares 9 records, file holds 4",
             n_records="9")
        case("truncated_records", "data records", "header declares 4 records, file holds 2",
             records=2)
        case("broken_signal_count", "not a number", "number of signals is 'ab'", n_signals="ab")
        case("zero_record_duration", "record duration", "record duration 0 s", duration="0")
        case("header_size_mismatch", "header size", "header bytes field says 999",
             header_bytes="999")
        case("empty_digital_range", "digital range", "digital min equals max",
             **{"digital minimum": ["100", "100"], "digital maximum": ["100", "100"]})
        case("zero_samples_per_record", "samples per record", "a signal with 0 samples per record",
             **{"samples per record": ["64", "0"]})
    add("edf_truncated_header.edf", edf_bytes(edf_fields())[:100], INVALID, "truncated edf header",
        "100 of the 256 fixed header bytes", format="edf", modality="eeg")


# -- zips: BrainVision, EEGLAB, and the archive itself ------------------------------------------------

def zip_bytes(members, symlink=None) -> bytes:
    """A zip of (name, bytes) members with fixed dates; ``symlink`` names a member made a link."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicate names are one of the cases
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o120777 if name == symlink else 0o100644) << 16
            info.create_system = 3
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
        vhdr = members[0][1].replace(b"SamplingInterval=3906.25",
                                     f"SamplingInterval={sampling_interval}".encode())
        members[0] = ("rec.vhdr", vhdr)
    return members


def set_header(path: pathlib.Path) -> None:
    """Replace the creation date in a MAT-file's 116-byte text header with fixed text."""
    payload = bytearray(path.read_bytes())
    payload[:116] = b"MATLAB 5.0 MAT-file, written by make_corpus.py".ljust(116)
    path.write_bytes(bytes(payload))


def eeglab_set(data_field=None, values=None, srate=256.0, extra=None) -> bytes:
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
    fields.update(extra or {})
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder, "rec.set")
        scipy.io.savemat(path, fields, appendmat=False)
        set_header(path)
        return path.read_bytes()


def fdt_bytes(n_times=512) -> bytes:
    values = np.random.default_rng(3).standard_normal((4, n_times)) * 10
    return values.T.astype("<f4").tobytes()


def zip_bomb() -> bytes:
    """A BrainVision zip whose central directory declares 3.75 GiB per member."""
    payload = bytearray(zip_bytes(brainvision_members()))
    pos = payload.find(b"PK\x01\x02")
    while pos != -1:
        payload[pos + 24:pos + 28] = struct.pack("<I", 0xF0000000)  # uncompressed size
        pos = payload.find(b"PK\x01\x02", pos + 4)
    return bytes(payload)


def encrypted_zip() -> bytes:
    """A BrainVision zip whose members carry the 'encrypted' flag."""
    payload = bytearray(zip_bytes(brainvision_members()))
    for magic, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = payload.find(magic)
        while pos != -1:
            payload[pos + flag_at] |= 0x1
            pos = payload.find(magic, pos + 4)
    return bytes(payload)


def zip_cases():
    bv = brainvision_members()
    decl = dict(format="brainvision", modality="eeg")
    add("brainvision_missing_eeg.zip", zip_bytes(bv[:2]), INVALID, "(.eeg)",
        "the .vhdr and .vmrk without the .eeg data", **decl)
    add("brainvision_missing_vmrk.zip", zip_bytes([bv[0], bv[2]]), INVALID, "(.vmrk)",
        "the .vhdr and .eeg without the .vmrk markers", **decl)
    add("brainvision_two_headers.zip", zip_bytes(bv + [("copy.vhdr", bv[0][1])]), INVALID,
        "exactly one brainvision header", "two .vhdr files in one zip", **decl)
    add("brainvision_path_traversal.zip",
        zip_bytes([(f"../../{name}", data) for name, data in bv]), INVALID, "path traversal",
        "member names climb out of the extraction folder", **decl)
    add("brainvision_absolute_path.zip", zip_bytes([("/tmp/" + bv[0][0], bv[0][1])] + bv[1:]),
        INVALID, "absolute path", "a member with an absolute path", **decl)
    add("brainvision_backslash_traversal.zip",
        zip_bytes([(f"..\\..\\{name}", data) for name, data in bv]), INVALID, "path traversal",
        "Windows-style '..\\' member names", **decl)
    add("brainvision_symlink.zip", zip_bytes(bv + [("link.txt", b"/etc/passwd")],
                                             symlink="link.txt"),
        INVALID, "symbolic link", "a member stored as a symbolic link", **decl)
    add("brainvision_zip_bomb.zip", zip_bomb(), EXHAUSTED, "zip bomb",
        "members declare 11 GiB uncompressed; refused before inflating", **decl)
    add("brainvision_too_many_members.zip",
        zip_bytes(bv + [(f"extra/{i:03d}.txt", b"x") for i in range(40)]), EXHAUSTED,
        "members", "43 members, past the member limit", **decl)
    add("brainvision_encrypted.zip", encrypted_zip(), INVALID, "encrypted",
        "encrypted members cannot be read", **decl)
    add("brainvision_duplicate_members.zip", zip_bytes(bv + [bv[1]]), INVALID, "two members",
        "the same member name twice", **decl)
    add("brainvision_corrupt_zip.zip", b"PK\x03\x04" + np.random.default_rng(4).bytes(2000),
        INVALID, "corrupt zip", "a zip signature followed by random bytes", **decl)
    add("brainvision_garbage_header.zip",
        zip_bytes([("rec.vhdr", b"this is not a BrainVision header\n")] + bv[1:]), INVALID,
        "cannot read the file", "the .vhdr is not a BrainVision header", **decl)
    add("brainvision_zero_sampling_interval.zip", zip_bytes(brainvision_members(0)), INVALID,
        "samplinginterval", "SamplingInterval=0 gives no sampling rate", **decl)
    add("brainvision_negative_sampling_interval.zip", zip_bytes(brainvision_members(-3906.25)),
        INVALID, "samplinginterval", "a negative SamplingInterval", **decl)
    add("brainvision_empty_eeg.zip", zip_bytes(bv[:2] + [("rec.eeg", b"")]), INVALID,
        "0 samples", "the .eeg data file is empty", **decl)

    decl = dict(format="eeglab", modality="eeg")
    fdt_set = eeglab_set(data_field="rec.fdt")
    add("eeglab_missing_fdt.set", fdt_set, INVALID, "not sent",
        "the .set keeps its data in rec.fdt, which is not there", **decl)
    add("eeglab_zip_missing_fdt.zip", zip_bytes([("rec.set", fdt_set)]), INVALID, "not sent",
        "a zip with the .set but not its .fdt", **decl)
    add("eeglab_fdt_too_short.zip", zip_bytes([("rec.set", fdt_set),
                                               ("rec.fdt", fdt_bytes()[:1000])]),
        INVALID, ".fdt holds 1000 bytes", "the .fdt is shorter than nbchan x pnts float32", **decl)
    add("eeglab_fdt_path_traversal.zip",
        zip_bytes([("rec.set", eeglab_set(data_field="../../etc/rec.fdt")),
                   ("rec2.fdt", fdt_bytes())]),
        INVALID, "plain file name", "the .set points its data at a path outside the zip", **decl)
    add("eeglab_no_eeg_variables.set", eeglab_set_without_eeg(), INVALID, "no eeg data",
        "a MAT-file with neither 'data' nor 'EEG'", **decl)
    add("eeglab_all_nan.set", eeglab_set(values=np.full((4, 512), np.nan)), INVALID, "nan",
        "every sample is NaN", **decl)
    add("eeglab_zero_srate.set", eeglab_set(srate=0.0), INVALID, "sfreq must be positive",
        "sampling rate 0", **decl)
    add("eeglab_matlab73.set", b"MATLAB 7.3 MAT-file, Platform: x".ljust(512, b" ")
        + b"\x89HDF\r\n\x1a\n" + bytes(200), INVALID, "v7.3",
        "a MATLAB v7.3 (HDF5) .set", **decl)
    add("eeglab_epoched.set", eeglab_set(extra={"trials": 2.0, "pnts": 256.0}), INVALID,
        "number of trials", "an epoched .set is not a continuous recording", **decl)


def eeglab_set_without_eeg() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder, "x.set")
        scipy.io.savemat(path, {"something": np.arange(4.0)}, appendmat=False)
        set_header(path)
        return path.read_bytes()


# -- GIfTI -------------------------------------------------------------------------------------

def gifti_bytes(arrays=None, encoding="GIFTI_ENCODING_B64GZ", intent="NIFTI_INTENT_TIME_SERIES"):
    """A valid GIfTI: 5 time points over 50 vertices, one float32 array per time point."""
    if arrays is None:
        arrays = list(np.random.default_rng(5).standard_normal((5, 50)).astype(np.float32))
    darrays = [nibabel.gifti.GiftiDataArray(a, intent=intent, datatype="NIFTI_TYPE_FLOAT32",
                                            encoding=encoding) for a in arrays]
    return nibabel.GiftiImage(darrays=darrays).to_xml()


def gifti_cases():
    good = gifti_bytes()
    decl = dict(format="gifti", modality="surface")
    ascii_gii = gifti_bytes(encoding="GIFTI_ENCODING_ASCII")
    add("gifti_external_file.gii",
        ascii_gii.replace(b'Encoding="ASCII"', b'Encoding="ExternalFileBinary"', 1)
        .replace(b'ExternalFileName=""', b'ExternalFileName="/etc/passwd"', 1),
        INVALID, "external files", "a data array read from a file on the server", **decl)
    entities = b"".join(b'<!ENTITY e%d "&e%d;&e%d;&e%d;&e%d;">' % (i, i - 1, i - 1, i - 1, i - 1)
                        for i in range(1, 12))
    add("gifti_entity_expansion.gii",
        good.replace(b'gifti.dtd">', b'gifti.dtd" [<!ENTITY e0 "lol">' + entities + b']>', 1)
        .replace(b"<MetaData />", b"<MetaData><MD><Name>x</Name><Value>&e11;</Value></MD>"
                 b"</MetaData>", 1),
        INVALID, "entities", "a billion-laughs entity expansion", **decl)
    add("gifti_malformed_xml.gii", good[:len(good) // 2], INVALID, "malformed gifti xml",
        "the XML stops half way", **decl)
    mesh = [nibabel.gifti.GiftiDataArray(np.zeros((4, 3), np.float32), intent="NIFTI_INTENT_POINTSET"),
            nibabel.gifti.GiftiDataArray(np.array([[0, 1, 2], [1, 2, 3]], np.int32),
                                         intent="NIFTI_INTENT_TRIANGLE")]
    add("gifti_mesh_only.gii", nibabel.GiftiImage(darrays=mesh).to_xml(), INVALID,
        "surface mesh", "a bare mesh carries no recording", **decl)
    small = gifti_bytes(arrays=[np.zeros(10, np.float32)])
    add("gifti_gzip_bomb.gii", small.replace(_data_of(small), base64_zlib(bytes(16 * 2**20)), 1),
        EXHAUSTED, "inflates past", "a 10-value array whose payload inflates to 16 MiB", **decl)
    add("gifti_all_nan.gii", gifti_bytes(arrays=[np.full(50, np.nan, np.float32)] * 3), INVALID,
        "nan", "every value is NaN", **decl)
    add("gifti_huge_dims.gii", ascii_gii.replace(b'Dim0="50"', b'Dim0="2000000000"', 1), INVALID,
        "more than the limit", "a data array declaring 2e9 values", **decl)
    add("gifti_bad_dims.gii", ascii_gii.replace(b'Dim0="50"', b'Dim0="-5"', 1), INVALID,
        "must be positive", "a negative Dim0", **decl)
    add("gifti_mismatched_lengths.gii",
        gifti_bytes(arrays=[np.ones(50, np.float32), np.ones(49, np.float32)]), INVALID,
        "different numbers of vertices", "time points over different vertex counts", **decl)
    add("gifti_no_arrays.gii", nibabel.GiftiImage().to_xml(), INVALID, "no data arrays",
        "an empty GIfTI", **decl)


def base64_zlib(raw: bytes) -> bytes:
    return base64.b64encode(zlib.compress(raw, 9))


def _data_of(xml: bytes) -> bytes:
    start = xml.index(b"<Data>") + len(b"<Data>")
    return xml[start:xml.index(b"</Data>")]


# -- FIF ---------------------------------------------------------------------------------------

def fif_bytes(ch_types="eeg", n_times=512, split_size=None) -> bytes:
    """A raw FIF (4 channels, 256 Hz) with its file and block ids zeroed (deterministic).

    With ``split_size``, the first file of a split recording (it names the next file).
    """
    data = np.random.default_rng(6).standard_normal((4, n_times)) * 1e-5
    info = mne.create_info(["Fz", "Cz", "Pz", "Oz"], 256.0, ch_types)
    raw = mne.io.RawArray(data, info, verbose="error")
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder, "rec_raw.fif")
        if split_size is None:
            raw.save(path, verbose="error")
        else:
            raw.save(path, split_size=split_size, buffer_size_sec=1.0, verbose="error")
        payload = bytearray(path.read_bytes())
    pos = 0
    while pos + 16 <= len(payload):
        kind, kind_type, size, _ = struct.unpack(">iiii", payload[pos:pos + 16])
        if kind_type == 31 and size == 20:  # FIFFT_ID_STRUCT: version, machid[2], secs, usecs
            payload[pos + 20:pos + 36] = bytes(16)
        pos += 16 + size
    return bytes(payload)


def loop_fif_chain(payload: bytes) -> bytes:
    """``payload`` with its third tag's 'next' pointing back to the second tag."""
    second = 16 + struct.unpack(">i", payload[8:12])[0]
    third = second + 16 + struct.unpack(">i", payload[second + 8:second + 12])[0]
    return payload[:third + 12] + struct.pack(">i", second) + payload[third + 16:]


def fif_cases():
    good = fif_bytes()
    decl = dict(format="fif", modality="eeg")
    add("fif_truncated.fif", good[:len(good) // 2], INVALID, "cannot read the file",
        "the FIF stops half way through its tags", **decl)
    add("fif_misc_channels_only.fif", fif_bytes("misc"), INVALID, "no meg or eeg channels",
        "a FIF holding only misc channels", format="fif")
    add("fif_magic_then_garbage.fif", good[:16] + np.random.default_rng(7).bytes(3000), INVALID,
        "cannot read the file", "a FIF file-id tag followed by random bytes", **decl)
    add("fif_declared_meg_for_eeg.fif", good, INVALID, "declared modality meg",
        "the FIF holds EEG channels only", format="fif", modality="meg")
    add("fif_split_part.fif", fif_bytes(n_times=256 * 60, split_size=1_100_000), INVALID,
        "refers to other files", "the first part of a split recording names its next file, "
        "which MNE would open from any path", **decl)
    add("fif_tag_chain_loop.fif", loop_fif_chain(good), INVALID, "loops",
        "a tag's next pointer goes backwards: MNE's tag walk would never end", **decl)


def check_bases() -> None:
    """The unbroken versions of every family load, so each corpus file fails for its defect."""
    from braindecode.recordings._readers import read_recording

    with tempfile.TemporaryDirectory() as folder:
        bases = {"nifti.nii": nifti_bytes(), "nifti2.nii": nifti_bytes(version=2),
                 "edf.edf": edf_bytes(edf_fields()), "bdf.bdf": edf_bytes(edf_fields("bdf"), "bdf"),
                 "bv.zip": zip_bytes(brainvision_members()), "embedded.set": eeglab_set(),
                 "split.zip": zip_bytes([("rec.set", eeglab_set(data_field="rec.fdt")),
                                         ("rec.fdt", fdt_bytes())]),
                 "surface.gii": gifti_bytes(), "raw.fif": fif_bytes()}
        for name, payload in bases.items():
            path = pathlib.Path(folder, name)
            path.write_bytes(payload)
            with read_recording(path) as recording:
                assert np.isfinite(recording.data()).all(), name


def main() -> None:
    for old in HERE.iterdir():
        if old.is_file() and old.name not in ("make_corpus.py", "manifest.json"):
            old.unlink()
    check_bases()
    nifti_cases()
    format_cases()
    edf_cases()
    zip_cases()
    gifti_cases()
    fif_cases()
    names = [e["file"] for e in ENTRIES]
    assert len(names) == len(set(names))
    manifest = {"description": "Malformed recordings and the status each must get from "
                               "read_recording; written by make_corpus.py.",
                "entries": ENTRIES}
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {len(ENTRIES)} files to {HERE}")


if __name__ == "__main__":
    main()
