"""Give the C heap's free memory back to the system (docs/performance.md, "Eighth round").

glibc's ``malloc`` keeps what a busy stretch of the stream freed (the objects above
pymalloc's 512 bytes: orjson's buffers, table values, batches) for reuse, and the
worker's RSS kept the peaks of the busy days. ``malloc_trim(0)`` hands the free pages of
every arena back. The processor calls :meth:`HeapTrimmer.maybe_trim` after an expiry (a
calm point, once per hour of stream time per partition), and the trimmer runs it at most
once per ``interval_s`` of wall time: a replay at full speed crosses many stream hours a
second. Without glibc (musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable

TRIM_INTERVAL_S = 5.0  # wall time between two trims, at least


def glibc_malloc_trim() -> Callable[[], object] | None:
    """glibc's ``malloc_trim(0)``, or None where the C library has none."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):  # TypeError: CDLL(None) on Windows
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


class HeapTrimmer:
    """Rate-limits ``trim`` (by default glibc's ``malloc_trim(0)``) in wall time."""

    def __init__(self, interval_s: float = TRIM_INTERVAL_S,
                 trim: Callable[[], object] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self.trim = trim if trim is not None else glibc_malloc_trim()
        self.clock = clock
        self.last: float | None = None  # clock of the last trim
        self.calls = 0
        self.seconds = 0.0  # spent trimming, in all

    def maybe_trim(self) -> bool:
        """Trim if the last trim is ``interval_s`` or more ago; whether it did."""
        if self.trim is None:
            return False
        now = self.clock()
        if self.last is not None and now - self.last < self.interval_s:
            return False
        self.trim()
        self.last = self.clock()
        self.calls += 1
        self.seconds += self.last - now
        return True
