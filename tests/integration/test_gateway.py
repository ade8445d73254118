"""The gateway against a real Redis: page and health over HTTP, snapshot then updates over
WebSocket, filters, coalescing, per-subscription update intervals, gap recovery, bad
messages, slow clients; sends aligned to publications; tokens, roles, origins and the message
rate; alerts to clients and acknowledgements to the worker."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gateway.state import apply_to_snapshot, empty_removed
from stream.embedded import EmbeddedServer, free_port
from stream.settings import Settings
from tests.alerts import publish_alert, transition
from tests.conftest import RunningGateway

pytestmark = pytest.mark.integration

Json = dict[str, Any]


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture
async def settings(redis_server: EmbeddedServer) -> Settings:
    return Settings(
        redis_url=f"redis://{redis_server.host}:{redis_server.port}/0",
        http_port=free_port(),
        redis_prefix=f"test-{uuid.uuid4().hex[:8]}",
        client_update_interval_s=0.1,
        client_max_pending_s=1.0,
    )


@pytest.fixture
async def gateway(settings: Settings, redis: aioredis.Redis) -> AsyncIterator[RunningGateway]:
    await write_snapshot(redis, settings, snapshot(seq=1))
    running = RunningGateway(settings)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


# --- helpers --------------------------------------------------------------------------------


def agent(name: str, queues: list[str], team: str, state: str = "available") -> Json:
    return {"name": name, "state": state, "reason": None, "since_epoch": 1000.0, "handled": 0,
            "team": team, "queues": queues}


def rows(queue: str, *offered: int) -> Json:
    """An ``intervals`` entry: 15-minute rows from 09:00, the last one open."""
    return {"rows": [
        {"tenant": "default", "queue": queue, "interval_start": f"2026-11-22T09:{15 * i:02d}:00Z",
         "offered": n, "status": "open" if i == len(offered) - 1 else "closed"}
        for i, n in enumerate(offered)]}


def snapshot(seq: int, tenant: str = "default", agents: int = 0) -> Json:
    data: Json = {
        "tenant": tenant, "seq": seq, "as_of_epoch": 1000.0 + seq, "timezone": "UTC",
        "queues": {"billing": {"waiting": 1, "answered": 10}, "sales": {"waiting": 2}},
        "intervals": {"billing": rows("billing", 3, 1), "sales": rows("sales", 2)},
        "teams": {"Blue": {"agents": {"available": 1}}},
        "agents": {"a1": agent("Ana", ["billing"], "Blue"), "a2": agent("Bo", ["sales"], "Red")},
        "dead_letters": 0,
    }
    for i in range(agents):
        data["agents"][f"x{i}"] = agent(f"Extra {i} " + "x" * 80, ["sales"], "Red")
    return data


def update(seq: int, tenant: str = "default", **fields: Any) -> Json:
    data: Json = {"tenant": tenant, "seq": seq, "as_of_epoch": 1000.0 + seq, "queues": {},
                  "teams": {}, "agents": {}, "intervals": {}, "removed": empty_removed(),
                  "dead_letters": 0}
    data.update(fields)
    return data


async def write_snapshot(redis: aioredis.Redis, settings: Settings, data: Json) -> None:
    await redis.sadd(settings.tenants_key, data["tenant"])
    await redis.set(settings.snapshot_key(data["tenant"]), orjson.dumps(data))


async def publish(redis: aioredis.Redis, settings: Settings, data: Json) -> None:
    await redis.publish(settings.updates_channel(data["tenant"]), orjson.dumps(data))


async def http_get(settings: Settings, path: str) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection(settings.host, settings.http_port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    raw = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body


@dataclass
class LiveView:
    """A test client that keeps the merged view and the open alerts, as the page does.

    ``messages`` holds the snapshots, updates and errors; ``alert_messages`` the ``alerts``
    lists and ``alert`` transitions; ``others`` anything else (``access``, ``ack_sent``,
    ``webhooks``).
    """

    ws: ClientConnection
    state: Json = field(default_factory=dict)
    messages: list[Json] = field(default_factory=list)
    access: Json = field(default_factory=dict)
    alerts: dict[str, Json] = field(default_factory=dict)
    alert_messages: list[Json] = field(default_factory=list)
    others: list[Json] = field(default_factory=list)

    async def receive(self, timeout: float = 3.0) -> Json:
        message: Json = orjson.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        kind = message["type"]
        if kind == "snapshot":
            self.state = message["data"]
        elif kind == "update":
            self.state = apply_to_snapshot(self.state, message["data"])
        elif kind == "alerts":
            self.alerts = {alert["alert_id"]: alert for alert in message["alerts"]}
        elif kind == "alert":
            if message["state"] == "cleared":
                self.alerts.pop(message["alert_id"], None)
            else:
                self.alerts[message["alert_id"]] = message
        elif kind == "access":
            self.access = message
        (self.alert_messages if kind in ("alerts", "alert") else
         self.messages if kind in ("snapshot", "update", "error") else self.others).append(
            message)
        return message

    async def wait_for(self, predicate: Any, timeout: float = 3.0) -> Json:
        deadline = time.monotonic() + timeout
        while not predicate(self.state):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"condition not met; state={self.state}")
            await self.receive(remaining)
        return self.state

    async def wait_for_alerts(self, predicate: Any, timeout: float = 3.0) -> dict[str, Json]:
        deadline = time.monotonic() + timeout
        while not predicate(self.alerts):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"condition not met; alerts={self.alerts}")
            await self.receive(remaining)
        return self.alerts

    async def receive_type(self, kind: str, timeout: float = 3.0) -> Json:
        """The next message of type ``kind`` (others are taken in on the way)."""
        deadline = time.monotonic() + timeout
        while True:
            message = await self.receive(max(0.01, deadline - time.monotonic()))
            if message["type"] == kind:
                return message


@contextlib.asynccontextmanager
async def live_view(gateway: RunningGateway, query: str = "",
                    **connect_options: Any) -> AsyncIterator[LiveView]:
    """Connected, with the snapshot, the access message and (for a role that sees alerts)
    the alert list received."""
    async with connect(gateway.ws_url + query, open_timeout=5, **connect_options) as ws:
        view = LiveView(ws)
        first = await view.receive()
        assert first["type"] == "snapshot", first
        access = await view.receive()
        assert access["type"] == "access", access
        if access["audiences"]:
            assert (await view.receive())["type"] == "alerts"
        yield view


def raw_websocket_that_never_reads(settings: Settings, query: str = "") -> socket.socket:
    """A client that completes the handshake and then never reads another byte."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((settings.host, settings.http_port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ws{query} HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    sock.settimeout(5)
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def drained_to_eof(sock: socket.socket, timeout: float) -> bool:
    """Read everything; ``True`` if the server closed the connection within ``timeout``."""
    sock.settimeout(timeout)
    try:
        while sock.recv(1 << 20):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


