"""Reading intervals back: closed rows kept in Redis, open ones merged from the partitions'
views (``floorpulse intervals``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import redis

from stream.metrics.definitions import to_ms
from stream.metrics.merge import interval_rows
from stream.metrics.partition import PartitionView
from stream.report import calendar, queue_rules
from stream.settings import Settings


def read_intervals(settings: Settings, tenant: str = "default", queue: str | None = None,
                   start: datetime | None = None, end: datetime | None = None,
                   ) -> list[dict[str, Any]]:
    """Rows of intervals starting in [start, end): closed ones as they were closed, the
    others computed now from the partitions' latest views and marked ``open``."""
    _, redis_url = settings.require_servers()
    client = redis.Redis.from_url(redis_url)
    try:
        # At one instant: the closed rows with the marker a closing moves with them
        # (stream/publisher.py), and the views the open rows come from.
        pipe = client.pipeline(transaction=True)
        pipe.hgetall(settings.intervals_key(tenant))
        pipe.get(settings.closed_key(tenant))
        pipe.mget([settings.view_key(tenant, p) for p in range(settings.topic_partitions)])
        closed_raw, until_raw, views_raw = pipe.execute()
    finally:
        client.close()
    closed_until = int(until_raw) if until_raw else 0
    rows: list[dict[str, Any]] = [orjson.loads(v) for v in closed_raw.values()]
    views = [PartitionView.from_json(orjson.loads(v)) for v in views_raw if v]
    rows += interval_rows(tenant, views, calendar(settings), queue_rules(settings),
                          int(settings.allowed_lateness_s * 1000),
                          start_from=closed_until or None,
                          partitions=settings.topic_partitions)
    lo = to_ms(start) if start is not None else None
    hi = to_ms(end) if end is not None else None
    selected = []
    for row in rows:
        at = to_ms(datetime.fromisoformat(str(row["interval_start"])))
        if queue is not None and row["queue"] != queue:
            continue
        if (lo is not None and at < lo) or (hi is not None and at >= hi):
            continue
        selected.append((str(row["queue"]), at, row))
    return [row for _, _, row in sorted(selected, key=lambda s: (s[0], s[1]))]
