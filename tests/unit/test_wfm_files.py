"""Schedule and forecast events and files: validation, keys, loaders, the command."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

from stream.cli import main
from stream.events import (
    ForecastPublished,
    SchedulePublished,
    agent_key,
    decode_message,
    event_key,
    queue_key,
    raw_key,
)
from stream.wfm.loaders import PlanFileError, load_forecast, load_schedule

PARIS = ZoneInfo("Europe/Paris")
PUBLISHED = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def schedule_body(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "type": "schedule.published", "event_id": "s1", "ts": "2026-11-23T06:00:00Z",
        "agent_id": "a1", "segments": [
            {"start": "2026-11-23T09:00:00Z", "end": "2026-11-23T10:00:00Z",
             "activity": "open"},
            {"start": "2026-11-23T10:00:00Z", "end": "2026-11-23T10:15:00Z",
             "activity": "break"}]}
    body.update(changes)
    return body


def test_a_schedule_goes_to_its_agents_partition_and_a_forecast_to_its_queues() -> None:
    events, rejects = decode_message(orjson.dumps(schedule_body()))
    assert not rejects and isinstance(events[0], SchedulePublished)
    assert event_key(events[0]) == agent_key("default", "a1") == raw_key(schedule_body())
    forecast = {"type": "forecast.published", "event_id": "f1", "ts": "2026-11-23T06:00:00Z",
                "queue": "billing", "intervals": [
                    {"start": "2026-11-23T09:00:00Z", "volume": 20, "aht_s": 180}]}
    events, rejects = decode_message(orjson.dumps(forecast))
    assert not rejects and isinstance(events[0], ForecastPublished)
    assert event_key(events[0]) == queue_key("default", "billing") == raw_key(forecast)


@pytest.mark.parametrize(("body", "reason"), [
    (schedule_body(segments=[
        {"start": "2026-11-23T09:00:00Z", "end": "2026-11-23T10:00:00Z", "activity": "open"},
        {"start": "2026-11-23T09:30:00Z", "end": "2026-11-23T10:30:00Z", "activity": "break"}]),
     "segments overlap at 2026-11-23T09:30:00+00:00"),
    (schedule_body(segments=[
        {"start": "2026-11-23T10:00:00Z", "end": "2026-11-23T09:00:00Z", "activity": "open"}]),
     "a segment must end after it starts"),
    (schedule_body(segments=[]), "a schedule without segments needs covers_from and covers_to"),
    ({"type": "forecast.published", "event_id": "f1", "ts": "2026-11-23T06:00:00Z",
      "queue": "billing", "intervals": [
          {"start": "2026-11-23T09:05:00Z", "volume": 20, "aht_s": 180}]},
     "an interval starts on the quarter hour"),
])
def test_invalid_plans_are_dead_lettered_with_a_reason(body: dict[str, object],
                                                       reason: str) -> None:
    events, rejects = decode_message(orjson.dumps(body))
    assert not events
    assert reason in rejects[0].reason


def test_schedule_from_csv_one_event_per_agent_in_the_centers_zone(tmp_path: Path) -> None:
    path = tmp_path / "schedule.csv"
    path.write_text("activity,agent_id,start,end,comment\n"
                    "open,a1,2026-11-23T09:00,2026-11-23T12:00,\n"
                    "lunch,a1,2026-11-23T12:00,2026-11-23T12:30,\n"
                    "open,a2,2026-11-23T10:00:00Z,2026-11-23T18:00:00Z,late shift\n")
    events = load_schedule(path, PARIS, PUBLISHED)
    assert [e.agent_id for e in events] == ["a1", "a2"]
    assert events[0].segments[0].start == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    assert [s.activity for s in events[0].segments] == ["open", "lunch"]
    assert events[0].ts == PUBLISHED and events[0].event_id != events[1].event_id


def test_forecast_from_json(tmp_path: Path) -> None:
    path = tmp_path / "forecast.json"
    path.write_bytes(orjson.dumps([
        {"queue": "billing", "interval_start": "2026-11-23T09:00:00Z", "volume": 20,
         "aht_s": 180},
        {"queue": "sales", "interval_start": "2026-11-23T09:00:00Z", "volume": "7.5",
         "aht_s": 240}]))
    events = load_forecast(path, PARIS, PUBLISHED)
    assert {e.queue: e.intervals[0].volume for e in events} == {"billing": 20.0, "sales": 7.5}


def test_every_problem_of_a_file_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "forecast.csv"
    path.write_text("queue,interval_start,volume,aht_s\n"
                    "billing,2026-11-23T09:00:00Z,20,180\n"
                    "billing,tomorrow,20,180\n"
                    ",2026-11-23T09:15:00Z,20,180\n"
                    "billing,2026-11-23T09:15:00Z,many,180\n")
    with pytest.raises(PlanFileError) as caught:
        load_forecast(path, PARIS, PUBLISHED)
    assert caught.value.problems == [
        f"{path}:3: 'interval_start' is not a time: 'tomorrow'",
        f"{path}:4: 'queue' is empty",
        f"{path}:5: 'volume' is not a number: 'many'",
    ]
    bad_header = tmp_path / "schedule.csv"
    bad_header.write_text("agent,start,end,activity\n")
    with pytest.raises(PlanFileError, match="the header lacks 'agent_id'"):
        load_schedule(bad_header, PARIS, PUBLISHED)


def test_the_command_writes_the_events(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    source = tmp_path / "schedule.json"
    source.write_bytes(orjson.dumps([{"agent_id": "a1", "start": "2026-11-23T09:00:00Z",
                                      "end": "2026-11-23T17:00:00Z", "activity": "open"}]))
    out = tmp_path / "events.jsonl"
    assert main(["schedule", str(source), "--published", "2026-11-23T07:00:00+00:00",
                 "--out", str(out)]) == 0
    [line] = out.read_bytes().splitlines()
    events, rejects = decode_message(line)
    assert not rejects and isinstance(events[0], SchedulePublished)
    assert events[0].ts == datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    source.write_bytes(b"{}")
    assert main(["schedule", str(source), "--out", str(out)]) == 2
    assert "a JSON file holds an array of rows" in capsys.readouterr().err
