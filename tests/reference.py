"""A deliberately plain reference for the day's figures, written from the definitions in
docs/metrics.md. It shares no code with the streaming path: it reads JSON dicts with the
standard library and recomputes everything from scratch."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def read_valid_events(path: Path) -> list[dict[str, object]]:
    """Lines that are JSON objects with the fields the reference needs (others are the
    worker's dead letters and do not count)."""
    events = []
    for line in path.read_text().splitlines():
        try:
            obj = json.loads(line)
            parse_ts(obj["ts"])
        except (ValueError, KeyError, TypeError):
            continue
        if isinstance(obj, dict) and parse_ts(obj["ts"]).tzinfo is not None:
            events.append(obj)
    return events


def day_figures(events: list[dict[str, object]], zone: str = "UTC",
                thresholds: dict[str, float] | None = None,
                default_threshold: float = 20.0) -> dict[str, dict[str, object]]:
    """Per queue: today's figures, where today is the center's day of the latest event."""
    tz = ZoneInfo(zone)
    unique = {str(e["event_id"]): e for e in events}.values()  # same id = same event
    now = max(parse_ts(str(e["ts"])) for e in unique)
    today = now.astimezone(tz).date()
    day_start = datetime(today.year, today.month, today.day, tzinfo=tz)
    day_end = datetime.combine(today + timedelta(days=1), datetime.min.time(), tz)

    queued: dict[tuple[str, str], datetime] = {}
    answers: dict[tuple[str, str], tuple[datetime, str]] = {}
    abandons: dict[tuple[str, str], datetime] = {}
    wraps: dict[tuple[str, str], datetime] = {}

    def earliest(table: dict, key: object, value: datetime) -> None:  # type: ignore[type-arg]
        if key not in table or value < table[key]:
            table[key] = value

    for e in unique:
        ts = parse_ts(str(e["ts"]))
        kind = e["type"]
        cid = str(e.get("contact_id"))
        if kind == "contact.queued":
            earliest(queued, (cid, str(e["queue"])), ts)
        elif kind == "contact.transferred" and e.get("to_queue"):
            earliest(queued, (cid, str(e["to_queue"])), ts)
        elif kind == "contact.answered":
            key = (cid, str(e["queue"]))
            candidate = (ts, str(e["agent_id"]))
            if key not in answers or candidate < answers[key]:
                answers[key] = candidate
        elif kind == "contact.abandoned":
            earliest(abandons, (cid, str(e["queue"])), ts)
        elif kind == "contact.wrapped":
            earliest(wraps, (cid, str(e["agent_id"])), ts)

    figures: dict[str, dict[str, object]] = {}
    for (cid, queue), q_ts in queued.items():
        if not (day_start <= q_ts < day_end):
            continue
        f = figures.setdefault(queue, {"offered": 0, "answered": 0, "abandoned": 0,
                                       "within": 0, "wait": 0.0, "handled": 0, "handle": 0.0})
        f["offered"] += 1  # type: ignore[operator]
        threshold = (thresholds or {}).get(queue, default_threshold)
        if (cid, queue) in answers:
            a_ts, agent = answers[(cid, queue)]
            wait = max(0.0, (a_ts - q_ts).total_seconds())
            f["answered"] += 1  # type: ignore[operator]
            f["wait"] += wait  # type: ignore[operator]
            if wait <= threshold:
                f["within"] += 1  # type: ignore[operator]
            if (cid, agent) in wraps:
                f["handled"] += 1  # type: ignore[operator]
                f["handle"] += max(0.0, (wraps[(cid, agent)] - a_ts).total_seconds())  # type: ignore[operator]
        elif (cid, queue) in abandons:
            f["abandoned"] += 1  # type: ignore[operator]

    out: dict[str, dict[str, object]] = {}
    for queue, f in figures.items():
        offered, answered, handled = f["offered"], f["answered"], f["handled"]
        out[queue] = {
            "offered": offered,
            "answered": answered,
            "abandoned": f["abandoned"],
            "answered_within_threshold": f["within"],
            "handled": handled,
            "service_level": round(f["within"] / offered, 4) if offered else None,  # type: ignore[operator]
            "asa_s": round(f["wait"] / answered, 3) if answered else None,  # type: ignore[operator]
            "aht_s": round(f["handle"] / handled, 3) if handled else None,  # type: ignore[operator]
            "abandon_rate": round(f["abandoned"] / offered, 4) if offered else None,  # type: ignore[operator]
        }
    return out


def waiting_now(events: list[dict[str, object]]) -> dict[str, int]:
    """Contacts queued with neither answer nor abandon, per queue."""
    unique = {str(e["event_id"]): e for e in events}.values()
    queued: set[tuple[str, str]] = set()
    done: set[tuple[str, str]] = set()
    for e in unique:
        cid = str(e.get("contact_id"))
        if e["type"] == "contact.queued":
            queued.add((cid, str(e["queue"])))
        elif e["type"] == "contact.transferred" and e.get("to_queue"):
            queued.add((cid, str(e["to_queue"])))
        elif e["type"] in ("contact.answered", "contact.abandoned"):
            done.add((cid, str(e["queue"])))
    counts: dict[str, int] = {}
    for _cid, queue in queued - done:
        counts[queue] = counts.get(queue, 0) + 1
    return counts
