"""The simulator's published plans: schedules that fit its agents, forecasts that fit its
arrivals, some agents out of adherence and some intervals over forecast."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from producers.simulator import default_config, simulate
from stream.events import EVENT_ADAPTER, Event, ForecastPublished, SchedulePublished
from stream.metrics.definitions import Calendar, to_ms
from stream.report import report_snapshot
from stream.settings import Settings
from stream.wfm.adherence import adherence_at
from stream.wfm.config import WfmRules
from stream.wfm.schedule import ScheduleFacts
from stream.wfm.state import publication

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def day() -> list[Event]:
    config = default_config(hours=8, seed=5, start=START, agents=30)
    return [EVENT_ADAPTER.validate_python(e) for e in simulate(config)]


def test_plans_do_not_change_the_contacts_and_agent_states() -> None:
    config = default_config(hours=2, seed=9, start=START, agents=12)
    with_plans = [e for e in simulate(config)
                  if e["type"] not in ("schedule.published", "forecast.published")]
    assert with_plans == list(simulate(replace(config, wfm=False)))


def test_every_agent_who_works_has_a_schedule_covering_the_shift(day: list[Event]) -> None:
    schedules = {e.agent_id: e for e in day if isinstance(e, SchedulePublished)}
    logged_in = {e.agent_id for e in day if e.type == "agent.state" and e.state != "logged_out"}
    assert logged_in <= set(schedules)
    for event in schedules.values():
        activities = {s.activity for s in event.segments}
        assert "open" in activities and activities <= {"open", "break", "lunch", "meeting",
                                                        "training"}


def test_forecasts_follow_the_arrivals(day: list[Event]) -> None:
    forecasts = {e.queue: e for e in day if isinstance(e, ForecastPublished)}
    offered: dict[str, int] = {}
    for e in day:
        if e.type == "contact.queued":
            offered[e.queue] = offered.get(e.queue, 0) + 1
    for queue, forecast in forecasts.items():
        total = sum(i.volume for i in forecast.intervals)
        # within a third: retries and transfers come on top, some intervals forecast low
        assert 0.75 < offered[queue] / total < 1.33, queue


def test_some_agents_go_out_of_adherence_and_some_intervals_run_over(
        day: list[Event]) -> None:
    snap = report_snapshot(day, Settings())
    rules = WfmRules()
    facts: dict[str, ScheduleFacts] = {}
    cal = Calendar(ZoneInfo("UTC"))
    marks: dict[str, list[tuple[int, str, str, str | None]]] = {}
    for e in day:
        if isinstance(e, SchedulePublished):
            facts.setdefault(e.agent_id, ScheduleFacts()).add(publication(e, cal))
        elif e.type == "agent.state":
            marks.setdefault(e.agent_id, []).append((to_ms(e.ts), e.event_id, e.state,
                                                     e.reason))
    lo = to_ms(START.replace(hour=0))
    noon = to_ms(START.replace(hour=13))
    severe = 0  # agents out of adherence for 15 min or more by 13:00
    for agent, schedule in facts.items():
        pieces = schedule.pieces(lo, lo + 86_400_000)
        figures = adherence_at(pieces, sorted(marks.get(agent, [])), lo, noon, rules)
        severe += figures.out_ms >= 3 * rules.severe_ms
    assert 2 <= severe < len(facts) // 2
    rows = [r for entry in snap["intraday"].values() for r in entry["rows"]  # type: ignore[union-attr]
            if r["forecast_volume"] and r["actual_volume"] is not None]
    over = [r for r in rows if r["actual_volume"] > 1.3 * r["forecast_volume"]]
    assert 0.05 * len(rows) < len(over) < 0.5 * len(rows)
