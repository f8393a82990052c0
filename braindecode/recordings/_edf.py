"""EDF/BDF header checks, done before MNE parses the file.

MNE trusts the header: a record count that does not match the file, a zero record duration
or equal digital limits surface later as short reads, divisions by zero or NaN data. Here
each field is parsed and checked against the others and against the file size. MNE reads
every signal at the rate of the fastest one, as float64: one signal with many samples per
record among many slow ones makes a small file read as gigabytes, so what MNE will hold is
checked against the limits too.
"""

from __future__ import annotations

import math
import os

from braindecode.errors import InvalidArgument, quoted
from braindecode.recordings._limits import ReadLimits

_MAIN = 256  # bytes of the fixed header
MNE_ITEMSIZE = 8
"""Bytes per value of what MNE reads (float64)."""
_SIGNAL_FIELDS = (("label", 16), ("transducer", 80), ("physical dimension", 8),
                  ("physical minimum", 8), ("physical maximum", 8), ("digital minimum", 8),
                  ("digital maximum", 8), ("prefiltering", 80), ("samples per record", 8),
                  ("reserved", 32))


def check_edf_header(path, fmt: str, limits: ReadLimits) -> None:
    """Raise InvalidArgument when the EDF ("edf") or BDF ("bdf") header is inconsistent, and
    ResourceExhausted when reading it would hold more than ``limits.max_samples`` values or
    ``limits.max_expansion`` times the file's size."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        main = f.read(_MAIN)
        if len(main) < _MAIN:
            raise InvalidArgument(f"truncated {fmt.upper()} header: {len(main)} bytes of {_MAIN}")
        n_signals = _number(main, 252, 4, "number of signals", int)
        if not 1 <= n_signals <= limits.max_channels:
            raise InvalidArgument(f"{fmt.upper()} header declares {n_signals} signals; expected "
                                  f"1 to {limits.max_channels}")
        header_bytes = _number(main, 184, 8, "number of header bytes", int)
        if header_bytes != _MAIN * (n_signals + 1):
            raise InvalidArgument(f"{fmt.upper()} header size field says {header_bytes} bytes but "
                                  f"{n_signals} signals need {_MAIN * (n_signals + 1)}")
        signals = f.read(_MAIN * n_signals)
    if len(signals) < _MAIN * n_signals:
        raise InvalidArgument(f"truncated {fmt.upper()} header: the signal headers for "
                              f"{n_signals} signals are cut short")
    fields = _signal_fields(signals, n_signals)
    duration = _number(main, 244, 8, "record duration", float)
    if not math.isfinite(duration) or duration <= 0:
        raise InvalidArgument(f"{fmt.upper()} record duration is {duration:g} s; it must be "
                              "positive")
    samples = [_parse(v, f"samples per record of signal {i + 1}", int)
               for i, v in enumerate(fields["samples per record"])]
    for i, n in enumerate(samples):
        if n < 1:
            raise InvalidArgument(f"{fmt.upper()} signal {i + 1} has {n} samples per record")
    _check_ranges(fields, fmt)
    record_bytes = sum(samples) * (3 if fmt == "bdf" else 2)
    held = (size - header_bytes) // record_bytes
    declared = _number(main, 236, 8, "number of data records", int)
    if declared == -1:  # unknown while recording: the file size decides
        declared = held
    if declared < 1 or declared != held:
        raise InvalidArgument(f"{fmt.upper()} header declares {declared} data records but the "
                              f"file holds {held} ({size - header_bytes} bytes after the header, "
                              f"{record_bytes} per record)")
    fastest = max(samples)
    n_values = n_signals * fastest * declared
    read_as = (f"{fmt.upper()} header ({n_signals} signals read at the {fastest} samples per record "
               f"of the fastest, {declared} records)")
    limits.check_values(f"{read_as} makes", n_values, "max_samples")
    limits.check_expansion(f"{read_as} makes MNE read", n_values * MNE_ITEMSIZE, size)


def _signal_fields(block: bytes, n_signals: int) -> dict:
    fields, pos = {}, 0
    for name, width in _SIGNAL_FIELDS:
        fields[name] = [block[pos + i * width:pos + (i + 1) * width].decode("latin-1").strip()
                        for i in range(n_signals)]
        pos += width * n_signals
    return fields


def _check_ranges(fields: dict, fmt: str) -> None:
    for i, label in enumerate(fields["label"]):
        name = quoted(label)
        pmin = _parse(fields["physical minimum"][i], f"physical minimum of {name}", float)
        pmax = _parse(fields["physical maximum"][i], f"physical maximum of {name}", float)
        dmin = _parse(fields["digital minimum"][i], f"digital minimum of {name}", int)
        dmax = _parse(fields["digital maximum"][i], f"digital maximum of {name}", int)
        if not math.isfinite(pmax - pmin) or pmin == pmax:  # also catches inf - inf = nan
            raise InvalidArgument(f"{fmt.upper()} signal {name} has physical range "
                                  f"[{pmin:g}, {pmax:g}]; it must be finite and non-empty")
        if dmin >= dmax:
            raise InvalidArgument(f"{fmt.upper()} signal {name} has digital range "
                                  f"[{dmin}, {dmax}]; the minimum must be below the maximum")


def _number(block: bytes, start: int, width: int, what: str, kind):
    return _parse(block[start:start + width].decode("latin-1").strip(), what, kind)


def _parse(text: str, what: str, kind):
    try:
        return kind(text)
    except ValueError:
        raise InvalidArgument(f"header field {what} is not a number: {quoted(text)}") from None
