"""Upper bounds on what a recording file may make the readers allocate."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReadLimits:
    """Limits applied while reading a recording; exceeding one is an error, never a crash.

    Parameters
    ----------
    max_voxels : int
        Most values an image may declare: x * y * z * t for NIfTI, vertices * arrays for GIfTI.
    max_samples : int
        Most values an EEG/MEG recording may hold: n_channels * n_times.
    max_channels : int
        Most signals an EDF/BDF header may declare.
    max_zip_members : int
        Most entries (files and folders) a zip may hold.
    max_unpacked_bytes : int
        Most bytes a zip, or a gzip-compressed FIF, may unpack to.
    gzip_slack_bytes : int
        How far a ``.nii.gz`` may inflate past the size its header declares
        (``vox_offset`` + data bytes); more is treated as a gzip bomb.
    max_xml_bytes : int
        Largest GIfTI (XML) file.
    """

    max_voxels: int = 1_000_000_000
    max_samples: int = 1_000_000_000
    max_channels: int = 4096
    max_zip_members: int = 32
    max_unpacked_bytes: int = 4 * 2**30
    gzip_slack_bytes: int = 2**20
    max_xml_bytes: int = 256 * 2**20
