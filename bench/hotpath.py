"""The worker's CPU path in one process, without Kafka or Redis: where the time goes.

``python -m bench.hotpath [--days D] [--agents A] [--profile]``: a simulated center (every
feature on: intervals, dedup, agent timelines, WFM plans, QA flags) is cut into messages of
500 events, as the producers send them, and fed batch by batch through the worker's own
:class:`~stream.agents.process_events.EventProcessor` (decode, apply, flags, changelog
records) into an in-memory table; every ``--publish-every`` batches a publishing turn
prepares the views and builds the snapshots as :class:`~stream.publisher.RedisPublisher`
does. Prints events/s for each phase; ``--profile`` adds the top functions by own time.

It measures what the processor and the publisher cost on the CPU, the part of the worker
that floorpulse's code decides; bench/throughput.py measures the whole worker on a broker.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from bench.memory import center_days
from stream.agents.process_events import EventProcessor
from stream.alerts.rules import settings_config
from stream.app import tune_gc
from stream.events import raw_key
from stream.kafka import partition_for
from stream.metrics.merge import diff_snapshots, snapshot
from stream.publisher import RedisPublisher
from stream.qa.worker import QaFlags
from stream.report import calendar, new_partition_state
from stream.settings import Settings
from stream.tables.changelog import PartitionedTable

START = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)  # a Monday


@dataclass
class _Message:
    topic: str
    partition: int
    offset: int
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class _Event:  # what Faust's take_events yields: ``.message``
    message: _Message


class _MemoryTable:
    """Stands in for a Faust table: ``data`` and nothing to send."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes | None] = {}


class MemoryTable(PartitionedTable):
    """The worker's table, its records counted instead of sent."""

    def __init__(self) -> None:
        super().__init__(_MemoryTable())
        self.records = 0
        self.bytes = 0
        self.by_kind: dict[str, int] = {}

    async def send(self) -> list[Awaitable[Any]]:
        unsent, self._unsent = self._unsent, []
        self.records += len(unsent)
        for _, key, value in unsent:
            if value is not None:
                self.bytes += len(value)
                kind = key.split(b"|", 2)[1].decode()
                self.by_kind[kind] = self.by_kind.get(kind, 0) + len(value)
        return []


def _done() -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future


async def _send(*_: object, **__: object) -> Awaitable[Any]:
    return _done()


async def _send_records(records: list[tuple[int, bytes | None, bytes]]) -> list[Awaitable[Any]]:
    return []


async def _seek(partition: int, offset: int) -> None:
    raise AssertionError(f"no gaps in memory (partition {partition}, offset {offset})")


def messages(events: list[dict[str, object]], partitions: int, per_message: int,
             per_batch: int) -> list[list[_Event]]:
    """Messages as the producers cut them (per partition, ``per_message`` events each),
    then grouped in batches as a worker reads them: one message of each partition."""
    by_partition: list[list[dict[str, object]]] = [[] for _ in range(partitions)]
    for event in events:
        key = raw_key(event)
        by_partition[partition_for(key, partitions) if key is not None else 0].append(event)
    queues = [[_Event(_Message("events", p, i // per_message,
                               orjson.dumps(evs[i:i + per_message])))
               for i in range(0, len(evs), per_message)]
              for p, evs in enumerate(by_partition)]
    rounds = [[q[i] for q in queues if i < len(q)] for i in range(max(map(len, queues)))]
    return [[m for r in rounds[i:i + per_batch] for m in r]
            for i in range(0, len(rounds), per_batch)]


async def run(batches: list[list[_Event]], settings: Settings, publish_every: int,
              qa: bool) -> dict[str, float]:
    config = settings_config(settings.rules_file)
    center_calendar = calendar(settings)
    table = MemoryTable()
    flags = QaFlags(_send_records, _send_records, settings.topic_partitions) if qa else None
    processor = EventProcessor(
        lambda: new_partition_state(settings, center_calendar, config.flags if qa else None),
        table, _send, _seek, flags)
    publisher = RedisPublisher(settings, None)  # type: ignore[arg-type]
    processing = publishing = 0.0
    previous: dict[str, Any] = {}
    for n, batch in enumerate(batches, 1):
        started = time.perf_counter()
        await processor.process(batch)
        processing += time.perf_counter() - started
        if n % publish_every and n != len(batches):
            continue
        started = time.perf_counter()
        states = processor.states
        tenants = {t for state in states.values() for t in state.tenants()}
        publisher.closed.update({t: publisher.closed.get(t, 0) for t in tenants})
        publication = publisher.prepare(states, tenants, {}, {})
        for tenant, (until, _) in publication.closing.items():
            publisher.closed[tenant] = until
        for tenant, views in publication.views.items():
            for partition in publication.dirty[tenant]:
                orjson.dumps(views[partition].to_json())
            snap = snapshot(tenant, list(views.values()), publisher.calendar, publisher.rules,
                            publisher.lateness_ms, settings.rolling_minutes,
                            settings.topic_partitions, wfm=publisher.wfm,
                            closed_rows=publisher.closed_rows.setdefault(tenant, {}))
            diff_snapshots(previous.get(tenant), snap)
            orjson.dumps(snap)
            previous[tenant] = snap
        publishing += time.perf_counter() - started
    return {"processing_s": processing, "publishing_s": publishing,
            "changelog_records": table.records, "changelog_mb": table.bytes / 1e6,
            **{f"changelog_mb_{k}": v / 1e6 for k, v in sorted(table.by_kind.items())},
            "processed": processor.processed, "dead_letters": processor.dead_letters}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--per-message", type=int, default=500)
    parser.add_argument("--per-batch", type=int, default=1,
                        help="messages of each partition in one batch")
    parser.add_argument("--publish-every", type=int, default=20,
                        help="batches between two publishing turns")
    parser.add_argument("--no-transcripts", action="store_true")
    parser.add_argument("--no-qa", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    settings = Settings()
    events = [event for day in center_days(args.days, args.agents, START,
                                           transcripts=not args.no_transcripts)
              for event in day]
    batches = messages(events, settings.topic_partitions, args.per_message, args.per_batch)
    tune_gc()  # as the worker does once started
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    started = time.perf_counter()
    figures = asyncio.run(run(batches, settings, args.publish_every, not args.no_qa))
    total = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
    n = len(events)
    print(f"{n:,} events in {len(batches):,} batches: {n / total:,.0f} events/s in all; "
          f"processing {n / figures['processing_s']:,.0f} events/s "
          f"({figures['processing_s']:.1f} s), publishing {figures['publishing_s']:.1f} s")
    print(f"changelog: {figures['changelog_records']:,} records, "
          f"{figures['changelog_mb']:.0f} MB; processed {figures['processed']:,}, "
          f"dead letters {figures['dead_letters']:,}")
    print({k: round(v, 1) for k, v in figures.items() if k.startswith("changelog_mb_")})
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
