"""Alert transitions as the worker writes and publishes them, for tests of the gateway and
the page (the worker's side of the contract in docs/alerts.md, "Access"), and recorded
streams that trip default rules, for tests of the live evaluation: three of the contact
center's (``alerting_stream``) and the four of workforce management
(``wfm_alerting_stream``)."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import redis
import redis.asyncio as aioredis
from kafka import KafkaConsumer

from stream.alerts.backtest import backtest
from stream.alerts.rules import default_config
from stream.events import EVENT_ADAPTER
from stream.kafka import EventSender
from stream.settings import Settings

Json = dict[str, Any]


def transition(alert_id: str, state: str = "raised", audience: list[str] | None = None,
               tenant: str = "default", queue: str | None = None, team: str | None = None,
               agent: str | None = None, severity: str = "warning", **fields: Any) -> Json:
    """An alert transition as the worker publishes it (AlertTransition.to_json())."""
    data: Json = {
        "type": "alert", "state": state, "at": "2026-11-23T08:00:00.000+00:00",
        "at_ms": 1795420800000, "alert_id": alert_id, "rule_id": alert_id.split("-")[0],
        "metric": "queue.waiting", "severity": severity,
        "audience": audience or ["supervisor"],
        "scope": {"tenant": tenant, "queue": queue, "team": team, "agent": agent,
                  "reason": None},
        "value": 12.0, "worst_value": 12.0, "threshold": 10.0, "clear_threshold": 6.0,
        "condition": "queue.waiting >= 10 for 1 min", "message": f"{alert_id}: 12 waiting",
        "held_since": "2026-11-23T07:59:00.000+00:00",
        "raised_at": "2026-11-23T08:00:00.000+00:00", "acknowledged_at": None,
        "acknowledged_by": None, "comment": None, "cleared_at": None,
    }
    data.update(fields)
    return data


async def publish_alert(redis: aioredis.Redis, settings: Settings, data: Json) -> None:
    """As the worker does: the open-alerts hash first, then the channel."""
    tenant = data["scope"]["tenant"]
    if data["state"] == "cleared":
        await redis.hdel(settings.alerts_key(tenant), data["alert_id"])
    else:
        await redis.hset(settings.alerts_key(tenant), data["alert_id"], orjson.dumps(data))
    await redis.publish(settings.alerts_channel(tenant), orjson.dumps(data))


ALERTING_START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def alerting_stream(start: datetime = ALERTING_START,
                    tenant: str = "default") -> list[Json]:
    """A recorded stream that trips three default rules (docs/alerts.md, "Defaults"):
    twelve calls queued in billing in the first 16 s with nobody to answer them
    (``contacts-waiting-high``, then ``longest-wait-high``), answered from 200 s to 400 s;
    an agent on break from 0 s to 1200 s, with no events between 400 s and 1200 s
    (``break-too-long`` raised in that stretch); a last call at 1205.5 s. Times are
    seconds from ``start``."""
    ids = itertools.count()
    events: list[Json] = []

    def ev(kind: str, seconds: float, **fields: object) -> None:
        ts = (start + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")
        events.append({"type": kind, "event_id": f"{tenant}-{next(ids)}", "ts": ts,
                       "tenant": tenant, **fields})

    helpers = ["bo", "cy", "di", "ed", "fi", "gu", "ha", "ik", "jo", "ko", "li", "mo"]
    ev("agent.state", 0, agent_id="ana", state="aux", reason="break", team="Blue",
       queues=["billing"], name="Ana")
    for second in range(12):
        ev("contact.queued", 5 + second, contact_id=f"c{second:02d}", queue="billing")
    answers = [200, 200, 200, 250, 250, 250, 310, 310, 310, 400, 400, 400]
    for n, (agent, second) in enumerate(zip(helpers, answers, strict=True)):
        if n % 3 == 0:
            for late in helpers[n:n + 3]:
                ev("agent.state", second, agent_id=late, state="available", team="Green",
                   queues=["billing"])
        ev("contact.answered", second, contact_id=f"c{n:02d}", queue="billing", agent_id=agent)
        ev("agent.state", second, agent_id=agent, state="on_contact")
    ev("agent.state", 1200, agent_id="ana", state="available")
    ev("contact.queued", 1205.5, contact_id="c12", queue="billing")
    return events


WFM_DAY_FILE = Path(__file__).parent / "data" / "wfm_day.jsonl"
WFM_HUDDLE = ("a2", "a3", "a4", "a5")


def wfm_alerting_stream() -> list[Json]:
    """The recorded morning of ``tests/data/wfm_day.jsonl`` (billing forecast at 20 contacts
    an interval, 30 come in the 09:00 one; a8 logs in 10 min late, so the next interval is
    short from the start), with an unscheduled team meeting: a2-a5 leave for aux "meeting"
    from 09:06 to 09:14, so with the default rules (docs/alerts.md, "Defaults") and billing
    at 80 % in 20 s:

    - ``agents-short-next-interval`` raised at 09:01:10 and still open at the end;
    - ``agent-out-of-adherence``: a8 raised at 09:05, cleared at 09:10; a2-a5 raised at
      09:11 and cleared at 09:14;
    - ``agents-short-now`` raised at 09:08:30 (three agents staffed for a load that needs
      more), cleared at 09:16;
    - ``volume-over-forecast`` raised at 09:14:30 and still open.

    A last event at 09:22:35 closes the instant of 09:22:30 (the file's last event), live
    as in the backtest."""
    events = [orjson.loads(line) for line in WFM_DAY_FILE.read_bytes().splitlines() if line]
    day = "2026-11-23T"
    for n, agent in enumerate(WFM_HUDDLE):
        events.append({"event_id": f"huddle-{n}", "type": "agent.state", "ts": f"{day}09:06:00Z",
                       "agent_id": agent, "state": "aux", "reason": "meeting"})
        events.append({"event_id": f"back-{n}", "type": "agent.state", "ts": f"{day}09:14:00Z",
                       "agent_id": agent, "state": "available"})
    events.append({"event_id": "last", "type": "agent.state", "ts": f"{day}09:22:35Z",
                   "agent_id": "a9", "state": "available"})
    events.sort(key=lambda e: datetime.fromisoformat(e["ts"]))  # stable: the file's order
    return events


def write_jsonl(path: Path, events: list[Json]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return path


# ------------------------------------------------ the worker's outputs, in integration tests
def expected(events: list[Json], settings: Settings) -> list[Json]:
    """The backtest's transitions over ``events`` with the shipped rules and QA flags (what a
    worker with the default rules file raises), as JSON."""
    config = default_config()
    return [t.to_json() for t in backtest(
        [EVENT_ADAPTER.validate_python(e) for e in events], config.rules, settings,
        flags=config.flags)]


def still_open(transitions: list[Json]) -> dict[str, Json]:
    """The alerts the transitions leave open: alert id -> its raise."""
    cleared = {t["alert_id"] for t in transitions if t["state"] == "cleared"}
    return {t["alert_id"]: t for t in transitions
            if t["state"] == "raised" and t["alert_id"] not in cleared}


class AlertsTopic:
    """The alerts topic, read from the start."""

    def __init__(self, settings: Settings) -> None:
        self.consumer = KafkaConsumer(settings.topic_alerts,
                                      bootstrap_servers=settings.kafka_bootstrap,
                                      auto_offset_reset="earliest", consumer_timeout_ms=500)
        self.records: list[Json] = []

    def read(self, count: int, timeout: float = 30.0) -> list[Json]:
        """Until at least ``count`` records have come (and none for the last 0.5 s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = len(self.records)
            self.records.extend(orjson.loads(m.value) for m in self.consumer)
            if len(self.records) >= count and len(self.records) == before:
                break
        return self.records

    def close(self) -> None:
        self.consumer.close()


def open_alerts(settings: Settings, tenant: str = "default") -> dict[str, Json]:
    """The worker's open alerts in Redis: alert id -> latest transition."""
    assert settings.redis_url is not None
    with redis.Redis.from_url(settings.redis_url) as client:
        raw = client.hgetall(settings.alerts_key(tenant))
    return {k.decode(): orjson.loads(v) for k, v in raw.items()}


def send(settings: Settings, events: list[Json]) -> None:
    """Events onto the events topic, now (as ``floorpulse replay`` without waiting)."""
    sender = EventSender(settings)
    try:
        sender.send_all(events)
        sender.flush()
    finally:
        sender.close()
