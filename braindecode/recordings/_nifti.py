"""NIfTI-1 and NIfTI-2 (.nii, .nii.gz) via nibabel, after checking the header field by field."""

from __future__ import annotations

import gzip
import math

import nibabel
import numpy as np

from braindecode.errors import InvalidArgument
from braindecode.recordings._limits import ReadLimits
from braindecode.recordings._recording import (
    LoadedRecording,
    RecordingMeta,
    Source,
    checked_rate,
    has_finite,
)

# sizeof_hdr: (header class, offset of the magic, single-file magic, header/image pair magic)
_HEADERS = {348: (nibabel.Nifti1Header, 344, b"n+1\x00", b"ni1\x00"),
            540: (nibabel.Nifti2Header, 4, b"n+2\x00\r\n\x1a\n", b"ni2\x00\r\n\x1a\n")}
_DTYPES = {2: "uint8", 4: "int16", 8: "int32", 16: "float32", 64: "float64", 256: "int8",
           512: "uint16", 768: "uint32", 1024: "int64", 1280: "uint64"}
_SPACE_MM = {"unknown": 1.0, "meter": 1000.0, "mm": 1.0, "micron": 1e-3}
_TIME_S = {"unknown": 1.0, "sec": 1.0, "msec": 1e-3, "usec": 1e-6}
_SCAN_VALUES = 2**24  # values per block when looking for a finite value


