"""The WFM alert rules over the small recorded morning (tests/data/wfm_day.jsonl), by
backtest: the live alert evaluation evaluates the same rules at the same instants of stream
time (docs/alerts.md section 5)."""

from __future__ import annotations

from pathlib import Path

from stream.alerts.backtest import backtest
from stream.alerts.engine import iso
from stream.alerts.metrics import Reading, Scope, get_metric
from stream.alerts.rules import default_rules
from stream.report import read_events
from tests.unit.test_wfm_intraday import DAY_FILE, SETTINGS

WFM_RULES = {"agent-out-of-adherence", "agents-short-now", "agents-short-next-interval",
             "volume-over-forecast"}


def transitions(path: Path = DAY_FILE) -> list[tuple[str, str, str, str]]:
    rules = [r for r in default_rules() if r.id in WFM_RULES]
    assert {r.id for r in rules} == WFM_RULES
    return [(t.state, t.rule_id, t.scope.label(), iso(t.at_ms)[11:19])
            for t in backtest(read_events(path), rules, SETTINGS)]


def test_the_recorded_morning_raises_the_adherence_staffing_and_volume_alerts() -> None:
    assert transitions() == [
        # the re-forecast of 09:15 (volume 150 %, AHT 111 %) needs more than the 8 planned
        ("raised", "agents-short-next-interval", "tenant=default,queue=billing", "09:01:10"),
        # a8, scheduled from 09:00, logs in at 09:10: severe after 5 min, clears on login
        ("raised", "agent-out-of-adherence", "tenant=default,team=Blue,agent=a8", "09:05:00"),
        ("cleared", "agent-out-of-adherence", "tenant=default,team=Blue,agent=a8",
         "09:10:00"),
        # 20 contacts offered (min_volume) at 09:09:30, over 115 % for 5 min
        ("raised", "volume-over-forecast", "tenant=default,queue=billing", "09:14:30"),
    ]


def test_agents_short_now_reads_the_intraday_gap() -> None:
    snapshot = {"tenant": "t", "intraday": {
        "billing": {"now": {"gap": -3}, "next": {"gap": 1.5}, "volume_ratio": 1.2,
                    "offered_so_far": 40}}}
    assert list(get_metric("queue.agents_short").extract(snapshot, 0)) == [
        Reading(Scope("t", queue="billing"), 3.0)]
    assert list(get_metric("queue.agents_short_next").extract(snapshot, 0)) == [
        Reading(Scope("t", queue="billing"), -1.5)]
    assert list(get_metric("queue.volume_vs_forecast").extract(snapshot, 0)) == [
        Reading(Scope("t", queue="billing"), 1.2, None, 40)]


def test_out_of_adherence_ticks_to_the_evaluation_time_with_the_severe_target() -> None:
    snapshot = {"tenant": "t", "adherence_thresholds": {"exception_s": 60, "severe_s": 300},
                "adherence": {
                    "a1": {"status": "out", "out_since_epoch": 100.0, "team": "Blue"},
                    "a2": {"status": "in", "out_since_epoch": None, "team": "Blue"}}}
    assert list(get_metric("agent.out_of_adherence_s").extract(snapshot, 460_000)) == [
        Reading(Scope("t", team="Blue", agent="a1"), 360.0, 300.0)]
