"""Schedules and forecasts from files (CSV or JSON) as events (docs/metrics.md section 5,
"Files").

Schedule file: one row per segment, columns ``agent_id, start, end, activity``. Forecast
file: one row per queue and interval, columns ``queue, interval_start, volume, aht_s``.
CSV has a header line naming the columns (in any order; other columns are ignored); JSON is
an array of objects with the same fields. Times are ISO 8601; a time without an offset is
in the center's time zone.

A schedule file becomes one ``schedule.published`` event per agent, a forecast file one
``forecast.published`` event per queue, all published at the same time (``published``,
default now): so loading a file again later re-publishes it. Every problem in a file is
reported at once, each with its line (CSV) or item (JSON)::

    ValueError
    └── PlanFileError   ``problems``: ["schedule.csv:3: 'end' is not a time: '25:00'", ...]
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from stream.events import (
    DEFAULT_TENANT,
    EVENT_ADAPTER,
    Event,
    ForecastPublished,
    SchedulePublished,
    describe_error,
)

SCHEDULE_COLUMNS = ("agent_id", "start", "end", "activity")
FORECAST_COLUMNS = ("queue", "interval_start", "volume", "aht_s")


class PlanFileError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def _rows(path: Path, columns: tuple[str, ...],
          problems: list[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(where, row) of a CSV or JSON file."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        problems.append(f"{path}: cannot read: {exc.strerror or exc}")
        return
    if path.suffix.lower() == ".json":
        try:
            items = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            problems.append(f"{path}: not JSON: {exc}")
            return
        if not isinstance(items, list):
            problems.append(f"{path}: a JSON file holds an array of rows")
            return
        for i, item in enumerate(items):
            where = f"{path}: item {i}"
            if not isinstance(item, dict):
                problems.append(f"{where}: a row is a JSON object")
                continue
            missing = [c for c in columns if c not in item]
            if missing:
                problems.append(f"{where}: missing {', '.join(map(repr, missing))}")
                continue
            yield where, item
        return
    reader = csv.DictReader(io.StringIO(text.decode("utf-8-sig")))
    header = reader.fieldnames or []
    missing = [c for c in columns if c not in header]
    if missing:
        problems.append(f"{path}:1: the header lacks {', '.join(map(repr, missing))} "
                        f"(columns: {', '.join(columns)})")
        return
    for row in reader:
        yield f"{path}:{reader.line_num}", row


def _time(value: object, zone: tzinfo) -> datetime:
    if isinstance(value, datetime):
        when = value
    else:
        when = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    return when if when.tzinfo is not None else when.replace(tzinfo=zone)


def _validate(body: dict[str, object], where: str, problems: list[str]) -> Event | None:
    try:
        return EVENT_ADAPTER.validate_python(body)
    except ValidationError as exc:
        problems.append(f"{where}: {describe_error(exc)}")
        return None


def load_schedule(path: Path, zone: tzinfo, published: datetime,
                  tenant: str = DEFAULT_TENANT) -> list[SchedulePublished]:
    """One ``schedule.published`` event per agent of the file."""
    problems: list[str] = []
    segments: dict[str, list[dict[str, object]]] = {}
    first_row: dict[str, str] = {}
    for where, row in _rows(path, SCHEDULE_COLUMNS, problems):
        agent = str(row["agent_id"] or "").strip()
        if not agent:
            problems.append(f"{where}: 'agent_id' is empty")
            continue
        times = []
        for column in ("start", "end"):
            try:
                times.append(_time(row[column], zone).isoformat())
            except (TypeError, ValueError):
                problems.append(f"{where}: {column!r} is not a time: {row[column]!r}")
        if len(times) == 2:
            segments.setdefault(agent, []).append(
                {"start": times[0], "end": times[1], "activity": str(row["activity"]).strip()})
            first_row.setdefault(agent, where)
    stamp = _time(published, zone)
    ms = int(stamp.timestamp() * 1000)
    events: list[SchedulePublished] = []
    for agent, items in segments.items():
        event = _validate({"type": "schedule.published", "event_id": f"schedule-{agent}-{ms}",
                           "ts": stamp.isoformat(), "tenant": tenant, "agent_id": agent,
                           "segments": items}, f"{first_row[agent]} (agent {agent!r})",
                          problems)
        if isinstance(event, SchedulePublished):
            events.append(event)
    if problems:
        raise PlanFileError(problems)
    return events


def load_forecast(path: Path, zone: tzinfo, published: datetime,
                  tenant: str = DEFAULT_TENANT) -> list[ForecastPublished]:
    """One ``forecast.published`` event per queue of the file."""
    problems: list[str] = []
    intervals: dict[str, list[dict[str, object]]] = {}
    first_row: dict[str, str] = {}
    for where, row in _rows(path, FORECAST_COLUMNS, problems):
        queue = str(row["queue"] or "").strip()
        if not queue:
            problems.append(f"{where}: 'queue' is empty")
            continue
        try:
            start = _time(row["interval_start"], zone).isoformat()
        except (TypeError, ValueError):
            problems.append(f"{where}: 'interval_start' is not a time: "
                            f"{row['interval_start']!r}")
            continue
        numbers: list[float] = []
        for column in ("volume", "aht_s"):
            try:
                numbers.append(float(row[column]))
            except (TypeError, ValueError):
                problems.append(f"{where}: {column!r} is not a number: {row[column]!r}")
        if len(numbers) == 2:
            intervals.setdefault(queue, []).append(
                {"start": start, "volume": numbers[0], "aht_s": numbers[1]})
            first_row.setdefault(queue, where)
    stamp = _time(published, zone)
    ms = int(stamp.timestamp() * 1000)
    events: list[ForecastPublished] = []
    for queue, items in intervals.items():
        event = _validate({"type": "forecast.published", "event_id": f"forecast-{queue}-{ms}",
                           "ts": stamp.isoformat(), "tenant": tenant, "queue": queue,
                           "intervals": items}, f"{first_row[queue]} (queue {queue!r})",
                          problems)
        if isinstance(event, ForecastPublished):
            events.append(event)
    if problems:
        raise PlanFileError(problems)
    return events
