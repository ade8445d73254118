"""Faust tables used as the worker's durable, partitioned storage.

The worker processes events in batches (stream/inbox.py), where Faust's ``table[key] = v``
cannot be used (it needs the "current event"; faust-streaming issue #497). Each write names
its partition explicitly instead: the partition of the event it came from, so a table's
changelog partition always matches the source partition and recovery after a rebalance or a
crash brings back exactly the keys of the partitions this worker owns.

Writes are not left to Faust's producer buffer (``send_changelog``): its flush before an
offset commit gives up after 0.1 s without a message sent, so a commit can overtake the
table writes of the events it commits, and a crash then loses them. Instead the writes of a
batch are collected and :meth:`PartitionedTable.send` hands them to the producer; the
caller awaits their acknowledgements before the batch's offsets are acknowledged. They go
in record batches, one per partition (or more if large), in the order written.

Values are bytes (orjson) written once per key per batch. The table keeps a right-sized
copy of each (:func:`right_sized`): orjson's own bytes hold a buffer of 4 KiB or more.

The embedded broker (tansu) reports a partition's end offset as the first offset of its
last record batch, plus one. Faust's recovery reads a changelog up to that end, and a
recovery interrupted by another rebalance can then have read past the end reported the next
time: Faust stops the worker with ``ConsistencyError``. A table whose writes are not
otherwise followed by a lone record (the processor's are: its progress record) is made
with ``end_marker=True``: after each batch's writes, a lone tombstone of :data:`END_KEY` is
sent to every partition written, as the partition's last record batch. A restore applies
the tombstone of a key never stored, which leaves nothing behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Iterator, Sequence
from typing import Any

END_KEY = b"\x00floorpulse-end"  # never a stored key: stored keys start with a tenant


def right_sized(value: bytes) -> bytes:
    """``value`` in a bytes object that holds just its length.

    orjson (3.12 on) returns bytes whose buffer is over-allocated, at least 4 KiB and
    rounded up to a power of two, and never shrunk: a contact's 150-byte archive record
    kept in a table for two days held 4 KiB, 0.6 GB for a week of a 1,000-agent center
    (docs/performance.md, "Fifth round"). Joining with an empty bytes copies (a single item
    would be returned as it is)."""
    return b"".join((value, b""))


class PartitionedTable:
    """A thin, typed face over a ``faust.Table`` with raw bytes keys and values."""

    def __init__(self, table: Any, end_marker: bool = False) -> None:
        self.table = table
        self.end_marker = end_marker
        self._written_partition: dict[bytes, int] = {}
        self._unsent: list[tuple[int, bytes, bytes | None]] = []

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        value = right_sized(value)  # kept until the key is written again: days, maybe
        self.table.data[key] = value
        self._written_partition[key] = partition
        self._unsent.append((partition, key, value))

    def delete(self, partition: int, key: bytes) -> None:
        self.table.data.pop(key, None)
        self._written_partition.pop(key, None)
        self._unsent.append((partition, key, None))

    def pending_partitions(self) -> set[int]:
        """The partitions with writes not yet handed to the producer."""
        return {partition for partition, _, _ in self._unsent}

    async def send(self) -> list[Awaitable[Any]]:
        """Hand the writes made since the last call to the producer; returns the futures
        that resolve when the broker has them."""
        if not self._unsent:
            return []
        unsent, self._unsent = self._unsent, []
        producer = self.table.app.producer._ensure_producer()
        topic = self.table.changelog_topic.get_topic_name()
        futures = await send_records(producer, topic, unsent)
        if self.end_marker:
            # After the writes, in record batches of their own: the producer sends a
            # partition's record batches in the order given.
            futures.extend(await send_records(producer, topic, end_markers(unsent)))
        return futures

    def get(self, key: bytes) -> bytes | None:
        value: bytes | None = self.table.data.get(key)
        return value

    def partition_of(self, key: bytes) -> int | None:
        partition = self._written_partition.get(key)
        if partition is None:
            # Keys restored from the changelog: the memory store remembers their partition.
            partition = getattr(self.table.data, "_key_partition", {}).get(key)
        return partition

    def items(self, partitions: set[int]) -> Iterator[tuple[bytes, bytes, int]]:
        """``(key, value, partition)`` of every stored key in ``partitions``."""
        for key, value in list(self.table.data.items()):
            if value is None:
                continue
            partition = self.partition_of(key)
            if partition is not None and partition in partitions:
                yield key, value, partition

    def forget_except(self, partitions: set[int]) -> None:
        """Drop keys of partitions no longer owned (they come back by recovery if needed)."""
        for key in list(self.table.data.keys()):
            partition = self.partition_of(key)
            if partition is None or partition not in partitions:
                self.table.data.pop(key, None)
                self._written_partition.pop(key, None)


def end_markers(records: Iterable[tuple[int, bytes | None, bytes | None]],
                ) -> list[tuple[int, bytes | None, bytes | None]]:
    """A tombstone of :data:`END_KEY` for every partition of ``records``."""
    return [(partition, END_KEY, None)
            for partition in sorted({partition for partition, _, _ in records})]


async def send_records(producer: Any, topic: str,
                       records: Iterable[tuple[int, bytes | None, bytes | None]],
                       headers: Sequence[tuple[str, bytes]] = ()) -> list[Awaitable[Any]]:
    """Hand ``(partition, key, value)`` records to the Kafka client's producer (aiokafka's,
    under Faust's): a record batch per partition, in the order given, each record with
    ``headers``. Returns the futures that resolve when the broker has them.

    Not Faust's ``send``: a record batch per partition (one acknowledgement each) costs a
    fraction of a ``send`` and a future per record (docs/performance.md)."""
    by_partition: dict[int, list[tuple[bytes | None, bytes | None]]] = {}
    extra = list(headers)
    for partition, key, value in records:
        by_partition.setdefault(partition, []).append((key, value))
    futures: list[Awaitable[Any]] = []
    for partition, pairs in by_partition.items():
        batch = producer.create_batch()
        for key, value in pairs:
            if batch.append(key=key, value=value, timestamp=None, headers=extra) is None:
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()  # the last one was full
                if batch.append(key=key, value=value, timestamp=None, headers=extra) is None:
                    futures.append(await producer.send(topic, value, key=key,
                                                       partition=partition, headers=extra))
        if batch.record_count():
            futures.append(await producer.send_batch(batch, topic, partition=partition))
    return futures


async def write_durably(*tables: PartitionedTable,
                        also: list[Awaitable[Any]] | None = None) -> None:
    """Send the tables' pending writes and wait until the broker acknowledged all of them
    (and the futures in ``also``)."""
    futures = list(also or ())
    for table in tables:
        futures.extend(await table.send())
    if futures:
        await asyncio.gather(*futures)
