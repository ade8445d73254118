"""The worker's CPU path in one process, without Kafka or Redis: where the time goes.

``python -m bench.hotpath [--days D] [--agents A] [--profile] [--memory | --turns]``: a
simulated center (every feature on: intervals, dedup, agent timelines, WFM plans, QA flags)
is cut into messages of 500 events, as the producers send them, and fed batch by batch
through the worker's own :class:`~stream.agents.process_events.EventProcessor` (decode,
apply, flags, changelog records) into an in-memory table; every ``--publish-every`` batches
a publishing turn prepares the views and builds the snapshots as
:class:`~stream.publisher.RedisPublisher` does. Prints events/s for each phase;
``--profile`` adds the top functions by own time.

``--turns`` measures the publishing turn instead: a ``--agents`` center's Monday fed up to
``--turns-at`` hours after its start (08:00 UTC: midday with the default 4), then
``--turns-count`` batches of ``--turn-events`` events, each followed by a turn; prints the
turns' CPU (p50 / p90) and, on the last state, each part of a turn (the views under the
processor's lock, the snapshot, of it the WFM sections, the JSON, the difference). With
``--redis`` the turns are the worker's own publisher's (:class:`RedisPublisher`, its Redis
reads and writes included) on an embedded Redis, and their CPU is the process's.

``--memory`` feeds a day at a time instead (each day's batches written once to a file by a
child process, kept in ``--input-dir`` for later runs, and read back one batch at a time,
so the input is not in the figures) and prints after each day the RSS, what the worker
holds container by container and, with ``--tracemalloc``, the traced Python memory and
the lines allocating most.

It measures what the processor and the publisher cost on the CPU, the part of the worker
that floorpulse's code decides; bench/throughput.py measures the whole worker on a broker.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import multiprocessing
import pickle
import pstats
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psutil
import redis.asyncio as aioredis

from bench.memory import center_days
from bench.servers import percentile
from stream.agents.process_events import EventProcessor
from stream.alerts.rules import settings_config
from stream.app import tune_gc
from stream.embedded import start_redis
from stream.events import raw_key
from stream.metrics.merge import diff_snapshots
from stream.metrics.partition import PartitionView
from stream.partitioner import partition_for
from stream.publisher import RedisPublisher
from stream.qa.worker import QaFlags
from stream.report import calendar, new_partition_state
from stream.settings import Settings
from stream.tables.changelog import PartitionedTable
from stream.wfm.snapshot import WfmBoard

START = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)  # a Monday


@dataclass
class _Message:  # what the worker's inbox hands the processor (stream/inbox.py)
    topic: str
    partition: int
    offset: int
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


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
             per_batch: int, next_offset: dict[int, int] | None = None) -> list[list[_Message]]:
    """Messages as the producers cut them (per partition, ``per_message`` events each),
    then grouped in batches as a worker reads them: one message of each partition.
    ``next_offset`` (partition -> offset of its next message, updated): to go on from
    earlier messages; else from offset 0."""
    offsets = next_offset if next_offset is not None else {}
    by_partition: list[list[dict[str, object]]] = [[] for _ in range(partitions)]
    for event in events:
        key = raw_key(event)
        by_partition[partition_for(key, partitions) if key is not None else 0].append(event)
    queues = [[_Message("events", p, offsets.get(p, 0) + i // per_message,
                        orjson.dumps(evs[i:i + per_message]))
               for i in range(0, len(evs), per_message)]
              for p, evs in enumerate(by_partition)]
    for p, queue in enumerate(queues):
        offsets[p] = offsets.get(p, 0) + len(queue)
    rounds = [[q[i] for q in queues if i < len(q)] for i in range(max(map(len, queues)))]
    return [[m for r in rounds[i:i + per_batch] for m in r]
            for i in range(0, len(rounds), per_batch)]


class HotPath:
    """The worker's processor, table and publisher, fed batches as the worker reads them."""

    def __init__(self, settings: Settings, publish_every: int, qa: bool) -> None:
        config = settings_config(settings.rules_file)
        center_calendar = calendar(settings)
        self.settings = settings
        self.publish_every = publish_every
        self.table = MemoryTable()
        flags = QaFlags(_send_records, _send_records, settings.topic_partitions) if qa else None
        self.processor = EventProcessor(
            lambda: new_partition_state(settings, center_calendar, config.flags if qa else None),
            self.table, _send, _seek, flags)
        self.publisher = RedisPublisher(settings, None)  # type: ignore[arg-type]
        self.processing = self.publishing = 0.0
        self.fed = 0  # batches
        self.previous: dict[str, Any] = {}
        self.turn = 0

    async def feed(self, batches: list[list[_Message]], last: bool = True) -> None:
        """Process the batches, with a publishing turn every ``publish_every`` batches fed
        (and after the last one if ``last``)."""
        for i, batch in enumerate(batches, 1):
            started = time.perf_counter()
            await self.processor.process(batch)
            self.processing += time.perf_counter() - started
            self.fed += 1
            if self.fed % self.publish_every and not (last and i == len(batches)):
                continue
            started = time.perf_counter()
            self.publish()
            self.publishing += time.perf_counter() - started

    def publish(self) -> None:
        """One publishing turn, as the worker's: prepare (closing intervals), views,
        snapshots and their differences (no Redis)."""
        publisher = self.publisher
        states = self.processor.states
        tenants = {t for state in states.values() for t in state.tenants()}
        publisher.closed.update({t: publisher.closed.get(t, 0) for t in tenants})
        publication = publisher.prepare(states, tenants, {}, {})
        for tenant, (until, _) in publication.closing.items():
            publisher.closed[tenant] = until
        self.turn += 1
        for tenant, views in publication.views.items():
            # the views' JSON as a worker owning every partition writes it, a turn every
            # publish_interval_s
            now = self.turn * self.settings.publish_interval_s
            due = publisher.views_to_write(tenant, publication.dirty[tenant], True, False, now)
            if due:
                for partition in due:
                    views[partition].dumps()
                publisher.views_written(tenant, now)
            snap = publisher.snapshot(tenant, list(views.values()))
            diff_snapshots(self.previous.get(tenant), snap)
            orjson.dumps(snap)
            self.previous[tenant] = snap

    def figures(self) -> dict[str, float]:
        table = self.table
        return {"processing_s": self.processing, "publishing_s": self.publishing,
                "changelog_records": table.records, "changelog_mb": table.bytes / 1e6,
                **{f"changelog_mb_{k}": v / 1e6 for k, v in sorted(table.by_kind.items())},
                "processed": self.processor.processed,
                "dead_letters": self.processor.dead_letters}

    def held(self) -> dict[str, int]:
        """How much the worker holds, container by container (``--memory``)."""
        out: dict[str, int] = {}

        def add(name: str, n: int) -> None:
            out[name] = out.get(name, 0) + n

        for key, value in self.table.table.data.items():
            add(f"table.{key.split(b'|', 2)[1].decode()}", 1)
            add("table.value_kb", len(value or b""))
        out["table.value_kb"] = out.get("table.value_kb", 0) >> 10
        add("table.written_partition", len(self.table._written_partition))
        for state in self.processor.states.values():
            add("contacts", len(state.contacts))
            add("contributions", len(state.contributions))
            add("archived", len(state.archived))
            add("agents", len(state.agents))
            add("agent_marks", sum(len(a.timeline) for a in state.agents.values()))
            for name in ("intervals", "minutes", "samples", "settle", "waiting", "handled",
                         "agent_time"):
                add(name, sum(len(v) for v in getattr(state, name).values()))
            add("dirty_tenants", len(state.dirty_tenants))
            wfm = state.wfm
            add("wfm.schedules", len(wfm.schedules))
            add("wfm.forecasts", len(wfm.forecasts))
            add("wfm.forecast_intervals", sum(len(f.intervals) for f in wfm.forecasts.values()))
            add("wfm.folds", len(wfm._folds))
            add("wfm.partial", len(wfm._partial))
            add("wfm.revision", len(wfm._revision))
            if state.qa is not None:
                add("qa.contacts", len(state.qa.contacts))
                add("qa.live", len(state.qa.live))
                add("qa.pending", len(state.qa.pending))
        add("processor.markers", len(self.processor.markers))
        add("publisher.previous", len(self.previous))
        return out


