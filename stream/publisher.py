"""Publish live state and closed intervals to Redis (docs/live-state.md).

Each worker writes the *view* of every partition it owns (what that partition contributes
to the figures) to ``{prefix}:{tenant}:view:{partition}`` (a worker that owns every
partition: at most once a second, and at replay markers), then merges the views of all
partitions (its own from memory, the others' from Redis) into the tenant's snapshot. The
snapshot key and the updates channel are written in one transaction, watched, so that two
workers never interleave their updates: every update is the difference to the snapshot
stored just before it.

Intervals that no event can change any more (docs/metrics.md, "Closing") are written once
to ``{prefix}:{tenant}:intervals`` (kept for the retention), and sent to the intervals topic.
Every worker may close them. How far they are closed (``{prefix}:{tenant}:closed``) only
moves on, and a closing writes only rows at or past it, in one script
(:data:`CLOSE_SCRIPT`): a worker that learns late that another closed an interval can
never write that interval's row again from views that no longer carry it (a worker whose
partitions are a day ahead prunes the intervals closed before its day).

A turn writes the partitions' progress (``processed``, ``dead_letters``) last, after the
views and the snapshot: a reader that sees a count sees the figures that include it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from stream.metrics.definitions import INTERVAL_MS, Calendar, to_ms
from stream.metrics.merge import SECTIONS, closed_until, diff_snapshots, interval_rows, snapshot
from stream.metrics.partition import PartitionState, PartitionView
from stream.progress import encode_progress, totals_with
from stream.report import calendar, queue_rules, wfm_rules
from stream.settings import Settings
from stream.wfm.snapshot import WfmBoard

logger = logging.getLogger(__name__)

DAY_S = 86_400

# While the worker is behind (the messages it has still to process would take it more than
# BEHIND_BACKLOG_S at the pace of the last period: a catch-up or a replay), publishing turns
# may take at most PUBLISH_SHARE of its time: a turn that computed for t seconds is
# followed by the next no sooner than t / share later, and the batches go on. Live, the
# turns keep their interval (what is not processed yet is what arrived in the last tens of
# milliseconds). A tenth: a 1,000-agent center's wallboard still moves every 1.5-3 s while
# a replay runs (docs/performance.md, tenth round).
PUBLISH_SHARE = 0.1
BEHIND_BACKLOG_S = 1.0

# A worker that owns every partition writes its views to Redis at most this often (and at
# every replay marker): only `floorpulse intervals` and a worker that joins read them then.
# With other workers, every turn (their snapshots merge these views).
VIEWS_ALONE_EVERY_S = 1.0

# Close intervals atomically: KEYS = the closed marker, the rows (hash), their index (sorted
# set); ARGV = the new marker, then (field, start ms, row) for each row. Rows starting before
# the stored marker are not written (another worker closed them, from views that carried
# them); the marker never moves back. Returns the stored marker before the call.
CLOSE_SCRIPT = """
local closed = tonumber(redis.call('GET', KEYS[1]) or '0')
for i = 2, #ARGV, 3 do
  local start = tonumber(ARGV[i + 1])
  if start >= closed then
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 2])
    redis.call('ZADD', KEYS[3], start, ARGV[i])
  end
end
if tonumber(ARGV[1]) > closed then
  redis.call('SET', KEYS[1], ARGV[1])
