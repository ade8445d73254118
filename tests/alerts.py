"""Alert transitions as the worker writes and publishes them, for tests of the gateway and
the page (the worker's side of the contract in docs/alerts.md, "Access")."""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aioredis

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