async def run(batches: list[list[_Message]], settings: Settings, publish_every: int,
              qa: bool) -> dict[str, float]:
    hot = HotPath(settings, publish_every, qa)
    await hot.feed(batches)
    return hot.figures()


def _write_day(path: Path, day: int, agents: int, transcripts: bool, partitions: int,
               per_message: int, per_batch: int) -> None:
    """Write one simulated day's batches (``[(partition, value), ...]``, pickled one after
    the other) to ``path`` (run in a child process: the generator's memory stays there)."""
    events = next(center_days(day + 1, agents, START, transcripts=transcripts, skip=day))
    batches = messages(events, partitions, per_message, per_batch)
    del events
    partial = path.with_suffix(".part")
    with partial.open("wb") as out:
        for batch in batches:
            pickle.dump([(m.partition, m.value) for m in batch], out,
                        protocol=pickle.HIGHEST_PROTOCOL)
    partial.rename(path)


def day_batches(directory: Path, day: int, agents: int, transcripts: bool, settings: Settings,
                args: argparse.Namespace, next_offset: dict[int, int]) -> Iterator[list[_Message]]:
    """One day's batches, read one at a time from the file a child process wrote (kept in
    ``directory`` for later runs), offsets following ``next_offset`` (updated)."""
    path = directory / (f"day{day}-a{agents}-{'t' if transcripts else 'n'}-"
                        f"p{settings.topic_partitions}-m{args.per_message}-b{args.per_batch}.bin")
    if not path.exists():
        child = multiprocessing.get_context("spawn").Process(
            target=_write_day, args=(path, day, agents, transcripts, settings.topic_partitions,
                                     args.per_message, args.per_batch))
        child.start()
        child.join()
        if child.exitcode != 0:
            raise RuntimeError(f"generating day {day} failed ({child.exitcode})")
    with path.open("rb") as source:
        while True:
            try:
                batch = pickle.load(source)
            except EOFError:
                return
            out = []
            for partition, value in batch:
                offset = next_offset.get(partition, 0)
                next_offset[partition] = offset + 1
                out.append(_Message("events", partition, offset, value))
            yield out