end
return closed
"""


def is_behind(backlog: int, taken: int, period_s: float) -> bool:
    """Whether ``backlog`` messages not processed yet would take the processor more than
    ``BEHIND_BACKLOG_S`` at the pace of the last ``period_s`` (in which it took ``taken``);
    with a backlog and nothing taken, it is behind."""
    if backlog <= 0 or period_s <= 0:
        return False
    return taken <= 0 or backlog * period_s / taken > BEHIND_BACKLOG_S


def turn_spacing(interval_s: float, turn_s: float, behind: bool) -> float:
    """Seconds from the start of a publishing turn to the start of the next: the interval,
    or, while the worker is ``behind`` (:func:`is_behind`), long enough that a turn that
    computed ``turn_s`` takes at most ``PUBLISH_SHARE`` of the time."""
    if behind:
        return max(interval_s, turn_s / PUBLISH_SHARE)
    return interval_s


def views_due(alone: bool, marker: bool, since_written_s: float | None) -> bool:
    """Whether a turn writes the owned partitions' changed views to Redis: always with
    other workers or a replay marker to confirm, else once ``VIEWS_ALONE_EVERY_S`` has
    passed since they were last written (``None``: never written)."""
    return (not alone or marker or since_written_s is None
            or since_written_s >= VIEWS_ALONE_EVERY_S)


@dataclass(slots=True)
class Publication:
    """What one publishing turn writes, taken from the live state under the lock."""

    views: dict[str, dict[int, PartitionView]]  # tenant -> own partition -> view
    dirty: dict[str, set[int]]  # tenant -> own partitions whose view changed
    closing: dict[str, tuple[int, list[dict[str, object]]]]  # tenant -> (until, rows)
    progress: dict[int, tuple[int, int]]
    markers: dict[str, set[int]]


class RedisPublisher:
    def __init__(self, settings: Settings, client: aioredis.Redis,
                 send_interval: Callable[[bytes, bytes], Awaitable[Any]] | None = None) -> None:
        self.settings = settings
        self.redis = client
        self.send_interval = send_interval
        self.calendar: Calendar = calendar(settings)
        self.rules = queue_rules(settings)
        self.wfm = wfm_rules(settings)
        self.lateness_ms = int(settings.allowed_lateness_s * 1000)
        self.partitions = settings.topic_partitions
        self.published_at: dict[str, float] = {}
        self.closed: dict[str, int] = {}
        # tenant -> the views of partitions other workers own, as last read
        self.foreign: dict[str, dict[int, PartitionView]] = {}
        # Seconds spent computing (views, snapshots, differences; not waiting for Redis):
        # the worker spaces its turns by it (stream/app.py).
        self.busy_s = 0.0
        # tenant -> its closed interval rows of the day, computed once (merge.snapshot)
        self.closed_rows: dict[str, dict[tuple[str, int], dict[str, object]]] = {}
        # tenant -> its WFM sums, kept from turn to turn (stream/wfm/snapshot.py)
        self.wfm_boards: dict[str, WfmBoard] = {}
        # tenant -> owned partitions whose changed view is not in Redis yet, and when the
        # views were last written (``views_due``)
        self.unwritten: dict[str, set[int]] = {}
        self.views_written_at: dict[str, float] = {}
        # tenant -> (seq, snapshot) as this publisher last wrote it (``_write_snapshot``)
        self.written: dict[str, tuple[int, dict[str, Any]]] = {}

    @property
    def foreign_views(self) -> dict[str, list[PartitionView]]:
        """tenant -> the views of partitions other workers own, as last read (for alerts)."""
        return {tenant: list(views.values()) for tenant, views in self.foreign.items()}

    @contextlib.contextmanager
    def _computing(self) -> Iterator[None]:
        """Count the block's time in ``busy_s``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.busy_s += time.perf_counter() - started

    def due(self, tenant: str, now: float) -> bool:
        """Whether a heartbeat is due for the tenant."""
        return now - self.published_at.get(tenant, 0.0) >= self.settings.heartbeat_s

    # ------------------------------------------------------------------ phases
    async def load_closed(self, tenants: set[str]) -> None:
        """Read how far the tenants' intervals are closed: any worker may have closed more
        since the last turn (a publisher never goes back on what it closed itself)."""
        if not tenants:
            return
        ordered = sorted(tenants)
        stored = await self.redis.mget([self.settings.closed_key(t) for t in ordered])
        for tenant, raw in zip(ordered, stored, strict=True):
            self.closed[tenant] = max(self.closed.get(tenant, 0), int(raw) if raw else 0)

    def prepare(self, own: Mapping[int, PartitionState], tenants: set[str],
                progress: Mapping[int, tuple[int, int]],
                markers: dict[str, set[int]]) -> Publication:
        """What to publish, taken from the live state while the processor waits (its
        ``lock``): the views of the partitions owned, and the intervals that close now (so
        that no later batch can change them); no I/O. :meth:`load_closed` first."""
        with self._computing():
            return self._prepare(own, tenants, progress, markers)

    def _prepare(self, own: Mapping[int, PartitionState], tenants: set[str],
                 progress: Mapping[int, tuple[int, int]],
                 markers: dict[str, set[int]]) -> Publication:
        views: dict[str, dict[int, PartitionView]] = {}
        dirty: dict[str, set[int]] = {}
        closing: dict[str, tuple[int, list[dict[str, object]]]] = {}
        for tenant in sorted(tenants & self.closed.keys()):  # others: at the next turn
            dirty[tenant] = {p for p, state in own.items() if tenant in state.dirty_tenants}
            for state in own.values():
                state.closed_until[tenant] = state.written_until[tenant] = self.closed[tenant]
                state.dirty_tenants.discard(tenant)
            mine = views[tenant] = {p: state.view(tenant, self._since(state, tenant))
                                    for p, state in own.items()}
            # Foreign partitions as last read: at worst older, which closes less.
            merged = [*mine.values(), *(v for p, v in self.foreign.get(tenant, {}).items()
                                        if p not in mine)]
            close = self._closing(tenant, merged)
            if close is not None:
                closing[tenant] = close
                for state in own.values():
                    state.closed_until[tenant] = close[0]
        return Publication(views, dirty, closing, dict(progress), markers)

    async def write(self, publication: Publication) -> int:
        """Write a prepared publication to Redis (no lock held: the processor goes on).
        Returns how many tenants' snapshots were written."""
        s = self.settings
        now = time.time()
        totals = totals_with(await self.redis.hgetall(s.progress_key), publication.progress)
        written = 0
        for tenant, mine in publication.views.items():
            views = await self._views(tenant, mine, publication.dirty[tenant],
                                      bool(publication.markers), now)
            if tenant in publication.closing:
                await self._write_closed(tenant, *publication.closing[tenant])
            with self._computing():
                snap = self.snapshot(tenant, views)
            snap.update(totals)
            snap["published_at"] = now
            if await self._write_snapshot(tenant, snap, force=self.due(tenant, now)):
                written += 1
                self.published_at[tenant] = now
        if publication.markers:
            pipe = self.redis.pipeline(transaction=False)
            for marker, partitions in publication.markers.items():
                acks: dict[str | bytes, int] = {str(p): 1 for p in partitions}
                pipe.hset(s.marker_key(marker), mapping=acks)  # type: ignore[arg-type]
                pipe.expire(s.marker_key(marker), 3600)
            await pipe.execute()
        if publication.progress:  # last: what it counts is in the views and snapshot above
            progress = encode_progress(publication.progress)
            await self.redis.hset(s.progress_key, mapping=progress)  # type: ignore[arg-type]
        return written

    async def publish(self, own: Mapping[int, PartitionState], tenants: set[str],
                      progress: Mapping[int, tuple[int, int]],
                      markers: dict[str, set[int]]) -> int:
        """Both phases at once (for callers that hold the state alone, e.g. tests)."""
        await self.load_closed(tenants)
        return await self.write(self.prepare(own, tenants, progress, markers))

    def snapshot(self, tenant: str, views: list[PartitionView]) -> dict[str, object]:
        """The tenant's snapshot from the views of all partitions, with what is kept from
        one turn to the next (closed rows, WFM sums)."""
        return snapshot(tenant, views, self.calendar, self.rules, self.lateness_ms,
                        self.settings.rolling_minutes, self.partitions, wfm=self.wfm,
                        closed_rows=self.closed_rows.setdefault(tenant, {}),
                        wfm_board=self.wfm_boards.setdefault(tenant, WfmBoard()))

    # ------------------------------------------------------------------ views
    def views_to_write(self, tenant: str, dirty: set[int], alone: bool, marker: bool,
                       now: float) -> set[int]:
        """The owned partitions whose changed views this turn writes (``dirty`` added to
        those not written yet): all of them when due (:func:`views_due`), else none.
        :meth:`views_written` once they are written."""
        unwritten = self.unwritten.setdefault(tenant, set())
        unwritten.update(dirty)
        written_at = self.views_written_at.get(tenant)
        if unwritten and views_due(alone, marker,
                                   None if written_at is None else now - written_at):
            return unwritten
        return set()

    def views_written(self, tenant: str, now: float) -> None:
        self.unwritten[tenant] = set()
        self.views_written_at[tenant] = now

    def _since(self, state: PartitionState, tenant: str) -> int:
        clock = state.effective_clock(tenant) or 0
        today = self.calendar.day_bounds(self.calendar.day_of(clock))[0]
        return min(today, self.closed.get(tenant, 0))

    async def _views(self, tenant: str, mine: Mapping[int, PartitionView],
                     dirty: set[int], marker: bool, now: float) -> list[PartitionView]:
        """Store the changed views of the partitions owned (``views_due``); read the
        others'."""
        s = self.settings
        foreign = [p for p in range(self.partitions) if p not in mine]
        due = self.views_to_write(tenant, dirty, not foreign, marker, now)
        if due:
            pipe = self.redis.pipeline(transaction=False)
            with self._computing():
                for partition in due & mine.keys():
                    pipe.set(s.view_key(tenant, partition),
                             mine[partition].dumps())
            await pipe.execute()
            self.views_written(tenant, now)
        views = dict(mine)
        if foreign:
            raw = await self.redis.mget([s.view_key(tenant, p) for p in foreign])
            read = self.foreign[tenant] = {
                partition: PartitionView.from_json(orjson.loads(value))
                for partition, value in zip(foreign, raw, strict=True) if value}
            views.update(read)
        else:
            self.foreign.pop(tenant, None)
        return list(views.values())

    async def _write_snapshot(self, tenant: str, snap: dict[str, Any], force: bool) -> bool:
        """Write the snapshot and publish its difference to the stored one, atomically.

        The stored one is read back only if this publisher did not write it: its ``seq``
        (a small key written in the same transaction) tells. A 1,000-agent center's
        snapshot is ~0.9 MB, and reading and parsing it every turn cost more than the
        difference (docs/performance.md, sixteenth round)."""
        s = self.settings
        key, seq_key = s.snapshot_key(tenant), s.snapshot_seq_key(tenant)
        for _ in range(5):
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key, seq_key)
                    old = await self._stored_snapshot(pipe, tenant, key, seq_key)
                    with self._computing():
                        update = diff_snapshots(old, snap)
                        changed = old is None or force or _changed(update, old, snap)
                        if changed:
                            seq = int((old or {}).get("seq", 0)) + 1
                            snap["seq"] = update["seq"] = seq
                            encoded = orjson.dumps(snap), orjson.dumps(update)
                    if not changed:
                        await pipe.unwatch()  # type: ignore[no-untyped-call]
                        return False
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.set(key, encoded[0])
                    pipe.set(seq_key, seq)
                    pipe.publish(s.updates_channel(tenant), encoded[1])
                    pipe.sadd(s.tenants_key, tenant)
                    await pipe.execute()
                    self.written[tenant] = (seq, snap)
                    return True
                except WatchError:
                    continue
        logger.warning("snapshot of %s not written: other writers kept changing it", tenant)
        return False

    async def _stored_snapshot(self, pipe: Pipeline, tenant: str, key: str,
                               seq_key: str) -> dict[str, Any] | None:
        """The tenant's stored snapshot (``pipe`` watching it): the one this publisher
        wrote last, if its ``seq`` is still the stored one, else read back."""
        mine = self.written.get(tenant)
        if mine is not None:
            stored = await pipe.get(seq_key)
            if stored is not None and int(stored) == mine[0]:
                return mine[1]
            del self.written[tenant]  # another writer's since: read theirs
        raw = await pipe.get(key)
        if not raw:
            return None
        with self._computing():
            old: dict[str, Any] = orjson.loads(raw)
        return old

    # -------------------------------------------------------------- intervals
    def _closing(self, tenant: str,
                 views: list[PartitionView]) -> tuple[int, list[dict[str, object]]] | None:
        """``(until, rows)`` if intervals close now: every one before ``until``."""
        before = self.closed.get(tenant, 0)
        until = closed_until(views, self.lateness_ms, self.partitions, before)
        if until <= before:
            return None
        return until, interval_rows(tenant, views, self.calendar, self.rules,
                                    self.lateness_ms, start_from=before or None,
                                    start_to=until, partitions=self.partitions)

    async def _write_closed(self, tenant: str, until: int,
                            rows: list[dict[str, object]]) -> None:
        """Store the rows of the intervals closing now and move the marker to ``until``
        (:data:`CLOSE_SCRIPT`: not the rows another worker closed meanwhile); send the rows
        stored to the intervals topic."""
        s = self.settings
        closing = [(f"{row['queue']}|{row['interval_start']}",
                    to_ms(datetime.fromisoformat(str(row["interval_start"]))),
                    orjson.dumps(row)) for row in rows]
        keys = [s.closed_key(tenant), s.intervals_key(tenant), s.intervals_index_key(tenant)]
        before = int(await self.redis.eval(CLOSE_SCRIPT, len(keys), *keys, until,
                                           *(arg for row in closing for arg in row)))
        if self.send_interval is not None:
            for field, start_ms, value in closing:
                if start_ms >= before:
                    await self.send_interval(f"{tenant}|{field}".encode(), value)
        self.closed[tenant] = max(until, before, self.closed.get(tenant, 0))

    async def drop_old_intervals(self, tenants: set[str]) -> None:
        """Keep closed intervals for the retention only."""
        s = self.settings
        for tenant in tenants:
            cutoff = self.closed.get(tenant, 0) - s.interval_retention_days * DAY_S * 1000
            if cutoff <= 0:
                continue
            old = await self.redis.zrangebyscore(s.intervals_index_key(tenant), 0,
                                                 cutoff - INTERVAL_MS)
            if old:
                await self.redis.hdel(s.intervals_key(tenant), *old)
                await self.redis.zrem(s.intervals_index_key(tenant), *old)


def _changed(update: dict[str, Any], old: dict[str, Any], new: dict[str, Any]) -> bool:
    if any(update[s] for s in SECTIONS) or any(update["removed"][s] for s in SECTIONS):
        return True
    return any(old.get(k) != v for k, v in new.items()
               if k not in SECTIONS and k not in ("seq", "published_at"))
