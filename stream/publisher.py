"""Publish live state to Redis: the snapshot key and the updates channel per tenant
(docs/live-state.md), coalesced to at most one write per tenant per publish interval."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
import redis.asyncio as aioredis

from stream.metrics.live import SECTIONS, diff_snapshots
from stream.settings import Settings

logger = logging.getLogger(__name__)


class RedisPublisher:
    def __init__(self, settings: Settings, client: aioredis.Redis) -> None:
        self.settings = settings
        self.redis = client
        self.last: dict[str, dict[str, Any]] = {}
        self.seq: dict[str, int] = {}
        self.published_at: dict[str, float] = {}

    def due(self, tenant: str, now: float) -> bool:
        """Whether a heartbeat is due for the tenant."""
        return now - self.published_at.get(tenant, 0.0) >= self.settings.heartbeat_s

    async def _next_seq(self, tenant: str) -> int:
        seq = self.seq.get(tenant)
        if seq is None:
            # Continue the sequence a previous worker left, so gateways keep merging.
            raw = await self.redis.get(self.settings.snapshot_key(tenant))
            seq = int(orjson.loads(raw).get("seq", 0)) if raw else 0
        seq += 1
        self.seq[tenant] = seq
        return seq

    async def publish(self, snapshots: dict[str, dict[str, Any]],
                      progress: dict[str, Any], markers: dict[str, set[int]]) -> int:
        """Write every snapshot that changed; then acknowledge the replay markers.
        Returns how many tenants were written."""
        written = 0
        now = time.time()
        pipe = self.redis.pipeline(transaction=False)
        for tenant, snapshot in snapshots.items():
            snapshot.update(progress)
            snapshot["published_at"] = now
            update = diff_snapshots(self.last.get(tenant), snapshot)
            if (tenant in self.last and not self.due(tenant, now)
                    and not _changed(update, self.last[tenant], snapshot)):
                continue
            seq = await self._next_seq(tenant)
            snapshot["seq"] = update["seq"] = seq
            pipe.set(self.settings.snapshot_key(tenant), orjson.dumps(snapshot))
            pipe.publish(self.settings.updates_channel(tenant), orjson.dumps(update))
            pipe.sadd(self.settings.tenants_key, tenant)
            self.last[tenant] = snapshot
            self.published_at[tenant] = now
            written += 1
        pipe.hset(self.settings.progress_key, mapping=progress)  # type: ignore[arg-type]
        for marker, partitions in markers.items():
            acks: dict[str | bytes, int] = {str(p): 1 for p in partitions}
            pipe.hset(self.settings.marker_key(marker), mapping=acks)  # type: ignore[arg-type]
            pipe.expire(self.settings.marker_key(marker), 3600)
        await pipe.execute()
        return written


def _changed(update: dict[str, Any], old: dict[str, Any], new: dict[str, Any]) -> bool:
    if any(update[s] for s in SECTIONS) or any(update["removed"][s] for s in SECTIONS):
        return True
    return any(old.get(k) != v for k, v in new.items()
               if k not in SECTIONS and k not in ("seq", "published_at"))