async def run_days(days: int, agents: int, transcripts: bool, settings: Settings,
                   args: argparse.Namespace) -> dict[str, float]:
    """``--memory``: feed a day at a time, its batches read one by one from a file written
    by a child process (so no input is held here but the batch being processed); after
    each day, RSS, the traced Python memory (``--tracemalloc``) and what the worker holds,
    container by container."""
    hot = HotPath(settings, args.publish_every, not args.no_qa)
    process = psutil.Process()
    rows: list[dict[str, int]] = []
    next_offset: dict[int, int] = {}
    directory = Path(args.input_dir)
    directory.mkdir(parents=True, exist_ok=True)
    for day in range(days):
        for batch in day_batches(directory, day, agents, transcripts, settings, args,
                                 next_offset):
            await hot.feed([batch], last=False)
        del batch
        gc.collect()
        row = {"day": day + 1, "rss_mb": process.memory_info().rss >> 20,
               "processed": hot.processor.processed,
               "dead_letters": hot.processor.dead_letters}
        if tracemalloc.is_tracing():
            row["traced_mb"] = tracemalloc.get_traced_memory()[0] >> 20
            top = tracemalloc.take_snapshot().statistics("lineno")[:args.top]
            print("\n".join(f"  {stat.size >> 20:>6} MB {stat.count:>10,} "
                            f"{stat.traceback[0].filename.rsplit('/', 2)[-1]}:"
                            f"{stat.traceback[0].lineno}" for stat in top))
        row.update(hot.held())
        rows.append(row)
        print(f"day {day + 1}: " + ", ".join(f"{k} {v:,}" for k, v in row.items()
                                             if k != "day"), flush=True)
    names = list(rows[-1])
    print("\n" + "".join(f"{n:>26}" if i == 0 else f"{n[:10]:>11}"
                         for i, n in enumerate(["what", *(str(r["day"]) for r in rows)])))
    for name in names[1:]:
        print(f"{name:>26}" + "".join(f"{r.get(name, 0):>11,}" for r in rows))
    return hot.figures()


def _median_ms(work: Any, times: int = 10) -> float:
    taken = []
    for _ in range(times):
        started = time.perf_counter()
        work()
        taken.append(time.perf_counter() - started)
    return statistics.median(taken) * 1000


