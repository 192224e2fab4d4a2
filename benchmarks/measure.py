"""Small statistics and timing helpers shared by every benchmark.

Every figure we print is a median over several runs, because a single run on a shared machine
measures the machine's mood as much as the code.
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
from collections.abc import Iterator, Sequence


def median(values: Sequence[float]) -> float:
    """The median; NaN for no values, so a missing figure never passes for zero."""
    return statistics.median(values) if values else math.nan


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile by the nearest-rank method.

    Nearest rank never interpolates: p99 of 625 timings is a latency that a real message had.
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def usable_cpus() -> list[int]:
    """The CPUs this process may run on (empty where the OS cannot tell or pin)."""
    if not hasattr(os, "sched_getaffinity"):
        return []
    return sorted(os.sched_getaffinity(0))


@contextlib.contextmanager
def one_core(cpu: int | None = None) -> Iterator[bool]:
    """Pin this process to ``cpu`` (default: the first usable one) for the block; yields
    whether pinning was possible.

    The targets are "on one core": pinning also keeps the scheduler from moving the process
    between cores mid-measurement. Child processes started inside the block inherit the pin.
    """
    cpus = usable_cpus()
    if not cpus:
        yield False
        return
    before = set(cpus)
    try:
        os.sched_setaffinity(0, {cpus[0] if cpu is None else cpu})
    except OSError:
        yield False
        return
    try:
        yield True
    finally:
        os.sched_setaffinity(0, before)
