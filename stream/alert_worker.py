"""The worker's side of alerts: who evaluates, the figures, the outputs, acknowledgements
and the state kept for restarts (docs/alerts.md, "Live evaluation").

The rules are evaluated by :class:`stream.alerts.live.LiveAlerts`, called by the event
processor around each event. One worker evaluates every tenant: the owner of partition 0 of
the events topic. Its figures are its own partitions' states (from memory) merged with the
other partitions' views as the publisher last read them from Redis.

Once per publishing cycle, :meth:`AlertWorker.cycle` applies the acknowledgements the
gateway added to the Redis stream since the last one, then :meth:`AlertWorker.flush` writes,
in one Redis transaction:

- each transition: the open alert into ``alerts_key(tenant)`` (removed once cleared) and
  the transition on ``alerts_channel(tenant)``;
- the state of each tenant that changed (engine, next instant, and the transitions not yet
  acknowledged by the broker on the alerts topic) into ``alert_engine_key(tenant)``;
- the id of the last acknowledgement applied.

then sends the transitions to the alerts topic (keyed by tenant) and, once the broker has
them, drops them from the stored state at the next flush. A worker that starts evaluating
loads the tenants' states and sends again what the broker may not have: an open alert and
its acknowledgement survive a restart, an alert is neither raised twice nor left open, and
the alerts topic receives every transition at least once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis

from stream.alerts.engine import AlertError, AlertTransition
from stream.alerts.live import LiveAlerts
from stream.alerts.rules import Rule
from stream.metrics.merge import snapshot
from stream.metrics.partition import PartitionState, PartitionView
from stream.report import calendar, queue_rules, wfm_rules
from stream.settings import Settings

logger = logging.getLogger(__name__)

EVALUATOR_PARTITION = 0  # its owner evaluates every tenant's rules
ACKS_PER_READ = 500

SendAlert = Callable[[bytes, bytes], Awaitable[Awaitable[Any]]]


class AlertWorker:
    def __init__(self, settings: Settings, client: aioredis.Redis, send: SendAlert,
                 own: Callable[[], Mapping[int, PartitionState]], rules: Sequence[Rule]) -> None:
        """``send(key, value)`` hands a record to the alerts topic's producer and returns
        a future resolved once the broker has it; ``own()``: this worker's partition states."""
        self.settings = settings
        self.redis = client
        self.send = send
        self.own = own
        self.rules = list(rules)
        self.calendar = calendar(settings)
        self.queue_rules = queue_rules(settings)
        self.wfm_rules = wfm_rules(settings)
        self.lateness_ms = int(settings.allowed_lateness_s * 1000)
        self.live: LiveAlerts | None = None  # while this worker evaluates
        self.foreign: Mapping[str, Sequence[PartitionView]] = {}  # other workers' partitions
        self.unwritten: list[AlertTransition] = []  # taken, not yet in Redis
        self.unsaved: set[str] = set()  # tenants whose state is not yet in Redis
        self.outbox: dict[str, list[AlertTransition]] = {}  # not yet on the alerts topic
        self.acks_from = "0-0"  # the id of the last acknowledgement applied
        self.acks_moved = False
        self.lock = asyncio.Lock()

    # ------------------------------------------------------------- figures
    def figures(self, tenant: str) -> dict[str, object]:
        """The tenant's live snapshot, as the publisher builds it."""
        views: list[PartitionView] = []
        for state in self.own().values():
            if tenant in state.clock:
                day = self.calendar.day_of(state.clock[tenant])
                views.append(state.view(tenant, self.calendar.day_bounds(day)[0]))
        views.extend(self.foreign.get(tenant, ()))
        return snapshot(tenant, views, self.calendar, self.queue_rules, self.lateness_ms,
                        self.settings.rolling_minutes, wfm=self.wfm_rules)

    # ----------------------------------------------------------- ownership
    async def assign(self, partitions: set[int]) -> LiveAlerts | None:
        """After a rebalance, before events are read: start evaluating (loading the stored
        state) if this worker owns the evaluator's partition, stop if it no longer does.
        Returns what the processor calls around each event."""
        if EVALUATOR_PARTITION in partitions:
            if self.live is None:
                await self._load()
        else:
            await self.release()
        return self.live

    async def release(self) -> None:
        """Stop evaluating, once everything is written: when the evaluator's partition is
        revoked, before the rebalance goes on, so that its next owner loads all of it."""
        if self.live is not None:
            await self.flush()
            self.live = None
            self.outbox.clear()  # kept in the stored state: the next owner sends it
            logger.info("alert rules no longer evaluated here")

    async def _load(self) -> None:
        s = self.settings
        window = int(s.alerts_live_window_s * 1000) or None
        live = LiveAlerts(self.rules, self.figures, window_ms=window, safe=True)
        tenants = sorted(_text(t) for t in await self.redis.smembers(s.tenants_key))
        stored = await self.redis.mget([s.alert_engine_key(t) for t in tenants]) if tenants else []
        self.outbox = {}
        for tenant, raw in zip(tenants, stored, strict=True):
            if not raw:
                continue
            try:
                data = orjson.loads(raw)
                live.restore(tenant, data["live"])
                outbox = [AlertTransition.from_json(t) for t in data.get("outbox", ())]
            except (ValueError, KeyError, TypeError):
                logger.exception("alert state of tenant %s not readable; starting it afresh",
                                 tenant)
                continue
            if outbox:
                self.outbox[tenant] = outbox
        position = await self.redis.get(s.alert_acks_read_key)
        self.acks_from = _text(position) if position else "0-0"
        self.acks_moved = False
        self.live = live
        logger.info("alert rules evaluated here: %d rules, state of %d tenants loaded, "
                    "%d open alerts", len(self.rules), len(live.engines),
                    sum(len(live.open_alerts(t)) for t in live.engines))

    # --------------------------------------------------------------- cycle
    async def cycle(self, foreign: Mapping[str, Sequence[PartitionView]]) -> None:
        """Once per publishing cycle: the other partitions' views (as the publisher last
        read them), instants their stream time closes, acknowledgements, then the outputs."""
        live = self.live
        if live is None:
            return
        self.foreign = foreign
        for tenant, views in foreign.items():
            clock = max((v.clock for v in views if v.intervals or v.agents), default=0)
            if clock:
                live.start(tenant, clock)
                live.evaluate_until(tenant, clock)
        await self._read_acks(live)
        await self.flush()

    async def _read_acks(self, live: LiveAlerts) -> None:
        s = self.settings
        found: Any = await self.redis.xread({s.alert_acks_stream: self.acks_from},
                                            count=ACKS_PER_READ)
        for _stream, entries in found or ():
            for entry_id, fields in entries:
                self.acks_from = _text(entry_id)
                self.acks_moved = True
                try:
                    get = {_text(k): _text(v) for k, v in fields.items()}
                    tenant, alert_id, who = get["tenant"], get["alert_id"], get["who"]
                    at_ms = int(get["at_ms"])
                except (KeyError, ValueError, UnicodeDecodeError):
                    logger.warning("acknowledgement %s ignored: not as the gateway writes it",
                                   self.acks_from)
                    continue
                try:
                    live.acknowledge(tenant, alert_id, who, get.get("comment") or None, at_ms)
                except AlertError as exc:
                    logger.debug("acknowledgement %s by %s: %s", self.acks_from, who, exc)

    # -------------------------------------------------------------- outputs
    async def flush(self) -> None:
        """Write the transitions and states taken since the last flush (see the module's
        docstring); retried at the next flush if Redis or the broker fails."""
        async with self.lock:
            live = self.live
            if live is not None:
                transitions, changed = live.take()
                self.unwritten.extend(transitions)
                self.unsaved |= changed
                for t in transitions:
                    self.outbox.setdefault(t.scope.tenant, []).append(t)
                    self.unsaved.add(t.scope.tenant)
            if self.unwritten or (live is not None and (self.unsaved or self.acks_moved)):
                await self._write(live)
            if self.outbox:
                await self._send()

    async def _write(self, live: LiveAlerts | None) -> None:
        s = self.settings
        pipe = self.redis.pipeline(transaction=True)
        for t in self.unwritten:
            tenant = t.scope.tenant
            value = orjson.dumps(t.to_json())
            if t.state == "cleared":
                pipe.hdel(s.alerts_key(tenant), t.alert_id)
            else:
                pipe.hset(s.alerts_key(tenant), t.alert_id, value)
            pipe.publish(s.alerts_channel(tenant), value)
        if live is not None:
            for tenant in sorted(self.unsaved):
                outbox = [t.to_json() for t in self.outbox.get(tenant, ())]
                pipe.set(s.alert_engine_key(tenant),
                         orjson.dumps({"live": live.state(tenant), "outbox": outbox}))
            if self.unsaved:
                pipe.sadd(s.tenants_key, *self.unsaved)
            pipe.set(s.alert_acks_read_key, self.acks_from)
        await pipe.execute()
        self.unwritten.clear()
        self.unsaved.clear()
        self.acks_moved = False

    async def _send(self) -> None:
        sending = {tenant: len(items) for tenant, items in self.outbox.items()}
        futures = [await self.send(tenant.encode(), orjson.dumps(t.to_json()))
                   for tenant, items in self.outbox.items() for t in items]
        await asyncio.gather(*futures)
        for tenant, count in sending.items():
            rest = self.outbox[tenant][count:]
            if rest:
                self.outbox[tenant] = rest
            else:
                del self.outbox[tenant]
            self.unsaved.add(tenant)  # its stored outbox is out of date


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