# --- tests ----------------------------------------------------------------------------------


async def test_healthz_page_assets_and_not_found(gateway: RunningGateway) -> None:
    settings = gateway.settings
    assert (await http_get(settings, "/healthz"))[::2] == (200, b"ok")
    status, headers, body = await http_get(settings, "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b'data-status' in body or b"app.js" in body
    assert "script-src 'self'" in headers["content-security-policy"]
    status, headers, _ = await http_get(settings, "/app.js?v=1")
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    status, headers, _ = await http_get(settings, "/style.css")
    assert status == 200 and headers["content-type"].startswith("text/css")
    for path in ("/nope.html", "/../stream/settings.py", "/%2e%2e/pyproject.toml",
                 "/__init__.py", "/wallboard/index.html", "/.hidden.js"):
        assert (await http_get(settings, path))[0] == 404, path


async def test_stats_count_the_updates_sent_and_their_push_lags(
    gateway: RunningGateway, redis: aioredis.Redis
) -> None:
    settings = gateway.settings
    status, headers, body = await http_get(settings, "/stats")
    assert status == 200 and headers["content-type"] == "application/json"
    before = orjson.loads(body)
    assert before["clients"] == 0 and before["push_lags"] == 0
    async with live_view(gateway, "?tenant=default") as view:
        sent = time.monotonic()
        await publish(redis, settings, update(2, queues={"billing": {"waiting": 4}}))
        await view.wait_for(lambda s: s["seq"] == 2)
        received_s = time.monotonic() - sent
        stats = orjson.loads((await http_get(settings, "/stats"))[2])
    assert stats["clients"] == 1 and stats["updates_applied"] == 1
    assert stats["push_lags"] == 1  # the update; the snapshot on connect is not one
    [(lag_ms, count)] = stats["push_lag_ms"].items()
    # from its arrival at the gateway to its send: within what the client waited for it
    assert count == 1 and 0 <= int(lag_ms) <= received_s * 1000 + 1


async def test_snapshot_on_connect_then_updates_merge(
    gateway: RunningGateway, redis: aioredis.Redis
) -> None:
    async with live_view(gateway, "?tenant=default") as view:
        first = view.messages[0]
        assert first["tenant"] == "default" and first["data"]["seq"] == 1
        assert set(view.state["agents"]) == {"a1", "a2"}
        assert view.state["intervals"] == snapshot(seq=1)["intervals"]
        await publish(redis, gateway.settings, update(
            2, queues={"billing": {"waiting": 7, "answered": 11}}, dead_letters=2,
            intervals={"billing": rows("billing", 3, 2, 1)},
            removed={"queues": [], "teams": [], "agents": ["a2"], "intervals": ["sales"]}))
        state = await view.wait_for(lambda s: s["seq"] == 2)
        assert view.messages[-1]["type"] == "update"
        assert state["queues"]["billing"] == {"waiting": 7, "answered": 11}
        assert state["queues"]["sales"] == {"waiting": 2}
        assert state["intervals"] == {"billing": rows("billing", 3, 2, 1)}
        assert set(state["agents"]) == {"a1"} and state["dead_letters"] == 2


async def test_subscription_filters_by_queue_and_resubscribes(
    gateway: RunningGateway, redis: aioredis.Redis
) -> None:
    async with live_view(gateway, "?tenant=default&queues=billing") as view:
        assert set(view.state["queues"]) == {"billing"}
        assert set(view.state["intervals"]) == {"billing"}
        assert set(view.state["agents"]) == {"a1"}
        await publish(redis, gateway.settings, update(
            2, queues={"sales": {"waiting": 9}, "billing": {"waiting": 3}},
            intervals={"sales": rows("sales", 5), "billing": rows("billing", 3, 4)},
            agents={"a2": agent("Bo", ["sales"], "Red", "aux")}))
        await publish(redis, gateway.settings, update(3, removed={
            "queues": [], "teams": [], "agents": [], "intervals": ["sales"]}))
        state = await view.wait_for(lambda s: s["seq"] == 3)
        assert set(state["queues"]) == {"billing"} and set(state["agents"]) == {"a1"}
        assert state["intervals"] == {"billing": rows("billing", 3, 4)}
        for message in view.messages[1:]:
            data = message["data"]
            assert data["agents"] == {} and "sales" not in data["queues"]
            assert "sales" not in data["intervals"]
            assert "sales" not in data["removed"]["intervals"]

        await view.ws.send(orjson.dumps({"type": "subscribe", "queues": ["sales"]}).decode())
        message = await view.receive()
        assert message["type"] == "snapshot"
        assert set(view.state["queues"]) == {"sales"} and set(view.state["agents"]) == {"a2"}
        assert view.state["intervals"] == {}  # removed at seq 3


async def test_bad_client_messages_get_errors_and_the_connection_stays(
    gateway: RunningGateway, redis: aioredis.Redis
) -> None:
    async with live_view(gateway) as view:
        for bad, expected in [("not json", "not JSON"), ("[1]", "JSON object"),
                              ('{"type": "dance"}', "unknown message type"),
                              ('{"type": "subscribe", "queues": "billing"}', "list of strings")]:
            await view.ws.send(bad)
            message = await view.receive()
            assert message["type"] == "error" and expected in message["message"], message
        await publish(redis, gateway.settings, update(2, dead_letters=5))
        await view.wait_for(lambda s: s.get("dead_letters") == 5)
        # over 64 KiB is refused by closing the connection (1009 message too big)
        await view.ws.send("x" * (64 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as closed:
            await view.receive()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_updates_are_coalesced_per_client(
    gateway: RunningGateway, redis: aioredis.Redis
) -> None:
    async with live_view(gateway) as view:
        for seq in range(2, 52):
            await publish(redis, gateway.settings, update(
                seq, queues={"billing": {"waiting": seq}},
                intervals={"billing": rows("billing", 3, seq)},
                agents={f"n{seq}": agent(f"New {seq}", ["billing"], "Blue")}))
        state = await view.wait_for(lambda s: s["seq"] == 51)
        updates = [m for m in view.messages if m["type"] == "update"]
        assert 1 <= len(updates) <= 10, len(updates)
        assert state["queues"]["billing"] == {"waiting": 51}
        assert state["intervals"]["billing"] == rows("billing", 3, 51)
        assert {f"n{seq}" for seq in range(2, 52)} <= set(state["agents"])


async def test_seq_gap_rereads_the_snapshot(
    gateway: RunningGateway, redis: aioredis.Redis
) -> None:
    async with live_view(gateway) as view:
        later = snapshot(seq=5)
        later["queues"]["sales"] = {"waiting": 42}  # only in the snapshot, not in the update
        later["queues"]["billing"] = {"waiting": 5}
        del later["agents"]["a2"]
        await write_snapshot(redis, gateway.settings, later)
        await publish(redis, gateway.settings, update(5, queues={"billing": {"waiting": 5}}))
        state = await view.wait_for(lambda s: s["seq"] == 5)
        assert state["queues"]["sales"] == {"waiting": 42}
        assert set(state["agents"]) == {"a1"}
        # and the next update applies on top of the re-read snapshot
        await publish(redis, gateway.settings, update(6, queues={"sales": {"waiting": 1}}))
        state = await view.wait_for(lambda s: s["seq"] == 6)
        assert state["queues"] == {"billing": {"waiting": 5}, "sales": {"waiting": 1}}


async def test_unknown_tenant_is_loaded_lazily(
    gateway: RunningGateway, redis: aioredis.Redis
) -> None:
    async with live_view(gateway, "?tenant=acme") as view:
        assert view.state["queues"] == {}  # nothing published for acme yet
        await write_snapshot(redis, gateway.settings, snapshot(seq=3, tenant="acme"))
        await publish(redis, gateway.settings, update(
            4, tenant="acme", queues={"billing": {"waiting": 4}}))
        state = await view.wait_for(lambda s: s["seq"] == 4)
        assert state["queues"] == {"billing": {"waiting": 4}, "sales": {"waiting": 2}}
    async with connect(gateway.ws_url + "?tenant=no/such") as ws:
        message = orjson.loads(await asyncio.wait_for(ws.recv(), 3))
        assert message["type"] == "error" and "invalid tenant" in message["message"]


async def test_a_client_that_never_reads_does_not_delay_others(
    settings: Settings, redis: aioredis.Redis
) -> None:
    await write_snapshot(redis, settings, snapshot(seq=1, agents=400))
    running = RunningGateway(settings)
    await running.start()
    stuck = await asyncio.to_thread(raw_websocket_that_never_reads, settings)
    try:
        async with live_view(running) as view:
            latencies = []
            for seq in range(2, 30):  # ~60 KB per update, every ~0.1 s, for ~3 s
                changed = {f"x{i}": agent(f"Extra {i} {seq} " + "y" * 80, ["sales"], "Red")
                           for i in range(400)}
                published = time.monotonic()
                await publish(redis, settings, update(seq, agents=changed))
                await view.wait_for(lambda s, seq=seq: s["seq"] >= seq, timeout=2.0)
                latencies.append(time.monotonic() - published)
                await asyncio.sleep(0.05)
            assert max(latencies) < 1.0, latencies
            # the stuck client was closed within client_max_pending_s (+ slack)
            assert await asyncio.to_thread(drained_to_eof, stuck, 3.0)
    finally:
        stuck.close()
        await running.stop()


# --- per-subscription update intervals -----------------------------------------------------

FEED_EVERY_S = 0.02
FEED_S = 2.0


async def record_updates(view: LiveView, times: list[float]) -> None:
    """Note when each update arrives (until cancelled; the view keeps merging them)."""
    while True:
        with contextlib.suppress(TimeoutError):
            if (await view.receive(1.0))["type"] == "update":
                times.append(time.monotonic())


async def updates_counted(redis: aioredis.Redis, settings: Settings, views: list[LiveView],
                          first_seq: int) -> tuple[list[int], int]:
    """Publish a change every ``FEED_EVERY_S`` for ``FEED_S``; how many updates each view
    received meanwhile, once all of them have caught up, and the last ``seq``."""
    times: list[list[float]] = [[] for _ in views]
    recorders = [asyncio.create_task(record_updates(view, noted))
                 for view, noted in zip(views, times, strict=True)]
    try:
        started = time.monotonic()
        seq = first_seq
        while time.monotonic() - started < FEED_S:
            await publish(redis, settings, update(seq, queues={"billing": {"waiting": seq}}))
            seq += 1
            await asyncio.sleep(FEED_EVERY_S)
        last = seq - 1
        deadline = time.monotonic() + 5.0
        while any(view.state["seq"] < last for view in views):
            assert time.monotonic() < deadline, [view.state["seq"] for view in views]
            await asyncio.sleep(0.05)
    finally:
        for recorder in recorders:
            recorder.cancel()
        await asyncio.gather(*recorders, return_exceptions=True)
    assert all(view.state["queues"]["billing"] == {"waiting": last} for view in views)
    return [sum(started <= t <= started + FEED_S for t in noted) for noted in times], last


def assert_rates(fast: int, slow: int, fast_s: float, slow_s: float) -> None:
    """At most one update per interval (+1 for the window's edges; a loaded machine can only
    send fewer), and the fast client clearly more than the slow one."""
    assert slow <= FEED_S / slow_s + 2, (fast, slow)
    assert fast <= FEED_S / fast_s + 2, (fast, slow)
    assert fast >= max(8, 2 * slow), (fast, slow)


async def test_clients_with_different_intervals_get_updates_at_their_own_rates(
    gateway: RunningGateway, redis: aioredis.Redis
) -> None:
    settings = gateway.settings
    # one asks in the URL, the other in a subscribe message; the same feed for both
    async with live_view(gateway, "?tenant=default&interval_s=0.1") as fast, \
            live_view(gateway) as slow:
        await slow.ws.send(orjson.dumps({"type": "subscribe", "interval_s": 0.5}).decode())
        assert (await slow.receive())["type"] == "snapshot"
        (fast_n, slow_n), last = await updates_counted(redis, settings, [fast, slow], 2)
        assert_rates(fast_n, slow_n, 0.1, 0.5)

        # a re-subscription changes the rate: the two swap
        await fast.ws.send(orjson.dumps({"type": "subscribe", "interval_s": 0.5}).decode())
        await slow.ws.send(orjson.dumps({"type": "subscribe", "interval_s": 0.1}).decode())
        assert (await fast.receive_type("snapshot"))["data"]["seq"] == last
        assert (await slow.receive_type("snapshot"))["data"]["seq"] == last
        (was_fast_n, was_slow_n), last = await updates_counted(redis, settings, [fast, slow],
                                                               last + 1)
        assert_rates(was_slow_n, was_fast_n, 0.1, 0.5)

        # without an interval, a subscription has the gateway's default again (0.1 s here)
        await fast.ws.send(orjson.dumps({"type": "subscribe"}).decode())
        await fast.receive_type("snapshot")
        (default_n, also_fast_n), _ = await updates_counted(redis, settings, [fast, slow],
                                                            last + 1)
        for count in (default_n, also_fast_n):
            assert 8 <= count <= FEED_S / 0.1 + 2, (default_n, also_fast_n)


async def test_a_new_subscription_is_answered_at_once_whatever_the_interval(
    gateway: RunningGateway, redis: aioredis.Redis
) -> None:
    async with live_view(gateway, "?interval_s=5") as view:
        # a change within 5 s of the snapshot waits for the interval ...
        await publish(redis, gateway.settings, update(2, queues={"billing": {"waiting": 2}}))
        with pytest.raises(TimeoutError):
            await view.receive(0.5)
        # ... a new subscription does not: its snapshot (with that change) goes at once
        asked = time.monotonic()
        await view.ws.send(orjson.dumps({"type": "subscribe", "queues": ["billing"],
                                         "interval_s": 5}).decode())
        snapshot_message = await view.receive_type("snapshot", timeout=3.0)
        assert time.monotonic() - asked < 1.5  # not the rest of the 5 s
        assert snapshot_message["data"]["seq"] == 2
        assert set(snapshot_message["data"]["queues"]) == {"billing"}
        # and the interval runs again from that send
        await publish(redis, gateway.settings, update(3, queues={"billing": {"waiting": 3}}))
        with pytest.raises(TimeoutError):
            await view.receive(2.0)
        await view.wait_for(lambda s: s["seq"] == 3, timeout=5.0)


async def test_an_interval_out_of_range_is_an_error_and_the_subscription_stays(
    gateway: RunningGateway, redis: aioredis.Redis
) -> None:
    async with live_view(gateway, "?queues=billing&interval_s=0.1") as view:
        for bad in (0.001, 60, "0.5", True):
            await view.ws.send(orjson.dumps({"type": "subscribe", "queues": ["sales"],
                                             "interval_s": bad}).decode())
            message = await view.receive()
            assert message == {"type": "error", "message": (
                "interval_s must be a number of seconds from 0.05 to 5, "
                f"not {bad!r}")}, message
        await publish(redis, gateway.settings, update(2, queues={"billing": {"waiting": 5}}))
        state = await view.wait_for(lambda s: s["seq"] == 2)
        assert set(state["queues"]) == {"billing"}
    # in the URL: the error, and no subscription until a subscribe message
    async with connect(gateway.ws_url + "?interval_s=0.01", open_timeout=5) as ws:
        view = LiveView(ws)
        message = await view.receive()
        assert message["type"] == "error", message
        assert message["message"] == ("interval_s must be a number of seconds from 0.05 to 5, "
                                      "not 0.01; send a subscribe message")
        assert (await view.receive())["type"] == "access"
        await ws.send(orjson.dumps({"type": "subscribe", "interval_s": 0.05}).decode())
        assert (await view.receive())["type"] == "snapshot"


# --- sends aligned to publications ---------------------------------------------------------


@pytest.fixture
async def default_gateway(settings: Settings, redis: aioredis.Redis
                          ) -> AsyncIterator[RunningGateway]:
    """A gateway with the default intervals: publications every 0.125 s, clients 0.25 s."""
    defaults = Settings()
    running = RunningGateway(settings.model_copy(update={
        "http_port": free_port(),
        "publish_interval_s": defaults.publish_interval_s,
        "client_update_interval_s": defaults.client_update_interval_s}))
    assert (running.settings.publish_interval_s,
            running.settings.client_update_interval_s) == (0.125, 0.25)
    await write_snapshot(redis, settings, snapshot(seq=1))
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def record_update_seqs(view: LiveView, received: list[tuple[float, int]]) -> None:
    """Note when each update arrives and the ``seq`` it brings (until cancelled)."""
    while True:
        with contextlib.suppress(TimeoutError):
            message = await view.receive(1.0)
            if message["type"] == "update":
                received.append((time.monotonic(), message["data"]["seq"]))


async def test_a_default_client_gets_every_second_publication_as_it_arrives(
    default_gateway: RunningGateway, redis: aioredis.Redis
) -> None:
    """A feed as the worker's, a publication every 0.125 s (start to start) for 2.5 s: the
    client at the default 0.25 s gets 4 updates a second, each carrying the latest
    publication and sent as that publication arrives. The feed starts 30 ms after the
    snapshot was sent: with sends timed to the client's due time (0.25 s after the last
    one), each publication would wait ~95 ms for its send."""
    settings = default_gateway.settings
    every = settings.publish_interval_s
    async with live_view(default_gateway) as view:
        received: list[tuple[float, int]] = []
        recorder = asyncio.create_task(record_update_seqs(view, received))
        written: dict[int, float] = {}
        try:
            await asyncio.sleep(0.03)
            started = time.monotonic()
            for i in range(20):
                await asyncio.sleep(max(0.0, started + i * every - time.monotonic()))
                seq = 2 + i
                written[seq] = time.monotonic()
                await publish(redis, settings, update(seq, queues={"billing": {"waiting": seq}}))
            last = 2 + 19
            deadline = time.monotonic() + 3.0
            while view.state["seq"] < last:
                assert time.monotonic() < deadline, (view.state["seq"], received)
                await asyncio.sleep(0.02)
        finally:
            recorder.cancel()
            await asyncio.gather(recorder, return_exceptions=True)
    assert view.state["queues"]["billing"] == {"waiting": last}
    seqs = [seq for _, seq in received]
    # ~4 a second (10 in 2.5 s): never more than one per interval less its tolerance
    assert 8 <= len(received) <= 12, received
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
    # each update brings the latest publication written before it arrived ...
    for at, seq in received:
        assert seq == max(s for s, written_at in written.items() if written_at <= at), (
            seq, received, written)
    # ... most of them every second one (a late publication may make it every third)
    steps = [b - a for a, b in zip(seqs, seqs[1:-1], strict=False)]
    assert sum(step == 2 for step in steps) >= 0.75 * len(steps), seqs
    # and at once: from the publication's write to the client, far less than a publication
    # interval (the last one, with nothing after it, waits its grace: left out)
    lags = sorted(at - written[seq] for at, seq in received if seq != last)
    assert statistics.median(lags) < 0.06, lags


async def test_a_lone_change_inside_the_interval_goes_within_interval_plus_grace(
    default_gateway: RunningGateway, redis: aioredis.Redis
) -> None:
    """One change 50 ms after a send and nothing after it: held for a later publication
    that never comes, then sent at the latest 0.25 + 0.125 s after the last send."""
    settings = default_gateway.settings
    async with live_view(default_gateway) as view:
        snapshot_at = time.monotonic()  # the snapshot's send, a little before
        await asyncio.sleep(0.05)
        await publish(redis, settings, update(2, queues={"billing": {"waiting": 2}}))
        message = await view.receive(3.0)
        after = time.monotonic() - snapshot_at
    assert message["type"] == "update" and message["data"]["seq"] == 2, message
    bound = settings.client_update_interval_s + settings.publish_interval_s
    assert 0.2 <= after <= bound + 0.15, after  # held, not sent at once; then not held long


# --- access, alerts and acknowledgements ---------------------------------------------------

TOKENS: dict[str, Json] = {
    "tok-admin": {"name": "root", "role": "admin"},
    "tok-viewer": {"name": "val", "role": "viewer"},
    "tok-sup": {"name": "sam", "role": "supervisor"},
    "tok-qa": {"name": "quinn", "role": "qa"},
    "tok-acme": {"name": "ana", "role": "supervisor", "tenants": ["acme"]},
    "tok-billing": {"name": "bill", "role": "supervisor", "queues": ["billing"]},
}


def write_tokens(path: Path, tokens: dict[str, Json]) -> None:
    """Write the tokens file and move its mtime on, as an edit a second later would."""
    before = path.stat().st_mtime_ns if path.exists() else time.time_ns()
    path.write_bytes(orjson.dumps(tokens))
    os.utime(path, ns=(before + 10**9, before + 10**9))


@pytest.fixture
async def guarded(settings: Settings, redis: aioredis.Redis,
                  tmp_path: Path) -> AsyncIterator[RunningGateway]:
    """The gateway with a tokens file (``TOKENS``), and two open alerts in Redis."""
    tokens_file = tmp_path / "tokens.json"
    write_tokens(tokens_file, TOKENS)
    guarded_settings = settings.model_copy(update={"tokens_file": str(tokens_file)})
    await write_snapshot(redis, guarded_settings, snapshot(seq=1))
    await write_snapshot(redis, guarded_settings, snapshot(seq=1, tenant="acme"))
    for open_alert in (transition("sup-1", audience=["supervisor"], queue="billing"),
                       transition("qa-1", audience=["qa"], queue="sales", severity="info")):
        await redis.hset(guarded_settings.alerts_key("default"), open_alert["alert_id"],
                         orjson.dumps(open_alert))
    running = RunningGateway(guarded_settings)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def refused(gateway: RunningGateway, query: str = "",
                  **connect_options: Any) -> tuple[Json, int]:
    """Connect; the one message the gateway sends, and the close code that follows."""
    async with connect(gateway.ws_url + query, open_timeout=5, **connect_options) as ws:
        message = orjson.loads(await asyncio.wait_for(ws.recv(), 3))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 3)
    assert closed.value.rcvd is not None
    return message, closed.value.rcvd.code


async def test_anonymous_viewer_without_tokens(gateway: RunningGateway) -> None:
    async with live_view(gateway) as view:
        assert view.access == {
            "type": "access", "name": "anonymous", "role": "viewer", "anonymous": True,
            "audiences": [], "can_acknowledge": False, "tenants": None, "queues": None}
        assert view.alert_messages == []


async def test_a_bad_token_is_refused_while_another_client_keeps_receiving(
    guarded: RunningGateway, redis: aioredis.Redis
) -> None:
    async with live_view(guarded, "?token=tok-viewer") as view:
        assert view.access["name"] == "val" and view.access["role"] == "viewer"
        message, code = await refused(guarded, "?token=nope")
        assert code == 4401 and message == {"type": "error",
                                            "message": "unknown or revoked token"}
        message, code = await refused(guarded)
        assert code == 4401 and "a token is required" in message["message"]
        await publish(redis, guarded.settings, update(2, dead_letters=7))
        await view.wait_for(lambda s: s.get("dead_letters") == 7)


async def test_origin_of_another_site_is_refused(guarded: RunningGateway) -> None:
    message, code = await refused(guarded, "?token=tok-viewer",
                                  origin="http://evil.example")
    assert code == 4403 and "origin 'http://evil.example' is not allowed" in message["message"]
    own = f"http://{guarded.settings.host}:{guarded.settings.http_port}"
    async with live_view(guarded, "?token=tok-viewer", origin=own) as view:
        assert view.state["seq"] == 1


async def test_a_token_limited_to_a_tenant_cannot_subscribe_to_another(
    guarded: RunningGateway,
) -> None:
    async with live_view(guarded, "?token=tok-acme") as view:  # no tenant: its own
        assert view.messages[0]["tenant"] == "acme" and view.access["tenants"] == ["acme"]
        await view.ws.send(orjson.dumps({"type": "subscribe", "tenant": "default"}).decode())
        message = await view.receive()
        assert message["type"] == "error"
        assert "tenant 'default' is not allowed for this token" in message["message"]
        # still subscribed to acme, and still connected
        await view.ws.send(orjson.dumps({"type": "subscribe", "tenant": "acme"}).decode())
        assert (await view.receive_type("snapshot"))["tenant"] == "acme"
    async with connect(guarded.ws_url + "?token=tok-acme&tenant=default") as ws:
        message = orjson.loads(await asyncio.wait_for(ws.recv(), 3))
        assert message["type"] == "error" and "not allowed" in message["message"]
        assert orjson.loads(await asyncio.wait_for(ws.recv(), 3))["type"] == "access"


async def test_a_qa_token_sees_only_qa_alerts(
    guarded: RunningGateway, redis: aioredis.Redis
) -> None:
    settings = guarded.settings
    async with live_view(guarded, "?token=tok-qa") as qa, \
            live_view(guarded, "?token=tok-sup") as sup, \
            live_view(guarded, "?token=tok-admin") as admin, \
            live_view(guarded, "?token=tok-viewer") as viewer:
        assert set(qa.alerts) == {"qa-1"} and set(sup.alerts) == {"sup-1"}
        assert set(admin.alerts) == {"qa-1", "sup-1"}
        assert qa.access["audiences"] == ["qa"] and qa.access["can_acknowledge"]
        for data in (transition("sup-2", queue="billing", severity="critical"),
                     transition("qa-2", audience=["qa", "wfm"], agent="a2", team="Red"),
                     transition("qa-1", state="cleared", audience=["qa"], queue="sales")):
            await publish_alert(redis, settings, data)
        await qa.wait_for_alerts(lambda alerts: set(alerts) == {"qa-2"})
        await sup.wait_for_alerts(lambda alerts: set(alerts) == {"sup-1", "sup-2"})
        await admin.wait_for_alerts(lambda alerts: set(alerts) == {"sup-1", "sup-2", "qa-2"})
        assert [m.get("alert_id") for m in qa.alert_messages[1:]] == ["qa-2", "qa-1"]
        assert all("sup" not in m.get("alert_id", "") for m in qa.alert_messages[1:])
        assert [a["alert_id"] for a in admin.alert_messages[0]["alerts"]] == ["sup-1", "qa-1"]
        # a viewer gets figures only
        await publish(redis, settings, update(2, dead_letters=3))
        await viewer.wait_for(lambda s: s.get("dead_letters") == 3)
        assert viewer.alert_messages == []


async def test_a_queue_token_sees_its_queues_figures_and_alerts(
    guarded: RunningGateway, redis: aioredis.Redis
) -> None:
    async with live_view(guarded, "?token=tok-billing") as view:
        assert set(view.state["queues"]) == {"billing"} and view.state["teams"] == {}
        assert set(view.state["agents"]) == {"a1"} and set(view.alerts) == {"sup-1"}
        for data in (transition("sales-1", queue="sales"), transition("tenant-1"),
                     transition("team-1", team="Blue"),
                     transition("agent-1", agent="a1", team="Blue"),
                     transition("agent-2", agent="a2", team="Red")):
            await publish_alert(redis, guarded.settings, data)
        await view.wait_for_alerts(lambda alerts: "agent-1" in alerts)
        await asyncio.sleep(0.3)
        assert set(view.alerts) == {"sup-1", "agent-1"}
        await view.ws.send(orjson.dumps({"type": "subscribe", "queues": ["sales"]}).decode())
        message = await view.receive_type("error")
        assert "queue(s) sales not allowed" in message["message"]


async def test_an_ack_xadds_who_and_the_transition_comes_back(
    guarded: RunningGateway, redis: aioredis.Redis
) -> None:
    settings = guarded.settings
    async with live_view(guarded, "?token=tok-sup") as sup, \
            live_view(guarded, "?token=tok-admin") as admin:
        before = int(time.time() * 1000)
        await sup.ws.send(orjson.dumps({"type": "ack", "tenant": "default",
                                        "alert_id": "sup-1", "comment": "on it"}).decode())
        assert await sup.receive_type("ack_sent") == {
            "type": "ack_sent", "tenant": "default", "alert_id": "sup-1"}
        entries = await redis.xrange(settings.alert_acks_stream)
        assert len(entries) == 1
        fields = {k.decode(): v.decode() for k, v in entries[0][1].items()}
        assert before <= int(fields.pop("at_ms")) <= int(time.time() * 1000)
        assert fields == {"tenant": "default", "alert_id": "sup-1", "who": "sam",
                          "role": "supervisor", "comment": "on it"}
        # the worker applies it and publishes the transition: every client that sees it
        acked = transition("sup-1", state="acknowledged", queue="billing",
                           acknowledged_by="sam", comment="on it")
        await publish_alert(redis, settings, acked)
        for view in (sup, admin):
            await view.wait_for_alerts(
                lambda alerts: alerts["sup-1"]["acknowledged_by"] == "sam")
        # refused: already acknowledged, not its audience, unknown, malformed
        for ack, why in [({"alert_id": "sup-1"}, "already acknowledged by sam"),
                         ({"alert_id": "qa-1"}, "this alert is for qa"),
                         ({"alert_id": "nope"}, "no open alert 'nope'"),
                         ({"alert_id": ["x"]}, "alert_id must be")]:
            await sup.ws.send(orjson.dumps({"type": "ack", **ack}).decode())
            message = await sup.receive_type("error")
            assert why in message["message"], message
        assert await redis.xlen(settings.alert_acks_stream) == 1


async def test_a_viewer_cannot_acknowledge(
    guarded: RunningGateway, redis: aioredis.Redis
) -> None:
    async with live_view(guarded, "?token=tok-viewer") as view:
        await view.ws.send(orjson.dumps({"type": "ack", "tenant": "default",
                                         "alert_id": "sup-1"}).decode())
        message = await view.receive_type("error")
        assert message["message"] == "ack: the role 'viewer' may not acknowledge alerts"
    assert await redis.xlen(guarded.settings.alert_acks_stream) == 0


async def test_rate_limit_closes_a_flooding_client(
    guarded: RunningGateway, redis: aioredis.Redis
) -> None:
    async with live_view(guarded, "?token=tok-viewer") as calm:
        async with live_view(guarded, "?token=tok-viewer") as flood:
            subscribe = orjson.dumps({"type": "subscribe"}).decode()
            for _ in range(30):
                await flood.ws.send(subscribe)
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await flood.receive()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
            errors = [m["message"] for m in flood.messages if m["type"] == "error"]
            assert errors == ["too many messages (at most 5 a second, 10 at once)"]
        await publish(redis, guarded.settings, update(2, dead_letters=9))
        await calm.wait_for(lambda s: s.get("dead_letters") == 9)


async def test_editing_the_tokens_file_revokes_and_issues(
    guarded: RunningGateway, redis: aioredis.Redis
) -> None:
    tokens_file = Path(str(guarded.settings.tokens_file))
    async with live_view(guarded, "?token=tok-qa") as qa, \
            live_view(guarded, "?token=tok-sup") as sup:
        write_tokens(tokens_file, {**{k: v for k, v in TOKENS.items() if k != "tok-qa"},
                                   "tok-new": {"name": "nia", "role": "wfm"}})
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await qa.receive(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        assert qa.messages[-1] == {"type": "error", "message": "your token was revoked"}
        message, code = await refused(guarded, "?token=tok-qa")
        assert code == 4401
        async with live_view(guarded, "?token=tok-new") as new:
            assert new.access["name"] == "nia" and new.access["role"] == "wfm"
        await publish(redis, guarded.settings, update(2, dead_letters=4))
        await sup.wait_for(lambda s: s.get("dead_letters") == 4)  # the others stay
