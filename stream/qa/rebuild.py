"""``floorpulse qa-rebuild``: the QA queue in Redis again, from the QA topic.

The QA topic holds every flag and every action (docs/sentiment.md, "QA queue"), so when
Redis is lost (or restored from an old copy) the queue can be folded again from it. The
worker may go on running meanwhile:

1. read every partition of ``FLOORPULSE_TOPIC_QA`` from the start up to its end now, and fold
   the events into items in memory (:func:`stream.qa.queue.fold`, in each item's order);
2. write those items over what Redis holds (the item, the index, the tenant), publishing
   each on the tenant's QA channel so gateways show it;
3. fold again, through Redis, the events that came after the end of step 1: the worker may
   have folded them into partial items that step 2 overwrote. The fold is idempotent, so
   an event folded twice changes nothing, and the worker's own fold is an optimistic
   transaction (:meth:`stream.qa.worker.QaQueueStore.apply`): it folds again into what
   step 2 wrote instead of writing over it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
import redis.asyncio as aioredis
from kafka import KafkaConsumer, TopicPartition

from stream.qa.queue import Item, fold
from stream.qa.worker import QaQueueStore, put_item
from stream.settings import Settings

logger = logging.getLogger(__name__)

@dataclass
class Rebuilt:
    """What a rebuild did: QA events read, events skipped (not JSON, or refused by the
    fold as the worker refuses them), items written, and tenants."""

    events: int = 0
    skipped: int = 0
    items: int = 0
    tenants: int = 0
    later: int = 0  # events after the first read, folded again


def fold_all(events: Iterator[bytes], items: dict[tuple[str, str], Item],
             done: Rebuilt) -> None:
    """Fold QA topic values into ``items`` ((tenant, contact) -> item), in their order."""
    for value in events:
        done.events += 1
        try:
            event = orjson.loads(value)
            key = (str(event["tenant"]), str(event["contact_id"]))
            item, _ = fold(items.get(key), event)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            done.skipped += 1
            logger.warning("QA topic: event not folded: %r", exc)
            continue
        if item is not None:
            items[key] = item


class QaTopic:
    """Every partition of the QA topic, read up to its end (no consumer group).

    The end is the high watermark of the fetch responses, not a ``ListOffsets`` request:
    the embedded broker (tansu) answers the latest offset with the first offset of the
    partition's last record batch, short of its end."""

    def __init__(self, settings: Settings, stall_timeout_s: float = 30.0) -> None:
        bootstrap, _ = settings.require_servers()
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                      enable_auto_commit=False,
                                      auto_offset_reset="earliest",
                                      client_id="floorpulse-qa-rebuild")
        found = self.consumer.partitions_for_topic(settings.topic_qa) or set()
        self.partitions = [TopicPartition(settings.topic_qa, p) for p in sorted(found)]
        self.consumer.assign(self.partitions)
        if self.partitions:
            self.consumer.seek_to_beginning(*self.partitions)
        self.stall_timeout_s = stall_timeout_s

    def read_to_end(self) -> Iterator[bytes]:
        """The values from where the last read stopped (first: the beginning) up to each
        partition's end as the broker last reported it."""
        remaining = set(self.partitions)
        deadline = time.monotonic() + self.stall_timeout_s
        while remaining:
            for records in self.consumer.poll(timeout_ms=200).values():
                deadline = time.monotonic() + self.stall_timeout_s
                for record in records:
                    yield record.value
            for tp in list(remaining):
                end = self.consumer.highwater(tp)
                if end is not None and self.consumer.position(tp) >= end:
                    remaining.discard(tp)
            if remaining and time.monotonic() > deadline:
                raise TimeoutError(f"QA topic: no records for {self.stall_timeout_s:.0f} s "
                                   f"short of the end of {sorted(str(tp) for tp in remaining)}")

    def close(self) -> None:
        self.consumer.close()


async def rebuild_qa_queue(settings: Settings) -> Rebuilt:
    """Steps 1-3 of the module's docstring."""
    _, redis_url = settings.require_servers()
    done = Rebuilt()
    topic = QaTopic(settings)
    client = aioredis.from_url(redis_url)
    try:
        items: dict[tuple[str, str], Item] = {}
        fold_all(topic.read_to_end(), items, done)
        async with client.pipeline(transaction=True) as pipe:
            for item in items.values():
                put_item(pipe, settings, item)
            await pipe.execute()
        done.items = len(items)
        done.tenants = len({tenant for tenant, _ in items})
        store = QaQueueStore(settings, client)
        later = []
        for value in topic.read_to_end():
            done.later += 1
            try:
                later.append(orjson.loads(value))
            except orjson.JSONDecodeError as exc:
                logger.warning("QA topic: event not folded: %r", exc)
        await store.apply(later)
    finally:
        topic.close()
        await client.aclose()
    return done
