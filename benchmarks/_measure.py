"""What the benchmarks print beside every figure: the machine, and how busy it was meanwhile.

The machines these run on are shared and virtual: other jobs load the cores and the
hypervisor takes CPU time (steal). Each timing therefore carries the 1-minute load
average when it ended and the share of the machine's CPU ticks stolen while it ran.
"""

from __future__ import annotations

import datetime
import os
import platform
import time
from dataclasses import dataclass


def cpu_model() -> str:
    """The processor's model name (``model name`` of /proc/cpuinfo, as ``lscpu`` shows it)."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def describe_machine() -> str:
    """One line: CPU model, CPU count and the date."""
    return f"{cpu_model()}, {os.cpu_count()} CPUs, {datetime.date.today().isoformat()}"


def _cpu_ticks() -> tuple:
    """(steal, total) ticks of all CPUs since boot, from /proc/stat; zeros where it is missing."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except OSError:
        return 0, 0
    return (fields[7] if len(fields) > 7 else 0), sum(fields)


@dataclass
class Timing:
    """Wall-clock seconds of one run, the CPU seconds of this process meanwhile, the
    machine's load average at its end and the share of CPU ticks its hypervisor took.
    On a machine shared with other jobs the CPU seconds move less than the wall clock."""

    seconds: float
    cpu_seconds: float
    load: float
    steal: float

    def __str__(self) -> str:
        return (f"{self.seconds:9.3f} s  [cpu {self.cpu_seconds:8.3f} s, load {self.load:4.1f}, "
                f"steal {self.steal:4.0%}]")


def timed(function, *args, **kwargs) -> tuple:
    """``(function(*args, **kwargs), Timing)``."""
    steal_before, total_before = _cpu_ticks()
    start, cpu_start = time.perf_counter(), time.process_time()
    value = function(*args, **kwargs)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    steal_after, total_after = _cpu_ticks()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    steal = (steal_after - steal_before) / max(1, total_after - total_before)
    return value, Timing(seconds, cpu_seconds, load, steal)


def best(timings) -> Timing:
    """The shortest of several timings."""
    return min(timings, key=lambda timing: timing.seconds)


def alternate(runs: dict, rounds: int, label: str = "") -> dict:
    """Run every function of ``runs`` once per round, in turn, printing each timing.

    Returns the best :class:`Timing` of each name. Alternating keeps the figures that
    are compared with each other under the same drift of the machine's load.
    """
    timings = {name: [] for name in runs}
    for round_ in range(rounds):
        for name, function in runs.items():
            timing = timed(function)[1]
            timings[name].append(timing)
            print(f"time {label}{name:<12} {timing}   (round {round_ + 1})", flush=True)
    return {name: best(values) for name, values in timings.items()}
