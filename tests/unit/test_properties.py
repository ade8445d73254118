"""Properties over generated contact-center histories.

Whatever the partitioning, arrival order (within the allowed lateness) and duplication of
the events, the streaming model (``stream_rows`` / ``stream_snapshot``), the batch report
(``report_rows`` / ``report_snapshot``) and the independent reference (tests/reference.py)
give exactly the same figures. ``status`` depends on partition clocks and is not compared.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream import report
from stream.events import EVENT_ADAPTER, AgentState, Event
from stream.metrics.definitions import INTERVAL_MS, interval_start
from stream.metrics.definitions import to_ms as live_to_ms
from stream.metrics.facts import ContactFacts
from stream.metrics.merge import Merged, closed_until
from stream.settings import QueueSettings, Settings
from tests.reference import (
    FIGURE_KEYS,
    day_holding,
    reference_rows,
    reference_snapshot,
    to_ms,
    unique_events,
)
from tests.strategies import Delivery, History, Scenario, describe, scenarios

# Deterministic and database-less, so CI runs the same examples every time.
PROFILE = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                          HealthCheck.filter_too_much])
MISSING = "<missing>"
COUNT_KEYS = ("offered", "answered", "abandoned", "short_abandoned",
              "answered_within_threshold", "abandoned_within_threshold", "judged",
              "handled", "transferred", "held")


def tenants_with_events(events: Sequence[Event]) -> list[str]:
    return sorted({e.tenant for e in events})


def without_status(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != "status"} for row in rows]


def first_difference(got: dict[str, Any], expected: dict[str, Any]) -> str:
    for key in expected:
        if got.get(key, MISSING) != expected[key]:
            return f"{key}: got {got.get(key, MISSING)!r}, expected {expected[key]!r}"
    extra = sorted(set(got) - set(expected))
    return f"extra keys {extra}" if extra else "equal"


def assert_rows_equal(got: list[dict[str, Any]], expected: list[dict[str, Any]],
                      what: str) -> None:
    def keyed(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
        return {(r["tenant"], r["queue"], r["interval_start"]): r for r in rows}

    got_k, exp_k = keyed(got), keyed(expected)
    assert len(got_k) == len(got), f"{what}: two rows for one interval"
    assert set(got_k) == set(exp_k), (
        f"{what}: rows only there {sorted(set(got_k) - set(exp_k))}, "
        f"missing {sorted(set(exp_k) - set(got_k))}")
    for key, row in exp_k.items():
        assert got_k[key] == row, f"{what} {key}: {first_difference(got_k[key], row)}"
    assert got == expected, f"{what}: rows in another order"


def assert_entries_match(got: dict[str, Any], expected: dict[str, Any], what: str) -> None:
    """Every figure the reference computes, exactly (the code may add more keys)."""
    assert set(got) == set(expected), (
        f"{what}: only there {sorted(set(got) - set(expected))}, "
        f"missing {sorted(set(expected) - set(got))}")
    for name, entry in expected.items():
        projected = {k: got[name].get(k, MISSING) for k in entry}
        assert projected == entry, f"{what}[{name!r}]: {first_difference(projected, entry)}"


SECTIONS = ("queues", "agents", "teams")


def assert_snapshot_matches(got: dict[str, Any], expected: dict[str, Any], what: str,
                            sections: Sequence[str] = SECTIONS) -> None:
    assert got["as_of_epoch"] == expected["as_of_epoch"], what
    assert got["day"] == expected["day"], what
    for section in sections:
        assert_entries_match(got[section], expected[section], f"{what} {section}")


# --------------------------------------------------------------------------- the reference

@PROFILE
@given(scenarios())
def test_the_reference_depends_only_on_the_set_of_events(scenario: Scenario) -> None:
    once = scenario.history.events
    delivered = [e for part in scenario.delivery.arrivals for e in part]
    s = scenario.history.settings
    assert reference_rows(delivered, s) == reference_rows(once, s)
    for tenant in tenants_with_events(once):
        assert reference_snapshot(delivered, s, tenant) == reference_snapshot(once, s, tenant)


@PROFILE
@given(scenarios())
def test_today_is_the_sum_of_todays_intervals(scenario: Scenario) -> None:
    events = unique_events(scenario.history.events)
    s = scenario.history.settings
    rows = reference_rows(events, s)
    for tenant in tenants_with_events(events):
        snapshot = reference_snapshot(events, s, tenant)
        now = max(to_ms(e.ts) for e in events if e.tenant == tenant)
        _day, begin, end = day_holding(now, s)
        for queue, figures in snapshot["queues"].items():
            todays = [r for r in rows if r["tenant"] == tenant and r["queue"] == queue
                      and begin <= to_ms(datetime.fromisoformat(r["interval_start"])) < end]
            for key in COUNT_KEYS:
                assert figures[key] == sum(r[key] for r in todays), (queue, key)
            assert figures["peak_waiting"] == max((r["peak_waiting"] for r in todays),
                                                  default=0)
            assert set(figures) >= set(FIGURE_KEYS)


# --------------------------------------------------------------------------- the code

def check_rows(scenario: Scenario) -> None:
    s = scenario.history.settings
    expected = reference_rows(scenario.history.events, s)
    batch = without_status(report.report_rows(list(scenario.delivery.batch), s))
    assert_rows_equal(batch, expected, "report_rows")
    streamed = without_status(report.stream_rows(
        [list(p) for p in scenario.delivery.arrivals], s))
    assert_rows_equal(streamed, expected, "stream_rows")


def check_snapshots(scenario: Scenario, sections: Sequence[str] = SECTIONS) -> None:
    s = scenario.history.settings
    arrivals = [list(p) for p in scenario.delivery.arrivals]
    for tenant in tenants_with_events(scenario.history.events):
        expected = reference_snapshot(scenario.history.events, s, tenant)
        batch = report.report_snapshot(list(scenario.delivery.batch), s, tenant)
        assert_snapshot_matches(batch, expected, f"report_snapshot({tenant})", sections)
        streamed = report.stream_snapshot(arrivals, s, tenant)
        assert_snapshot_matches(streamed, expected, f"stream_snapshot({tenant})", sections)


@PROFILE
@given(scenarios())
def test_streaming_batch_and_reference_rows_agree(scenario: Scenario) -> None:
    check_rows(scenario)


@PROFILE
@given(scenarios())
def test_streaming_batch_and_reference_snapshots_agree(scenario: Scenario) -> None:
    check_snapshots(scenario)


@PROFILE
@given(scenarios())
def test_closing_reads_only_the_intervals_that_can_close_and_agrees_with_the_merged_views(
        scenario: Scenario) -> None:
    # closed_until reads only the intervals from `since` that the slowest clock lets close,
    # without adding the views up: at every point of the stream, whatever `since`, the
    # first interval from `since` whose row the merged views show open (or the clock's
    # limit), as `closed_until_by_rows` finds it.
    s = scenario.history.settings
    lateness = int(s.allowed_lateness_s * 1000)
    arrivals = [list(p) for p in scenario.delivery.arrivals]
    for share in (0.5, 1.0):
        states = report._states([p[:round(len(p) * share)] for p in arrivals], s)
        for tenant in tenants_with_events(scenario.history.events):
            views = [state.view(tenant) for state in states]
            merged = Merged(views, len(views))
            starts = sorted({start for by in merged.intervals.values() for start in by})
            for since in [0, *starts, *(start + INTERVAL_MS for start in starts[-2:])]:
                assert (closed_until(views, lateness, len(views), since)
                        == closed_until_by_rows(merged, lateness, since)), (
                    tenant, share, since)


def closed_until_by_rows(merged: Merged, lateness_ms: int, since: int) -> int:
    """Every interval of every queue from ``since`` on, one by one in order, up to the first
    that is not closed (``Merged.closed``, the status of its row) or the slowest clock's
    limit."""
    if not merged.slowest:
        return since
    until = interval_start(max(0, merged.slowest - lateness_ms))
    for queue, by_start in merged.intervals.items():
        for start in sorted(s for s in by_start if since <= s < until):
            if not merged.closed(queue, start, lateness_ms):
                until = start
                break
    return max(since, until)


# --------------------------------------------------------------------------- small cases
# Minimal cases the properties once found, kept as plain tests.

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SMALL = Settings(timezone="UTC", queues={"billing": QueueSettings(sl_threshold_s=20)})


def ev(event_id: str, kind: str, at: float, **fields: object) -> Event:
    ts = (T0 + timedelta(seconds=at)).isoformat()
    return EVENT_ADAPTER.validate_python(
        {"type": kind, "event_id": event_id, "ts": ts, **fields})


def arriving(*partitions: list[Event], settings: Settings = SMALL) -> Scenario:
    events = tuple({e.event_id: e for p in partitions for e in p}.values())
    batch = tuple(sorted((e for p in partitions for e in p), key=lambda e: to_ms(e.ts)))
    return Scenario(History(settings, events, tuple(tenants_with_events(events))),
                    Delivery(tuple(tuple(p) for p in partitions), batch))


def test_an_older_queued_event_arriving_late_moves_the_leg_to_its_interval() -> None:
    later = ev("q2", "contact.queued", 900, contact_id="c1", queue="billing")
    earlier = ev("q1", "contact.queued", 890, contact_id="c1", queue="billing")
    check_rows(arriving([later, earlier]))


def test_an_older_agent_event_arriving_late_still_gives_its_values() -> None:
    old = ev("s1", "agent.state", 0, agent_id="a1", state="available", name="Ana",
             team="Blue", queues=["billing"])
    new = ev("s2", "agent.state", 10, agent_id="a1", state="aux", reason="break")
    check_snapshots(arriving([new, old]), sections=("agents", "teams"))


def test_an_agent_counts_up_to_its_last_change_and_its_team_up_to_stream_time() -> None:
    check_snapshots(arriving(
        [ev("s1", "agent.state", 0, agent_id="a1", state="available", name="Ana", team="Blue"),
         ev("s2", "agent.state", 30, agent_id="a1", state="on_contact")],
        [ev("q1", "contact.queued", 60, contact_id="c1", queue="billing")]),
        sections=("agents", "teams"))


def test_agent_values_at_equal_times_come_from_the_larger_event_id() -> None:
    blue = ev("ev8", "agent.state", 0, agent_id="a1", state="available", team="Blue")
    red = ev("ev12", "agent.state", 0, agent_id="a1", state="aux", team="Red")  # "ev12" < "ev8"
    check_snapshots(arriving([blue, red]), sections=("agents", "teams"))
    check_snapshots(arriving([red, blue]), sections=("agents", "teams"))


def test_todays_figures_include_the_peak_waiting() -> None:
    check_snapshots(arriving([ev("q1", "contact.queued", 0, contact_id="c1",
                                 queue="billing")]), sections=("queues",))


def test_a_short_abandon_does_not_wait() -> None:
    short = Settings(timezone="UTC", queues={"billing": QueueSettings(short_abandon_s=5)})
    check_rows(arriving([ev("q1", "contact.queued", 0, contact_id="c1", queue="billing"),
                         ev("x1", "contact.abandoned", 4.999, contact_id="c1",
                            queue="billing")], settings=short))


@PROFILE
@given(scenarios())
def test_a_contact_event_reports_a_change_exactly_when_the_contacts_facts_change(
        scenario: Scenario) -> None:
    """``ContactFacts.apply`` says whether a leg or segment changed; the partition skips the
    contribution when it says not, so it must never miss a change (duplicates included)."""
    facts: dict[tuple[str, str], ContactFacts] = {}
    for partition in scenario.delivery.arrivals:
        for event in partition:
            if isinstance(event, AgentState):
                continue
            contact = facts.setdefault((event.tenant, event.contact_id), ContactFacts())
            before = contact.dump()[1:]
            changed = contact.apply(event, to_ms(event.ts))
            assert changed == (contact.dump()[1:] != before), describe(event)


_ZONES = st.one_of(
    st.timedeltas(min_value=timedelta(hours=-23, minutes=-59),
                  max_value=timedelta(hours=23, minutes=59)).map(timezone),
    st.sampled_from([UTC, ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York"),
                     ZoneInfo("Asia/Kolkata")]),
)


@PROFILE
@given(st.lists(st.tuples(st.datetimes(min_value=datetime(1960, 1, 1),
                                       max_value=datetime(2100, 1, 1)), _ZONES),
                min_size=1, max_size=20))
def test_an_events_time_in_ms_is_the_reference_whatever_its_zone_and_the_zones_before(
        times: list[tuple[datetime, tzinfo]]) -> None:
    # to_ms keeps the last fixed offset met: zones alternate here, fixed (with seconds and
    # microseconds too) and with daylight saving, so a kept offset used for the wrong zone
    # or a date shows.
    for naive, zone in times:
        ts = naive.replace(tzinfo=zone)
        assert live_to_ms(ts) == to_ms(ts), ts


def test_an_events_time_in_ms_from_decoded_events_is_the_reference() -> None:
    texts = ["2026-11-23T08:00:00.999999Z", "2026-11-23T08:00:00.001+05:30",
             "1969-12-31T23:59:59.999500-00:00", "2026-03-29T01:59:59.9995+01:00"]
    for text in texts:
        event = EVENT_ADAPTER.validate_python({
            "event_id": "e", "type": "agent.state", "tenant": "t", "ts": text,
            "agent_id": "a", "state": "available"})
        assert live_to_ms(event.ts) == to_ms(event.ts), text
    with pytest.raises(TypeError):
        live_to_ms(datetime(2026, 1, 1))  # naive: refused, as the subtraction refuses it
