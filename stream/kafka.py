"""Kafka plumbing shared by the worker, producers and tools: topics, producers, partitions.

Producers send events batched into one message per partition (a JSON array), which costs
Faust one message instead of many; the partition of an event is murmur2(key) mod the topic's
partition count, the same rule as Kafka's default partitioner and Faust's, so every event of
a contact (or an agent) lands on the same partition however it is sent.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Iterable
from typing import Any

import orjson
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from stream.events import raw_key
from stream.partitioner import partition_for
from stream.settings import Settings

logger = logging.getLogger(__name__)


def ensure_topics(settings: Settings, timeout_s: float = 30.0) -> None:
    """Create the events, dead-letter and alerts topics if they do not exist (idempotent)."""
    bootstrap, _ = settings.require_servers()
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="floorpulse-admin")
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    try:
        existing = set(admin.list_topics())
        wanted = [
            NewTopic(settings.topic_events, settings.topic_partitions, 1),
            NewTopic(settings.topic_dead_letters, 1, 1),
            NewTopic(settings.topic_alerts, 1, 1),
        ]
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing)
    finally:
        admin.close()


class EventSender:
    """Sends event dicts (or raw lines) to the events topic, batched per partition.

    ``send`` buffers; a partition's buffer goes out as one JSON-array message when it holds
    ``batch_max`` events or on ``flush``. Lines that are not valid JSON objects are sent on
    their own, unchanged, so the worker dead-letters them with the reason.
    """

    def __init__(self, settings: Settings, batch_max: int = 500) -> None:
        bootstrap, _ = settings.require_servers()
        self.settings = settings
        self.topic = settings.topic_events
        self.batch_max = batch_max
        # One request in flight: the producer then keeps each partition's messages in the
        # order sent (with several in flight, a retried or reordered request moved a day's
        # last events behind the next morning's, and the worker refused them as late where
        # `floorpulse report` of the same file did not).
        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap, linger_ms=5, batch_size=1 << 20,
            max_request_size=16 << 20, acks=1, client_id="floorpulse-producer",
            max_in_flight_requests_per_connection=1,
        )
        found = self.producer.partitions_for(self.topic)
        self.partitions = len(found) if found else settings.topic_partitions
        self.buffers: list[list[bytes]] = [[] for _ in range(self.partitions)]
        self.pending: list[Any] = []  # futures of the sends since the last flush

    def send(self, event: dict[str, object]) -> None:
        self.send_encoded(raw_key(event), orjson.dumps(event))

    def send_encoded(self, key: bytes | None, encoded: bytes) -> None:
        partition = partition_for(key, self.partitions) if key is not None else 0
        buffer = self.buffers[partition]
        buffer.append(encoded)
        if len(buffer) >= self.batch_max:
            self._send_buffer(partition)

    def send_line(self, line: bytes) -> None:
        """A line from a recorded JSONL file: batched if it is an object with a key."""
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            obj = None
        key = raw_key(obj) if isinstance(obj, dict) else None
        if key is None:
            self.pending.append(self.producer.send(self.topic, value=line))
        else:
            self.send_encoded(key, line.strip())

    def send_all(self, events: Iterable[dict[str, object]]) -> None:
        for event in events:
            self.send(event)

    def _send_buffer(self, partition: int) -> None:
        buffer = self.buffers[partition]
        if not buffer:
            return
        value = b"[" + b",".join(buffer) + b"]"
        self.pending.append(self.producer.send(self.topic, value=value, partition=partition))
        self.buffers[partition] = []

    def flush(self) -> None:
        """Send what is buffered and wait for the broker; raise if any send since the last
        flush failed (``flush`` alone would not say)."""
        for partition in range(self.partitions):
            self._send_buffer(partition)
        self._settle()

    def _settle(self) -> None:
        self.producer.flush()
        pending, self.pending = self.pending, []
        for future in pending:
            future.get(timeout=0)  # raises the send's error, if it failed

    def send_markers(self) -> str:
        """A marker on every partition; the worker acknowledges each in Redis once it has
        processed (and published) everything before it. Returns the marker id."""
        self.flush()
        marker = uuid.uuid4().hex
        for partition in range(self.partitions):
            self.pending.append(self.producer.send(
                self.topic, value=b"", partition=partition,
                headers=[("floorpulse-marker", marker.encode())]))
        self._settle()
        return marker

    def close(self) -> None:
        self.flush()
        self.producer.close()
