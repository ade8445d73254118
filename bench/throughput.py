"""Worker throughput, with a baseline and a ceiling measured in the same run (issue 4, 1-2).

The same N simulated events are pre-filled in two input topics: once one event per Kafka
message, once batched (500 events per message, as floorpulse's producers send them). Then,
each from offset 0 on the embedded broker:

- ``floorpulse``: a fresh ``floorpulse worker``; events/s from its first published figure
  until every event is reflected in the live state published to Redis (the processed
  counter), and the same including start-up (group join, recovery);
- ``naive``: a Faust app with a Record per event and one table write per event
  (``bench.naive_app``), on the one-per-message topic (it cannot read batches);
- ``raw``: an aiokafka ``getmany`` consumer that reads and JSON-decodes every message of
  the topic and counts its events: the floor of any consumer's work, the ceiling here.

:func:`floorpulse_worker` with ``workers=2`` starts two workers on one topic (they share its
partitions), and :func:`exact` compares the intervals they published with the batch report.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import redis
from aiokafka import AIOKafkaConsumer, TopicPartition
from kafka import KafkaProducer

from bench.naive_app import COUNT_KEY_SUFFIX
from stream.embedded import EmbeddedServer, start_kafka, start_redis
from stream.events import EVENT_ADAPTER, raw_key
from stream.intervals import read_intervals
from stream.kafka import ensure_topics
from stream.partitioner import partition_for
from stream.progress import progress_totals
from stream.report import report_rows
from stream.settings import Settings


@dataclass
class Servers:
    kafka: EmbeddedServer
    redis: EmbeddedServer

    def settings(self, tag: str, workdir: Path, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "kafka_bootstrap": f"{self.kafka.host}:{self.kafka.port}",
            "redis_url": f"redis://{self.redis.host}:{self.redis.port}/0",
            "data_dir": str(workdir / f"data-{tag}"), "app_id": f"bench-{tag}",
            "topic_events": f"bench-{tag}.events", "redis_prefix": f"bench-{tag}",
            "topic_dead_letters": f"bench-{tag}.dead-letters",
        }
        values.update(overrides)
        settings = Settings(**values)  # type: ignore[arg-type]
        ensure_topics(settings)
        return settings

    def stop(self) -> None:
        self.redis.stop()
        self.kafka.stop()


def start_servers(workdir: Path) -> Servers:
    kafka = start_kafka(workdir=workdir)
    try:
        return Servers(kafka, start_redis(workdir=workdir))
    except BaseException:
        kafka.stop()
        raise


def fill(settings: Settings, events: list[dict[str, object]], per_message: int) -> None:
    """Write the events to the settings' input topic, ``per_message`` events a message."""
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5,
                             max_in_flight_requests_per_connection=1,  # keeps the order
                             batch_size=1 << 20, max_request_size=16 << 20, acks=1)
    partitions = settings.topic_partitions
    buffers: list[list[bytes]] = [[] for _ in range(partitions)]
    for event in events:
        key = raw_key(event)
        partition = partition_for(key, partitions) if key else 0
        buffer = buffers[partition]
        buffer.append(orjson.dumps(event))
        if len(buffer) >= per_message:
            value = buffer[0] if per_message == 1 else b"[" + b",".join(buffer) + b"]"
            producer.send(settings.topic_events, value=value, key=key, partition=partition)
            buffer.clear()
    for partition, buffer in enumerate(buffers):
        if buffer:
            producer.send(settings.topic_events, value=b"[" + b",".join(buffer) + b"]",
                          partition=partition)
    producer.flush()
    producer.close()


def _run_until(command: list[str], settings: Settings, count: Callable[[], int], total: int,
               timeout_s: float, processes: int = 1) -> dict[str, float]:
    """Start ``processes`` copies of ``command`` at once; events/s until ``count()`` reaches
    ``total`` (from the first counted event, and from the start)."""
    started = time.monotonic()
    procs = [subprocess.Popen(command, env={**os.environ, **settings.to_env()},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(processes)]
    first: float | None = None
    first_count = 0
    try:
        while True:
            done = count()
            if done and first is None:
                first, first_count = time.monotonic(), done
            if done >= total:
                break
            if any(proc.poll() is not None for proc in procs):
                raise RuntimeError(f"{command} exited early")
            if time.monotonic() - started > timeout_s:
                raise TimeoutError(f"{command} did not finish within {timeout_s:.0f} s")
            time.sleep(0.01)
        finished = time.monotonic()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    assert first is not None
    steady = (total - first_count) / max(1e-9, finished - first)
    return {"events_per_s": steady, "events_per_s_with_startup": total / (finished - started),
            "startup_s": first - started}


def floorpulse_worker(settings: Settings, total: int, workers: int = 1) -> dict[str, float]:
    client = redis.Redis.from_url(settings.redis_url or "")

    def processed() -> int:
        return progress_totals(client.hgetall(settings.progress_key).values())["processed"]

    try:
        return _run_until([sys.executable, "-m", "stream.cli", "worker"], settings, processed,
                          total, timeout_s=900, processes=workers)
    finally:
        client.close()


def exact(settings: Settings, events: list[dict[str, object]]) -> dict[str, float]:
    """Whether the intervals the workers published equal ``floorpulse report`` of the same
    events: how many interval rows differ (0 when exact)."""
    want = [{k: v for k, v in row.items() if k != "status"}
            for row in report_rows((EVENT_ADAPTER.validate_python(e) for e in events), settings)]
    got = [{k: v for k, v in row.items() if k != "status"}
           for row in read_intervals(settings)]
    differ = sum(g != w for g, w in zip(got, want, strict=False)) + abs(len(got) - len(want))
    return {"intervals": float(len(want)), "intervals_differing": float(differ)}


def naive_worker(settings: Settings, total: int) -> dict[str, float]:
    client = redis.Redis.from_url(settings.redis_url or "")
    key = settings.redis_prefix + COUNT_KEY_SUFFIX

    def counted() -> int:
        return int(client.get(key) or 0)

    try:
        return _run_until([sys.executable, "-m", "bench.naive_app"], settings, counted,
                          total, timeout_s=900)
    finally:
        client.close()


def raw_consumer(settings: Settings, total: int) -> dict[str, float]:
    async def consume() -> dict[str, float]:
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                                    enable_auto_commit=False, fetch_max_wait_ms=20,
                                    max_partition_fetch_bytes=4 << 20)
        await consumer.start()
        try:
            tps = [TopicPartition(settings.topic_events, p)
                   for p in range(settings.topic_partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            started = time.monotonic()
            count = 0
            while count < total:
                batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
                for records in batches.values():
                    for record in records:
                        value = orjson.loads(record.value)
                        count += len(value) if isinstance(value, list) else 1
            elapsed = time.monotonic() - started
        finally:
            await consumer.stop()
        return {"events_per_s": total / elapsed}

    return asyncio.run(consume())
