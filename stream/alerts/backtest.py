"""Backtest: alert rules over a recorded stream, in event time, without Kafka or Redis.

Events are applied in file order to in-process partition states, split over the settings'
partitions by key as ``floorpulse replay`` sends them and as ``floorpulse report`` splits
them (:mod:`stream.report`). Rules are evaluated per tenant at a fixed cadence of stream
time, at every instant ``t`` that is a multiple of ``CADENCE_MS`` (10 s), from the tenant's
first event on:

- the evaluation at ``t`` sees every event before, in file order, the first event of the
  tenant with a time after ``t`` (so every event up to ``t`` that is not delayed), and it
  runs with ``now_ms = t``: durations such as the longest wait and time in aux are counted
  up to ``t``, the other figures are as of the tenant's stream time (its latest event);
- a stretch of stream time without events is evaluated at each of its instants, on the
  unchanged figures;
- the last instant evaluated is the last one at or before the final stream time.

The live pipeline evaluates at the same instants of stream time, so both raise and clear
the same alerts at the same times when events arrive in the same order. The result is a
pure function of the events, the rules and the settings: the same on every run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from stream.alerts.cadence import CADENCE_MS
from stream.alerts.engine import AlertTransition, iso
from stream.alerts.live import LiveAlerts
from stream.alerts.rules import Rule
from stream.events import Event, event_key
from stream.metrics.definitions import to_ms
from stream.metrics.merge import snapshot
from stream.partitioner import partition_for
from stream.qa.flags import FlagRule
from stream.report import calendar, new_partition_state, queue_rules, wfm_rules
from stream.settings import Settings


def backtest(events: Iterable[Event], rules: Sequence[Rule], settings: Settings,
             cadence_ms: int = CADENCE_MS,
             flags: Sequence[FlagRule] | None = None) -> list[AlertTransition]:
    """Every transition the rules cause over ``events`` (raise and clear; nobody
    acknowledges in a backtest), in order of stream time. ``flags``: QA flag rules, so that
    rules on flagged contacts (``agent.flagged_contact_s``) see them, as live."""
    cal = calendar(settings)
    rule_of = queue_rules(settings)
    wfm = wfm_rules(settings)
    lateness_ms = int(settings.allowed_lateness_s * 1000)
    count = settings.topic_partitions
    states = [new_partition_state(settings, cal, flags) for _ in range(count)]

    def figures(tenant: str) -> dict[str, object]:
        views = [s.view(tenant) for s in states if tenant in s.clock]
        return snapshot(tenant, views, cal, rule_of, lateness_ms, settings.rolling_minutes,
                        wfm=wfm)

    live = LiveAlerts(rules, figures, cadence_ms)  # the worker's evaluation, without a window
    for event in events:
        ts = to_ms(event.ts)
        live.before(event.tenant, ts)
        state = states[partition_for(event_key(event), count)]
        if state.refusal(event, ts) is None:
            if state.qa is not None:  # flags as the worker evaluates them after a batch
                state.dirty_tenants.update(state.qa.evaluate(state.contacts)[1])
            live.applied(event.tenant, ts)
    for tenant in live.tenants():
        stream_time = max(s.clock[tenant] for s in states if tenant in s.clock)
        live.evaluate_until(tenant, stream_time + 1)
    transitions, _ = live.take()
    transitions.sort(key=lambda t: t.at_ms)  # stable: tenants interleaved by time
    return transitions


def format_transitions(transitions: Iterable[AlertTransition], json: bool = False) -> str:
    """``json``: a JSON array of the transition events (docs/alerts.md); otherwise one
    line per transition: time, state, severity, rule, scope, value, threshold, message."""
    items = list(transitions)
    if json:
        payload: list[dict[str, Any]] = [t.to_json() for t in items]
        return orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode() + "\n"
    lines = []
    for t in items:
        lines.append(f"{iso(t.at_ms)}  {t.state:<9} {t.severity:<8} {t.rule_id}  "
                     f"{t.scope.label()}  value={_number(t.value)} "
                     f"threshold={_number(t.threshold)}  {t.message}")
    return "".join(line + "\n" for line in lines)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
