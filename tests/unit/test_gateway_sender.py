"""A client's sender (ClientSession.run_sender in gateway/server.py) and what wakes it: a
publication wakes only the senders that are due, a held change goes at its deadline, and
answers and alerts still wake their client. Real sessions on an event loop with a virtual
clock (tests/virtual_time.py: timers fire in order at their virtual times, however loaded
the machine), a fake socket, and short intervals (publish 0.05 s, clients 0.1 s). The sends
and wake-ups counted are therefore exact."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import orjson
import pytest
from websockets.protocol import State

from gateway import server
from gateway.access import Grant
from gateway.server import WRITE_LIMIT_BYTES, ClientSession, Gateway
from gateway.state import Change, Subscription
from stream.settings import Settings
from tests.virtual_time import on_virtual_time, running_loop

PUBLISH = 0.05
INTERVAL = 0.1
GRACE = PUBLISH


class FakeTransport:
    """The connection's transport as the sender sees it: its write buffer."""

    def __init__(self) -> None:
        self.buffered = 0
        self.aborted = False

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return WRITE_LIMIT_BYTES // 4, WRITE_LIMIT_BYTES  # asyncio's low mark: a quarter

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def abort(self) -> None:
        self.aborted = True


class FakeProtocol:
    """The connection's protocol as websockets' ``broadcast`` uses it (the sends made in
    the fan-out, ``ClientSession.send_at_publication``)."""

    def __init__(self, ws: FakeSocket) -> None:
        self.ws = ws
        self.state = State.OPEN

    def send_text(self, data: bytes) -> None:
        self.ws.sent.append((running_loop().time(), orjson.loads(data)))


class FakeSocket:
    """What the sender uses of a connection: ``send``, and what ``broadcast`` uses; records
    what was sent, and when. With ``stuck``, a send waits for ever (a client that stopped
    reading)."""

    remote_address = ("127.0.0.1", 0)
    send_in_progress = None
    logger = logging.getLogger(__name__)

    def __init__(self) -> None:
        self.sent: list[tuple[float, dict[str, Any]]] = []
        self.busy_s = 0.0  # how long a send keeps the loop busy (writing a big frame, say)
        self.transport = FakeTransport()
        self.protocol = FakeProtocol(self)
        self.stuck = False
        self.closed_with: int | None = None

    async def send(self, message: bytes, text: bool) -> None:
        if self.stuck:
            await asyncio.Event().wait()
        self.protocol.send_text(message)  # when the send started
        self.send_data()

    def send_data(self) -> None:
        running_loop().advance(self.busy_s)  # keeps the loop busy, as the gateway's work does

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = code

    def updates(self) -> list[tuple[float, dict[str, Any]]]:
        return [(at, message) for at, message in self.sent if message["type"] == "update"]


class Floor:
    """A gateway with ``count`` subscribed clients whose senders run."""

    def __init__(self, count: int, role: str = "viewer") -> None:
        settings = Settings(publish_interval_s=PUBLISH, client_update_interval_s=INTERVAL,
                            client_min_update_interval_s=0.05)
        self.gateway = Gateway(settings, cast(Any, None))  # no Redis: nothing here reads it
        self.sockets = [FakeSocket() for _ in range(count)]
        self.clients = [ClientSession(cast(Any, ws), self.gateway, Grant(f"c{i}", role))
                        for i, ws in enumerate(self.sockets)]
        self.seq = 0
        self.tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Floor:
        for client in self.clients:
            self.gateway.clients.add(client)
            self.gateway._index(client, Subscription())
            client.subscribe(Subscription())
            self.tasks.append(asyncio.create_task(client.run_sender(5.0)))
        while not all(ws.sent for ws in self.sockets):  # the snapshots (answers: at once)
            await asyncio.sleep(0.001)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def publish(self) -> None:
        self.seq += 1
        self.gateway.broadcast("default", Change({"seq": self.seq,
                                                  "queues": {"billing": {"waiting": self.seq}}}))

    def wakeups(self) -> int:
        return sum(client.wakeups for client in self.clients)

    def seqs_sent(self) -> list[list[int]]:
        """Per client, the publication (its ``seq``) each update sent was up to."""
        return [[update["data"]["queues"]["billing"]["waiting"] for _, update in ws.updates()]
                for ws in self.sockets]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def now() -> float:
    return running_loop().time()


