"""GIfTI (.gii) surface data via nibabel, after a bounded pre-scan of the XML.

nibabel inflates GZipBase64Binary arrays without a bound and follows ExternalFileBinary
references to files next to the .gii, so a first expat pass refuses external files and entity
declarations, checks each array's declared size against the limits, and inflates compressed
arrays only up to the size their dims declare.
"""

from __future__ import annotations

import base64
import binascii
import math
import zlib
from xml.parsers import expat

import nibabel
import numpy as np

from braindecode.errors import InvalidArgument, ResourceExhausted, quoted
from braindecode.recordings._limits import ReadLimits
from braindecode.recordings._recording import LoadedRecording, RecordingMeta, Source

_GEOMETRY = {"NIFTI_INTENT_POINTSET", "NIFTI_INTENT_TRIANGLE"}
_ITEMSIZE = {"NIFTI_TYPE_UINT8": 1, "NIFTI_TYPE_INT8": 1, "NIFTI_TYPE_INT16": 2,
             "NIFTI_TYPE_UINT16": 2, "NIFTI_TYPE_INT32": 4, "NIFTI_TYPE_UINT32": 4,
             "NIFTI_TYPE_FLOAT32": 4, "NIFTI_TYPE_INT64": 8, "NIFTI_TYPE_UINT64": 8,
             "NIFTI_TYPE_FLOAT64": 8}


def read_gifti(source: Source) -> LoadedRecording:
    """Validate and open a GIfTI file holding data on a surface (not a bare mesh)."""
    size = source.path.stat().st_size
    if size > source.limits.max_xml_bytes:
        raise ResourceExhausted(f"GIfTI file has {size} bytes, more than the limit "
                                f"max_xml_bytes={source.limits.max_xml_bytes}")
    content = source.path.read_bytes()
    prescan(content, source.limits)
    image = nibabel.GiftiImage.from_bytes(content)
    data = surface_data(image)
    if not np.isfinite(data).any():
        raise InvalidArgument("all values are NaN or infinite")
    meta = RecordingMeta(modality="surface", format="gifti", shape=data.shape)
    return LoadedRecording(meta, source, read_data=lambda: surface_data(image),
                           make_image=lambda: nibabel.GiftiImage.from_bytes(content))


def surface_data(image) -> np.ndarray:
    """The data arrays of a GIfTI image as float32 of shape (n_vertices, n_timepoints)."""
    if not image.darrays:
        raise InvalidArgument("GIfTI holds no data arrays")
    arrays = [d.data for d in image.darrays
              if nibabel.nifti1.intent_codes.niistring[d.intent] not in _GEOMETRY]
    if not arrays:
        raise InvalidArgument("GIfTI holds only a surface mesh (pointset/triangle arrays), "
                              "no data on it")
    if len(arrays) == 1 and arrays[0].ndim == 2:
        return np.asarray(arrays[0], dtype=np.float32)
    columns = []
    for a in arrays:
        if a.ndim == 2 and a.shape[1] == 1:
            a = a[:, 0]
        if a.ndim != 1:
            raise InvalidArgument(f"GIfTI holds a data array of shape {a.shape} among several; "
                                  "each must be one value per vertex")
        columns.append(a)
    lengths = sorted({len(a) for a in columns})
    if len(lengths) > 1:
        raise InvalidArgument(f"GIfTI data arrays cover different numbers of vertices {lengths}")
    return np.stack(columns, axis=1).astype(np.float32)


def prescan(content: bytes, limits: ReadLimits) -> None:
    """Refuse entity declarations; check every DataArray's encoding, dims and inflated size, and
    what all arrays declare against ``limits.max_voxels`` and ``limits.max_expansion``."""
    state = {"values": 0, "bytes": 0, "expected": 0, "gzip": False, "chunks": None,
             "size": len(content)}

    def start(tag, attrs):
        if tag == "DataArray":
            state["expected"] = _declared_bytes(attrs, state, limits)
            state["gzip"] = attrs.get("Encoding") == "GZipBase64Binary"
        elif tag == "Data" and state["gzip"]:
            state["chunks"] = []

    def text(data):
        if state["chunks"] is not None:
            state["chunks"].append(data)

    def end(tag):
        if tag == "Data" and state["chunks"] is not None:
            _check_inflated("".join(state["chunks"]), state["expected"])
            state["chunks"] = None

    def entity(*_):
        raise InvalidArgument("GIfTI declares XML entities, which are not accepted")

    parser = expat.ParserCreate()
    parser.StartElementHandler, parser.CharacterDataHandler = start, text
    parser.EndElementHandler, parser.EntityDeclHandler = end, entity
    try:
        parser.Parse(content, True)
    except expat.ExpatError as exc:
        raise InvalidArgument(f"malformed GIfTI XML ({exc})") from exc


def _declared_bytes(attrs: dict, state: dict, limits: ReadLimits) -> int:
    if attrs.get("Encoding") == "ExternalFileBinary":
        raise InvalidArgument("GIfTI data in external files (ExternalFileBinary) are not "
                              "accepted; embed them in the .gii")
    dims = [_integer(attrs, f"Dim{i}") for i in range(_integer(attrs, "Dimensionality"))]
    if not dims or any(d < 1 for d in dims):
        raise InvalidArgument(f"GIfTI DataArray dims {dims} must be positive")
    n_values = math.prod(dims)
    n_bytes = n_values * _ITEMSIZE.get(attrs.get("DataType"), 8)
    state["values"] += n_values
    state["bytes"] += max(n_bytes, n_values * 4)  # as stored, and as float32 data
    limits.check_values("GIfTI data arrays declare", state["values"], "max_voxels")
    limits.check_expansion("GIfTI data arrays declare", state["bytes"], state["size"])
    return n_bytes


def _integer(attrs: dict, name: str) -> int:
    try:
        return int(attrs[name])
    except KeyError:
        raise InvalidArgument(f"GIfTI DataArray lacks its {name} attribute") from None
    except ValueError:
        raise InvalidArgument(f"GIfTI DataArray {name} is {quoted(attrs[name])}, not an "
                              "integer") from None


def _check_inflated(text: str, expected: int) -> None:
    try:
        packed = base64.b64decode(text)
        inflated = zlib.decompressobj().decompress(packed, expected + 1)
    except (binascii.Error, ValueError, zlib.error) as exc:
        raise InvalidArgument(f"GIfTI GZipBase64Binary data do not decode ({exc})") from exc
    if len(inflated) > expected:
        raise ResourceExhausted(f"a GIfTI data array inflates past the {expected} bytes its dims "
                                "declare (zip bomb?)")
