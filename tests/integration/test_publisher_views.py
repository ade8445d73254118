"""When the publisher writes the owned partitions' views to Redis (stream/publisher.py,
``views_due``), against the real Redis: a worker with others writes them every turn (their
snapshots merge them); a worker that owns every partition writes the changed ones at most
once a second, and at every replay marker, so `floorpulse intervals` after a replay reads
views that hold every event."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import redis.asyncio as aioredis

from stream import publisher as publishing
from stream.embedded import EmbeddedServer
from stream.events import EVENT_ADAPTER
from stream.metrics.definitions import to_ms
from stream.metrics.partition import PartitionState
from stream.publisher import RedisPublisher, views_due
from stream.report import new_partition_state
from stream.settings import Settings

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
_ids = itertools.count()
_names = itertools.count()


def queued(state: PartitionState, second: int) -> int:
    """A contact queued ``second`` s after 09:00 on ``state``'s partition; its time (ms)."""
    at = T0 + timedelta(seconds=second)
    state.apply(EVENT_ADAPTER.validate_python({
        "type": "contact.queued", "event_id": f"e{next(_ids)}", "ts": at.isoformat(),
        "contact_id": f"c{next(_ids)}", "queue": "billing"}))
    return to_ms(at)


def _settings(redis_server: EmbeddedServer) -> Settings:
    return Settings(redis_url=f"redis://{redis_server.host}:{redis_server.port}/0",
                    redis_prefix=f"views{next(_names)}", topic_partitions=2)


async def stored_clock(client: aioredis.Redis, settings: Settings, partition: int) -> int:
    raw = await client.get(settings.view_key("default", partition))
    return int(orjson.loads(raw)["clock"]) if raw else 0


def test_views_are_due_with_other_workers_at_a_marker_or_once_a_second() -> None:
    assert views_due(alone=False, marker=False, since_written_s=0.0)
    assert views_due(alone=True, marker=True, since_written_s=0.0)
    assert views_due(alone=True, marker=False, since_written_s=None)
    assert not views_due(alone=True, marker=False,
                         since_written_s=publishing.VIEWS_ALONE_EVERY_S - 0.01)
    assert views_due(alone=True, marker=False, since_written_s=publishing.VIEWS_ALONE_EVERY_S)


async def test_a_worker_alone_writes_changed_views_once_a_second_and_at_markers(
        redis: aioredis.Redis, redis_server: EmbeddedServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publishing, "VIEWS_ALONE_EVERY_S", 3600.0)  # no turn reaches it
    settings = _settings(redis_server)
    own = {0: new_partition_state(settings), 1: new_partition_state(settings)}
    pub = RedisPublisher(settings, redis)
    first = queued(own[0], 0), queued(own[1], 1)
    await pub.publish(own, {"default"}, {}, {})
    assert [await stored_clock(redis, settings, p) for p in (0, 1)] == list(first)

    later = queued(own[0], 30)  # a turn without a marker: not written yet
    await pub.publish(own, {"default"}, {}, {})
    assert await stored_clock(redis, settings, 0) == first[0]
    snap = orjson.loads(await redis.get(settings.snapshot_key("default")))
    assert snap["queues"]["billing"]["offered"] == 3  # the snapshot has it all the same

    await pub.publish(own, {"default"}, {}, {"m1": {0, 1}})  # a replay's marker
    assert await stored_clock(redis, settings, 0) == later
    assert await stored_clock(redis, settings, 1) == first[1]


async def test_a_worker_with_others_writes_its_changed_views_every_turn(
        redis: aioredis.Redis, redis_server: EmbeddedServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publishing, "VIEWS_ALONE_EVERY_S", 3600.0)
    settings = _settings(redis_server)
    own = {0: new_partition_state(settings)}  # partition 1 is another worker's
    pub = RedisPublisher(settings, redis)
    queued(own[0], 0)
    await pub.publish(own, {"default"}, {}, {})
    later = queued(own[0], 30)
    await pub.publish(own, {"default"}, {}, {})
    assert await stored_clock(redis, settings, 0) == later