async def sleep_until(at: float) -> None:
    await asyncio.sleep(max(0.0, at - now()))


def sent_at_publication(floor: Floor) -> int:
    return sum(client.sent_at_publication for client in floor.clients)


@pytest.mark.parametrize("buffered", [0, WRITE_LIMIT_BYTES // 4 + 1])
@on_virtual_time
async def test_a_publication_before_the_due_time_wakes_no_sender(buffered: int) -> None:
    async with Floor(20) as floor:
        await settle()
        for ws in floor.sockets:
            ws.transport.buffered = buffered
        before, last_send = floor.wakeups(), max(c.last_send for c in floor.clients)
        floor.publish()  # well inside the interval: held by every client
        await settle()
        assert floor.wakeups() == before  # (waking every sender on each publication: +20)
        assert all(client.deadline is not None for client in floor.clients)
        assert not any(ws.updates() for ws in floor.sockets)
        # The next publication, once due, goes to every client with the one held: written in
        # the fan-out, no sender woken; or, to a socket whose buffer is above its low-water
        # mark (where a send may wait), by each sender, woken once.
        await sleep_until(last_send + INTERVAL)
        floor.publish()
        await settle()
        in_fan_out = 20 if buffered == 0 else 0
        assert sent_at_publication(floor) == in_fan_out
        assert floor.wakeups() == before + 20 - in_fan_out
        for ws in floor.sockets:
            [(_, update)] = ws.updates()
            assert update["data"]["queues"]["billing"]["waiting"] == 2
        assert all(client.deadline is None for client in floor.clients)


@on_virtual_time
async def test_publications_on_time_are_sent_in_the_fan_out_without_waking_senders() -> None:
    async with Floor(10) as floor:
        await settle()
        before = floor.wakeups()
        start = now()
        for index in range(1, 13):  # 0.6 s of publications every 0.05 s
            await sleep_until(start + index * PUBLISH)
            floor.publish()
        await settle()
        # every second publication, as it arrives: 6 of 12 a client, written in the fan-out
        assert floor.seqs_sent() == [[2, 4, 6, 8, 10, 12]] * 10
        assert sent_at_publication(floor) == 60
        assert floor.wakeups() == before  # (waking on every publication: 120; when due: 60)


@on_virtual_time
async def test_a_sender_busy_with_a_send_is_woken_and_the_fan_out_leaves_its_client() -> None:
    async with Floor(2) as floor:
        await settle()
        slow = floor.clients[0]
        slow.sending = True  # as while its sender waits for a socket to take a message
        last_send = max(c.last_send for c in floor.clients)
        before = floor.wakeups()
        await sleep_until(last_send + INTERVAL)
        floor.publish()
        assert slow.wake.is_set() and slow.sent_at_publication == 0
        assert floor.clients[1].sent_at_publication == 1 and not floor.clients[1].wake.is_set()
        assert not floor.sockets[0].updates()  # nothing written behind the sender's back
        slow.sending = False
        await settle()
        assert [len(ws.updates()) for ws in floor.sockets] == [1, 1]
        assert floor.wakeups() == before + 1


@on_virtual_time
async def test_a_sender_far_down_a_burst_still_gets_every_second_publication() -> None:
    async with Floor(10) as floor:
        await settle()
        for ws in floor.sockets:
            ws.busy_s = 0.003  # a burst of 10 sends takes 30 ms, three times the tolerance
        start = now()
        for index in range(1, 13):
            await sleep_until(start + index * PUBLISH)
            floor.publish()
            await settle()  # the burst runs before the next publication
        await settle()
        # the last of the burst starts its send 27 ms after the publication ...
        second = start + 2 * PUBLISH
        assert sorted(ws.updates()[0][0] - second for ws in floor.sockets) == pytest.approx(
            [0.003 * place for place in range(10)])
        # ... and is still sent the next-but-one publication, like the first: 6 of 12 each.
        # (Decided at the arrival against the start of its own last send, as the fan-out
        # once did, a sender late in the burst finds it early and is held to the one after:
        # publications 2, 5, 8, 11 or 2, 5, 7, 9, 11.)
        assert floor.seqs_sent() == [[2, 4, 6, 8, 10, 12]] * 10


@on_virtual_time
async def test_a_held_change_goes_at_its_deadline_without_a_later_publication() -> None:
    async with Floor(3) as floor:
        await settle()
        last_send = floor.clients[0].last_send
        floor.publish()  # inside the interval, and nothing after it
        await asyncio.sleep(INTERVAL + GRACE + 0.05)
        for ws, client in zip(floor.sockets, floor.clients, strict=True):
            [(at, update)] = ws.updates()
            assert update["data"]["queues"]["billing"]["waiting"] == 1
            assert at == client.last_send == pytest.approx(last_send + INTERVAL + GRACE)
            assert client.deadline is None


@on_virtual_time
async def test_an_answer_goes_at_once_and_its_send_takes_what_is_held() -> None:
    async with Floor(2) as floor:
        await settle()
        floor.publish()  # held
        await settle()
        before = floor.wakeups()
        client, ws = floor.clients[0], floor.sockets[0]
        client.reply({"type": "ack_sent", "tenant": "default", "alert_id": "r/1"})
        await settle()
        assert floor.wakeups() == before + 1
        kinds = [message["type"] for _, message in ws.sent]
        assert kinds[-2:] == ["ack_sent", "update"]
        assert client.deadline is None  # the send took the held change: nothing to wait for
        assert not floor.sockets[1].updates() and floor.clients[1].deadline is not None


@pytest.mark.parametrize("early", [True, False])
@on_virtual_time
async def test_an_alert_wakes_its_sender_which_holds_it_until_due(early: bool) -> None:
    alert = {"type": "alert", "state": "raised", "alert_id": "r/1", "rule_id": "r",
             "metric": "queue.waiting", "severity": "warning", "audience": ["supervisor"],
             "scope": {"tenant": "default", "queue": None, "team": None, "agent": None,
                       "reason": None}}
    async with Floor(1, role="supervisor") as floor:
        await settle()
        client, ws = floor.clients[0], floor.sockets[0]
        last_send = client.last_send
        if not early:
            await sleep_until(last_send + INTERVAL)
        before = floor.wakeups()
        client.push_alert(alert)
        await settle()
        assert floor.wakeups() == before + 1  # an alert wakes its sender, as before
        sent = [(at, message) for at, message in ws.sent if message["type"] == "alert"]
        if early:  # inside the interval: held like any change, until the deadline
            assert not sent and client.deadline is not None
            await asyncio.sleep(INTERVAL + GRACE + 0.03)
            sent = [(at, message) for at, message in ws.sent if message["type"] == "alert"]
        [(at, message)] = sent
        assert message["alert_id"] == "r/1"
        assert at == pytest.approx(last_send + INTERVAL + (GRACE if early else 0.0))


@pytest.mark.parametrize("buffered", [WRITE_LIMIT_BYTES // 4 + 1, WRITE_LIMIT_BYTES - 100])
@on_virtual_time
async def test_a_send_that_may_wait_is_timed_and_a_client_that_does_not_take_it_dropped(
        buffered: int) -> None:
    floor = Floor(1)
    client, ws = floor.clients[0], floor.sockets[0]
    ws.transport.buffered, ws.stuck = buffered, True
    client.subscribe(Subscription())
    floor.gateway._index(client, Subscription())
    await asyncio.wait_for(client.run_sender(0.05), 1.0)  # returns once it has closed
    assert ws.closed_with == 1013 and floor.gateway.slow_clients_dropped == 1
    assert not ws.sent


@on_virtual_time
async def test_each_update_sent_records_its_lag_from_arrival_to_the_end_of_its_send() -> None:
    async with Floor(10) as floor:
        await settle()
        for ws in floor.sockets:
            ws.busy_s = 0.00315  # the k-th send of a burst ends k x 3.15 ms after the arrival
        assert floor.gateway.push_lag.count == 0  # the snapshots are not updates
        start = now()
        for index in range(1, 13):
            await sleep_until(start + index * PUBLISH)
            floor.publish()
            await settle()
        await settle()
        assert floor.seqs_sent() == [[2, 4, 6, 8, 10, 12]] * 10
        # six bursts, each with one send ending at 3.15, 6.3, ..., 31.5 ms: rounded up
        expected = [4, 7, 10, 13, 16, 19, 23, 26, 29, 32]
        assert floor.gateway.push_lag.reading() == {str(ms): 6 for ms in expected}
        # a publication held (early for every client) and sent at the deadline: the hold
        # is in its lag (~0.11 s: the deadline is the last send + interval + grace)
        await sleep_until(now() + 0.01)
        floor.publish()
        await asyncio.sleep(INTERVAL + GRACE + 0.01)
        lags = floor.gateway.push_lag.reading()
        assert sum(lags.values()) == 70
        assert min(int(ms) for ms, n in lags.items() if int(ms) > 32) >= 100


@on_virtual_time
async def test_an_update_larger_than_the_buffer_goes_at_once_to_a_socket_below_its_mark() -> None:
    async with Floor(1) as floor:
        await settle()
        [client], [ws] = floor.clients, floor.sockets
        before = floor.wakeups()
        await sleep_until(client.last_send + INTERVAL)
        floor.seq += 1
        big = "x" * WRITE_LIMIT_BYTES  # a write never waits: the buffer may go above its mark
        floor.gateway.broadcast("default", Change(
            {"seq": floor.seq, "queues": {"billing": {"waiting": floor.seq, "note": big}}}))
        assert client.sent_at_publication == 1 and not client.wake.is_set()
        [(_, update)] = ws.updates()
        assert update["data"]["queues"]["billing"]["note"] == big
        # once the socket's buffer is above its mark, the next send is the sender's, which
        # waits for the socket (under its timer)
        ws.transport.buffered = WRITE_LIMIT_BYTES
        await sleep_until(client.last_send + INTERVAL)
        floor.publish()
        assert client.sent_at_publication == 1 and client.wake.is_set()
        await settle()
        assert floor.wakeups() == before + 1
        assert [u["data"]["queues"]["billing"]["waiting"] for _, u in ws.updates()] == [1, 2]
        assert "note" not in ws.updates()[-1][1]["data"]["queues"]["billing"]


@on_virtual_time
async def test_clients_sent_in_one_fan_out_share_one_timer_for_what_they_hold() -> None:
    async with Floor(20) as floor:
        await settle()
        timers = floor.gateway.deadlines.timers
        await sleep_until(max(c.last_send for c in floor.clients) + INTERVAL)
        floor.publish()  # due: written to all 20 in the fan-out, one last send for all
        sent = now()
        await sleep_until(sent + 0.01)
        floor.publish()  # early for all of them: held, until one deadline
        assert list(timers) == [sent + INTERVAL + GRACE]
        assert len(timers[sent + INTERVAL + GRACE][1]) == 20
        await asyncio.sleep(INTERVAL + GRACE)
        assert not timers
        assert floor.seqs_sent() == [[1, 2]] * 20
        assert all(at == sent + INTERVAL + GRACE for ws in floor.sockets
                   for at, _ in ws.updates()[1:])
        # a due publication sends what is held and disarms: the timer goes when its last
        # client leaves it
        await asyncio.sleep(0.01)
        floor.publish()
        assert len(timers) == 1
        await sleep_until(now() + INTERVAL)
        floor.publish()
        assert not timers


@on_virtual_time
async def test_a_fan_out_writes_at_most_its_share_and_the_senders_send_the_rest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "FAN_OUT_WRITES_MAX", 4)
    async with Floor(10) as floor:
        await settle()
        before = floor.wakeups()
        await sleep_until(max(c.last_send for c in floor.clients) + INTERVAL)
        floor.publish()
        assert sent_at_publication(floor) == 4  # the loop is held for 4 writes at most
        await settle()
        assert floor.wakeups() == before + 6
        assert floor.seqs_sent() == [[1]] * 10