async def run_turns(settings: Settings, args: argparse.Namespace) -> None:
    """``--turns``: what a publishing turn costs a live worker (see the module)."""
    events = next(center_days(1, args.agents, START, transcripts=not args.no_transcripts))
    until = START + timedelta(hours=args.turns_at)
    cut = next((i for i, e in enumerate(events)
                if datetime.fromisoformat(str(e["ts"])) >= until), len(events))
    offsets: dict[int, int] = {}
    morning = messages(events[:cut], settings.topic_partitions, args.per_message, 1, offsets)
    per_partition = max(1, args.turn_events // settings.topic_partitions)
    later = messages(events[cut:cut + args.turns_count * args.turn_events],
                     settings.topic_partitions, per_partition, 1, offsets)
    del events
    tune_gc()
    hot = HotPath(settings, 1 << 30, not args.no_qa)
    await hot.feed(morning, last=False)
    if args.redis:
        turns = await _redis_turns(settings, hot, later)
    else:
        hot.publish()
        turns = []
        for batch in later:
            await hot.processor.process(batch)
            started = time.perf_counter()
            hot.publish()
            turns.append(time.perf_counter() - started)
    p50, p90 = percentile(turns, 50) * 1000, percentile(turns, 90) * 1000
    print(f"{args.agents:,} agents, {cut:,} events to {until:%H:%M} UTC, then {len(turns)} "
          f"turns{' with Redis' if args.redis else ''}, each after {args.turn_events} "
          f"events: a turn's CPU p50 {p50:.1f} ms, p90 {p90:.1f} ms")
    publisher, states = hot.publisher, hot.processor.states
    tenants = {t for state in states.values() for t in state.tenants()}
    parts = {"views (prepare, under the processor's lock)":
             _median_ms(lambda: publisher.prepare(states, tenants, {}, {}))}
    publication = publisher.prepare(states, tenants, {}, {})
    for tenant, mine in publication.views.items():
        parts.update(_snapshot_parts(hot, tenant, list(mine.values())))
    for name, ms in parts.items():
        print(f"  {name:<62} {ms:7.1f} ms")


async def _redis_turns(settings: Settings, hot: HotPath,
                       batches: list[list[_Message]]) -> list[float]:
    """``--redis``: each batch followed by a turn of the worker's publisher on an embedded
    Redis; the process's CPU time of each turn (Redis's own is another process's)."""
    server = start_redis()
    client = aioredis.Redis(host=server.host, port=server.port)
    try:
        url = f"redis://{server.host}:{server.port}/0"
        publisher = RedisPublisher(settings.model_copy(update={"redis_url": url}), client)
        states = hot.processor.states
        tenants = {t for state in states.values() for t in state.tenants()}
        await publisher.publish(states, tenants, {}, {})
        turns = []
        for batch in batches:
            await hot.processor.process(batch)
            started = time.process_time()
            await publisher.publish(states, tenants, {}, {})
            turns.append(time.process_time() - started)
        return turns
    finally:
        await client.aclose()
        server.stop()


def _snapshot_parts(hot: HotPath, tenant: str, views: list[PartitionView]) -> dict[str, float]:
    """The CPU of each part of a turn's work on one tenant's views, ms."""
    boards = hot.publisher.wfm_boards
    kept = boards.get(tenant)

    def afresh(these: list[PartitionView]) -> dict[str, object]:
        """The snapshot with every agent's WFM part computed (a new board)."""
        boards[tenant] = WfmBoard()
        return hot.publisher.snapshot(tenant, these)

    bare = [replace(view, wfm={}) for view in views]
    snap = hot.publisher.snapshot(tenant, views)
    with_wfm = _median_ms(lambda: hot.publisher.snapshot(tenant, views))
    with_wfm_afresh = _median_ms(lambda: afresh(views))
    without_wfm = _median_ms(lambda: afresh(bare))
    if kept is not None:
        boards[tenant] = kept
    size = len(orjson.dumps(snap))
    return {
        f"snapshot of {tenant} (no agent changed since the last)": with_wfm,
        "  of it the WFM sections (against views without schedules)": with_wfm - without_wfm,
        "  the WFM sections with every agent computed (a new board)":
            with_wfm_afresh - without_wfm,
        "views' JSON (all; alone, a worker writes them once a second)":
            _median_ms(lambda: [v.dumps() for v in views]),
        f"snapshot's JSON ({size / 1000:,.0f} KB)": _median_ms(lambda: orjson.dumps(snap)),
        "difference from the last snapshot": _median_ms(
            lambda: diff_snapshots(hot.previous.get(tenant), snap)),
    }


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
    parser.add_argument("--memory", action="store_true",
                        help="a day at a time: RSS and what is held after each day")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="with --memory: also the traced Python memory (slow)")
    parser.add_argument("--top", type=int, default=25,
                        help="with --tracemalloc: the lines allocating most, after each day")
    parser.add_argument("--turns", action="store_true",
                        help="the publishing turn of a center at midday (see above)")
    parser.add_argument("--turns-at", type=float, default=4.0,
                        help="with --turns: hours of the day fed before the turns")
    parser.add_argument("--turns-count", type=int, default=200)
    parser.add_argument("--redis", action="store_true",
                        help="with --turns: the worker's publisher on an embedded Redis")
    parser.add_argument("--turn-events", type=int, default=100,
                        help="with --turns: events between two turns")
    parser.add_argument("--input-dir",
                        default=str(Path(tempfile.gettempdir()) / "floorpulse-hotpath"),
                        help="with --memory: where the days' batches are kept between runs")
    args = parser.parse_args()
    settings = Settings()
    if args.turns:
        asyncio.run(run_turns(settings, args))
        return
    if args.memory:
        if args.tracemalloc:
            tracemalloc.start()
        started = time.perf_counter()
        figures = asyncio.run(run_days(args.days, args.agents, not args.no_transcripts,
                                       settings, args))
        print(f"{figures['processed']:,} events processed in {time.perf_counter() - started:.0f} s"
              f" (processing {figures['processing_s']:.0f} s, publishing "
              f"{figures['publishing_s']:.0f} s)")
        return
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
