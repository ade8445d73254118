"""The worker's changelog-backed table (stream/tables/changelog.py): what it holds in memory."""

from __future__ import annotations

import tracemalloc
from types import SimpleNamespace

import orjson

from stream.tables.changelog import PartitionedTable, right_sized

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
