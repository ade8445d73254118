"""A client's sender (ClientSession.run_sender in gateway/server.py) and what wakes it: a
publication wakes only the senders that are due, a held change goes at its deadline, and
answers and alerts still wake their client. Real sessions and a real event loop, a fake
socket, and short intervals (publish 0.05 s, clients 0.1 s)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

import orjson
import pytest

from gateway.access import Grant
from gateway.server import WRITE_LIMIT_BYTES, ClientSession, Gateway
from gateway.state import Change, Subscription
from stream.settings import Settings

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


class FakeSocket:
    """What the sender uses of a connection: ``send``; records what was sent, and when.
    With ``stuck``, a send waits for ever (a client that stopped reading)."""

    remote_address = ("127.0.0.1", 0)

    def __init__(self) -> None:
        self.sent: list[tuple[float, dict[str, Any]]] = []
        self.busy_s = 0.0  # how long a send keeps the loop busy (writing a big frame, say)
        self.transport = FakeTransport()
        self.stuck = False
        self.closed_with: int | None = None

    async def send(self, message: bytes, text: bool) -> None:
        if self.stuck:
            await asyncio.Event().wait()
        time.sleep(self.busy_s)  # blocks the loop, as the gateway's own work does
        self.sent.append((time.monotonic(), orjson.loads(message)))

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


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def sleep_until(at: float) -> None:
    await asyncio.sleep(max(0.0, at - time.monotonic()))


async def test_a_publication_before_the_due_time_wakes_no_sender() -> None:
    async with Floor(20) as floor:
        await settle()
        before, last_send = floor.wakeups(), max(c.last_send for c in floor.clients)
        floor.publish()  # well inside the interval: held by every client
        await settle()
        assert floor.wakeups() == before  # (waking every sender on each publication: +20)
        assert all(client.deadline is not None for client in floor.clients)
        assert not any(ws.updates() for ws in floor.sockets)
        # the next publication, once due, wakes each sender once, and each sends both
        await sleep_until(last_send + INTERVAL)
        floor.publish()
        await settle()
        assert floor.wakeups() == before + 20
        for ws in floor.sockets:
            [(_, update)] = ws.updates()
            assert update["data"]["queues"]["billing"]["waiting"] == 2
        assert all(client.deadline is None for client in floor.clients)


async def test_publications_on_time_wake_each_sender_once_per_send() -> None:
    async with Floor(10) as floor:
        await settle()
        before = floor.wakeups()
        start = time.monotonic()
        for index in range(1, 13):  # 0.6 s of publications every 0.05 s
            await sleep_until(start + index * PUBLISH)
            floor.publish()
        await settle()
        sends = sum(len(ws.updates()) for ws in floor.sockets)
        # every second publication (12 -> 6 a client; fewer when a loaded machine runs the
        # publications late and merges them), and never two in a row
        assert 10 * 3 <= sends <= 10 * 7
        assert floor.wakeups() - before == sends  # (waking on every publication: 120)


async def test_a_sender_far_down_a_burst_still_gets_every_second_publication() -> None:
    async with Floor(10) as floor:
        await settle()
        for ws in floor.sockets:
            ws.busy_s = 0.003  # a burst of 10 sends takes 30 ms, three times the tolerance
        start = time.monotonic()
        for index in range(1, 13):
            await sleep_until(start + index * PUBLISH)
            floor.publish()
            await settle()  # the burst runs before the next publication
        await settle()
        # the last of the burst starts its send ~27 ms after the publication, and is still
        # sent the next-but-one publication (timed from the publication, not from its send):
        # 6 sends of 12 publications (fewer when a loaded machine runs them late, for every
        # client alike); a sender held to every third publication gets 4 where the first of
        # the burst gets 6
        counts = [len(ws.updates()) for ws in floor.sockets]
        assert max(counts) - min(counts) <= 1 and min(counts) >= 3, counts


async def test_a_held_change_goes_at_its_deadline_without_a_later_publication() -> None:
    async with Floor(3) as floor:
        await settle()
        last_send = floor.clients[0].last_send
        floor.publish()  # inside the interval, and nothing after it
        await asyncio.sleep(INTERVAL + GRACE + 0.05)
        for ws, client in zip(floor.sockets, floor.clients, strict=True):
            [(at, update)] = ws.updates()
            assert update["data"]["queues"]["billing"]["waiting"] == 1
            assert at >= client.last_send >= last_send + INTERVAL + GRACE - 0.002
            assert at - (last_send + INTERVAL + GRACE) < 0.04
            assert client.deadline is None


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
        sent = [message for _, message in ws.sent if message["type"] == "alert"]
        if early:  # inside the interval: held like any change, until the deadline
            assert not sent and client.deadline is not None
            await asyncio.sleep(INTERVAL + GRACE + 0.03)
            sent = [message for _, message in ws.sent if message["type"] == "alert"]
        assert [message["alert_id"] for message in sent] == ["r/1"]


@pytest.mark.parametrize("buffered", [WRITE_LIMIT_BYTES // 4 + 1, WRITE_LIMIT_BYTES - 100])
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
