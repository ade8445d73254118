"""The worker's changelog-backed table (stream/tables/changelog.py): what it holds in memory
and the record batches it sends."""

from __future__ import annotations

import asyncio
import tracemalloc
from types import SimpleNamespace
from typing import Any

import orjson

from stream.tables.changelog import END_KEY, PartitionedTable, right_sized, write_durably

KEYS = 2_000


def _table() -> PartitionedTable:
    return PartitionedTable(SimpleNamespace(data={}))


def _archive_record(i: int) -> bytes:
    """A value as the worker writes it: orjson's bytes of a small record."""
    return orjson.dumps(["archived", 1_790_000_000_000 + i, [["support", i, [1] * 15]], [], []])


def test_a_stored_value_holds_about_its_own_length_not_orjsons_buffer() -> None:
    table = _table()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(KEYS):
            table.put(i % 4, f"t|contact|c{i}".encode(), _archive_record(i))
        table._unsent.clear()  # sent: what stays is the table's data and key map
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    value_bytes = sum(len(_archive_record(i)) for i in range(KEYS))
    # Keys, values and two dict entries a key: a few hundred bytes each. orjson's own
    # bytes held a 4 KiB buffer each (8 MB here).
    assert held < value_bytes + 400 * KEYS
    assert table.get(b"t|contact|c7") == _archive_record(7)


def test_right_sized_is_an_equal_copy() -> None:
    value = _archive_record(3)
    copy = right_sized(value)
    assert copy == value
    assert copy is not value
    assert right_sized(b"") == b""


def test_a_deleted_key_leaves_neither_value_nor_partition_behind() -> None:
    table = _table()
    table.put(2, b"t|contact|a", _archive_record(1))
    table.delete(2, b"t|contact|a")
    assert table.get(b"t|contact|a") is None
    assert table.partition_of(b"t|contact|a") is None
    assert table._unsent[-1] == (2, b"t|contact|a", None)  # a tombstone for the changelog


class _Batch:
    def __init__(self) -> None:
        self.records: list[tuple[bytes | None, bytes | None]] = []

    def append(self, *, key: bytes | None, value: bytes | None, timestamp: None,
               headers: list[tuple[str, bytes]]) -> object:
        self.records.append((key, value))
        return object()

    def record_count(self) -> int:
        return len(self.records)


class _Producer:
    """Records the record batches handed to it, in order, as (partition, records)."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, list[tuple[bytes | None, bytes | None]]]] = []

    def create_batch(self) -> _Batch:
        return _Batch()

    async def send_batch(self, batch: _Batch, topic: str, partition: int) -> Any:
        self.sent.append((partition, batch.records))
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


def _sending_table(producer: _Producer, end_marker: bool) -> PartitionedTable:
    app = SimpleNamespace(producer=SimpleNamespace(_ensure_producer=lambda: producer))
    changelog = SimpleNamespace(get_topic_name=lambda: "t-changelog")
    return PartitionedTable(SimpleNamespace(data={}, app=app, changelog_topic=changelog),
                            end_marker=end_marker)


def test_with_an_end_marker_every_written_partition_ends_on_a_lone_tombstone() -> None:
    # The embedded broker reports the first offset of a partition's last record batch, plus
    # one, as its end: a lone record last makes that the true end.
    producer = _Producer()
    table = _sending_table(producer, end_marker=True)
    table.put(3, b"t|cust|a", b"1")
    table.put(1, b"t|cust|b", b"2")
    table.put(3, b"t|cust|c", b"3")
    table.delete(3, b"t|cust|a")

    asyncio.run(write_durably(table))

    last_batch: dict[int, list[tuple[bytes | None, bytes | None]]] = {}
    for partition, records in producer.sent:
        last_batch[partition] = records
    assert last_batch == {1: [(END_KEY, None)], 3: [(END_KEY, None)]}
    assert [(p, r) for p, r in producer.sent if r != [(END_KEY, None)]] == [
        (3, [(b"t|cust|a", b"1"), (b"t|cust|c", b"3"), (b"t|cust|a", None)]),
        (1, [(b"t|cust|b", b"2")])]
    assert table.get(END_KEY) is None  # never stored

    producer.sent.clear()
    asyncio.run(write_durably(table))  # nothing written since: nothing sent
    assert producer.sent == []


def test_without_an_end_marker_only_the_writes_are_sent() -> None:
    producer = _Producer()
    table = _sending_table(producer, end_marker=False)
    table.put(0, b"t|cust|a", b"1")
    asyncio.run(write_durably(table))
    assert producer.sent == [(0, [(b"t|cust|a", b"1")])]
