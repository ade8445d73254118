"""After a restore the worker reads each owned partition of the events topic from the
offset after its stored progress (``stream.app.read_from_stored_progress``), and seeks there
on the consumer's thread (Faust's ``seek_wait``), where aiokafka's fetcher runs: Faust's
``seek`` seeks from the worker's thread and raced the fetcher (a ``KeyError`` in
``fetched_records`` that stopped a worker after a rebalance). A fake consumer here; the
whole path on a real broker is tests/integration/test_recovery.py."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, cast

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from stream.app import read_from_stored_progress


class Thread:
    """The consumer's thread as the original ``seek_to_committed`` uses it."""

    async def seek_to_committed(self) -> Mapping[TP, int]:
        return {TP("events", 0): 5, TP("other", 0): 7}


class Consumer:
    def __init__(self, app: object) -> None:
        self.app = app
        self._thread = Thread()
        self.sought_on_thread: list[dict[TP, int]] = []

    def assignment(self) -> set[TP]:
        return {TP("events", 0), TP("events", 1), TP("other", 0)}

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        self.sought_on_thread.append(dict(partitions))

    async def seek(self, partition: TP, offset: int) -> None:
        raise AssertionError(f"{partition} sought from the worker's thread")


def test_stored_progress_is_sought_on_the_consumers_thread_for_owned_partitions() -> None:
    app = object()
    read_from_stored_progress(cast(Any, app), "events", lambda: {0: 10, 1: 20, 2: 30})
    consumer = Consumer(app)
    offsets = asyncio.run(faust_aiokafka.Consumer.seek_to_committed(consumer))
    assert consumer.sought_on_thread == [{TP("events", 0): 10, TP("events", 1): 20}]
    assert offsets == {TP("events", 0): 10, TP("events", 1): 20, TP("other", 0): 7}


def test_another_apps_consumer_keeps_its_committed_offsets() -> None:
    read_from_stored_progress(cast(Any, object()), "events", lambda: {0: 10})
    consumer = Consumer(object())
    offsets = asyncio.run(faust_aiokafka.Consumer.seek_to_committed(consumer))
    assert consumer.sought_on_thread == []
    assert offsets == {TP("events", 0): 5, TP("other", 0): 7}
