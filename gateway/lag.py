"""The gateway's own push lag: from a publication's arrival to its frame in a client's socket.

For every update sent to a client the gateway records the time from the arrival of the
newest publication it carries (when the gateway read it from Redis and merged it into the
feeds) to the moment the send returned: the frame handed to the client's socket (its
kernel buffer, or the connection's write buffer when the kernel's is full). That is the
part of a wallboard's lag the gateway decides: its pacing, its work for the other clients
of the fan-out, and a socket that does not take the frame. What the network and the
browser add afterwards is not in it. A send that never returns (a client that stopped
reading, dropped after ``client_max_pending_s``) is not recorded: it shows in the count of
slow clients dropped.

Lags are kept as a histogram of whole milliseconds, rounded up (a lag of 0.2 ms counts as
1 ms), so recording costs a dictionary increment and the counts of a period are the
difference of two readings (:func:`lag_between`), which is how ``GET /stats`` and the
fan-out benchmark use it. Percentiles are nearest-rank over those rounded lags: at most
1 ms above the exact ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

MAX_LAG_MS = 60_000  # longer lags are counted here (a minute: a client about to be dropped)


class PushLag:
    """Cumulative counts of push lags by whole milliseconds (rounded up)."""

    def __init__(self) -> None:
        self.by_ms: dict[int, int] = {}
        self.count = 0

    def record(self, seconds: float) -> None:
        ms = min(MAX_LAG_MS, max(0, math.ceil(seconds * 1000)))
        by_ms = self.by_ms
        by_ms[ms] = by_ms.get(ms, 0) + 1
        self.count += 1

    def reading(self) -> dict[str, int]:
        """The counts so far, JSON-ready (keys are the milliseconds, as text)."""
        return {str(ms): n for ms, n in sorted(self.by_ms.items())}


def lag_between(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, float]:
    """The push lags recorded between two readings (:meth:`PushLag.reading`): how many,
    and their p50, p99 and max in ms (nearest rank; NaN when there are none)."""
    counts = sorted((int(ms), n - before.get(ms, 0)) for ms, n in after.items()
                    if n > before.get(ms, 0))
    total = sum(n for _, n in counts)
    result: dict[str, float] = {"count": float(total)}
    for name, q in (("p50", 50.0), ("p99", 99.0)):
        result[name] = _rank(counts, max(1, math.ceil(q / 100 * total))) if total else math.nan
    result["max"] = float(counts[-1][0]) if counts else math.nan
    return result


def _rank(counts: list[tuple[int, int]], rank: int) -> float:
    """The value of the ``rank``-th smallest lag (1-based) of sorted ``(ms, n)`` counts."""
    seen = 0
    for ms, n in counts:
        seen += n
        if seen >= rank:
            return float(ms)
    raise ValueError(f"rank {rank} beyond {seen} lags")
