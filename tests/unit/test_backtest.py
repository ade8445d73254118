"""Backtest: rules over a small hand-made recorded stream, evaluated every 10 s of stream
time, raise and clear where the figures say, the same output on every run."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from stream.alerts.backtest import backtest, format_transitions
from stream.alerts.cadence import CADENCE_MS
from stream.alerts.rules import default_rules, parse_rules
from stream.events import EVENT_ADAPTER, Event
from stream.report import read_events
from stream.settings import Settings

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DATA = Path(__file__).parent.parent / "data"

RULES = parse_rules('''
[[rule]]
id = "long-wait"
metric = "queue.longest_wait_s"
op = ">"
threshold = 60
severity = "critical"
message = "{queue}: waited {value_text}"

[[rule]]
id = "break-too-long"
metric = "agent.aux_duration_s"
op = ">"
threshold = 900
message = "{agent} on {reason} for {value_text}"
scope = { reasons = ["break"] }
''')


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


def recorded() -> list[Event]:
    """09:00 an agent goes on break; 09:00:05 a call is queued, answered at 09:01:30;
    nothing then until the agent is back at 09:20; a last call at 09:20:05."""
    ids = itertools.count()

    def ev(kind: str, seconds: float, **fields: object) -> Event:
        return EVENT_ADAPTER.validate_python(
            {"type": kind, "event_id": f"e{next(ids)}", "ts": at(seconds), **fields})

    return [
        ev("agent.state", 0, agent_id="ana", state="aux", reason="break", team="Blue",
           queues=["billing"]),
        ev("agent.state", 0, agent_id="bo", state="available", team="Blue", queues=["billing"]),
        ev("contact.queued", 5, contact_id="c1", queue="billing"),
        ev("contact.answered", 90, contact_id="c1", queue="billing", agent_id="bo"),
        ev("agent.state", 90, agent_id="bo", state="on_contact"),
        ev("agent.state", 1200, agent_id="ana", state="available"),
        ev("contact.queued", 1205, contact_id="c2", queue="billing"),
    ]


def test_a_recorded_stream_raises_and_clears_at_the_expected_stream_times() -> None:
    transitions = backtest(recorded(), RULES, Settings())
    assert [(t.state, t.rule_id, t.scope.label(), at_s(t.at_ms), t.value)
            for t in transitions] == [
        # Evaluated at 09:01:10: 65 s since 09:00:05 (at 09:01:00 it was 55 s).
        ("raised", "long-wait", "tenant=default,queue=billing", 70, 65.0),
        # The answer at 09:01:30 is in the evaluation at 09:01:30.
        ("cleared", "long-wait", "tenant=default,queue=billing", 90, 0.0),
        # No events between 09:01:30 and 09:20: evaluated all the same, every 10 s.
        ("raised", "break-too-long", "tenant=default,team=Blue,agent=ana,reason=break",
         910, 910.0),
        ("cleared", "break-too-long", "tenant=default,team=Blue,agent=ana,reason=break",
         1200, None),
    ]
    assert transitions[0].message == "billing: waited 1 min 5 s"
    assert transitions[2].message == "ana on break for 15 min 10 s"


def at_s(ms: int) -> float:
    return (ms - int(T0.timestamp() * 1000)) / 1000


def test_the_same_output_on_every_run() -> None:
    first = backtest(recorded(), RULES, Settings())
    second = backtest(recorded(), RULES, Settings())
    assert first == second
    assert format_transitions(first, json=True) == format_transitions(second, json=True)
    assert format_transitions(first) == format_transitions(second)


def test_text_and_json_output() -> None:
    transitions = backtest(recorded(), RULES, Settings())
    lines = format_transitions(transitions).splitlines()
    assert lines[0] == ("2026-11-23T09:01:10.000+00:00  raised    critical long-wait  "
                        "tenant=default,queue=billing  value=65 threshold=60  "
                        "billing: waited 1 min 5 s")
    assert lines[3].startswith("2026-11-23T09:20:00.000+00:00  cleared   warning  "
                               "break-too-long  tenant=default,team=Blue,agent=ana,reason=break"
                               "  value=- threshold=900  ")
    data = orjson.loads(format_transitions(transitions, json=True))
    assert [(d["state"], d["rule_id"], d["at"]) for d in data] == [
        ("raised", "long-wait", "2026-11-23T09:01:10.000+00:00"),
        ("cleared", "long-wait", "2026-11-23T09:01:30.000+00:00"),
        ("raised", "break-too-long", "2026-11-23T09:15:10.000+00:00"),
        ("cleared", "break-too-long", "2026-11-23T09:20:00.000+00:00"),
    ]
    assert format_transitions([]) == ""


def test_the_cadence_sets_the_evaluation_instants() -> None:
    assert CADENCE_MS == 10_000
    # Every minute: the call answered at 09:01:30 had waited 55 s at 09:01:00, and was
    # answered by 09:02:00; the break is seen over its limit at 09:16:00.
    transitions = backtest(recorded(), RULES, Settings(), cadence_ms=60_000)
    assert [(t.state, t.rule_id, at_s(t.at_ms)) for t in transitions] == [
        ("raised", "break-too-long", 960), ("cleared", "break-too-long", 1200)]
    with pytest.raises(ValueError, match="cadence"):
        backtest([], RULES, Settings(), cadence_ms=0)


def test_the_partition_count_does_not_change_a_clean_stream() -> None:
    one = backtest(recorded(), RULES, Settings(topic_partitions=1))
    many = backtest(recorded(), RULES, Settings(topic_partitions=8))
    assert one == many


def test_tenants_are_evaluated_on_their_own_stream_time() -> None:
    events = recorded()
    other = [e.model_copy(update={"tenant": "acme", "ts": e.ts + timedelta(hours=1)})
             for e in events]
    transitions = backtest(events + other, RULES, Settings())
    assert [(t.scope.tenant, at_s(t.at_ms)) for t in transitions] == [
        ("default", 70), ("default", 90), ("default", 910), ("default", 1200),
        ("acme", 3670), ("acme", 3690), ("acme", 4510), ("acme", 4800)]


def test_the_defaults_over_a_recorded_day_are_stable() -> None:
    events = list(read_events(DATA / "day_small.jsonl"))
    first = format_transitions(backtest(events, default_rules(), Settings()), json=True)
    assert first == format_transitions(backtest(events, default_rules(), Settings()), json=True)
    for item in orjson.loads(first):
        assert item["state"] in ("raised", "cleared")
