"""Faust tables used as the worker's durable, partitioned storage.

The worker processes events in batches (``take_events``), where Faust's ``table[key] = v``
cannot be used (it needs the "current event"; faust-streaming issue #497). Each write names
its partition explicitly instead: the partition of the event it came from, so a table's
changelog partition always matches the source partition and recovery after a rebalance or a
crash brings back exactly the keys of the partitions this worker owns.

Values are bytes (orjson) written once per key per batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class PartitionedTable:
    """A thin, typed face over a ``faust.Table`` with raw bytes keys and values."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self._written_partition: dict[bytes, int] = {}

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        self.table.data[key] = value
        self._written_partition[key] = partition
        self.table.send_changelog(partition, key, value)

    def delete(self, partition: int, key: bytes) -> None:
        self.table.data.pop(key, None)
        self._written_partition.pop(key, None)
        self.table.send_changelog(partition, key, None)

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
