"""The naive Faust app of the benchmark baseline: one Record per event, one table write per
event, as a Faust tutorial would write it (issue 4's "naive Faust app").

Run by ``bench.throughput`` as ``python -m bench.naive_app`` with the settings in the
environment; every 0.2 s it writes how many events it has counted to a Redis key.
"""

from __future__ import annotations

import logging
from typing import Any

import faust
import redis.asyncio as aioredis

from stream.app import lower_fetch_wait
from stream.settings import Settings

COUNT_KEY_SUFFIX = ":naive-count"


class ContactEvent(faust.Record, serializer="json"):  # type: ignore[call-arg]
    type: str
    event_id: str
    ts: str
    queue: str | None = None
    contact_id: str | None = None
    agent_id: str | None = None


def main() -> None:
    settings = Settings()
    bootstrap, redis_url = settings.require_servers()
    lower_fetch_wait(settings.fetch_wait_ms)  # the same fetch wait as floorpulse, to be fair
    app = faust.App(f"{settings.app_id}-naive", broker=f"kafka://{bootstrap}",
                    store="memory://", datadir=settings.data_dir, web_enabled=False,
                    topic_partitions=settings.topic_partitions,
                    consumer_auto_offset_reset="earliest", broker_session_timeout=10,
                    broker_heartbeat_interval=2)
    topic = app.topic(settings.topic_events, value_type=ContactEvent)
    type_to_count = app.Table("type_to_count", default=int,
                              partitions=settings.topic_partitions)
    counted = 0
    store = aioredis.from_url(redis_url)

    @app.agent(topic)
    async def count_events(events: Any) -> None:
        nonlocal counted
        async for event in events:
            type_to_count[event.type] += 1
            counted += 1

    @app.timer(0.2)  # type: ignore[untyped-decorator]
    async def report() -> None:
        await store.set(settings.redis_prefix + COUNT_KEY_SUFFIX, counted)

    worker = faust.Worker(app, loglevel="warning", quiet=True)
    logging.getLogger().setLevel(logging.WARNING)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
