"""Which partitions to hold back in a catch-up (watermark alignment). Pure: no Faust.

A worker that reads a backlog (a restart, a replay at full speed, a week of history) reads
its partitions at different rates, and their stream times drift apart: hours, up to 45 of
them in the week of ``bench memory``. An interval closes only once the slowest partition
has passed it, so until then every partition keeps the state of every interval not yet
closed, and the state grows with the drift. Flink's watermark alignment bounds it: a source
more than a set skew ahead of the slowest pauses until the others catch up. The same here:
a partition whose stream time is more than ``skew_ms`` ahead of the slowest partition that
is still receiving messages is held back (its fetching paused).

"Still receiving": a partition that has had no message for ``idle_s`` seconds of wall time
(nothing left to read, or no events) cannot hold the others back, or a partition with no
more data would stop them for ever (Flink's idleness timeout). A held-back partition is
not fetched, so it turns idle too; that is harmless, as it is never the slowest. A live
worker reads every partition at its head, so nothing is ever held back.
"""

from __future__ import annotations

from collections.abc import Mapping


def held_back(clocks: Mapping[int, int | None], heard_at: Mapping[int, float], now: float,
              skew_ms: int, idle_s: float) -> set[int]:
    """The partitions to hold back: stream time (``clocks``, ms; None before any event)
    more than ``skew_ms`` ahead of the slowest partition heard from (``heard_at``: wall
    time of its last message) within ``idle_s`` of ``now``."""
    floor: int | None = None
    for partition, clock in clocks.items():
        if clock is None or now - heard_at.get(partition, float("-inf")) > idle_s:
            continue
        if floor is None or clock < floor:
            floor = clock
    if floor is None:
        return set()
    limit = floor + skew_ms
    return {p for p, clock in clocks.items() if clock is not None and clock > limit}
