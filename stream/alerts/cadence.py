"""When rules are evaluated: at every ``CADENCE_MS`` of a tenant's stream time.

The one rule shared by the backtest and the live worker (docs/alerts.md, "Evaluation"):
each tenant is evaluated at every instant ``t`` that is a multiple of the cadence, from its
first event on, just before the first of its events with a time after ``t`` is applied; a
stretch of stream time without events is evaluated at each of its instants.
"""

from __future__ import annotations

CADENCE_MS = 10_000  # rules are evaluated at every 10 s of stream time


class Cadence:
    """The instants still to evaluate, per tenant."""

    def __init__(self, cadence_ms: int = CADENCE_MS) -> None:
        if cadence_ms <= 0:
            raise ValueError("the cadence must be positive")
        self.cadence_ms = cadence_ms
        self.next_instant: dict[str, int] = {}

    def due(self, tenant: str, ts: int) -> range:
        """The instants to evaluate before an event of ``tenant`` at ``ts`` is applied
        (and they count as done)."""
        instant = self.next_instant.get(tenant)
        if instant is None or instant >= ts:
            return range(0)
        step = self.cadence_ms
        end = instant + -(-(ts - instant) // step) * step  # first instant >= ts
        self.next_instant[tenant] = end
        return range(instant, end, step)

    def started(self, tenant: str, ts: int) -> None:
        """An event of the tenant at ``ts`` was applied: its first instant is the first
        multiple of the cadence at or after its first event."""
        if tenant not in self.next_instant:
            self.next_instant[tenant] = -(-ts // self.cadence_ms) * self.cadence_ms
