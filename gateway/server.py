"""The WebSocket gateway: Redis live state -> browsers, and the wallboard page on the same port.

One port serves ``/`` and the page's assets (from the ``wallboard`` package), ``/healthz``,
and the WebSocket endpoint ``/ws`` (protocol in ``docs/live-state.md``).

The gateway subscribes to every tenant's updates channel first, then reads the snapshots,
and keeps the latest merged state per tenant in memory (:mod:`gateway.state`). A Redis
message is merged into the state and into each subscribed client's *pending* update; no
socket is awaited on the broadcast path. Each client has a sender task that sends its
pending update at most once per ``client_update_interval_s``; a client whose socket does not
take a message within ``client_max_pending_s`` is closed (1013) and dropped.

Entry points: :func:`run_gateway` (a coroutine, serves until cancelled) and :func:`main`.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import signal
import socket
import time
from collections import defaultdict, deque
from typing import Any
from urllib.parse import urlsplit

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from gateway import static
from gateway.state import (
    Change,
    Json,
    Outcome,
    Subscription,
    TenantState,
    coalesce,
    empty_snapshot,
    seq_of,
)
from stream.settings import Settings

logger = logging.getLogger(__name__)

WS_PATH = "/ws"
HEALTH_PATH = "/healthz"
MAX_CLIENT_MESSAGE_BYTES = 64 * 1024  # larger messages close the connection (1009)
WRITE_LIMIT_BYTES = 64 * 1024  # per-connection transport buffer before send() waits
# Kernel send buffer per client. Left to autotuning it grows to megabytes, which a client
# that never reads would fill before a send ever waits; a wallboard needs far less.
SOCKET_SEND_BUFFER_BYTES = 256 * 1024
MAX_QUEUED_ERRORS = 16
ABUSE_ERRORS = 20  # this many bad messages ...
ABUSE_WINDOW_S = 10.0  # ... within this window close the connection (1008)
CLOSE_TIMEOUT_S = 1.0
SHUTDOWN_TIMEOUT_S = 3.0
SUBSCRIBE_TIMEOUT_S = 5.0
REDIS_RETRY_FIRST_S = 0.2
REDIS_RETRY_MAX_S = 5.0


def encode(message: Json) -> bytes:
    return orjson.dumps(message)


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


async def close_connection(ws: ServerConnection, code: int, reason: str) -> None:
    """Close with ``code``; abort the TCP connection if the close frame cannot be written."""
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await ws.close(code, reason)
    except TimeoutError:
        ws.transport.abort()


class ClientSession:
    """One browser: its subscription, its pending (coalesced) update and its sender task."""

    def __init__(self, ws: ServerConnection, gateway: Gateway) -> None:
        self.ws = ws
        self.gateway = gateway
        self.subscription: Subscription | None = None
        self.pending: Json | None = None
        self.needs_snapshot = False
        self.errors: deque[str] = deque()
        self.error_times: deque[float] = deque()
        self.wake = asyncio.Event()
        self.messages_sent = 0

    def __repr__(self) -> str:
        return f"<client {self.ws.remote_address} {self.subscription}>"

    def subscribe(self, subscription: Subscription) -> None:
        """A new subscription: the next message is a fresh snapshot of it."""
        self.subscription = subscription
        self.pending = None
        self.needs_snapshot = True
        self.wake.set()

    def push(self, change: Change) -> None:
        """Merge a change into the pending update; never touches the socket."""
        if self.subscription is None or self.needs_snapshot:
            return  # the snapshot about to be sent is built from the current state
        self.pending = coalesce(self.pending, self.subscription.filter_change(change))
        self.wake.set()

    def report_error(self, message: str) -> bool:
        """Queue an error message; ``False`` when the client sends bad messages too often."""
        now = time.monotonic()
        self.error_times.append(now)
        while self.error_times and self.error_times[0] < now - ABUSE_WINDOW_S:
            self.error_times.popleft()
        if len(self.error_times) > ABUSE_ERRORS or len(self.errors) >= MAX_QUEUED_ERRORS:
            return False
        self.errors.append(message)
        self.wake.set()
        return True

    def take_messages(self) -> list[bytes]:
        """What to send now, encoded: queued errors, then a snapshot or the pending update."""
        messages = [encode({"type": "error", "message": text}) for text in self.errors]
        self.errors.clear()
        subscription = self.subscription
        if subscription is None:
            return messages
        if self.needs_snapshot:
            self.needs_snapshot = False
            self.pending = None
            data = self.gateway.view(subscription)
            messages.append(encode({"type": "snapshot", "tenant": subscription.tenant,
                                    "data": data}))
        elif self.pending is not None:
            data, self.pending = self.pending, None
            messages.append(encode({"type": "update", "tenant": subscription.tenant,
                                    "data": data}))
        return messages

    async def run_sender(self, interval_s: float, max_pending_s: float) -> None:
        """Send at most one batch per interval; drop the client when a send does not finish."""
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                for message in self.take_messages():
                    async with asyncio.timeout(max_pending_s):
                        await self.ws.send(message, text=True)
                    self.messages_sent += 1
                await asyncio.sleep(interval_s)
        except TimeoutError:
            self.gateway.slow_clients_dropped += 1
            logger.warning("dropping %r: nothing could be sent for %.1f s", self, max_pending_s)
            await close_connection(self.ws, CloseCode.TRY_AGAIN_LATER, "client too slow")
        except ConnectionClosed:
            pass


class Gateway:
    """Live state per tenant from Redis, fanned out to WebSocket clients."""

    def __init__(self, settings: Settings, redis: aioredis.Redis) -> None:
        self.settings = settings
        self.redis = redis
        self.tenants: dict[str, TenantState] = {}
        self.clients: set[ClientSession] = set()
        self.clients_by_tenant: defaultdict[str, set[ClientSession]] = defaultdict(set)
        self.redis_connected = False
        # Counters (logged at shutdown, never per message).
        self.updates_applied = 0
        self.updates_stale = 0
        self.updates_invalid = 0
        self.gaps = 0
        self.slow_clients_dropped = 0
        prefix = settings.redis_prefix
        self._pattern = f"{_glob_escape(prefix)}:*:updates"
        self._channel_head = f"{prefix}:".encode()
        self._channel_tail = b":updates"

    # -- state ---------------------------------------------------------------------------

    def view(self, subscription: Subscription) -> Json:
        state = self.tenants.get(subscription.tenant)
        snapshot = state.snapshot if state else empty_snapshot(subscription.tenant)
        return subscription.filter_snapshot(snapshot)

    def broadcast(self, tenant: str, change: Change) -> None:
        for client in self.clients_by_tenant.get(tenant, ()):
            client.push(change)

    async def read_snapshot(self, tenant: str) -> Json | None:
        raw = await self.redis.get(self.settings.snapshot_key(tenant))
        if raw is None:
            return None
        try:
            snapshot = orjson.loads(raw)
        except orjson.JSONDecodeError:
            snapshot = None
        if not isinstance(snapshot, dict):
            logger.warning("snapshot of tenant %r is not a JSON object; ignored", tenant)
            return None
        return snapshot

    async def refresh_tenant(self, tenant: str, *, backwards: bool = False) -> TenantState | None:
        """Re-read a tenant's snapshot; clients get the difference as an update.

        The snapshot replaces the state when it is newer (or, with ``backwards``, whenever its
        ``seq`` differs: a gap was seen, so the key is the truth).
        """
        snapshot = await self.read_snapshot(tenant)
        state = self.tenants.get(tenant)
        if snapshot is None:
            return state
        if state is None:
            state = self.tenants[tenant] = TenantState(empty_snapshot(tenant))
        seq = snapshot.get("seq")
        if not isinstance(seq, int) or seq > state.seq or (backwards and seq != state.seq):
            self.broadcast(tenant, state.replace(snapshot))
        return state

    async def ensure_tenant(self, tenant: str) -> None:
        """Load a tenant a client asks for, if the gateway does not know it yet."""
        if tenant not in self.tenants and self.redis_connected:
            with contextlib.suppress(RedisError, OSError):
                await self.refresh_tenant(tenant)

    def tenant_of(self, channel: bytes) -> str | None:
        if channel.startswith(self._channel_head) and channel.endswith(self._channel_tail):
            return channel[len(self._channel_head):-len(self._channel_tail)].decode(
                errors="replace")
        return None

    async def on_update(self, channel: bytes, data: bytes) -> None:
        tenant = self.tenant_of(channel)
        try:
            update = orjson.loads(data)
            if not isinstance(update, dict):
                raise ValueError("not a JSON object")
            seq_of(update)
        except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
            self.updates_invalid += 1
            if self.updates_invalid in (1, 10, 100) or self.updates_invalid % 1000 == 0:
                logger.warning("invalid update on %r (%d so far): %s", channel,
                               self.updates_invalid, exc)
            return
        if tenant is None:
            return
        state = self.tenants.get(tenant) or await self.refresh_tenant(tenant)
        if state is None:
            state = self.tenants[tenant] = TenantState(empty_snapshot(tenant))
        outcome, change = state.apply(update)
        if outcome is Outcome.GAP:
            self.gaps += 1
            state = await self.refresh_tenant(tenant, backwards=True) or state
            outcome, change = state.apply(update)
            if outcome is Outcome.GAP:  # the snapshot is behind the update: take the update
                outcome, change = state.apply(update, force=True)
        if change is not None:
            self.updates_applied += 1
            self.broadcast(tenant, change)
        else:
            self.updates_stale += 1

    # -- Redis ---------------------------------------------------------------------------

    async def follow_updates(self, loaded: asyncio.Event) -> None:
        """Subscribe, load snapshots, apply updates; reconnect (and reload) after errors."""
        delay = REDIS_RETRY_FIRST_S
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.psubscribe(self._pattern)
                async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
                    while True:  # the subscription is in place before any snapshot is read
                        reply = await pubsub.get_message(timeout=SUBSCRIBE_TIMEOUT_S)
                        if reply is not None and reply["type"] == "psubscribe":
                            break
                self.redis_connected = True
                members = await self.redis.smembers(self.settings.tenants_key)
                known = {m.decode(errors="replace") if isinstance(m, bytes) else str(m)
                         for m in members}
                for tenant in sorted(known | set(self.tenants) | set(self.clients_by_tenant)):
                    await self.refresh_tenant(tenant, backwards=True)
                if not loaded.is_set():
                    logger.info("gateway following %d tenant(s) on %s", len(self.tenants),
                                self._pattern)
                loaded.set()
                delay = REDIS_RETRY_FIRST_S
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True,
                                                       timeout=None)
                    if message is not None and message["type"] == "pmessage":
                        await self.on_update(message["channel"], message["data"])
            except (RedisError, OSError, TimeoutError) as exc:
                self.redis_connected = False
                logger.warning("redis unavailable (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, REDIS_RETRY_MAX_S)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py

    # -- HTTP ----------------------------------------------------------------------------

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path == WS_PATH:
            return None
        if path == HEALTH_PATH:
            if self.redis_connected:
                return connection.respond(200, "ok")
            return connection.respond(503, "redis unavailable")
        found = static.resolve(path)
        if found is None:
            return connection.respond(404, "not found")
        headers = Headers([
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Type", found.content_type),
            ("Content-Length", str(len(found.body))),
            ("Cache-Control", "no-cache"),
            ("X-Content-Type-Options", "nosniff"),
            ("Content-Security-Policy", static.CONTENT_SECURITY_POLICY),
            ("Referrer-Policy", "no-referrer"),
        ])
        return Response(200, "OK", headers, found.body)

    # -- WebSocket -------------------------------------------------------------------------

    def _index(self, client: ClientSession, subscription: Subscription | None) -> None:
        old = client.subscription
        if old is not None and (subscription is None or old.tenant != subscription.tenant):
            clients = self.clients_by_tenant[old.tenant]
            clients.discard(client)
            if not clients:
                del self.clients_by_tenant[old.tenant]
        if subscription is not None:
            self.clients_by_tenant[subscription.tenant].add(client)

    async def on_client_message(self, client: ClientSession, raw: str | bytes) -> bool:
        """Handle one message from a client; ``False`` when the client must be closed."""
        try:
            message: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return client.report_error("message is not JSON")
        if not isinstance(message, dict):
            return client.report_error("message must be a JSON object")
        kind = message.get("type")
        if kind != "subscribe":
            return client.report_error(f"unknown message type {str(kind)[:40]!r}")
        try:
            subscription = Subscription.from_message(message)
        except ValueError as exc:
            return client.report_error(str(exc))
        await self.ensure_tenant(subscription.tenant)
        self._index(client, subscription)
        client.subscribe(subscription)
        return True

    async def handle_client(self, ws: ServerConnection) -> None:
        sock = ws.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_SEND_BUFFER_BYTES)
        client = ClientSession(ws, self)
        subscription: Subscription | None = None
        try:
            subscription = Subscription.from_query(urlsplit(ws.request.path).query if ws.request
                                                   else "")
        except ValueError as exc:
            client.report_error(f"{exc}; send a subscribe message")
        if subscription is not None:
            await self.ensure_tenant(subscription.tenant)
        sender: asyncio.Task[None] | None = None
        try:
            self.clients.add(client)
            sender = asyncio.create_task(client.run_sender(
                self.settings.client_update_interval_s, self.settings.client_max_pending_s))
            if subscription is not None:
                self._index(client, subscription)
                client.subscribe(subscription)
            async for raw in ws:
                if not await self.on_client_message(client, raw):
                    await close_connection(ws, CloseCode.POLICY_VIOLATION,
                                           "too many invalid messages")
                    break
        except ConnectionClosed:
            pass
        finally:
            self._index(client, None)
            self.clients.discard(client)
            if sender is not None:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender


async def _shutdown(server: Server) -> None:
    server.close()
    try:
        async with asyncio.timeout(SHUTDOWN_TIMEOUT_S):
            await server.wait_closed()
    except TimeoutError:  # connections whose close frame cannot be written
        for connection in list(server.connections):
            connection.transport.abort()
        await server.wait_closed()


async def run_gateway(settings: Settings, ready: asyncio.Event | None = None) -> None:
    """Serve the page and ``/ws`` on ``settings.host:settings.http_port`` until cancelled.

    ``ready`` is set once the port listens and the snapshots have been read.
    """
    if not settings.redis_url:
        raise RuntimeError("FLOORPULSE_REDIS_URL must be set (or run `floorpulse up`)")
    redis = aioredis.Redis.from_url(settings.redis_url)
    gateway = Gateway(settings, redis)
    loaded = asyncio.Event()
    follower = asyncio.create_task(gateway.follow_updates(loaded), name="gateway-redis")
    server: Server | None = None
    try:
        server = await serve(
            gateway.handle_client, settings.host, settings.http_port,
            process_request=gateway.process_request,
            max_size=MAX_CLIENT_MESSAGE_BYTES,
            write_limit=WRITE_LIMIT_BYTES,
            close_timeout=CLOSE_TIMEOUT_S,
        )
        logger.info("gateway on http://%s:%d/ (WebSocket %s)", settings.host,
                    settings.http_port, WS_PATH)
        loaded_wait = asyncio.create_task(loaded.wait())
        try:
            await asyncio.wait({follower, loaded_wait}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            loaded_wait.cancel()
        if ready is not None and loaded.is_set():
            ready.set()
        await follower  # runs until cancelled; raises if the follower fails
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        if server is not None:
            await _shutdown(server)
        await redis.aclose()
        logger.info(
            "gateway stopped: %d updates applied, %d stale, %d invalid, %d gaps, "
            "%d slow clients dropped", gateway.updates_applied, gateway.updates_stale,
            gateway.updates_invalid, gateway.gaps, gateway.slow_clients_dropped)


async def _serve_until_signal(settings: Settings) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    gateway = asyncio.create_task(run_gateway(settings))
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({gateway, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        stopping.cancel()
        gateway.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await gateway


def main(settings: Settings) -> None:
    """Run the gateway until SIGTERM or SIGINT (logging is configured by the caller)."""
    asyncio.run(_serve_until_signal(settings))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    main(Settings())
