"""Two workers closing intervals in the same Redis (stream/publisher.py, ``CLOSE_SCRIPT``),
against the real Redis.

A worker whose partitions are a day ahead closes yesterday's intervals, then prunes them
from its state, so the view it writes no longer carries them. Another worker that has not
seen that closing yet must not close those intervals again from that view: its rows would
count only its own partitions' contacts, written over the right ones."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import redis.asyncio as aioredis

from stream.embedded import EmbeddedServer
from stream.events import EVENT_ADAPTER
from stream.metrics.definitions import to_ms
from stream.metrics.partition import PartitionState
from stream.publisher import RedisPublisher
from stream.report import new_partition_state
from stream.settings import Settings

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ROW = "billing|2026-11-23T09:00:00+00:00"
_ids = itertools.count()
_names = itertools.count()


def apply(live: PartitionState, kind: str, at: datetime, **fields: str) -> None:
    live.apply(EVENT_ADAPTER.validate_python({
        "type": kind, "event_id": f"e{next(_ids)}", "ts": at.isoformat(), **fields}))


def abandoned(state: PartitionState, contact: str) -> None:
    """A contact of the 09:00 interval: queued, then lost after 30 s."""
    apply(state, "contact.queued", T0, contact_id=contact, queue="billing")
    apply(state, "contact.abandoned", T0 + timedelta(seconds=30), contact_id=contact,
          queue="billing")


class Workers:
    """Worker X owns partition 0, still on the first day; worker Y owns partition 1, a day
    ahead. Both have one contact in billing's 09:00 interval."""

    def __init__(self, redis: aioredis.Redis, redis_server: EmbeddedServer) -> None:
        self.settings = Settings(
            redis_url=f"redis://{redis_server.host}:{redis_server.port}/0",
            redis_prefix=f"closing{next(_names)}", topic_partitions=2, allowed_lateness_s=60)
        self.redis = redis
        self.sent: dict[str, list[bytes]] = {"x": [], "y": []}
        self.x_state = new_partition_state(self.settings)
        self.y_state = new_partition_state(self.settings)
        self.x = RedisPublisher(self.settings, redis, self.sender("x"))
        self.y = RedisPublisher(self.settings, redis, self.sender("y"))
        abandoned(self.x_state, "on-0")
        abandoned(self.y_state, "on-1")
        apply(self.x_state, "agent.state", T0 + timedelta(hours=1), agent_id="a0",
              state="available")
        apply(self.y_state, "agent.state", T0 + timedelta(days=1), agent_id="a1",
              state="available")

    def sender(self, name: str) -> Callable[[bytes, bytes], Awaitable[None]]:
        async def send(key: bytes, value: bytes) -> None:
            self.sent[name].append(key)
        return send

    async def x_turn(self, read_closed: bool = True) -> None:
        own = {0: self.x_state}
        if read_closed:
            await self.x.publish(own, {"default"}, {}, {})
        else:  # the marker read before the other worker closed (a race)
            await self.x.write(self.x.prepare(own, {"default"}, {}, {}))

    async def y_turn(self) -> None:
        await self.y.publish({1: self.y_state}, {"default"}, {}, {})

    async def y_closes_then_prunes(self) -> None:
        await self.x_turn()  # X's view in Redis; Y's not yet: nothing closes
        await self.y_turn()  # Y reads X's view...
        await self.y_turn()  # ...and closes 09:00, from both partitions
        assert orjson.loads(await self.row())["offered"] == 2
        await self.y_turn()  # Y's states learn that 09:00 is written out...
        self.y_state.expire()  # ...and prune it: Y's day is the next one
        apply(self.y_state, "agent.state", T0 + timedelta(days=1, minutes=1), agent_id="a1",
              state="aux")
        await self.y_turn()  # the view Y writes no longer has 09:00
        stored = orjson.loads(_bytes(await self.redis.get(self.settings.view_key("default", 1))))
        assert str(to_ms(T0)) not in stored["intervals"].get("billing", {})

    async def row(self) -> bytes:
        return _bytes(await self.redis.hget(self.settings.intervals_key("default"), ROW))

    async def marker(self) -> int:
        return int(_bytes(await self.redis.get(self.settings.closed_key("default"))))


def _bytes(value: object) -> bytes:
    assert isinstance(value, bytes), value
    return value


async def test_a_worker_does_not_close_again_what_another_closed_before_pruning_it(
        redis: aioredis.Redis, redis_server: EmbeddedServer) -> None:
    workers = Workers(redis, redis_server)
    await workers.y_closes_then_prunes()
    marker = await workers.marker()
    await workers.x_turn()  # X reads Y's pruned view...
    await workers.x_turn()  # ...and then closes from it, unless it reads the marker first
    assert orjson.loads(await workers.row())["offered"] == 2
    assert await workers.marker() == marker
    assert workers.sent["x"] == [] and len(workers.sent["y"]) == 1


async def test_rows_before_the_marker_are_not_written_even_by_a_worker_that_missed_it(
        redis: aioredis.Redis, redis_server: EmbeddedServer) -> None:
    """The marker moved between the worker's reading it and its closing: the script that
    writes the rows keeps the ones before the marker, and the marker, as they are."""
    workers = Workers(redis, redis_server)
    await workers.x_turn()  # X reads the marker now (none yet); Y closes after this
    await workers.y_closes_then_prunes()
    marker = await workers.marker()
    await workers.x_turn(read_closed=False)  # X reads Y's pruned view
    await workers.x_turn(read_closed=False)  # X closes 09:00 from it: not written
    assert workers.x.closed["default"] >= marker  # and X knows it is closed now
    assert orjson.loads(await workers.row())["offered"] == 2
    assert await workers.marker() == marker
    assert workers.sent["x"] == []
