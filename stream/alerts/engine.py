"""The alert lifecycle: rules evaluated over live snapshots in stream time.

``AlertEngine(rules).evaluate(snapshot, now_ms)`` reads every rule's metric from a tenant's
snapshot (:mod:`stream.alerts.metrics`) and returns the transitions it causes; it does no
I/O, so the plumbing puts them on the ``alerts`` topic and the backtest prints them. Per rule
and scope there is at most one open alert::

    raised ──> acknowledged ──> cleared
       └────────────────────────────^

- *raised* once the condition (``value op threshold``) has held at every evaluation for
  ``for``, in stream time;
- *acknowledged* by a person (who, when, an optional comment), at most once;
- *cleared* once the clear condition (the value no longer beyond ``clear_threshold``, or
  undefined, or the scope gone) has held for ``clear_for`` (default: ``for``).

An undefined value (a ratio over nothing, fewer contacts than ``min_volume``) never raises
and counts towards clearing. Evaluations of a tenant at or before its previous evaluation
time are ignored, so evaluating an instant again after a restart changes nothing. The
state (open alerts and conditions still running towards ``for``) goes to plain JSON with
:meth:`AlertEngine.dump` and back with :meth:`AlertEngine.load`.

Exceptions::

    ValueError
    └── AlertError
        ├── UnknownAlert         no open alert has that id (never raised, or cleared)
        └── AlreadyAcknowledged  the alert was acknowledged before
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from stream.alerts.metrics import Reading, Scope
from stream.alerts.rules import Rule, breaches, duration_text, render, value_text

AlertState = Literal["raised", "acknowledged", "cleared"]
STATE_VERSION = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso(ms: int) -> str:
    """Epoch milliseconds as ISO 8601 in UTC (exact to the millisecond)."""
    return (_EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")


def from_iso(text: str) -> int:
    return (datetime.fromisoformat(text) - _EPOCH) // timedelta(milliseconds=1)


class AlertError(ValueError):
    """An operation on an alert that its state does not allow."""


class UnknownAlert(AlertError):
    pass


class AlreadyAcknowledged(AlertError):
    pass


@dataclass(frozen=True, slots=True)
class AlertTransition:
    """One step of an alert's life: the event the plumbing publishes. ``state`` is the
    alert's state from ``at_ms`` on; the other fields describe the whole alert."""

    state: AlertState
    at_ms: int
    alert_id: str
    rule_id: str
    metric: str
    severity: str
    audience: tuple[str, ...]
    scope: Scope
    value: float | None  # the value at this transition (None: undefined, or scope gone)
    worst_value: float | None  # the furthest beyond the threshold while open
    threshold: float | None
    clear_threshold: float | None
    condition: str
    message: str
    held_since_ms: int | None  # when the condition of this raise / clear began to hold
    raised_at_ms: int
    acknowledged_at_ms: int | None = None
    acknowledged_by: str | None = None
    comment: str | None = None
    cleared_at_ms: int | None = None

    def to_json(self) -> dict[str, object]:
        def when(ms: int | None) -> str | None:
            return None if ms is None else iso(ms)

        return {
            "type": "alert",
            "state": self.state,
            "at": iso(self.at_ms),
            "at_ms": self.at_ms,
            "alert_id": self.alert_id,
            "rule_id": self.rule_id,
            "metric": self.metric,
            "severity": self.severity,
            "audience": list(self.audience),
            "scope": self.scope.to_json(),
            "value": self.value,
            "worst_value": self.worst_value,
            "threshold": self.threshold,
            "clear_threshold": self.clear_threshold,
            "condition": self.condition,
            "message": self.message,
            "held_since": when(self.held_since_ms),
            "raised_at": iso(self.raised_at_ms),
            "acknowledged_at": when(self.acknowledged_at_ms),
            "acknowledged_by": self.acknowledged_by,
            "comment": self.comment,
            "cleared_at": when(self.cleared_at_ms),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AlertTransition:
        def when(name: str) -> int | None:
            value = data.get(name)
            return None if value is None else from_iso(str(value))

        def number(name: str) -> float | None:
            value = data.get(name)
            return None if value is None else float(value)

        state = data["state"]
        if state not in ("raised", "acknowledged", "cleared"):
            raise ValueError(f"unknown alert state {state!r}")
        return cls(
            state=state, at_ms=int(data["at_ms"]), alert_id=str(data["alert_id"]),
            rule_id=str(data["rule_id"]), metric=str(data["metric"]),
            severity=str(data["severity"]), audience=tuple(data["audience"]),
            scope=Scope.from_json(data["scope"]), value=number("value"),
            worst_value=number("worst_value"), threshold=number("threshold"),
            clear_threshold=number("clear_threshold"), condition=str(data["condition"]),
            message=str(data["message"]), held_since_ms=when("held_since"),
            raised_at_ms=from_iso(str(data["raised_at"])),
            acknowledged_at_ms=when("acknowledged_at"),
            acknowledged_by=data.get("acknowledged_by"), comment=data.get("comment"),
            cleared_at_ms=when("cleared_at"),
        )


@dataclass(slots=True)
class _Tracker:
    """One rule and scope: the start of the current run of the condition that would move
    the alert on (the raise condition while no alert is open, the clear condition while
    one is), and the open alert, kept as its latest transition."""

    since_ms: int | None = None
    alert: AlertTransition | None = None


def alert_id(rule_id: str, scope: Scope, raised_at_ms: int) -> str:
    """Deterministic: the same rule, scope and raise time give the same id."""
    return f"{rule_id}/{scope.label()}/{raised_at_ms}"


def _worse(op: str, a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return b if a is None else a
    return max(a, b) if op in (">", ">=") else min(a, b)


class AlertEngine:
    """Alert state for any number of tenants; rules are evaluated in their given order."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = list(rules)
        self._rules = {rule.id: rule for rule in self.rules}
        if len(self._rules) != len(self.rules):
            raise ValueError("rule ids must be unique")
        self._trackers: dict[tuple[str, Scope], _Tracker] = {}
        self._by_alert: dict[str, tuple[str, Scope]] = {}
        self._evaluated: dict[str, int] = {}  # tenant -> last evaluation time

    # ---------------------------------------------------------------- evaluate
    def evaluate(self, snapshot: Mapping[str, Any], now_ms: int) -> list[AlertTransition]:
        """Evaluate every rule on one tenant's snapshot at stream time ``now_ms``."""
        tenant = str(snapshot.get("tenant") or "default")
        last = self._evaluated.get(tenant)
        if last is not None and now_ms <= last:
            return []
        self._evaluated[tenant] = now_ms
        out: list[AlertTransition] = []
        for key in sorted((k for k in self._trackers
                           if k[0] not in self._rules and k[1].tenant == tenant),
                          key=lambda k: (k[0], k[1].sort_key())):
            # Its rule is gone (rules changed between a dump and a load): clear at once.
            tracker = self._trackers.pop(key)
            if tracker.alert is not None:
                out.append(self._clear(tracker.alert, None, now_ms, now_ms))
        for rule in self.rules:
            readings = {r.scope: r for r in rule.metric_spec.extract(snapshot, now_ms)
                        if r.scope.tenant == tenant and rule.scope.matches(r.scope)}
            scopes = set(readings)
            scopes.update(s for r, s in self._trackers if r == rule.id and s.tenant == tenant)
            for scope in sorted(scopes, key=Scope.sort_key):
                transition = self._step(rule, scope, readings.get(scope), now_ms)
                if transition is not None:
                    out.append(transition)
        return out

    def _step(self, rule: Rule, scope: Scope, reading: Reading | None,
              now_ms: int) -> AlertTransition | None:
        key = (rule.id, scope)
        value = None if reading is None else reading.value
        if (value is not None and rule.min_volume and reading is not None
                and (reading.volume is None or reading.volume < rule.min_volume)):
            value = None
        threshold, clear_threshold = rule.thresholds(None if reading is None else reading.target)
        tracker = self._trackers.get(key)
        if tracker is None or tracker.alert is None:
            if value is None or threshold is None or not breaches(value, rule.op, threshold):
                self._trackers.pop(key, None)  # a run towards `for` is broken
                return None
            if tracker is None:
                tracker = self._trackers[key] = _Tracker()
            if tracker.since_ms is None:
                tracker.since_ms = now_ms
            since = tracker.since_ms
            if now_ms - since < rule.for_ms:
                return None
            return self._raise(rule, scope, tracker, value, threshold, clear_threshold, since,
                               now_ms)
        alert = tracker.alert
        if value is not None:
            tracker.alert = alert = replace(alert, value=value,
                                            worst_value=_worse(rule.op, alert.worst_value, value))
        clear = (value is None or clear_threshold is None
                 or not breaches(value, rule.op, clear_threshold))
        if not clear:
            tracker.since_ms = None  # a run towards `clear_for` is broken
            return None
        if tracker.since_ms is None:
            tracker.since_ms = now_ms
        if now_ms - tracker.since_ms < rule.clear_for_ms:
            return None
        del self._trackers[key]
        return self._clear(alert, value, tracker.since_ms, now_ms)

    def _raise(self, rule: Rule, scope: Scope, tracker: _Tracker, value: float,
               threshold: float, clear_threshold: float | None, since: int,
               now_ms: int) -> AlertTransition:
        unit = rule.metric_spec.unit
        condition = rule.condition(threshold)
        fields: dict[str, object] = {
            "rule": rule.id, "metric": rule.metric, "severity": rule.severity,
            "value": value, "threshold": threshold, "clear_threshold": clear_threshold,
            "value_text": value_text(value, unit), "threshold_text": value_text(threshold, unit),
            "for": duration_text(rule.for_s), "condition": condition,
            **scope.to_json(),
        }
        transition = AlertTransition(
            state="raised", at_ms=now_ms, alert_id=alert_id(rule.id, scope, now_ms),
            rule_id=rule.id, metric=rule.metric, severity=rule.severity,
            audience=tuple(rule.audience), scope=scope, value=value, worst_value=value,
            threshold=threshold, clear_threshold=clear_threshold, condition=condition,
            message=render(rule.message, fields), held_since_ms=since, raised_at_ms=now_ms)
        tracker.since_ms = None
        tracker.alert = transition
        self._by_alert[transition.alert_id] = (rule.id, scope)
        return transition

    def _clear(self, alert: AlertTransition, value: float | None, since: int,
               now_ms: int) -> AlertTransition:
        self._by_alert.pop(alert.alert_id, None)
        return replace(alert, state="cleared", at_ms=now_ms, value=value, held_since_ms=since,
                       cleared_at_ms=now_ms)

    # ------------------------------------------------------------- acknowledge
    def acknowledge(self, alert_id: str, who: str, comment: str | None,
                    at_ms: int) -> AlertTransition:
        """A person has seen the open alert ``alert_id``."""
        if not who.strip():
            raise AlertError("who acknowledges must be given")
        key = self._by_alert.get(alert_id)
        tracker = self._trackers.get(key) if key is not None else None
        if tracker is None or tracker.alert is None:
            raise UnknownAlert(f"no open alert {alert_id!r} (never raised, or cleared)")
        alert = tracker.alert
        if alert.acknowledged_at_ms is not None:
            raise AlreadyAcknowledged(
                f"alert {alert_id!r} was acknowledged by {alert.acknowledged_by} at "
                f"{iso(alert.acknowledged_at_ms)}")
        tracker.alert = replace(alert, state="acknowledged", at_ms=at_ms,
                                acknowledged_at_ms=at_ms, acknowledged_by=who,
                                comment=comment or None)
        return tracker.alert

    # ------------------------------------------------------------------ state
    def open_alerts(self, tenant: str | None = None) -> list[AlertTransition]:
        """Each open alert as its latest transition, by rule order then scope."""
        order = {rule_id: i for i, rule_id in enumerate(self._rules)}
        found = [(key, t.alert) for key, t in self._trackers.items()
                 if t.alert is not None and (tenant is None or key[1].tenant == tenant)]
        found.sort(key=lambda f: (order.get(f[0][0], len(order)), f[0][0], f[0][1].sort_key()))
        return [alert for _, alert in found]

    def dump(self) -> dict[str, object]:
        """Open alerts, conditions running towards ``for`` / ``clear_for`` and the last
        evaluation time per tenant, as plain JSON."""
        trackers = sorted(self._trackers.items(), key=lambda kv: (kv[0][0], kv[0][1].sort_key()))
        return {
            "version": STATE_VERSION,
            "evaluated": dict(sorted(self._evaluated.items())),
            "trackers": [{"rule_id": rule_id, "scope": scope.to_json(),
                          "since_ms": tracker.since_ms,
                          "alert": None if tracker.alert is None else tracker.alert.to_json()}
                         for (rule_id, scope), tracker in trackers],
        }

    def load(self, state: Mapping[str, Any]) -> None:
        """Replace the state with a :meth:`dump` (rules may have changed since: an alert
        whose rule is gone is cleared at the tenant's next evaluation)."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unknown alert state version {state.get('version')!r}")
        self._trackers.clear()
        self._by_alert.clear()
        self._evaluated = {str(t): int(ms) for t, ms in state.get("evaluated", {}).items()}
        for item in state.get("trackers", []):
            scope = Scope.from_json(item["scope"])
            raw = item.get("alert")
            alert = None if raw is None else AlertTransition.from_json(raw)
            since = item.get("since_ms")
            key = (str(item["rule_id"]), scope)
            self._trackers[key] = _Tracker(None if since is None else int(since), alert)
            if alert is not None:
                self._by_alert[alert.alert_id] = key
