"""Upper bounds on what a recording file may make the readers allocate."""

from __future__ import annotations

from dataclasses import dataclass

from braindecode.errors import ResourceExhausted


@dataclass(frozen=True)
class ReadLimits:
    """Limits applied while reading a recording, checked against its header before anything is
    allocated. Past a bound the reader raises ResourceExhausted naming the bound and the size.

    Parameters
    ----------
    max_voxels : int
        Most values an image may declare: x * y * z * t for NIfTI, vertices * arrays for GIfTI.
        Default 1e9.
    max_samples : int
        Most values an EEG/MEG recording may hold once read: n_channels * n_times, where every
        channel is read at the highest sampling rate of the file. Default 1e9.
    max_channels : int
        Most signals an EDF/BDF header, or channels a BrainVision or EEGLAB header, may declare.
        Default 4096.
    max_zip_members : int
        Most entries (files and folders) a zip may hold. Default 32.
    max_unpacked_bytes : int
        Most bytes a zip, a gzip-compressed FIF or the compressed variables of an EEGLAB .set may
        unpack to. Default 4 GiB.
    max_expansion : float
        Most bytes a reader may make (unpack to disk, or hold in memory once read) per byte of
        the file it was sent: a gzip or zip bomb, a .nii.gz whose header declares far more than
        it holds, an EDF whose one fast signal makes MNE read every signal at its rate.
        Default 100.
    expansion_grace_bytes : int
        What any file may make, whatever ``max_expansion`` says of its size (small files of
        constant values compress far better than 100 to 1). Default 64 MiB.
    gzip_slack_bytes : int
        How far a ``.nii.gz`` may inflate past the size its header declares
        (``vox_offset`` + data bytes); more is treated as a gzip bomb. Default 1 MiB.
    max_xml_bytes : int
        Largest GIfTI (XML) file. Default 256 MiB.
    """

    max_voxels: int = 1_000_000_000
    max_samples: int = 1_000_000_000
    max_channels: int = 4096
    max_zip_members: int = 32
    max_unpacked_bytes: int = 4 * 2**30
    max_expansion: float = 100.0
    expansion_grace_bytes: int = 64 * 2**20
    gzip_slack_bytes: int = 2**20
    max_xml_bytes: int = 256 * 2**20

    def check_values(self, what: str, n_values: int, bound: str) -> None:
        """ResourceExhausted when ``n_values`` (``what`` says of what) is past the limit named
        ``bound`` ("max_voxels" or "max_samples")."""
        limit = getattr(self, bound)
        if n_values > limit:
            raise ResourceExhausted(f"{what} {n_values} values, more than the limit {bound}={limit}")

    def most_made(self, sent_bytes: int) -> int:
        """Most bytes a reader may make from a file of ``sent_bytes`` (``max_expansion``,
        ``expansion_grace_bytes``)."""
        return max(self.expansion_grace_bytes, int(self.max_expansion * sent_bytes))

    def check_expansion(self, what: str, made_bytes: int, sent_bytes: int) -> None:
        """ResourceExhausted when ``what`` would make ``made_bytes`` from a file of ``sent_bytes``,
        more than ``most_made`` allows."""
        allowed = self.most_made(sent_bytes)
        if made_bytes > allowed:
            raise ResourceExhausted(
                f"{what} {made_bytes} bytes out of a file of {sent_bytes} bytes, more than the "
                f"{allowed} allowed (max_expansion={self.max_expansion:g} times the file, at least "
                f"expansion_grace_bytes={self.expansion_grace_bytes}; a bomb?)")
