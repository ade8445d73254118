"""The inbox of the events topic (stream/inbox.py): batches, back-pressure, rebalances.

The app here is the few attributes of a Faust app the inbox reads (its flow control is
mode's real ``FlowControlEvent``); the whole path through Faust's consumer and a real broker
is tested by the integration tests (tests/integration/test_recovery.py reads one event a
message through a rebalance).
"""

from __future__ import annotations

import asyncio
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import pytest
from faust.transport import consumer as faust_consumer
from faust.types import TP
from mode.utils.queues import FlowControlEvent

from stream.alignment import held_back
from stream.inbox import DELIVERED, Alignment, Inbox, deliver_directly


@dataclass(eq=False)
class Message:
    offset: int
    topic: str = "events"
    generation_id: int = 1
    tracked: bool = False
    partition: int = 0
    value: bytes = b"{}"


@dataclass
class Consumer:
    unacked: set[Message] = field(default_factory=set)
    acked: list[int] = field(default_factory=list)
    paused: set[TP] = field(default_factory=set)

    def ack(self, message: Message) -> bool:
        self.unacked.discard(message)
        self.acked.append(message.offset)
        return True

    def on_buffer_full(self, tp: TP) -> None:
        self.paused.add(tp)

    def on_buffer_drop(self, tp: TP) -> None:
        self.paused.discard(tp)


@dataclass
class Conductor:
    delivered: list[Message] = field(default_factory=list)

    async def on_message(self, message: Message) -> None:
        self.delivered.append(message)


@dataclass
class App:
    flow_control: FlowControlEvent = field(
        default_factory=lambda: FlowControlEvent(initially_suspended=False))
    consumer: Consumer = field(default_factory=Consumer)
    topics: Conductor = field(default_factory=Conductor)
    consumer_generation_id: int = 1


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_a_batch_holds_what_arrived_within_the_wait_and_no_more_than_the_maximum() -> None:
    async def scenario() -> tuple[list[int], list[int], float]:
        inbox = Inbox(App(), limit=100, limit_bytes=1 << 20)
        for offset in range(5):
            assert inbox.put(Message(offset))
        started = time.monotonic()
        first = await inbox.take(max_messages=3, within_s=5.0)  # 3 wait: no waiting
        second = await inbox.take(max_messages=3, within_s=0.05)  # 2 wait: waits 0.05 s
        return ([m.offset for m in first], [m.offset for m in second],
                time.monotonic() - started)

    first, second, took = run(scenario())
    assert first == [0, 1, 2]
    assert second == [3, 4]
    assert 0.04 <= took < 1.0


def test_a_batch_is_taken_as_soon_as_enough_messages_arrive() -> None:
    async def scenario() -> tuple[list[int], float]:
        inbox = Inbox(App(), limit=100, limit_bytes=1 << 20)

        async def arrive() -> None:
            for offset in range(4):
                await asyncio.sleep(0.01)
                inbox.put(Message(offset))

        sender = asyncio.create_task(arrive())
        started = time.monotonic()
        batch = await inbox.take(max_messages=4, within_s=10.0)
        await sender
        return [m.offset for m in batch], time.monotonic() - started

    offsets, took = run(scenario())
    assert offsets == [0, 1, 2, 3]
    assert took < 5.0  # not the 10 s of the wait


def test_the_messages_taken_are_counted() -> None:
    # The publisher reads the processor's pace from it (how long the backlog would take).
    async def scenario() -> list[int]:
        inbox = Inbox(App(), limit=100, limit_bytes=1 << 20)
        counts = [inbox.taken]
        for offset in range(5):
            inbox.put(Message(offset))
        await inbox.take(max_messages=3, within_s=5.0)
        counts.append(inbox.taken)
        await inbox.take(max_messages=3, within_s=0.01)
        counts.append(inbox.taken)
        return counts

    assert run(scenario()) == [0, 3, 5]


