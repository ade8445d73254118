"""Direct delivery of the events topic: Faust's consumer hands each message straight to an
:class:`Inbox`, and the processor takes it a batch at a time.

Faust's own path costs more per message than floorpulse's processing of a one-event
message does (docs/performance.md, "One event a message"): per message the consumer's drain
loop awaits ``wait_first(callback(message), suspend_flow.wait())`` (four tasks and an
``asyncio.wait``), the conductor takes a lock to find the topic's callback, decodes a Faust
``Event``, puts it on the channel's queue, and a stream takes it off again for
``take_events``. For the events topic :func:`deliver_directly` replaces all of it: the
callback appends the message to the inbox and returns :data:`DELIVERED`, which the
consumer's ``wait_first`` recognises and returns at once; only when the inbox is full does
it fall back to a coroutine that waits for room (or for the flow to stop).

What Faust's stream did for each message is kept, in :meth:`Inbox.take`:

- messages fetched before a rebalance (an older consumer generation) or while the flow is
  stopped are dropped, as the stream skips them (they are read again from the stored
  progress after the rebalance);
- a message is tracked as unacknowledged when it is taken into a batch (a rebalance then
  waits for it) and acknowledged after the batch (:meth:`Inbox.ack`), so offsets are
  committed only for processed messages;
- the inbox is one of the queues of the app's flow control: a rebalance clears it (and
  resuming the flow does not, :meth:`Inbox.clear`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Mapping
from typing import Any

from faust.transport import consumer as faust_consumer
from faust.types import TP
from mode.services import WaitResults

from stream.alignment import held_back

# A partition with no message taken for this long (wall time) cannot hold the others back.
IDLE_S = 2.0
DELIVERED: Any = object()  # what the callback returns for a message already in the inbox


class Inbox:
    """The messages of one topic fetched and not yet taken: at most ``limit`` of them and
    ``limit_bytes`` of values (one message, however large, is always let in).

    The byte bound keeps the read-ahead of batched producers (~100 KB a message) small: a
    catch-up holds a few MB, not a thousand messages, and a partition held back
    (:class:`Alignment`) stops soon after it is paused."""

    __slots__ = ("__weakref__", "app", "heard_at", "limit", "limit_bytes", "messages",
                 "ready", "room", "size", "taken", "wanted")

    def __init__(self, app: Any, limit: int, limit_bytes: int) -> None:
        self.app = app
        self.limit = limit
        self.limit_bytes = limit_bytes
        self.messages: deque[Any] = deque()
        self.size = 0  # bytes of the values waiting
        self.wanted = 1  # how many messages set ``ready``
        self.ready = asyncio.Event()  # set once ``wanted`` messages wait, or it is full
        self.room = asyncio.Event()  # set while not full
        self.room.set()
        self.heard_at: dict[int, float] = {}  # partition -> loop time its last message was taken
        self.taken = 0  # messages taken so far (the publisher's turns read the pace)

    def put(self, message: Any) -> bool:
        """Append ``message``; False (and nothing appended) if the inbox is full."""
        messages = self.messages
        if messages and (len(messages) >= self.limit or self.size >= self.limit_bytes):
            self.room.clear()
            return False
        messages.append(message)
        value = message.value
        if value:
            self.size += len(value)
        if not self.ready.is_set() and (
                len(messages) >= self.wanted or self.size >= self.limit_bytes):
            self.ready.set()
        return True

    async def put_when_room(self, message: Any) -> None:
        """The slow path of the callback: wait for room, then append. The consumer's
        ``wait_first`` cancels this when the flow stops (a rebalance)."""
        while not self.put(message):
            await self.room.wait()

    def clear(self) -> None:
        """Flow control: drop every waiting message when a rebalance suspends the flow
        (they are read again from the stored progress once the partitions are assigned).

        Resuming the flow clears the managed queues too, and then nothing is dropped. Faust's
        recovery resumes the flow, starts fetching, seeks the partitions and resumes the
        flow once more: messages delivered in between are past the positions and read
        offsets, so clearing them lost them for good, and a restarted worker whose backlog
        all came in that window stalled with nothing left to fetch. What is kept is of the
        current generation (older ones are dropped when taken), and the processor skips
        what it has stored and reads again from its progress after a gap."""
        if self.app.flow_control.is_active():  # resume()
            return
        self.messages.clear()
        self.size = 0
        self.ready.clear()
        self.room.set()

    def drop_partition(self, partition: int) -> int:
        """Drop the waiting messages of ``partition`` (the processor reads it again from an
        earlier offset); returns how many. None of them was taken, so none is tracked."""
        kept: deque[Any] = deque()
        dropped = 0
        size = 0
        for message in self.messages:
            if message.partition == partition:
                dropped += 1
            else:
                kept.append(message)
                if message.value:
                    size += len(message.value)
        if dropped:
            self.messages = kept
            self.size = size
            if not kept:
                self.ready.clear()
            self.room.set()
        return dropped

    async def take(self, max_messages: int, within_s: float,
                   first_within_s: float | None = None) -> list[Any]:
        """The next batch: waits for a first message (at most ``first_within_s``, if
        given: then an empty batch), then up to ``within_s`` for up to ``max_messages`` (or
        until the inbox is full). Each message taken is tracked as unacknowledged; messages
        of an older consumer generation are dropped. May return an empty list."""
        app = self.app
        await app.flow_control.acquire()
        self.wanted = 1
        if self.messages:  # however they came (a batch given up while the flow stopped)
            self.ready.set()
        else:
            self.ready.clear()
        try:
            await asyncio.wait_for(self.ready.wait(), first_within_s)
        except TimeoutError:
            return []
        enough = min(max_messages, self.limit)
        if len(self.messages) < enough and self.size < self.limit_bytes:
            self.wanted = enough
            self.ready.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ready.wait(), within_s)
        self.wanted = 1
        if not app.flow_control.is_active():
            return []
        messages = self.messages
        generation = app.consumer_generation_id
        unacked = app.consumer.unacked
        heard_at = self.heard_at
        now = asyncio.get_running_loop().time()
        batch = []
        size = self.size
        for _ in range(min(max_messages, len(messages))):
            message = messages.popleft()
            if message.value:
                size -= len(message.value)
            if message.generation_id != generation:
                continue
            message.tracked = True
            unacked.add(message)
            heard_at[message.partition] = now
            batch.append(message)
        self.size = size
        self.taken += len(batch)
        if not messages:
            self.ready.clear()
        self.room.set()
        return batch

    def ack(self, batch: list[Any]) -> None:
        """Acknowledge a processed batch: its offsets may be committed."""
        ack = self.app.consumer.ack
        for message in batch:
            ack(message)


class Alignment:
    """Holds back the partitions of the events topic that run ahead of the slowest in a
    catch-up (stream/alignment.py says why): stops fetching them, and fetches them again
    once the others have caught up.

    A rebalance sets the consumer's fetched partitions anew (every assigned one); this is
    one of the flow control's managed queues, so the rebalance also clears what it held
    back (:meth:`clear`), and it changes nothing while the flow is suspended."""

    __slots__ = ("__weakref__", "app", "heard_at", "idle_s", "paused", "skew_ms", "topic")

    def __init__(self, app: Any, topic: str, inbox: Inbox, skew_ms: int,
                 idle_s: float = IDLE_S) -> None:
        self.app = app
        self.topic = topic
        self.heard_at = inbox.heard_at
        self.skew_ms = skew_ms
        self.idle_s = idle_s
        self.paused: set[int] = set()
        app.flow_control.manage_queue(self)

    def update(self, clocks: Mapping[int, int | None]) -> None:
        """After a batch: ``clocks`` is each owned partition's stream time."""
        if not self.app.flow_control.is_active():
            return
        wanted = held_back(clocks, self.heard_at, asyncio.get_running_loop().time(),
                           self.skew_ms, self.idle_s)
        if wanted == self.paused:
            return
        # Faust's own back-pressure for a full stream buffer: the partition is no longer
        # fetched, and what was fetched for it is still delivered (pausing it outright
        # would drop the records of the fetch in progress, and the processor would have
        # to seek back for them).
        consumer = self.app.consumer
        for partition in wanted - self.paused:
            consumer.on_buffer_full(TP(self.topic, partition))
        for partition in self.paused - wanted:
            consumer.on_buffer_drop(TP(self.topic, partition))
        self.paused = wanted

    def clear(self) -> None:
        """A rebalance: the consumer fetches every assigned partition again."""
        self.paused = set()


