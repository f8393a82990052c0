"""What a tenant has stored, as a lab gets it back: artifacts listed and described (their files, with
the arrays they hold), their files read in chunks, and deleted."""

from __future__ import annotations

import collections
import dataclasses
import gzip
import pathlib

import nibabel as nib
import numpy as np
from PIL import Image

from braindecode.errors import InvalidArgument, quoted
from braindecode.store._kinds import ARTIFACT_KINDS
from braindecode.store._store import ArtifactInfo, Store

DEFAULT_CHUNK_BYTES = 2 * 1024 * 1024
_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


@dataclasses.dataclass(frozen=True)
class StoredFile:
    """One file of an artifact.

    Attributes
    ----------
    name : str
    size_bytes : int
    sha256 : str
        Hex digest of the file's bytes.
    dtype : str
        Of the array the file holds (``.npy``, NIfTI, PNG); empty when unknown or not read.
    shape : tuple of int
        Of that array (a PNG: (height, width, channels)).
    """

    name: str
    size_bytes: int
    sha256: str
    dtype: str = ""
    shape: tuple = ()


@dataclasses.dataclass(frozen=True)
class ArtifactDescription:
    """An artifact's record (id, kind, meta, provenance, creation time) and its files, in name order."""

    info: ArtifactInfo
    files: tuple

    @property
    def size_bytes(self) -> int:
        return sum(f.size_bytes for f in self.files)


def array_layout(path, name: str) -> tuple:
    """(dtype name, shape) of the array in a ``.npy``, ``.nii``, ``.nii.gz`` or ``.png`` file named ``name``
    stored at ``path``, read from its header only; ("", ()) for other or unreadable files."""
    try:
        if name.endswith(".npy"):
            with open(path, "rb") as f:
                read_header = _NPY_HEADERS.get(np.lib.format.read_magic(f))
                if read_header is None:
                    return "", ()
                shape, _, dtype = read_header(f)
            return dtype.name, tuple(shape)
        if name.endswith((".nii", ".nii.gz")):
            opener = gzip.open if name.endswith(".gz") else open
            with opener(path, "rb") as f:
                header = nib.Nifti1Header.from_fileobj(f, check=False)
            return header.get_data_dtype().name, tuple(int(s) for s in header.get_data_shape())
        if name.endswith(".png"):
            with Image.open(path) as image:
                bands = len(image.getbands())
                dtype = "uint16" if image.mode.startswith("I;16") else "uint8"
                return dtype, (image.height, image.width) + ((bands,) if bands > 1 else ())
    except (OSError, ValueError, EOFError, nib.spatialimages.HeaderDataError):
        return "", ()
    return "", ()


def _files(store: Store, info: ArtifactInfo, layouts: bool) -> tuple:
    files = []
    for name, rel in info.files.items():
        path = store.stored_blob(rel, f"artifact {info.id!r}")
        layout = array_layout(path, name) if layouts else ("", ())
        files.append(StoredFile(name, path.stat().st_size, pathlib.Path(rel).name.split(".")[0], *layout))
    return tuple(files)


def describe_artifact(store: Store, tenant: str, artifact_id: str) -> ArtifactDescription:
    """The tenant's artifact with its files and the arrays they hold (NotFound names the kind of an id
    that is not an artifact of the tenant's)."""
    info = store.get_artifact(tenant, artifact_id)
    return ArtifactDescription(info, _files(store, info, layouts=True))


def list_artifact_descriptions(store: Store, tenant: str, kind: str = "", page_size: int = 0,
                               page_token: str = "") -> tuple:
    """One page of the tenant's artifacts, oldest first.

    Parameters
    ----------
    kind : str
        Only artifacts of this kind (one of ``ARTIFACT_KINDS``); empty lists every kind.
    page_size : int
        0 is the default page size.
    page_token : str

    Returns
    -------
    artifacts : list of ArtifactDescription
        Their files with sizes and digests, without dtypes and shapes.
    next_page_token : str
    """
    if kind and kind not in ARTIFACT_KINDS:
        raise InvalidArgument(f"unknown artifact kind {quoted(kind)}; kinds: {', '.join(ARTIFACT_KINDS)}")
    infos, token = store.list_artifacts_page(tenant, kind or None, page_size, page_token)
    return [ArtifactDescription(info, _files(store, info, layouts=False)) for info in infos], token


def artifact_chunks(store: Store, tenant: str, artifact_id: str, names=(), chunk_bytes: int = DEFAULT_CHUNK_BYTES):
    """The bytes of an artifact's files, a file after the other, in pieces.

    Parameters
    ----------
    names : sequence of str
        The files to read, in this order; empty reads every file.
    chunk_bytes : int
        Most bytes of one piece.

    Yields
    ------
    file : StoredFile or None
        The file, with the first piece of its bytes; None with the next ones.
    offset : int
        Where the piece starts in the file.
    data : bytes
        The piece (empty for an empty file).
    """
    if chunk_bytes < 1:
        raise InvalidArgument(f"chunk_bytes must be positive, got {chunk_bytes}")
    info = store.get_artifact(tenant, artifact_id)
    by_name = {f.name: f for f in _files(store, info, layouts=False)}
    names = list(names) or list(by_name)
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise InvalidArgument(f"artifact {artifact_id} has no file {quoted(unknown[0])}; its files: "
                              f"{', '.join(by_name)}")
    repeated = sorted(name for name, count in collections.Counter(names).items() if count > 1)
    if repeated:
        raise InvalidArgument(f"files asked for more than once: {', '.join(repeated)}")
    for name in names:
        with open(store.stored_blob(info.files[name], f"artifact {info.id!r}"), "rb") as f:
            offset, first = 0, True
            while (data := f.read(chunk_bytes)) or first:
                yield (by_name[name] if first else None), offset, data
                offset, first = offset + len(data), False