def test_a_full_inbox_refuses_and_the_callback_waits_for_room() -> None:
    async def scenario() -> tuple[bool, list[int], list[int]]:
        inbox = Inbox(App(), limit=2, limit_bytes=1 << 20)
        inbox.put(Message(0))
        inbox.put(Message(1))
        refused = not inbox.put(Message(2))
        waiting = asyncio.create_task(inbox.put_when_room(Message(2)))
        await asyncio.sleep(0.01)
        assert not waiting.done()
        first = await inbox.take(max_messages=10, within_s=0.0)
        await asyncio.wait_for(waiting, 1.0)
        second = await inbox.take(max_messages=10, within_s=0.0)
        return refused, [m.offset for m in first], [m.offset for m in second]

    refused, first, second = run(scenario())
    assert refused
    assert first == [0, 1]
    assert second == [2]


def test_taken_messages_are_unacknowledged_until_the_batch_is_acknowledged() -> None:
    async def scenario() -> tuple[int, list[int], int]:
        app = App()
        inbox = Inbox(app, limit=10, limit_bytes=1 << 20)
        inbox.put(Message(7))
        inbox.put(Message(8))
        batch = await inbox.take(max_messages=10, within_s=0.0)
        assert all(m.tracked for m in batch)
        pending = len(app.consumer.unacked)
        inbox.ack(batch)
        return pending, app.consumer.acked, len(app.consumer.unacked)

    assert run(scenario()) == (2, [7, 8], 0)


def test_a_rebalance_clears_the_inbox_and_drops_messages_of_an_older_generation() -> None:
    async def scenario() -> tuple[list[int], list[int]]:
        app = App()
        inbox = Inbox(app, limit=10, limit_bytes=1 << 20)
        deliver_directly(app, "events", inbox)  # registers the inbox with flow control
        inbox.put(Message(0))
        inbox.put(Message(1))
        app.flow_control.suspend()  # what Faust does when partitions are revoked
        app.flow_control.clear()
        app.consumer_generation_id = 2
        taking = asyncio.create_task(inbox.take(max_messages=10, within_s=0.0))
        await asyncio.sleep(0.01)
        assert not taking.done()  # no batch while the flow is suspended
        app.flow_control.resume()
        inbox.put(Message(4, generation_id=1))  # fetched before the rebalance
        inbox.put(Message(5, generation_id=2))
        batch = await asyncio.wait_for(taking, 1.0)
        return [m.offset for m in batch], [m.offset for m in app.consumer.unacked]

    taken, unacked = run(scenario())
    assert taken == [5]
    assert unacked == [5]


def test_messages_delivered_before_faust_resumes_the_flow_again_are_kept() -> None:
    # Faust's recovery resumes the flow, starts fetching, seeks, then resumes the flow
    # again, which clears the managed queues: what was delivered in between was lost, and a
    # restarted worker with nothing more to fetch stalled.
    async def scenario() -> list[int]:
        app = App()
        inbox = Inbox(app, limit=10, limit_bytes=1 << 20)
        deliver_directly(app, "events", inbox)
        taking = asyncio.create_task(inbox.take(max_messages=10, within_s=0.01,
                                                first_within_s=0.5))
        await asyncio.sleep(0)
        inbox.put(Message(2))
        inbox.put(Message(3))
        app.flow_control.resume()
        return [m.offset for m in await asyncio.wait_for(taking, 1.0)]

    assert run(scenario()) == [2, 3]


def test_a_batch_is_taken_from_waiting_messages_even_without_a_wake_up() -> None:
    async def scenario() -> list[int]:
        app = App()
        inbox = Inbox(app, limit=10, limit_bytes=1 << 20)
        inbox.put(Message(1))
        inbox.ready.clear()  # as a batch given up while the flow was suspended leaves it
        batch = await inbox.take(max_messages=10, within_s=0.0, first_within_s=0.5)
        return [m.offset for m in batch]

    assert run(scenario()) == [1]


