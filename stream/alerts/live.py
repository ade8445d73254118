"""Rules evaluated as events are applied, at the cadence's instants of stream time.

``LiveAlerts`` owns one :class:`AlertEngine` per tenant and the :class:`Cadence` shared with
the backtest (docs/alerts.md, "Evaluation in stream time"). Whoever applies events calls
:meth:`LiveAlerts.before` just before applying one, with the event's tenant and time in ms
(which the caller computes once, for the partition state too: a dictionary look-up and an
integer comparison, unless an instant is due) and :meth:`LiveAlerts.applied` once it was
applied;
the tenant's figures are taken from ``figures(tenant)`` (a live snapshot,
:func:`stream.metrics.merge.snapshot`) only when an instant is due, once for all the
instants an event closes. No I/O: the transitions and the tenants whose state changed wait
in :meth:`LiveAlerts.take` for the plumbing (the worker writes them to Redis and the alerts
topic; the backtest returns them).

``window_ms`` keeps a live worker from evaluating history: an instant older than the wall
clock minus the window, or later than the wall clock plus the window, is skipped (counted
in ``skipped``), so a replay of last week (or of a stream stamped days ahead) at full speed
costs nothing here (the backtest is for that). A stretch skipped leaves the
engine as it was: conditions and open alerts carry on from their last evaluation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from stream.alerts.cadence import CADENCE_MS, Cadence
from stream.alerts.engine import AlertEngine, AlertTransition, UnknownAlert
from stream.alerts.rules import Rule

logger = logging.getLogger(__name__)

STATE_VERSION = 1
Figures = Callable[[str], Mapping[str, Any]]  # tenant -> its live snapshot


class LiveAlerts:
    """The alert engines of any number of tenants, driven by the events applied."""

    def __init__(self, rules: Sequence[Rule], figures: Figures, cadence_ms: int = CADENCE_MS,
                 window_ms: int | None = None, clock: Callable[[], float] = time.time,
                 safe: bool = False) -> None:
        """``window_ms``: skip instants older than ``clock()`` (epoch seconds) minus this, or
        later than ``clock()`` plus this (None: evaluate every instant). ``safe``: an error
        in an evaluation is logged and that evaluation skipped, instead of raised (a worker
        must not stop for it)."""
        self.rules = list(rules)
        self.figures = figures
        self.cadence = Cadence(cadence_ms)
        self.next_instant = self.cadence.next_instant  # tenant -> next instant to evaluate
        self.window_ms = window_ms
        self.clock = clock
        self.safe = safe
        self.engines: dict[str, AlertEngine] = {}
        self.pending: list[AlertTransition] = []
        self.changed: set[str] = set()  # tenants whose state changed since the last take
        self.evaluated = 0  # instants evaluated
        self.skipped = 0  # instants older than the window, not evaluated
        self.errors = 0

    # -------------------------------------------------------------- hot path
    def before(self, tenant: str, ts: int) -> None:
        """Evaluate the instants of the tenant that an event at ``ts`` (ms,
        :func:`~stream.metrics.definitions.to_ms` of its time) closes (the ones before its
        time not evaluated yet), on the figures as they are before it."""
        instant = self.next_instant.get(tenant)
        if instant is not None and instant < ts:
            self.evaluate_until(tenant, ts)

    def applied(self, tenant: str, ts: int) -> None:
        """An event of the tenant at ``ts`` (ms) was applied (not refused): a tenant's first
        one starts its instants."""
        if tenant not in self.next_instant:
            self.start(tenant, ts)

    # ------------------------------------------------------------- evaluation
    def start(self, tenant: str, ts: int) -> None:
        """The tenant has figures as of ``ts``: its first instant is the first multiple of
        the cadence at or after ``ts`` (nothing if it had started before)."""
        if tenant not in self.next_instant:
            self.cadence.started(tenant, ts)
            self.changed.add(tenant)  # its next instant moved

    def evaluate_until(self, tenant: str, end: int) -> None:
        """Evaluate the tenant's instants before ``end`` not evaluated yet, all on the
        tenant's figures as they are now."""
        due = self.cadence.due(tenant, end)
        if not due:
            return
        self.changed.add(tenant)  # its next instant moved
        if self.window_ms is not None:
            now = int(self.clock() * 1000)
            oldest, newest = now - self.window_ms, now + self.window_ms
            skip = min(len(due), max(0, -(-(oldest - due.start) // due.step)))
            keep = min(len(due), max(0, (newest - due.start) // due.step + 1))
            if skip or keep < len(due):
                self.skipped += len(due) - max(0, keep - skip)
                due = due[skip:keep]
                if not due:
                    return
        engine = self.engines.get(tenant)
        if engine is None:
            engine = self.engines[tenant] = AlertEngine(self.rules)
        try:
            figures = self.figures(tenant)
            for instant in due:
                self.pending.extend(engine.evaluate(figures, instant))
                self.evaluated += 1
        except Exception:
            if not self.safe:
                raise
            self.errors += 1
            logger.exception("alert rules of tenant %s not evaluated at %d-%d", tenant,
                             due.start, due[-1])

    # --------------------------------------------------------- acknowledgement
    def acknowledge(self, tenant: str, alert_id: str, who: str, comment: str | None,
                    at_ms: int) -> AlertTransition:
        """A person has seen an open alert: its ``acknowledged`` transition (also kept for
        :meth:`take`). Raises :class:`~stream.alerts.engine.AlertError` (``UnknownAlert``,
        ``AlreadyAcknowledged``) when the alert's state does not allow it."""
        engine = self.engines.get(tenant)
        if engine is None:
            raise UnknownAlert(f"no open alert {alert_id!r} (tenant {tenant!r} has none)")
        transition = engine.acknowledge(alert_id, who, comment, at_ms)
        self.pending.append(transition)
        self.changed.add(tenant)
        return transition

    # ------------------------------------------------------------------ state
    def take(self) -> tuple[list[AlertTransition], set[str]]:
        """The transitions since the last call, in order, and the tenants whose state
        (:meth:`state`) changed since then."""
        pending, self.pending = self.pending, []
        changed, self.changed = self.changed, set()
        return pending, changed

    def tenants(self) -> list[str]:
        return sorted(self.next_instant.keys() | self.engines.keys())

    def open_alerts(self, tenant: str) -> list[AlertTransition]:
        engine = self.engines.get(tenant)
        return [] if engine is None else engine.open_alerts(tenant)

    def state(self, tenant: str) -> dict[str, object]:
        """The tenant's engine and next instant, as plain JSON (for restarts)."""
        engine = self.engines.get(tenant)
        return {
            "version": STATE_VERSION,
            "next_instant": self.next_instant.get(tenant),
            "engine": None if engine is None else engine.dump(),
        }

    def restore(self, tenant: str, state: Mapping[str, Any]) -> None:
        """Put back a tenant's :meth:`state` (before any of its events is applied)."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unknown live alert state version {state.get('version')!r}")
        engine_state = state.get("engine")
        if engine_state is None:
            self.engines.pop(tenant, None)
        else:
            engine = self.engines[tenant] = AlertEngine(self.rules)
            engine.load(engine_state)
        instant = state.get("next_instant")
        if instant is None:
            self.next_instant.pop(tenant, None)
        else:
            self.next_instant[tenant] = int(instant)
            self.changed.add(tenant)  # its next instant moved
