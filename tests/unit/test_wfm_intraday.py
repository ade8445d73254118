"""Intraday figures on a small recorded morning (tests/data/wfm_day.jsonl, made by
tests/data/make_recorded.py): forecast 20 contacts per interval at AHT 180 s; actual 30 in
the 09:00 interval and 15 in the first half of the 09:15 one, each handled in 200 s;
agents a1-a8 scheduled from 09:00 (a1-a7 available at 09:00, a8 at 09:10), a9 scheduled
from 09:30 and still logged out; now 09:22:30."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stream.report import read_events, report_snapshot
from stream.settings import QueueSettings, Settings
from stream.wfm import erlang

DAY_FILE = Path(__file__).parent.parent / "data" / "wfm_day.jsonl"
SETTINGS = Settings(topic_partitions=3, queues={"billing": QueueSettings(
    sl_threshold_s=20, sl_target=0.8)})


def epoch(hhmm: str) -> float:
    hours, minutes = hhmm.split(":")
    return datetime(2026, 11, 23, int(hours), int(minutes), tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def billing() -> dict[str, Any]:
    snap = report_snapshot(read_events(DAY_FILE), SETTINGS)
    return snap["intraday"]["billing"]  # type: ignore[index, no-any-return]


def needed(volume: float, aht: float) -> int:
    return erlang.agents_needed(volume / 900, aht, 20, 0.8)


def test_actual_against_forecast_so_far(billing: dict[str, Any]) -> None:
    # forecast so far: all of 09:00 and half of 09:15 -> 30; offered 45
    assert billing["forecast_so_far"] == 30.0
    assert billing["offered_so_far"] == 45
    assert billing["volume_ratio"] == 1.5
    assert billing["aht_ratio"] == pytest.approx(200 / 180, abs=1e-4)


def test_interval_rows(billing: dict[str, Any]) -> None:
    rows = {r["start_epoch"]: r for r in billing["rows"]}
    first = rows[epoch("09:00")]
    assert (first["forecast_volume"], first["actual_volume"]) == (20.0, 30)
    assert first["actual_aht_s"] == 200.0
    assert first["required"] == needed(20, 180)
    assert first["planned"] == 8.0
    assert first["staffed"] == round(7 + 5 / 15, 2)  # a8 staffed from 09:10
    current = rows[epoch("09:15")]
    assert current["actual_volume"] == 15
    assert current["staffed"] == 8.0  # over the 450 s gone
    later = rows[epoch("09:30")]
    assert later["actual_volume"] is None and later["planned"] == 9.0
    # the rest of the day re-forecast from the ratio so far (volume and AHT)
    assert later["reforecast_volume"] == 30.0
    assert later["reforecast_required"] == needed(30, 200)
    # nothing before 09:00: no row
    assert min(rows) == epoch("09:00")


def test_staffing_gap_now_and_next(billing: dict[str, Any]) -> None:
    now = billing["now"]
    # the rolling 30 min hold all 45 contacts: 90 an hour, AHT 200 s
    assert now["rate_per_h"] == 90.0 and now["aht_s"] == 200.0
    assert now["required"] == erlang.agents_needed(45 / 1800, 200, 20, 0.8) == 8
    assert now["staffed"] == 8 and now["gap"] == 0
    nxt = billing["next"]
    assert nxt["start_epoch"] == epoch("09:30")
    assert nxt["required"] == needed(30, 200) == 10
    assert nxt["planned"] == 9.0 and nxt["gap"] == -1.0


def test_service_level_drop_breakdown_adds_up(billing: dict[str, Any]) -> None:
    parts = billing["breakdown"]
    # every contact was answered in 5 s: the actual service level is 100 %
    assert parts["sl_actual"] == pytest.approx(1.0, abs=1e-3)
    # more volume, longer handling and fewer agents than planned each push it down
    assert parts["sl_plan"] == pytest.approx(
        erlang.service_level(8, 20 / 900, 180, 20), abs=1e-4)  # one interval judged
    assert parts["volume_over_forecast"] == pytest.approx(
        parts["sl_plan"] - erlang.service_level(8, 30 / 900, 180, 20), abs=1e-4)
    assert parts["aht_over_forecast"] > 0 and parts["staffing_under_plan"] > 0
    total = (parts["volume_over_forecast"] + parts["aht_over_forecast"]
             + parts["staffing_under_plan"] + parts["other"])
    assert parts["sl_plan"] - total == pytest.approx(parts["sl_actual"], abs=1e-3)


def test_queue_adherence_roll_up(billing: dict[str, Any]) -> None:
    roll = billing["adherence"]
    assert roll["agents"] == {"in": 8, "grace": 0, "out": 0, "unscheduled": 1}
    assert roll["scheduled_s"] == 8 * (22 * 60 + 30)
    assert roll["scheduled_s"] - roll["adherent_s"] == 600  # a8, 09:00-09:10