def test_the_callback_delivers_the_topic_to_the_inbox_and_other_topics_to_faust() -> None:
    async def scenario() -> tuple[list[int], list[int], bool]:
        app = App()
        inbox = Inbox(app, limit=1, limit_bytes=1 << 20)
        deliver_directly(app, "events", inbox)
        callback: Any = app.topics.on_message
        assert callback(Message(0)) is DELIVERED
        await callback(Message(1, topic="alerts"))  # Faust's own path
        slow = callback(Message(2))  # full: a coroutine that waits for room
        assert asyncio.iscoroutine(slow)
        waiting = asyncio.create_task(slow)
        first = await inbox.take(max_messages=10, within_s=0.0)
        await asyncio.wait_for(waiting, 1.0)
        second = await inbox.take(max_messages=10, within_s=0.0)
        return ([m.offset for m in first + second],
                [m.offset for m in app.topics.delivered], waiting.done())

    inboxed, faust_path, done = run(scenario())
    assert inboxed == [0, 2]
    assert faust_path == [1]
    assert done


def test_the_consumer_does_not_wait_for_a_delivered_message() -> None:
    """Faust's drain loop awaits ``wait_first(callback(message), suspend_flow.wait())``:
    for a delivered message it returns at once and closes the flow's coroutine (no task,
    no 'never awaited' warning); anything else still takes mode's own ``wait_first``."""
    async def flow_wait() -> None:
        await asyncio.sleep(10)

    async def scenario() -> tuple[Any, Any]:
        deliver_directly(App(), "events", Inbox(App(), limit=1, limit_bytes=1 << 20))
        wait_first: Any = faust_consumer.Consumer.wait_first
        other = flow_wait()
        fast = await asyncio.wait_for(wait_first(object(), DELIVERED, other), 0.5)
        assert other.cr_frame is None  # closed

        class Service:
            _stopped = asyncio.Event()
            _crashed = asyncio.Event()
            loop = asyncio.get_running_loop()

        async def answer() -> int:
            return 42

        slow = await wait_first(Service(), answer(), flow_wait())
        return fast, slow

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fast, slow = run(scenario())
    assert fast.results == [None] and not fast.stopped
    assert slow.results == [42]


@pytest.mark.parametrize("limit", [1, 3])
def test_messages_come_out_in_the_order_they_were_delivered(limit: int) -> None:
    async def scenario() -> list[int]:
        app = App()
        inbox = Inbox(app, limit=limit, limit_bytes=1 << 20)
        deliver_directly(app, "events", inbox)
        callback: Any = app.topics.on_message

        async def drain() -> None:  # as Faust's consumer does: one message after another
            for offset in range(20):
                result = callback(Message(offset))
                if result is not DELIVERED:
                    await result

        draining = asyncio.create_task(drain())
        got: list[int] = []
        while len(got) < 20:
            got += [m.offset for m in await inbox.take(max_messages=2, within_s=0.001)]
        await draining
        return got

    assert run(scenario()) == list(range(20))


HOUR = 3_600_000


def test_partitions_far_ahead_of_the_slowest_are_held_back() -> None:
    clocks = {0: 10 * HOUR, 1: 11 * HOUR, 2: 12 * HOUR, 3: None}
    heard = {0: 99.0, 1: 99.0, 2: 99.0}
    assert held_back(clocks, heard, now=100.0, skew_ms=HOUR, idle_s=2.0) == {2}
    assert held_back(clocks, heard, now=100.0, skew_ms=3 * HOUR, idle_s=2.0) == set()


