"""The bounds a store's entry points keep to: what one call may allocate, checked before it does."""

from __future__ import annotations

import dataclasses

from braindecode.decoding import MAX_FIT_BYTES
from braindecode.errors import ResourceExhausted
from braindecode.recordings import ReadLimits

MAX_REQUEST_BYTES = 2 * 2**30
"""Default of ``RequestLimits.max_request_bytes`` (2 GiB)."""


@dataclasses.dataclass(frozen=True)
class RequestLimits:
    """Bounds on one call of a store entry point; past one, ResourceExhausted names it and the size.

    Parameters
    ----------
    max_request_bytes : int
        Most bytes that reading recordings, raw or preprocessed, may hold at once: estimated from
        their headers, the spec and their events (``braindecode.preprocessing.footprint``) before
        anything is read. Default 2 GiB.
    max_fit_bytes : int
        Most bytes a decoder's fit may hold (its ``fit_footprint``). Default 4 GiB.
    read : ReadLimits
        Bounds on what a file's header may declare, applied to uploads and reads.
    """

    max_request_bytes: int = MAX_REQUEST_BYTES
    max_fit_bytes: int = MAX_FIT_BYTES
    read: ReadLimits = ReadLimits()

    def check_request(self, what: str, peak_bytes: int) -> None:
        """ResourceExhausted when ``what`` (a phrase such as "reading recording 'rec_...' into a
        float32 result of shape (8, 2000)") would hold more than ``max_request_bytes``."""
        if peak_bytes > self.max_request_bytes:
            raise ResourceExhausted(f"{what} would hold about {peak_bytes} bytes at once, more than the limit "
                                    f"max_request_bytes={self.max_request_bytes}; nothing was read")