def deliver_directly(app: Any, topic: str, inbox: Inbox) -> None:
    """Route ``topic``'s messages from the consumer straight into ``inbox``.

    Must run before the app creates its consumer (which binds ``app.topics.on_message``).
    The topic itself must be registered with the app's conductor (``app.topics.add``) so
    that it is subscribed and its partitions assigned."""
    conductor = app.topics
    original = conductor.on_message

    def on_message(message: Any) -> Any:
        if message.topic != topic:
            return original(message)
        if inbox.put(message):
            return DELIVERED
        return inbox.put_when_room(message)

    conductor.on_message = on_message
    app.flow_control.manage_queue(inbox)
    _recognise_delivered()


def _recognise_delivered() -> None:
    """Faust's consumer awaits ``wait_first(callback(message), suspend_flow.wait())`` for
    every message; for :data:`DELIVERED` there is nothing to wait for."""
    cls: Any = faust_consumer.Consumer
    if getattr(cls, "_floorpulse_original_wait_first", None) is not None:
        return
    original = cls.wait_first
    done = WaitResults([DELIVERED], [None], False)

    async def wait_first(self: Any, *coros: Any, timeout: Any = None) -> Any:
        if coros and coros[0] is DELIVERED:
            for other in coros[1:]:
                close = getattr(other, "close", None)
                if close is not None:
                    close()  # the flow's wait(), never awaited
            return done
        return await original(self, *coros, timeout=timeout)

    cls._floorpulse_original_wait_first = original
    cls.wait_first = wait_first
