"""Input checks shared by the EEG and fMRI steps."""

from __future__ import annotations

import numpy as np

from braindecode.containers import Events
from braindecode.errors import InvalidArgument


def check_events(events, start: float, stop: float, *, what: str = "recording") -> Events:
    """Validate that ``events`` is a non-empty :class:`Events` inside ``[start, stop]``.

    Parameters
    ----------
    events : Events
        The events to check.
    start, stop : float
        First and last admissible onset, in seconds.
    what : str
        Names the span in the error message.
    """
    if events is None:
        raise InvalidArgument("no events: per-trial responses need events")
    if not isinstance(events, Events):
        raise InvalidArgument(f"events must be braindecode Events, got {type(events).__name__}")
    if len(events) == 0:
        raise InvalidArgument("no events: the events table is empty")
    outside = np.flatnonzero((events.onset < start) | (events.onset > stop))
    if outside.size:
        first = outside[0]
        raise InvalidArgument(
            f"{outside.size} events fall outside the {what} (onsets must lie in "
            f"[{start:.3f}, {stop:.3f}] s), e.g. event {first} at {events.onset[first]:.3f} s"
        )
    return events


def check_finite(data: np.ndarray, what: str) -> None:
    """Raise :class:`InvalidArgument` if ``data`` holds NaN or infinite values."""
    bad = ~np.isfinite(data)
    if bad.any():
        raise InvalidArgument(f"{what} contains {int(bad.sum())} NaN or infinite values")


def check_positive(value, name: str) -> float:
    """``value`` as a float, or :class:`InvalidArgument` if it is not a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidArgument(f"{name} must be a positive number, got {value!r}")
    if not np.isfinite(value) or value <= 0:
        raise InvalidArgument(f"{name} must be a positive number, got {value!r}")
    return float(value)