def read_nifti(source: Source) -> LoadedRecording:
    """Validate and open a .nii, or a .nii.gz when ``source.packed`` is "gzip"."""
    header = parse_header(_head(source.path, source.packed))
    shape, dtype, offset = check_header(header, source.limits)
    end = offset + math.prod(shape) * dtype.itemsize
    source.limits.check_expansion(  # unpacked to disk, then read as float32
        f"the NIfTI header (dim {_dims(shape)} of {dtype.name}) declares",
        max(end, math.prod(shape) * 4), source.path.stat().st_size)
    if source.packed == "gzip":
        staged = source.workspace.gunzip(
            source.path, "recording.nii", end + source.limits.gzip_slack_bytes,
            f"more than the {end} bytes the NIfTI header declares")
    else:
        staged = source.workspace.stage(source.path, "recording.nii")
    size = staged.stat().st_size
    if size < end:
        raise InvalidArgument(
            f"truncated NIfTI: the header declares dim {_dims(shape)} of {dtype.name} "
            f"({end - offset} data bytes from vox_offset {offset}) but the file holds "
            f"{max(size - offset, 0)}")
    meta = _meta(header, shape)
    image = nibabel.load(staged)
    data = image.dataobj.reshape(shape)
    volume = math.prod(shape[:3])
    if not has_finite(lambda a, b: data[..., a:b], shape[3], 1, _SCAN_VALUES // volume):
        raise InvalidArgument("all values are NaN or infinite")
    return LoadedRecording(meta, source, read_data=lambda: np.asarray(data, dtype=np.float32),
                           make_image=lambda: type(image).from_bytes(staged.read_bytes()))


def parse_header(head: bytes):
    """A nibabel header from the first bytes of a NIfTI file (unchecked beyond its magic)."""
    orders = [(int.from_bytes(head[:4], order), mark)
              for order, mark in (("little", "<"), ("big", ">"))]
    found = [(size, mark) for size, mark in orders if size in _HEADERS]
    if not found:
        raise InvalidArgument(f"not a NIfTI file: sizeof_hdr is not 348 or 540 ({head[:4]!r})")
    size, endianness = found[0]
    klass, at, single, pair = _HEADERS[size]
    if len(head) < size:
        raise InvalidArgument(f"truncated NIfTI header: {len(head)} bytes, a "
                              f"NIfTI-{1 + (size == 540)} header has {size}")
    magic = head[at:at + len(single)]
    if magic == pair:
        raise InvalidArgument("NIfTI header/image pairs (.hdr + .img) are not accepted; "
                              "send a single .nii or .nii.gz")
    if magic != single:
        raise InvalidArgument(f"bad NIfTI magic {magic!r}, expected {single!r}")
    return klass(head[:size], endianness=endianness, check=False)


def check_header(header, limits: ReadLimits) -> tuple:
    """(shape (x, y, z, t), numpy dtype, data offset), after checking dim (against
    ``limits.max_voxels``), datatype, bitpix and vox_offset."""
    dim = [int(d) for d in header["dim"]]
    if not 1 <= dim[0] <= 7:
        raise InvalidArgument(f"NIfTI dim[0] is {dim[0]}; it must be between 1 and 7")
    dims = dim[1:dim[0] + 1]
    for axis, size in enumerate(dims, start=1):
        if size < 1:
            raise InvalidArgument(f"NIfTI dim[{axis}] is {size}; dimensions must be positive")
    if len(dims) < 3 or any(size != 1 for size in dims[4:]):
        raise InvalidArgument(f"NIfTI dim {_dims(dims)} is not 3-D (x, y, z) or 4-D (x, y, z, t)")
    shape = tuple(dims[:4]) + (1,) * (4 - len(dims[:4]))
    limits.check_values(f"NIfTI dim {_dims(shape)} declares", math.prod(shape), "max_voxels")
    code = int(header["datatype"])
    if code not in _DTYPES:
        label = nibabel.nifti1.data_type_codes.label.get(code)
        what = f"{label} (code {code})" if label else f"code {code}, which is not a NIfTI type"
        raise InvalidArgument(f"unsupported NIfTI datatype {what}; expected one of "
                              f"{', '.join(sorted(set(_DTYPES.values())))}")
    dtype = np.dtype(_DTYPES[code]).newbyteorder(header.endianness)
    bitpix = int(header["bitpix"])
    if bitpix != dtype.itemsize * 8:
        raise InvalidArgument(f"NIfTI bitpix is {bitpix} but datatype {dtype.name} has "
                              f"{dtype.itemsize * 8} bits")
    return shape, dtype, _data_offset(header)


def _data_offset(header) -> int:
    vox_offset = float(header["vox_offset"])
    minimum = header.sizeof_hdr + 4  # the header and its 4-byte extension flag
    if not math.isfinite(vox_offset) or vox_offset != int(vox_offset) or vox_offset < 0:
        raise InvalidArgument(f"NIfTI vox_offset is {vox_offset:g}; it must be a whole number "
                              "of bytes")
    if vox_offset == 0:  # unset: data follow the header
        return minimum
    if vox_offset < minimum:
        raise InvalidArgument(f"NIfTI vox_offset {vox_offset:g} points inside the header; "
                              f"data start at byte {minimum} or later")
    return int(vox_offset)


def _meta(header, shape: tuple) -> RecordingMeta:
    """Metadata from the header as written (nibabel's loaded header has zero zooms set to 1)."""
    try:
        space, time = header.get_xyzt_units()
    except KeyError:
        raise InvalidArgument(f"NIfTI xyzt_units {int(header['xyzt_units'])} holds no valid "
                              "unit codes") from None
    zooms = [float(z) for z in header["pixdim"][1:5]]
    voxel_size = tuple(z * _SPACE_MM[space] for z in zooms[:3])
    if not all(math.isfinite(v) and v > 0 for v in voxel_size):
        raise InvalidArgument(f"NIfTI voxel size (pixdim[1:4]) is {voxel_size}; "
                              "it must be finite and positive")
    tr = None
    if shape[3] > 1:
        if time not in _TIME_S:
            raise InvalidArgument(f"NIfTI time unit is {time}, not a time step; fMRI needs seconds")
        tr = checked_rate(zooms[3] * _TIME_S[time], "TR (pixdim[4])")
    affine = header.get_best_affine()
    if not np.all(np.isfinite(affine)):
        raise InvalidArgument("NIfTI affine (qform/sform) holds non-finite values")
    return RecordingMeta(
        modality="fmri", format="nifti", shape=shape, tr=tr, voxel_size=voxel_size,
        affine=np.asarray(affine, dtype=np.float64), duration=None if tr is None else tr * shape[3])


def _head(path, packed: str | None) -> bytes:
    if packed == "gzip":
        try:
            with gzip.open(path, "rb") as f:
                return f.read(max(_HEADERS))
        except (OSError, EOFError) as exc:
            raise InvalidArgument(f"corrupt or truncated gzip data ({exc})") from exc
    with open(path, "rb") as f:
        return f.read(max(_HEADERS))


def _dims(shape) -> str:
    return " x ".join(str(s) for s in shape)
