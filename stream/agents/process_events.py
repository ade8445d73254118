"""The event processor: decode a batch of Kafka messages, apply it to the live state,
dead-letter what is invalid, and persist what changed, once per key per batch.

Plumbing only: the figures are computed by :mod:`stream.metrics.live`.

Counting is exact across crashes: each partition's ``processed`` and ``dead_letters``
counters are stored with the offset of the last message they include (in one changelog
record), and a message at or below that offset, re-delivered after a crash, is applied
again (facts are idempotent) but not counted again.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from stream.events import Rejected, agent_key, contact_key, decode_message, split_key
from stream.metrics.facts import AgentFacts, ContactFacts
from stream.metrics.partition import CLOSED, LATE, PartitionState
from stream.tables.changelog import PartitionedTable

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

    def dump(self) -> bytes:
        return orjson.dumps([self.processed, self.dead_letters, self.offset])

    @classmethod
    def load(cls, raw: bytes) -> Progress:
        processed, dead, offset = orjson.loads(raw)
        return cls(int(processed), int(dead), int(offset))


def progress_key(partition: int) -> bytes:
    return f"partition|{partition}".encode()


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
        contacts: PartitionedTable,
        agents: PartitionedTable,
        progress: PartitionedTable,
        send_dead_letter: Callable[[bytes], Awaitable[Any]],
    ) -> None:
        self.new_state = new_state
        self.states: dict[int, PartitionState] = {}
        self.contacts = contacts
        self.agents = agents
        self.progress_table = progress
        self.send_dead_letter = send_dead_letter
        self.progress: dict[int, Progress] = {}
        self.markers: dict[str, set[int]] = {}
        self.counters_changed = False

    # ----------------------------------------------------------- rebalance
    def state(self, partition: int) -> PartitionState:
        state = self.states.get(partition)
        if state is None:
            state = self.states[partition] = self.new_state()
        return state

    def rebuild(self, partitions: set[int]) -> None:
        """Recreate the partitions' states from the tables after a rebalance or a restart."""
        started = time.monotonic()
        states = {p: self.new_state() for p in partitions}
        for key, value, partition in self.contacts.items(partitions):
            tenant, _, contact_id = split_key(key)
            states[partition].load_contact(tenant, contact_id,
                                           ContactFacts.load(orjson.loads(value)))
        for key, value, partition in self.agents.items(partitions):
            tenant, _, agent_id = split_key(key)
            states[partition].load_agent(tenant, agent_id, AgentFacts.load(orjson.loads(value)))
        for state in states.values():
            state.dirty_contacts.clear()
            state.dirty_agents.clear()
        self.progress = {
            partition: Progress.load(value)
            for _, value, partition in self.progress_table.items(partitions)
        }
        for table in (self.contacts, self.agents, self.progress_table):
            table.forget_except(partitions)
        self.states = states
        self.counters_changed = True
        logger.info("state rebuilt for partitions %s: %d contacts, %d agents in %.2f s",
                    sorted(partitions), sum(len(s.contacts) for s in states.values()),
                    sum(len(s.agents) for s in states.values()), time.monotonic() - started)

    @property
    def processed(self) -> int:
        return sum(p.processed for p in self.progress.values())

    @property
    def dead_letters(self) -> int:
        return sum(p.dead_letters for p in self.progress.values())

    # --------------------------------------------------------------- batch
    async def process(self, messages: Sequence[Any]) -> None:
        """``messages``: Faust events (``.message`` with topic, partition, offset, value)."""
        touched: set[int] = set()
        for fevent in messages:
            msg = fevent.message
            partition, offset = msg.partition, msg.offset
            live = self.state(partition)
            prog = self.progress.get(partition)
            if prog is None:
                prog = self.progress[partition] = Progress()
            counted = offset > prog.offset
            marker = _marker(msg.headers)
            if marker is not None:
                self.markers.setdefault(marker, set()).add(partition)
            else:
                events, rejects = decode_message(msg.value)
                applied = 0
                for event in events:
                    try:
                        refused = live.refusal(event)
                    except Exception as exc:  # never stop the worker for one event
                        logger.exception("event %s could not be applied", event.event_id)
                        refused = f"internal error: {exc!r}"
                    if refused is None:
                        applied += 1
                    else:
                        rejects.append(Rejected(
                            reason=REFUSALS.get(refused, refused).format(
                                lateness=live.lateness_ms / 1000),
                            raw=orjson.dumps(event.model_dump(mode="json", exclude_none=True))))
                for reject in rejects:
                    await self.send_dead_letter(
                        dead_letter_value(reject, msg.topic, partition, offset))
                if counted:
                    prog.processed += applied
                    prog.dead_letters += len(rejects)
            if counted:
                prog.offset = offset
                touched.add(partition)
        self._persist(touched)

    def _persist(self, touched: set[int]) -> None:
        """Write what changed, once per key per batch, to its partition's changelog."""
        for partition, live in self.states.items():
            for ckey in live.dirty_contacts:
                facts = live.contacts.get(ckey)
                if facts is not None:
                    self.contacts.put(partition, contact_key(*ckey), orjson.dumps(facts.dump()))
            for akey in live.dirty_agents:
                agent = live.agents.get(akey)
                if agent is not None:
                    self.agents.put(partition, agent_key(*akey), orjson.dumps(agent.dump()))
            live.dirty_contacts.clear()
            live.dirty_agents.clear()
        for partition in touched:
            self.progress_table.put(partition, progress_key(partition),
                                    self.progress[partition].dump())
        if touched:
            self.counters_changed = True

    def expire(self) -> int:
        """Forget finished contacts beyond the allowed lateness (and their table rows)."""
        count = 0
        for partition, live in self.states.items():
            for tenant, contact_id in live.expire():
                self.contacts.delete(partition, contact_key(tenant, contact_id))
                count += 1
        return count


def _marker(headers: Any) -> str | None:
    if not headers:
        return None
    items = headers.items() if isinstance(headers, dict) else headers
    for name, value in items:
        if name == MARKER_HEADER:
            return value.decode() if isinstance(value, bytes) else str(value)
    return None
