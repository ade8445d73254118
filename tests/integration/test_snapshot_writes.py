"""How the publisher writes a tenant's snapshot and its update (stream/publisher.py,
``_write_snapshot``), against the real Redis: the update is the difference to the stored
snapshot; a publisher that wrote the stored one itself (its ``seq`` says so) takes it from
memory instead of reading ~1 MB back every turn, and one that did not reads it back."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis

from stream.embedded import EmbeddedServer
from stream.events import EVENT_ADAPTER
from stream.metrics.partition import PartitionState
from stream.publisher import RedisPublisher
from stream.report import new_partition_state
from stream.settings import Settings

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
_ids = itertools.count()
_names = itertools.count()


def queued(state: PartitionState, queue: str, second: int) -> None:
    at = T0 + timedelta(seconds=second)
    state.apply(EVENT_ADAPTER.validate_python({
        "type": "contact.queued", "event_id": f"e{next(_ids)}", "ts": at.isoformat(),
        "contact_id": f"c{next(_ids)}", "queue": queue}))


async def updates(redis: aioredis.Redis, settings: Settings
                  ) -> Callable[[], Awaitable[dict[str, Any]]]:
    """Subscribe to the tenant's updates; returns a function that waits for the next."""
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(settings.updates_channel("default"))

    async def next_update() -> dict[str, Any]:
        for _ in range(50):
            message = await pubsub.get_message(timeout=0.1)
            if message is not None:
                update: dict[str, Any] = orjson.loads(message["data"])
                return update
        raise AssertionError("no update published")

    return next_update


async def stored(redis: aioredis.Redis, settings: Settings) -> dict[str, Any]:
    snap: dict[str, Any] = orjson.loads(await redis.get(settings.snapshot_key("default")))
    return snap


async def test_a_publisher_diffs_against_the_snapshot_it_wrote_without_reading_it_back(
        redis: aioredis.Redis, redis_server: EmbeddedServer) -> None:
    settings = Settings(redis_url=f"redis://{redis_server.host}:{redis_server.port}/0",
                        redis_prefix=f"snapwrites{next(_names)}", topic_partitions=1)
    next_update = await updates(redis, settings)
    own = {0: new_partition_state(settings)}
    pub = RedisPublisher(settings, redis)
    queued(own[0], "billing", 0)
    await pub.publish(own, {"default"}, {}, {})
    first = await next_update()
    assert first["seq"] == 1 and first["queues"]["billing"]["offered"] == 1

    # The stored snapshot changed behind the publisher's back, its seq left as it was
    # (nothing floorpulse does): the next difference is to what the publisher wrote.
    snap = await stored(redis, settings)
    snap["queues"]["ghost"] = snap["queues"]["billing"]
    await redis.set(settings.snapshot_key("default"), orjson.dumps(snap))
    queued(own[0], "billing", 10)
    await pub.publish(own, {"default"}, {}, {})
    second = await next_update()
    assert second["seq"] == 2 and second["queues"]["billing"]["offered"] == 2
    assert "ghost" not in second["removed"]["queues"]  # not read back
    assert "ghost" not in (await stored(redis, settings))["queues"]  # written whole
    assert int(await redis.get(settings.snapshot_seq_key("default"))) == 2


async def test_a_publisher_reads_back_a_snapshot_another_writer_wrote_since_its_own(
        redis: aioredis.Redis, redis_server: EmbeddedServer) -> None:
    settings = Settings(redis_url=f"redis://{redis_server.host}:{redis_server.port}/0",
                        redis_prefix=f"snapwrites{next(_names)}", topic_partitions=1)
    next_update = await updates(redis, settings)
    mine, theirs = {0: new_partition_state(settings)}, {0: new_partition_state(settings)}
    pub, other = RedisPublisher(settings, redis), RedisPublisher(settings, redis)
    queued(mine[0], "billing", 0)
    await pub.publish(mine, {"default"}, {}, {})
    assert (await next_update())["seq"] == 1

    queued(theirs[0], "sales", 5)  # another writer: its snapshot has sales, not billing
    await other.publish(theirs, {"default"}, {}, {})
    between = await next_update()
    assert between["seq"] == 2 and between["removed"]["queues"] == ["billing"]

    queued(mine[0], "billing", 10)
    await pub.publish(mine, {"default"}, {}, {})
    after = await next_update()
    assert after["seq"] == 3  # after the other writer's, not after its own
    assert after["removed"]["queues"] == ["sales"]  # the difference to what is stored
    assert after["queues"]["billing"]["offered"] == 2
    final = await stored(redis, settings)
    assert set(final["queues"]) == {"billing"} and final["seq"] == 3