def test_a_partition_with_nothing_more_to_read_holds_nobody_back() -> None:
    clocks = {0: 10 * HOUR, 1: 15 * HOUR, 2: 16 * HOUR}
    # partition 0 was last heard from 5 s ago: idle; the slowest still read is 1
    heard = {0: 95.0, 1: 99.5, 2: 99.5}
    assert held_back(clocks, heard, now=100.0, skew_ms=HOUR // 2, idle_s=2.0) == {2}
    # nobody heard from recently: nobody held back
    assert held_back(clocks, {}, now=100.0, skew_ms=HOUR // 2, idle_s=2.0) == set()


def test_alignment_pauses_and_resumes_fetching_and_a_rebalance_forgets_it() -> None:
    async def scenario() -> list[set[int]]:
        app = App()
        inbox = Inbox(app, limit=10, limit_bytes=1 << 20)
        alignment = Alignment(app, "events", inbox, skew_ms=HOUR)
        for partition in (0, 1):
            inbox.put(Message(0, partition=partition))
        await inbox.take(max_messages=10, within_s=0.0)  # both heard from now

        def paused() -> set[int]:
            return {tp.partition for tp in app.consumer.paused}

        seen = []
        alignment.update({0: 1 * HOUR, 1: 3 * HOUR})
        seen.append(paused())  # 1 is two hours ahead
        alignment.update({0: 2 * HOUR + 1, 1: 3 * HOUR})
        seen.append(paused())  # 0 caught up to within the hour
        alignment.update({0: 1 * HOUR, 1: 3 * HOUR})
        app.flow_control.suspend()  # a rebalance: Faust pauses and resumes by itself
        app.flow_control.clear()
        seen.append(alignment.paused)
        alignment.update({0: 1 * HOUR, 1: 9 * HOUR})  # no change while suspended
        seen.append(alignment.paused)
        return seen

    assert run(scenario()) == [{1}, set(), set(), set()]


def test_the_inbox_holds_a_bounded_number_of_bytes_but_always_one_message() -> None:
    async def scenario() -> tuple[list[bool], list[int]]:
        inbox = Inbox(App(), limit=100, limit_bytes=250)
        big = b"x" * 1000
        accepted = [inbox.put(Message(0, value=big)),  # alone: let in
                    inbox.put(Message(1, value=b"{}"))]  # full
        first = await inbox.take(max_messages=100, within_s=5.0)  # full: no wait
        accepted += [inbox.put(Message(2, value=b"y" * 100)),
                     inbox.put(Message(3, value=b"y" * 100)),
                     inbox.put(Message(4, value=b"y" * 100)),  # 300 bytes now
                     inbox.put(Message(5, value=b"{}"))]
        second = await inbox.take(max_messages=100, within_s=5.0)
        return accepted, [m.offset for m in first + second]

    accepted, taken = run(scenario())
    assert accepted == [True, False, True, True, True, False]
    assert taken == [0, 2, 3, 4]


def test_a_held_back_partition_is_let_go_once_the_slowest_has_nothing_more_to_read() -> None:
    """The worker's loop takes with a time limit, so it looks again with no batch: the
    slowest partition, silent for longer than the idleness, no longer holds anyone."""
    async def scenario() -> tuple[list[Any], set[int], set[int]]:
        app = App()
        inbox = Inbox(app, limit=10, limit_bytes=1 << 20)
        alignment = Alignment(app, "events", inbox, skew_ms=HOUR, idle_s=0.05)
        for partition in (0, 1):
            inbox.put(Message(0, partition=partition))
        await inbox.take(max_messages=10, within_s=0.0)
        clocks = {0: 1 * HOUR, 1: 5 * HOUR}  # 0 has nothing more: it will never move
        alignment.update(clocks)
        held = set(alignment.paused)
        empty = await inbox.take(max_messages=10, within_s=0.0, first_within_s=0.1)
        alignment.update(clocks)  # what the worker's loop does after an empty take
        return empty, held, alignment.paused

    empty, held, after = run(scenario())
    assert empty == []
    assert held == {1}
    assert after == set()


def test_a_partition_read_again_loses_its_waiting_messages_and_the_others_keep_theirs() -> None:
    async def scenario() -> tuple[int, list[tuple[int, int]], bool]:
        inbox = Inbox(App(), limit=4, limit_bytes=1 << 20)
        for offset in range(4):
            assert inbox.put(Message(offset, partition=offset % 2, value=b"x" * 10))
        assert not inbox.put(Message(9, partition=1))  # full
        dropped = inbox.drop_partition(1)  # the gap recovery seeks partition 1 back
        assert inbox.size == 20
        room = inbox.room.is_set()
        batch = await inbox.take(10, 0.01)
        return dropped, [(m.partition, m.offset) for m in batch], room

    dropped, taken, room = run(scenario())
    assert dropped == 2
    assert taken == [(0, 0), (0, 2)]
    assert room
