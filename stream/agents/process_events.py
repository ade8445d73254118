"""The event processor: decode a batch of Kafka messages, apply it to the live state,
dead-letter what is invalid, and persist what changed, once per key per batch.

Plumbing only: the figures are computed by :mod:`stream.metrics.live`.

Exact across crashes and rebalances (docs/metrics.md, "Recovery"):

1. one table holds a partition's facts, archived contributions and progress; a batch's
   fact writes (and dead letters) are acknowledged by the broker before its progress
   records are written, and those before the batch's offsets are acknowledged to Faust; so
   a progress record in the changelog means every effect of the messages up to its offset
   is there too. The progress record, written alone, is also the last record batch of its
   changelog partition, which keeps the embedded broker's end offset right (it reports
   the first offset of the last record batch, plus one; Faust's restore reads up to it);
2. the progress record holds the partition's counters, the offset of the last message they
   include and the partition's stream time; a message at or below that offset, delivered
   again after a crash, is skipped: it is neither applied nor counted twice;
3. a restore loads the facts and archived contributions, sets the stream time back to the
   progress record's and archives what that stream time archives; later messages then meet
   the same state they met before the crash (facts written by a batch that did not finish
   are applied again, which changes nothing: facts are idempotent);
4. the publisher and the processor take turns (``lock``): only state whose writes are
   acknowledged is published, so an interval is never closed on figures a crash can undo.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from stream.alerts.live import LiveAlerts
from stream.events import Rejected, agent_key, contact_key, decode_message, split_key
from stream.metrics.definitions import to_ms
from stream.metrics.facts import AgentFacts, ContactFacts
from stream.metrics.partition import CLOSED, LATE, PartitionState, is_archive_record
from stream.qa.worker import QA_KIND, SIGNAL_HEADER, QaFlags
from stream.tables.changelog import PartitionedTable, write_durably
from stream.wfm.state import KINDS as WFM_KINDS

logger = logging.getLogger(__name__)

MARKER_HEADER = "floorpulse-marker"
REFUSALS = {
    LATE: "later than the allowed lateness ({lateness:.0f} s behind its partition's stream time)",
    CLOSED: "would change an interval that is already closed",
}


@dataclass(slots=True)
class Progress:
    processed: int = 0
    dead_letters: int = 0
    offset: int = -1
    clocks: list[object] | None = None  # the partition's stream time at ``offset``

    def dump(self, clocks: list[object]) -> bytes:
        return orjson.dumps([self.processed, self.dead_letters, self.offset, clocks])

    @classmethod
    def load(cls, raw: bytes) -> Progress:
        processed, dead, offset, *clocks = orjson.loads(raw)
        return cls(int(processed), int(dead), int(offset), clocks[0] if clocks else None)


PROGRESS = "progress"
EXPIRE_EVERY_MS = 60 * 60_000  # stream time between two expiries of a partition


MARKS = "marks"  # ``tenant|marks|hour|agent``: an agent's state changes in an hour


def marks_key(tenant: str, hour: int, agent_id: str) -> bytes:
    return f"{tenant}|{MARKS}|{hour}|{agent_id}".encode()


def progress_key(partition: int) -> bytes:
    """``~`` is no valid tenant, so this key cannot meet a contact's or an agent's."""
    return f"~|{PROGRESS}|{partition}".encode()


def dead_letter_value(reject: Rejected, topic: str, partition: int, offset: int) -> bytes:
    """The dead-letter record: the reason, where it came from and the original bytes."""
    try:
        raw: dict[str, str] = {"raw": reject.raw.decode()}
    except UnicodeDecodeError:
        raw = {"raw_base64": base64.b64encode(reject.raw).decode()}
    return orjson.dumps({
        "reason": reject.reason,
        "index": reject.index,
        "source": {"topic": topic, "partition": partition, "offset": offset},
        "dead_lettered_at": time.time(),
        **raw,
    })


class EventProcessor:
    """Owns the state of the partitions assigned to this worker, one state per partition."""

    def __init__(
        self,
        new_state: Callable[[], PartitionState],
        table: PartitionedTable,
        send_dead_letter: Callable[[bytes], Awaitable[Awaitable[Any]]],
        seek: Callable[[int, int], Awaitable[None]],
        qa: QaFlags | None = None,
    ) -> None:
        self.new_state = new_state
        self.states: dict[int, PartitionState] = {}
        self.table = table
        self.send_dead_letter = send_dead_letter
        self.seek = seek
        self.gaps: dict[int, int] = {}  # partition -> offset met after a gap, sought back once
        self.progress: dict[int, Progress] = {}
        self.markers: dict[str, set[int]] = {}
        self.counters_changed = False
        self.expired_at: dict[int, int] = {}  # partition -> stream time of its last expiry
        self.lock = asyncio.Lock()  # batches and publishing take turns
        self.qa = qa  # sentiment and QA flags (stream/qa/worker.py), if on
        # Evaluates the alert rules at the instants of stream time events close, on the
        # worker that evaluates them (stream/alert_worker.py); None on the others.
        self.alerts: LiveAlerts | None = None

    # ----------------------------------------------------------- rebalance
    def state(self, partition: int) -> PartitionState:
        state = self.states.get(partition)
        if state is None:
            state = self.states[partition] = self.new_state()
        return state

    async def rebuild(self, partitions: set[int]) -> None:
        """Recreate the partitions' states from the tables after a rebalance or a restart."""
        async with self.lock:
            self._rebuild(partitions)

    def _rebuild(self, partitions: set[int]) -> None:
        started = time.monotonic()
        states = {p: self.new_state() for p in partitions}
        archived = 0
        self.progress = {}
        # (partition, tenant, agent) -> the agent's profile and marks by hour
        agents: dict[tuple[int, str, str], list[Any]] = {}
        for key, value, partition in self.table.items(partitions):
            tenant, kind, ident = split_key(key)
            if kind == "contact":
                data = orjson.loads(value)
                if is_archive_record(data):
                    states[partition].load_archived(tenant, ident, data)
                    archived += 1
                else:
                    states[partition].load_contact(tenant, ident, ContactFacts.load(data))
            elif kind == "agent":
                agents.setdefault((partition, tenant, ident), [None, {}])[0] = orjson.loads(value)
            elif kind == MARKS:
                hour, agent_id = ident.split("|", 1)
                hours = agents.setdefault((partition, tenant, agent_id), [None, {}])[1]
                hours[int(hour)] = orjson.loads(value)
            elif kind in WFM_KINDS:  # published schedules and forecasts
                states[partition].wfm.load(kind, tenant, ident, orjson.loads(value))
            elif kind == PROGRESS:
                self.progress[partition] = Progress.load(value)
            elif kind == QA_KIND and self.qa is not None:
                self.qa.load(states[partition], tenant, ident, value)
        for (partition, tenant, agent_id), (profile, hours) in agents.items():
            states[partition].load_agent(tenant, agent_id, AgentFacts.load(profile, hours))
        for partition, state in states.items():
            prog = self.progress.get(partition)
            if prog is not None and prog.clocks is not None:
                state.set_clocks(prog.clocks)
            state.dirty_contacts.clear()
            state.dirty_agents.clear()
            if self.qa is not None:
                self.qa.restored(state)
        self.table.forget_except(partitions)
        self.states = states
        self._expire()  # what the restored stream time archives (written with the next batch)
        self.counters_changed = True
        logger.info("state rebuilt for partitions %s: %d contacts (%d archived), %d agents "
                    "in %.2f s; stored up to offsets %s", sorted(partitions),
                    sum(len(s.contacts) for s in states.values()), archived,
                    sum(len(s.agents) for s in states.values()), time.monotonic() - started,
                    {p: prog.offset for p, prog in sorted(self.progress.items())})

    def resume_offsets(self) -> dict[int, int]:
        """Where to read each restored partition from: after its stored progress."""
        return {p: prog.offset + 1 for p, prog in self.progress.items() if prog.offset >= 0}

    @property
    def processed(self) -> int:
        return sum(p.processed for p in self.progress.values())

    @property
    def dead_letters(self) -> int:
        return sum(p.dead_letters for p in self.progress.values())

    # --------------------------------------------------------------- batch
    async def process(self, messages: Sequence[Any]) -> None:
        """``messages``: Faust messages (topic, partition, offset, headers, value) of the
        events topic (stream/inbox.py). Returns once everything the batch changed is
        acknowledged by the broker."""
        async with self.lock:
            await self._process(messages)

    async def _process(self, messages: Sequence[Any]) -> None:
        """:meth:`process`, under the lock."""
        self._expire(due_only=True)
        touched: set[int] = set()
        sent: list[Awaitable[Any]] = []
        rewound: set[int] = set()
        alerts = self.alerts
        for msg in messages:
            partition, offset = msg.partition, msg.offset
            if partition in rewound:
                continue
            prog = self.progress.get(partition)
            if prog is None:
                prog = self.progress[partition] = Progress()
            if 0 <= prog.offset < offset - 1 and self.gaps.get(partition) != offset:
                # Messages missing: Faust drops some in a rebalance. Read them again
                # (once: a gap met twice is real, as left by a transactional producer).
                logger.warning("partition %d: offset %d follows %d; reading again from %d",
                               partition, offset, prog.offset, prog.offset + 1)
                self.gaps[partition] = offset
                rewound.add(partition)
                await self.seek(partition, prog.offset + 1)
                continue
            marker = _header(msg.headers, MARKER_HEADER)
            signal = None if marker is not None else _header(msg.headers, SIGNAL_HEADER)
            if marker is not None:
                self.markers.setdefault(marker, set()).add(partition)
            elif signal is not None:  # repeat-customer signals (stream/qa/customers.py)
                bad = (self.qa.apply_signals(self.state(partition), msg.value or b"")
                       if self.qa is not None and offset > prog.offset else [])
                for reject in bad:
                    prog.dead_letters += 1
                    sent.append(await self.send_dead_letter(dead_letter_value(
                        reject, msg.topic, partition, offset)))
            elif offset > prog.offset:  # else: applied and stored before a crash
                live = self.state(partition)
                events, rejects = decode_message(msg.value)
                applied = 0
                for event in events:
                    ts = to_ms(event.ts)  # once, for the alerts and the state
                    if alerts is not None:
                        alerts.before(event.tenant, ts)
                    try:
                        refused = live.refusal(event, ts)
                    except Exception as exc:  # never stop the worker for one event
                        logger.exception("event %s could not be applied", event.event_id)
                        refused = f"internal error: {exc!r}"
                    if refused is None:
                        applied += 1
                        if alerts is not None:
                            alerts.applied(event.tenant, ts)
                    else:
                        rejects.append(Rejected(
                            reason=REFUSALS.get(refused, refused).format(
                                lateness=live.lateness_ms / 1000),
                            raw=orjson.dumps(
                                event.model_dump(mode="json", exclude_none=True))))
                for reject in rejects:
                    sent.append(await self.send_dead_letter(
                        dead_letter_value(reject, msg.topic, partition, offset)))
                prog.processed += applied
                prog.dead_letters += len(rejects)
            if offset > prog.offset:
                prog.offset = offset
                touched.add(partition)
        if self.qa is not None:
            sent.extend(await self.qa.after_batch(self.states))
        await self._persist(touched, sent)

    async def _persist(self, touched: set[int], sent: list[Awaitable[Any]]) -> None:
        """Write what changed, once per key per batch, to its partition's changelog; then,
        once the broker has all of it, the progress of the partitions touched."""
        for partition, live in self.states.items():
            for ckey in live.dirty_contacts:
                facts = live.contacts.get(ckey)
                if facts is not None:
                    self.table.put(partition, contact_key(*ckey), orjson.dumps(facts.dump()))
            for tenant, agent_id in live.dirty_agents:
                agent = live.agents.get((tenant, agent_id))
                if agent is None:
                    continue
                profile, hours = agent.take_records()
                if profile is not None:
                    self.table.put(partition, agent_key(tenant, agent_id), orjson.dumps(profile))
                for hour, marks in hours:
                    if marks:
                        self.table.put(partition, marks_key(tenant, hour, agent_id),
                                       orjson.dumps(marks))
                    else:
                        self.table.delete(partition, marks_key(tenant, hour, agent_id))
            live.dirty_contacts.clear()
            live.dirty_agents.clear()
            for wkey, value in live.wfm.take_dirty():  # schedules and forecasts
                if value is None:
                    self.table.delete(partition, wkey)
                else:
                    self.table.put(partition, wkey, value)
            if self.qa is not None:
                self.qa.persist(partition, live, self.table.put)
        written = self.table.pending_partitions()
        await write_durably(self.table, also=sent)
        for partition in touched | written:
            prog = self.progress.get(partition)
            if prog is None:
                prog = self.progress[partition] = Progress()
            self.table.put(partition, progress_key(partition),
                           prog.dump(self.state(partition).clocks()))
        await write_durably(self.table)
        if touched:
            self.counters_changed = True

    def _expire(self, due_only: bool = False) -> int:
        """Archive finished contacts beyond the allowed lateness (their records replaced by
        their contributions) and delete archived ones older than any view. Driven by stream
        time: ``due_only`` expires a partition only once its stream time has moved on by
        ``EXPIRE_EVERY_MS`` since it last did (so a fast replay of a week stays as small as
        a live day)."""
        count = 0
        for partition, live in self.states.items():
            now = live.any_clock or 0
            if due_only and now - self.expired_at.get(partition, 0) < EXPIRE_EVERY_MS:
                continue
            self.expired_at[partition] = now
            archived, forgotten = live.expire()
            for (tenant, contact_id), record in archived:
                self.table.put(partition, contact_key(tenant, contact_id), orjson.dumps(record))
            for tenant, contact_id in forgotten:
                self.table.delete(partition, contact_key(tenant, contact_id))
            if self.qa is not None:
                self.qa.forget(partition, live, [key for key, _ in archived], self.table.delete)
            count += len(archived)
        return count


def _header(headers: Any, wanted: str) -> str | None:
    """The value of header ``wanted`` (a marker, a repeat-customer signal), if any."""
    if not headers:
        return None
    items = headers.items() if isinstance(headers, dict) else headers
    for name, value in items:
        if name == wanted:
            return value.decode() if isinstance(value, bytes) else str(value)
    return None
