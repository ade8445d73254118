"""The WebSocket gateway: Redis live state and alerts -> browsers, and the wallboard page.

One port serves ``/`` and the page's assets (from the ``wallboard`` package), ``/healthz``,
and the WebSocket endpoint ``/ws`` (protocol in ``docs/live-state.md``).

A client connects with ``/ws?token=TOKEN`` (:mod:`gateway.access`): the page's origin must
be allowed and the token known (when tokens are configured), or the client gets an
``error`` and is closed (4403, 4401). Its messages are rate-limited (1008 beyond).

The gateway subscribes to every tenant's updates and alerts channels first, then reads the
snapshots and the open alerts, and keeps the latest merged state and open alerts per tenant
in memory (:mod:`gateway.state`, :mod:`gateway.alerts`). A Redis update is merged into the
state and into one *feed* per distinct subscription (:class:`gateway.state.Feed`); an alert
goes into each client's pending list; no socket is awaited on the broadcast path. Each
client is sent what is new about once per its update interval (the ``interval_s`` of its
subscription, else ``client_update_interval_s``), each send timed to go out as a
publication arrives (:mod:`gateway.pacing`): the feed's changes since the client's last
send, merged and encoded once for all clients at the same point (whatever their
intervals), compressed once per message (:mod:`gateway.compression`). A client due at a
publication whose socket takes the update without waiting is written to in the fan-out
itself; otherwise (something else to send, a socket's buffer filling) its sender task
sends. A client whose socket does not take a message within ``client_max_pending_s`` is
closed (1013) and dropped. Each update's push lag, from the publication's arrival to its
frame in the socket, is counted (:mod:`gateway.lag`, ``GET /stats``). Acknowledgements
from clients go to the worker through a Redis stream; alert transitions go to webhooks
(:mod:`gateway.webhooks`).

Entry points: :func:`run_gateway` (a coroutine, serves until cancelled) and :func:`main`.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import math
import signal
import socket
import time
from collections import defaultdict, deque
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.protocol import State

from gateway import compression, static
from gateway.access import RATE_BURST, Grant, RateLimit, TokenStore, origin_allowed
from gateway.alerts import (
    AckRequest,
    OpenAlerts,
    ack_fields,
    check_transition,
    ordered,
    refuse_ack,
    visible,
)
from gateway.lag import PushLag
from gateway.pacing import (
    WAKE_LATENESS_SHARE,
    SendDecision,
    send_decision,
    tolerance_for,
    wake_decision,
)
from gateway.qa import (
    QaActionRequest,
    QaItems,
    check_item,
    item_visible,
    qa_action_fields,
    refuse_qa_action,
    sees_qa,
)
from gateway.state import (
    Change,
    Feed,
    Json,
    Outcome,
    SubscribeRequest,
    Subscription,
    TenantState,
    empty_snapshot,
    seq_of,
)
from gateway.webhooks import WebhookSink, read_stats
from stream.settings import Settings

logger = logging.getLogger(__name__)

WS_PATH = "/ws"
HEALTH_PATH = "/healthz"
STATS_PATH = "/stats"  # the gateway's counters and push lags, JSON (no tenant's data)
MAX_CLIENT_MESSAGE_BYTES = 64 * 1024  # larger messages close the connection (1009)
WRITE_LIMIT_BYTES = 64 * 1024  # per-connection transport buffer before send() waits
# Kernel send buffer per client. Left to autotuning it grows to megabytes, which a client
# that never reads would fill before a send ever waits; a wallboard needs far less.
SOCKET_SEND_BUFFER_BYTES = 256 * 1024
MAX_QUEUED_REPLIES = 16
# Writes a publication's fan-out makes itself (ClientSession.send_at_publication): ~30-40 us
# each, so the event loop is held at most ~0.1 s; the clients beyond go through their senders.
FAN_OUT_WRITES_MAX = 2_000
MAX_PENDING_ALERTS = 200  # beyond, the client gets the whole list again
ABUSE_ERRORS = 20  # this many bad messages ...
ABUSE_WINDOW_S = 10.0  # ... within this window close the connection (1008)
CLOSE_TIMEOUT_S = 1.0
SHUTDOWN_TIMEOUT_S = 3.0
SUBSCRIBE_TIMEOUT_S = 5.0
REDIS_RETRY_FIRST_S = 0.2
REDIS_RETRY_MAX_S = 5.0
TOKENS_POLL_S = 1.0
WEBHOOK_STATS_POLL_S = 2.0
ACKS_STREAM_MAXLEN = 10_000
# Close codes of our own (4000-4999 are for applications), besides 1008, 1009 and 1013.
CLOSE_RECONNECT = 4000  # the token's access changed: connect again
CLOSE_UNAUTHORIZED = 4401  # no token, an unknown one, or a revoked one: do not retry
CLOSE_FORBIDDEN = 4403  # the page's origin is not allowed: do not retry



def _ok(body: bytes, content_type: str, cache_control: str) -> Response:
    """A 200 response of the HTTP side (the page's assets, ``/stats``)."""
    headers = Headers([
        ("Date", email.utils.formatdate(usegmt=True)),
        ("Connection", "close"),
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Cache-Control", cache_control),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", static.CONTENT_SECURITY_POLICY),
        ("Referrer-Policy", "no-referrer"),
    ])
    return Response(200, "OK", headers, body)


class Closing(NamedTuple):
    """Why a connection is closed: the error message sent first, then the close frame."""

    code: int
    reason: str  # in the close frame (short)
    message: str  # in the error message before it


def encode(message: Json) -> bytes:
    return orjson.dumps(message)


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


def _channel_parts(channel_of_tenant: str) -> tuple[bytes, bytes]:
    """The text before and after the tenant in a per-tenant channel name."""
    head, _, tail = channel_of_tenant.partition("\0")
    return head.encode(), tail.encode()


def _tenant_between(channel: bytes, parts: tuple[bytes, bytes]) -> str | None:
    head, tail = parts
    if channel.startswith(head) and channel.endswith(tail) and len(channel) > len(head) + len(
            tail):
        return channel[len(head):len(channel) - len(tail)].decode(errors="replace")
    return None


async def close_connection(ws: ServerConnection, code: int, reason: str) -> None:
    """Close with ``code``; abort the TCP connection if the close frame cannot be written."""
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await ws.close(code, reason)
    except TimeoutError:
        ws.transport.abort()


class ClientSession:
    """One browser: its grant and subscription, what is pending for it, its sender task."""

    def __init__(self, ws: ServerConnection, gateway: Gateway, grant: Grant,
                 token_digest: str = "") -> None:
        self.ws = ws
        self.gateway = gateway
        self.grant = grant
        self.token_digest = token_digest
        self.rate = RateLimit(gateway.settings.client_messages_per_s)
        self.subscription: Subscription | None = None
        self.feed: Feed | None = None  # the subscription's shared updates (gateway.state)
        # at most one send per interval; the subscription's, else the gateway's default
        self.interval_s = gateway.settings.client_update_interval_s
        # Ends the sender's wait between sends: the client is owed an answer (a new
        # subscription's snapshot, a reply to its message, the error before closing).
        self.answer_now = asyncio.Event()
        self.sent_version = 0  # the feed's version the client was last sent
        self.needs_snapshot = False
        self.needs_alerts = False
        self.pending_alerts: list[Json] = []
        self.shown_alerts: set[str] = set()
        self.webhooks_version = 0
        self.replies: deque[Json] = deque()
        self.access_pending = True  # the access message, once, after the first snapshot
        self.error_times: deque[float] = deque()
        self.closing: Closing | None = None
        self.wake = asyncio.Event()
        self.wake.set()
        # Pacing (gateway.pacing): when the last send started; the grace (how long past its
        # due time a change waits for the next publication: one publish interval, the module
        # says why); and the timer that wakes the sender when something held is to go at the
        # latest (armed by the first change that is not due, so that a publication before
        # the client's due time does not wake its sender at all). Times are the event loop's
        # clock (loop.time(): time.monotonic() in asyncio's loops), as its timers are.
        self.last_send = -math.inf
        self.grace = gateway.settings.publish_interval_s
        self.deadline: float | None = None  # armed at this instant (Gateway.deadlines)
        self.deadline_passed = False
        self.wakeups = 0  # the sender's wake-ups (tests count them)
        self.messages_sent = 0
        # the update among the messages taken, and when its latest publication arrived
        # (the push lag, gateway/lag.py, is recorded once it is sent)
        self.update_taken: tuple[bytes, float] | None = None
        # Sends made in the fan-out (send_at_publication); whether the sender is sending.
        self.sent_at_publication = 0
        self.sending = False
        # QA queue (gateway/qa.py), for the qa and admin roles
        self.needs_qa = False
        self.pending_qa: list[Json] = []

    def __repr__(self) -> str:
        return f"<client {self.ws.remote_address} {self.grant.name} {self.subscription}>"

    def subscribe(self, subscription: Subscription, interval_s: float | None = None) -> None:
        """A new subscription: the next messages, sent at once, are a fresh snapshot of it and
        its alerts; then updates at most once per ``interval_s`` (``None``: the default)."""
        self.subscription = subscription
        self.interval_s = (self.gateway.settings.client_update_interval_s if interval_s is None
                           else interval_s)
        self.answer_now.set()
        self.needs_snapshot = True
        self.needs_alerts = self.grant.sees_alerts
        self.pending_alerts.clear()
        self.shown_alerts.clear()
        self.needs_qa = sees_qa(self.grant)
        self.pending_qa.clear()
        self.wake.set()

    def push_qa(self, message: Json) -> None:
        """Queue a QA item change (or a refusal of this person's action)."""
        if self.subscription is None or self.needs_qa or not sees_qa(self.grant):
            return
        if message.get("type") == "qa_item" and not item_visible(message["item"], self.grant):
            return
        if len(self.pending_qa) >= MAX_PENDING_ALERTS:
            self.needs_qa = True
            self.pending_qa.clear()
        else:
            self.pending_qa.append(message)
        self.wake.set()

    def push_alert(self, alert: Json) -> None:
        """Queue an alert transition if this client sees it; never touches the socket.

        A client that was shown an alert is told of its later transitions even if its scope
        has left the client's view since (an agent who moved to another team, say).
        """
        if self.subscription is None or self.needs_alerts or not self.grant.sees_alerts:
            return  # the alert list about to be sent is built from the current state
        alert_id = alert["alert_id"]
        if alert_id not in self.shown_alerts and not self.gateway.may_see(self, alert):
            return
        if alert["state"] == "cleared":
            self.shown_alerts.discard(alert_id)
        else:
            self.shown_alerts.add(alert_id)
        if len(self.pending_alerts) >= MAX_PENDING_ALERTS:
            self.resync_alerts()
        else:
            self.pending_alerts.append(alert)
        self.wake.set()

    def resync_alerts(self) -> None:
        """Send the whole list of open alerts again (after a reload from Redis)."""
        if self.subscription is not None and self.grant.sees_alerts:
            self.needs_alerts = True
            self.pending_alerts.clear()
            self.wake.set()

    def reply(self, message: Json) -> None:
        """Queue an answer to the client's message; it goes at once."""
        self.replies.append(message)
        self.answer_now.set()
        self.wake.set()

    def report_error(self, message: str) -> bool:
        """Queue an error message; ``False`` when the client sends bad messages too often."""
        now = time.monotonic()
        self.error_times.append(now)
        while self.error_times and self.error_times[0] < now - ABUSE_WINDOW_S:
            self.error_times.popleft()
        if len(self.error_times) > ABUSE_ERRORS or len(self.replies) >= MAX_QUEUED_REPLIES:
            return False
        self.reply({"type": "error", "message": message})
        return True

    def fail(self, closing: Closing) -> None:
        """Send the error, then close: done by the sender, after what is queued."""
        if self.closing is None:
            self.closing = closing
            self.answer_now.set()
            self.wake.set()

    async def send(self, message: bytes, max_pending_s: float) -> None:
        """Send one message; ``TimeoutError`` if the client has not taken it within
        ``max_pending_s``.

        To a socket whose buffer is at or below its low-water mark the message is written
        at once (:meth:`write`): that never waits, and leaves at most one message above the
        mark in the buffer. Otherwise websockets' send waits, as long as asyncio keeps the
        connection's writing paused (until its buffer is down to the low-water mark), under
        the timer: one armed and cancelled per send was a third of the CPU of a send,
        measured on its own, so only a send that may wait has one."""
        if self.writable():
            self.write(message)
        else:
            async with asyncio.timeout(max_pending_s):
                await self.ws.send(message, text=True)

    def writable(self) -> bool:
        """Whether the socket's buffer is at or below its low-water mark: a write then
        leaves at most one message above the mark, and nothing waits."""
        transport = self.ws.transport
        return transport.get_write_buffer_size() <= transport.get_write_buffer_limits()[0]

    def counted(self, message: bytes, update: tuple[bytes, float] | None) -> None:
        """A message sent; if it is the update taken, its push lag (gateway/lag.py)."""
        self.messages_sent += 1
        if update is not None and message is update[0]:
            self.gateway.push_lag.record(asyncio.get_running_loop().time() - update[1])

    def write(self, message: bytes) -> None:
        """Write a message to the socket now, without waiting (websockets' ``broadcast``,
        for this one connection: a connection no longer open is skipped; its handler ends
        the client)."""
        broadcast((self.ws,), message, text=True)

    def send_decision(self, now: float) -> SendDecision:
        """:func:`gateway.pacing.send_decision` for this client at ``now``."""
        interval = self.interval_s
        return send_decision(now, self.last_send, interval, tolerance_for(interval), self.grace,
                             answer_now=self.answer_now.is_set())

    def on_publication(self, now: float) -> None:
        """A publication was merged into the client's feed (at ``now``, loop time): wake the
        sender unless it would hold the publication even if it ran half a publish interval
        from now (:func:`gateway.pacing.wake_decision`); then leave it asleep, with its deadline
        armed, to be woken by the first later publication that may be due (this method
        again) or at the decision's ``hold_until``, whichever comes first. A sender woken
        decides itself, when it runs, as it did when every publication woke it: the sends
        are the same, without the wake-ups that decide to wait."""
        if self.wake.is_set():
            return  # woken already: the sender decides when it runs
        interval = self.interval_s
        decision = wake_decision(now, self.last_send, interval, tolerance_for(interval),
                                 self.grace, lateness=self.grace * WAKE_LATENESS_SHARE)
        if not decision.send_now:
            self._arm(decision.hold_until)
        elif not self.send_at_publication(now):
            self.wake.set()

    def send_at_publication(self, now: float) -> bool:
        """Do what the sender would do if it ran now, here in the fan-out, when that is to
        send and the socket's buffer is at or below its low-water mark: write what is to
        go (:meth:`write`, which never waits) and leave the sender asleep. A publication's
        fan-out then costs a write per client, not a task woken per client with its own
        send. ``False`` when the sender must run: it is sending, the client is being
        closed, its decision now is to hold (it arms the deadline), the socket's buffer is
        above the mark (a send may wait), or this fan-out has made its
        ``FAN_OUT_WRITES_MAX`` writes (the event loop is not held longer)."""
        gateway = self.gateway
        if (self.sending or self.closing is not None or gateway.fan_out_writes_left <= 0
                or self.ws.protocol.state is not State.OPEN
                or not self.send_decision(now).send_now):
            return False
        if not self.writable():
            return False
        gateway.fan_out_writes_left -= 1
        self._disarm()
        messages = self.take_messages()
        update, self.update_taken = self.update_taken, None
        if not messages:
            return True  # nothing new for this subscription: nothing to send, as the sender
        self.last_send = now
        for message in messages:
            self.write(message)
            self.counted(message, update)
        self.sent_at_publication += 1
        return True

    def _arm(self, hold_until: float) -> None:
        """Have the sender woken at ``hold_until`` (loop time: the pacing's deadline for
        what is held), unless armed already (for the same deadline: it moves only with a
        send). At that instant, not after a delay counted from a ``now`` read before a
        fan-out: a client far down a large fan-out would be woken late by the fan-out's
        time."""
        if self.deadline is None:
            self.deadline = hold_until
            self.gateway.deadlines.arm(self, hold_until)

    def deadline_reached(self) -> None:
        self.deadline = None
        self.deadline_passed = True
        self.wake.set()

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.gateway.deadlines.disarm(self, self.deadline)
            self.deadline = None
        self.deadline_passed = False

    def take_messages(self) -> list[bytes]:
        """What to send now, encoded: replies (errors, acks), then a snapshot or the pending
        update, the access message (once), then the alert list or the pending transitions,
        then the webhook counters when they changed; only the final error when the client is
        being closed."""
        messages = [encode(message) for message in self.replies]
        self.replies.clear()
        if self.closing is not None:
            messages.append(encode({"type": "error", "message": self.closing.message}))
            return messages
        subscription, feed = self.subscription, self.feed
        if subscription is None or feed is None:
            if self.access_pending:
                self.access_pending = False
                messages.append(encode(self.grant.describe()))
            return messages
        update = None if self.needs_snapshot else feed.update_since(self.sent_version)
        if update is None:  # subscribed now, or too far behind the feed
            self.needs_snapshot = False
            messages.append(feed.snapshot(self.gateway.view))
        elif update:
            messages.append(update)
            self.update_taken = (update, feed.arrived)
        self.sent_version = feed.version
        if self.access_pending:
            self.access_pending = False
            messages.append(encode(self.grant.describe()))
        if self.needs_alerts:
            self.needs_alerts = False
            self.pending_alerts.clear()
            alerts = self.gateway.alerts_for(self)
            self.shown_alerts = {alert["alert_id"] for alert in alerts}
            messages.append(encode({"type": "alerts", "tenant": subscription.tenant,
                                    "alerts": alerts}))
        else:
            messages.extend(encode(alert) for alert in self.pending_alerts)
            self.pending_alerts.clear()
        if self.needs_qa:
            self.needs_qa = False
            self.pending_qa.clear()
            messages.append(encode({"type": "qa_queue", "tenant": subscription.tenant,
                                    "items": self.gateway.qa_for(self)}))
        else:
            messages.extend(encode(message) for message in self.pending_qa)
            self.pending_qa.clear()
        stats = self.gateway.webhook_stats
        if (self.grant.sees_alerts and stats is not None
                and self.webhooks_version != self.gateway.webhook_version):
            self.webhooks_version = self.gateway.webhook_version
            messages.append(encode({"type": "webhooks", **stats}))
        return messages

    async def run_sender(self, max_pending_s: float) -> None:
        """Send what is pending when :func:`gateway.pacing.send_decision` says so: an
        answer the client is owed (``answer_now``: a new subscription's snapshot, a reply,
        the closing error) at once, with whatever else is pending; a change that comes in
        once the client's interval (``self.interval_s``, read at every decision, so a
        re-subscription changes it) has elapsed since the start of the last send at once; an
        earlier one with the first later change that comes once it has elapsed, or at the
        latest ``publish_interval_s`` past the due time. Drop the client when a send does not
        finish.

        The sender sleeps until woken: by a publication that may be due
        (:meth:`on_publication` wakes it only then), by anything else pending (an alert, a
        reply, ...: it decides then whether to send or hold), or by its deadline
        (:meth:`_arm`), which sends what is held."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()  # set again by the next change (or answer owed)
                self.wakeups += 1
                now = loop.time()
                if not self.deadline_passed:
                    decision = self.send_decision(now)
                    if not decision.send_now:
                        self._arm(decision.hold_until)
                        continue
                self._disarm()
                self.answer_now.clear()  # this send takes what is owed now
                messages = self.take_messages()
                if messages:
                    self.last_send = now
                update, self.update_taken = self.update_taken, None
                self.sending = True
                try:
                    for message in messages:
                        await self.send(message, max_pending_s)
                        self.counted(message, update)
                finally:
                    self.sending = False
                if self.closing is not None:
                    await close_connection(self.ws, self.closing.code, self.closing.reason)
                    return
        except TimeoutError:
            self.gateway.slow_clients_dropped += 1
            logger.warning("dropping %r: nothing could be sent for %.1f s", self, max_pending_s)
            await close_connection(self.ws, CloseCode.TRY_AGAIN_LATER, "client too slow")
        except ConnectionClosed:
            pass
        finally:
            self._disarm()


class Deadlines:
    """The senders' deadlines, one timer per instant. The clients sent to in one fan-out
    share their last send's instant, so a publication they all hold gives them the same
    deadline: 1,000 wallboards then arm one timer, not 1,000 (each armed and, at the next
    publication, cancelled)."""

    def __init__(self) -> None:
        self.timers: dict[float, tuple[asyncio.TimerHandle, set[ClientSession]]] = {}

    def arm(self, client: ClientSession, at: float) -> None:
        timer = self.timers.get(at)
        if timer is None:
            timer = self.timers[at] = (
                asyncio.get_running_loop().call_at(at, self._reached, at), set())
        timer[1].add(client)

    def disarm(self, client: ClientSession, at: float) -> None:
        timer = self.timers.get(at)
        if timer is not None:
            timer[1].discard(client)
            if not timer[1]:
                timer[0].cancel()
                del self.timers[at]

    def _reached(self, at: float) -> None:
        _, clients = self.timers.pop(at)
        for client in clients:
            client.deadline_reached()


class Gateway:
    """Live state and open alerts per tenant from Redis, fanned out to WebSocket clients."""

    def __init__(self, settings: Settings, redis: aioredis.Redis) -> None:
        self.settings = settings
        self.redis = redis
        self.tokens = TokenStore(settings.tokens, settings.tokens_file)
        self.tenants: dict[str, TenantState] = {}
        self.alerts: dict[str, OpenAlerts] = {}
        self.qa: dict[str, QaItems] = {}  # per tenant (gateway/qa.py)
        self.alert_events: defaultdict[str, int] = defaultdict(int)  # per tenant, to see races
        self.clients: set[ClientSession] = set()
        self.clients_by_tenant: defaultdict[str, set[ClientSession]] = defaultdict(set)
        # per tenant, one feed per distinct subscription (gateway.state.Feed)
        self.feeds: defaultdict[str, dict[Subscription, Feed]] = defaultdict(dict)
        self.clients_by_token: defaultdict[str, set[ClientSession]] = defaultdict(set)
        self.webhook_stats: Json | None = None
        self.webhook_version = 0
        self.redis_connected = False
        # Counters (logged at shutdown, never per message).
        self.updates_applied = 0
        self.updates_stale = 0
        self.updates_invalid = 0
        self.gaps = 0
        self.slow_clients_dropped = 0
        self.push_lag = PushLag()  # every update sent (gateway/lag.py; GET /stats)
        self.deadlines = Deadlines()  # the senders' (ClientSession._arm)
        self.fan_out_writes_left = 0  # in the current publication's fan-out (broadcast)
        self.clients_refused = 0
        self.alerts_applied = 0
        self.alerts_invalid = 0
        self.acks_sent = 0
        self._updates = _channel_parts(settings.updates_channel("\0"))
        self._alert_events = _channel_parts(settings.alerts_channel("\0"))
        self._qa_events = _channel_parts(settings.qa_channel("\0"))
        self._patterns = [_glob_escape(head.decode()) + "*" + _glob_escape(tail.decode())
                          for head, tail in (self._updates, self._alert_events,
                                             self._qa_events)]

    # -- state ---------------------------------------------------------------------------

    def view(self, subscription: Subscription) -> Json:
        state = self.tenants.get(subscription.tenant)
        snapshot = state.snapshot if state else empty_snapshot(subscription.tenant)
        return subscription.filter_snapshot(snapshot)

    def agents_of(self, tenant: str) -> Mapping[str, Any]:
        state = self.tenants.get(tenant)
        agents = state.snapshot.get("agents") if state else None
        return agents if isinstance(agents, dict) else {}

    def may_see(self, client: ClientSession, alert: Json) -> bool:
        subscription = client.subscription
        return subscription is not None and visible(
            alert, client.grant, subscription, self.agents_of(subscription.tenant))

    def alerts_for(self, client: ClientSession) -> list[Json]:
        """The open alerts a client sees, most severe first."""
        subscription = client.subscription
        open_alerts = self.alerts.get(subscription.tenant) if subscription else None
        if open_alerts is None:
            return []
        return ordered([alert for alert in open_alerts.values() if self.may_see(client, alert)])

    def qa_for(self, client: ClientSession) -> list[Json]:
        """The QA items a client sees, newest first."""
        subscription = client.subscription
        items = self.qa.get(subscription.tenant) if subscription else None
        return [] if items is None else items.listing(client.grant)

    async def refresh_qa(self, tenant: str) -> None:
        """Re-read a tenant's QA queue; its QA clients get the whole list again."""
        raw = await self.redis.hgetall(self.settings.qa_key(tenant))
        items = QaItems()
        for value in raw.values():
            try:
                items.apply(check_item(orjson.loads(value), tenant))
            except ValueError:
                continue
        if not items.by_contact and tenant not in self.qa and tenant not in self.tenants:
            return
        self.qa[tenant] = items
        for client in self.clients_by_tenant.get(tenant, ()):
            if sees_qa(client.grant) and client.subscription is not None:
                client.needs_qa = True
                client.wake.set()

    def on_qa_event(self, channel: bytes, data: bytes) -> None:
        """A changed QA item, or a refused action, from a tenant's QA channel."""
        tenant = _tenant_between(channel, self._qa_events)
        if tenant is None:
            return
        try:
            message = orjson.loads(data)
            if not isinstance(message, dict):
                raise ValueError("not a JSON object")
            if message.get("type") == "qa_item":
                self.qa.setdefault(tenant, QaItems()).apply(check_item(message.get("item"),
                                                                       tenant))
            elif message.get("type") != "qa_refused":
                raise ValueError("unknown QA message")
        except ValueError as exc:
            self._count_invalid_alert(channel.decode(errors="replace"), exc)
            return
        for client in self.clients_by_tenant.get(tenant, ()):
            if message["type"] == "qa_item":
                client.push_qa(message)
            elif client.grant.name == message.get("who") and sees_qa(client.grant):
                client.report_error(f"qa_action {message.get('action')} on "
                                    f"{message.get('contact_id')}: {message.get('reason')}")

    async def record_qa_action(self, client: ClientSession, message: Mapping[str, Any]) -> bool:
        """``{"type": "qa_action", ...}``: XADD it for the worker, or an error."""
        subscription = client.subscription
        default = subscription.tenant if subscription else client.grant.default_tenant
        try:
            request = QaActionRequest.from_message(message, default)
        except ValueError as exc:
            return client.report_error(str(exc))
        items = self.qa.get(request.tenant)
        item = items.by_contact.get(request.contact_id) if items else None
        refusal = refuse_qa_action(client.grant, request, item)
        if refusal is not None:
            return client.report_error(refusal)
        fields = qa_action_fields(client.grant, request, int(time.time() * 1000))
        try:
            await self.redis.xadd(self.settings.qa_actions_stream, fields,  # type: ignore[arg-type]
                                  maxlen=ACKS_STREAM_MAXLEN, approximate=True)
        except (RedisError, OSError):
            return client.report_error("qa_action: not recorded (Redis unavailable); try again")
        client.reply({"type": "qa_action_sent", "tenant": request.tenant,
                      "contact_id": request.contact_id, "action": request.action})
        return True

    def broadcast(self, tenant: str, change: Change) -> None:
        """A change of a tenant's state: into each of its feeds once; its clients' senders
        take it from there when they next run (woken now only those that may be due:
        :meth:`ClientSession.on_publication`)."""
        feeds = self.feeds.get(tenant)
        if not feeds:
            return
        now = asyncio.get_running_loop().time()
        for feed in feeds.values():
            feed.push(change, now)
        self.fan_out_writes_left = FAN_OUT_WRITES_MAX
        for client in self.clients_by_tenant.get(tenant, ()):
            client.on_publication(now)

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

    async def refresh_alerts(self, tenant: str) -> None:
        """Re-read a tenant's open alerts; its clients get the whole list if it changed.

        A transition applied while the hash was being read makes the read start again.
        """
        for _ in range(3):
            seen = self.alert_events[tenant]
            raw = await self.redis.hgetall(self.settings.alerts_key(tenant))
            if self.alert_events[tenant] == seen:
                break
        alerts: dict[str, Json] = {}
        for value in raw.values():
            try:
                alert = check_transition(orjson.loads(value), tenant)
            except ValueError as exc:
                self._count_invalid_alert(self.settings.alerts_key(tenant), exc)
                continue
            if alert["state"] != "cleared":
                alerts[alert["alert_id"]] = alert
        old = self.alerts.get(tenant)
        if not alerts and old is None and tenant not in self.tenants:
            return  # nothing known of this tenant: keep no state for a name a client made up
        self.alerts[tenant] = OpenAlerts(alerts)
        if old is None or old.by_id != alerts:
            for client in self.clients_by_tenant.get(tenant, ()):
                client.resync_alerts()

    async def ensure_tenant(self, tenant: str) -> None:
        """Load a tenant a client asks for, if the gateway does not know it yet."""
        if not self.redis_connected:
            return
        with contextlib.suppress(RedisError, OSError):
            if tenant not in self.tenants:
                await self.refresh_tenant(tenant)
            if tenant not in self.alerts:
                await self.refresh_alerts(tenant)
            if tenant not in self.qa:
                await self.refresh_qa(tenant)

    def tenant_of(self, channel: bytes) -> str | None:
        return _tenant_between(channel, self._updates)

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

    def on_alert(self, channel: bytes, data: bytes) -> None:
        """One transition from a tenant's alerts channel: into the state and to clients."""
        tenant = _tenant_between(channel, self._alert_events)
        if tenant is None:
            return
        try:
            alert = check_transition(orjson.loads(data), tenant)
        except ValueError as exc:
            self._count_invalid_alert(channel.decode(errors="replace"), exc)
            return
        self.alerts_applied += 1
        self.alert_events[tenant] += 1
        self.alerts.setdefault(tenant, OpenAlerts()).apply(alert)
        for client in self.clients_by_tenant.get(tenant, ()):
            client.push_alert(alert)

    def _count_invalid_alert(self, where: str, exc: Exception) -> None:
        self.alerts_invalid += 1
        if self.alerts_invalid in (1, 10, 100) or self.alerts_invalid % 1000 == 0:
            logger.warning("invalid alert on %r (%d so far): %s", where, self.alerts_invalid,
                           exc)

    # -- Redis ---------------------------------------------------------------------------

    async def follow_updates(self, loaded: asyncio.Event) -> None:
        """Subscribe, load snapshots and alerts, apply updates and transitions; reconnect
        (and reload) after errors."""
        delay = REDIS_RETRY_FIRST_S
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.psubscribe(*self._patterns)
                confirmed = 0
                async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
                    while confirmed < len(self._patterns):  # subscribed before any read
                        reply = await pubsub.get_message(timeout=SUBSCRIBE_TIMEOUT_S)
                        if reply is not None and reply["type"] == "psubscribe":
                            confirmed += 1
                self.redis_connected = True
                members = await self.redis.smembers(self.settings.tenants_key)
                known = {m.decode(errors="replace") if isinstance(m, bytes) else str(m)
                         for m in members}
                for tenant in sorted(known | set(self.tenants) | set(self.alerts)
                                     | set(self.clients_by_tenant)):
                    await self.refresh_tenant(tenant, backwards=True)
                    await self.refresh_alerts(tenant)
                    await self.refresh_qa(tenant)
                if not loaded.is_set():
                    logger.info("gateway following %d tenant(s) on %s", len(self.tenants),
                                " and ".join(self._patterns))
                loaded.set()
                delay = REDIS_RETRY_FIRST_S
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True,
                                                       timeout=None)
                    if message is None or message["type"] != "pmessage":
                        continue
                    channel = message["channel"]
                    if channel.endswith(self._updates[1]):
                        await self.on_update(channel, message["data"])
                    elif channel.endswith(self._qa_events[1]):
                        self.on_qa_event(channel, message["data"])
                    else:
                        self.on_alert(channel, message["data"])
            except (RedisError, OSError, TimeoutError) as exc:
                self.redis_connected = False
                logger.warning("redis unavailable (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, REDIS_RETRY_MAX_S)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # untyped in redis-py < 8

    async def follow_webhook_stats(self) -> None:
        """Read the webhook counters now and then; clients that see alerts get them."""
        while True:
            stats: Json | None = self.webhook_stats
            with contextlib.suppress(RedisError, OSError):
                stats = await read_stats(self.redis, self.settings)
            if stats != self.webhook_stats:
                self.webhook_stats = stats
                self.webhook_version += 1
                for client in self.clients:
                    if client.grant.sees_alerts:
                        client.wake.set()
            await asyncio.sleep(WEBHOOK_STATS_POLL_S)

    async def watch_tokens(self) -> None:
        """Read the tokens file when it changes; close the clients of revoked tokens."""
        while True:
            await asyncio.sleep(TOKENS_POLL_S)
            changes = self.tokens.reload()
            for digest in changes.revoked:
                for client in self.clients_by_token.get(digest, ()):
                    client.fail(Closing(CLOSE_UNAUTHORIZED, "token revoked",
                                        "your token was revoked"))
            for digest in changes.changed:
                for client in self.clients_by_token.get(digest, ()):
                    client.fail(Closing(CLOSE_RECONNECT, "access changed",
                                        "the access of your token changed; connect again"))

    async def record_ack(self, client: ClientSession, message: Mapping[str, Any]) -> bool:
        """``{"type": "ack", ...}``: XADD it for the worker, or an error if the client may not."""
        subscription = client.subscription
        default = subscription.tenant if subscription else client.grant.default_tenant
        try:
            request = AckRequest.from_message(message, default)
        except ValueError as exc:
            return client.report_error(str(exc))
        if client.grant.allows_tenant(request.tenant):
            await self.ensure_tenant(request.tenant)
        open_alerts = self.alerts.get(request.tenant)
        alert = open_alerts.get(request.alert_id) if open_alerts else None
        refusal = refuse_ack(client.grant, request, alert, self.agents_of(request.tenant))
        if refusal is not None:
            return client.report_error(refusal)
        fields = ack_fields(client.grant, request, int(time.time() * 1000))
        try:
            await self.redis.xadd(self.settings.alert_acks_stream, fields,  # type: ignore[arg-type]
                                  maxlen=ACKS_STREAM_MAXLEN, approximate=True)
        except (RedisError, OSError):
            return client.report_error("ack: not recorded (Redis unavailable); try again")
        self.acks_sent += 1
        client.reply({"type": "ack_sent", "tenant": request.tenant,
                      "alert_id": request.alert_id})
        return True

    # -- HTTP ----------------------------------------------------------------------------

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path == WS_PATH:
            return None
        if path == HEALTH_PATH:
            if self.redis_connected:
                return connection.respond(200, "ok")
            return connection.respond(503, "redis unavailable")
        if path == STATS_PATH:
            return _ok(orjson.dumps(self.stats()), "application/json", "no-store")
        found = static.resolve(path)
        if found is None:
            return connection.respond(404, "not found")
        return _ok(found.body, found.content_type, "no-cache")

    def stats(self) -> Json:
        """``GET /stats``: the counters since start, and the push lags (gateway/lag.py) as
        counts by whole milliseconds; the lags of a period are the difference of two
        readings (:func:`gateway.lag.lag_between`)."""
        return {
            "clients": len(self.clients),
            "updates_applied": self.updates_applied,
            "updates_stale": self.updates_stale,
            "updates_invalid": self.updates_invalid,
            "gaps": self.gaps,
            "slow_clients_dropped": self.slow_clients_dropped,
            "clients_refused": self.clients_refused,
            "alerts_applied": self.alerts_applied,
            "alerts_invalid": self.alerts_invalid,
            "acks_sent": self.acks_sent,
            "push_lags": self.push_lag.count,
            "push_lag_ms": self.push_lag.reading(),
        }

    # -- WebSocket -------------------------------------------------------------------------

    def _index(self, client: ClientSession, subscription: Subscription | None) -> None:
        old = client.subscription
        if old is not None and (subscription is None or old.tenant != subscription.tenant):
            clients = self.clients_by_tenant[old.tenant]
            clients.discard(client)
            if not clients:
                del self.clients_by_tenant[old.tenant]
        if client.feed is not None:
            client.feed.clients -= 1
            if client.feed.clients == 0:
                feeds = self.feeds[client.feed.subscription.tenant]
                del feeds[client.feed.subscription]
                if not feeds:
                    del self.feeds[client.feed.subscription.tenant]
            client.feed = None
        if subscription is not None:
            self.clients_by_tenant[subscription.tenant].add(client)
            feed = self.feeds[subscription.tenant].get(subscription)
            if feed is None:
                feed = self.feeds[subscription.tenant][subscription] = Feed(subscription)
            feed.clients += 1
            client.feed = feed

    async def on_client_message(self, client: ClientSession, raw: str | bytes) -> Closing | None:
        """Handle one message from a client; what to close it with, if it must be closed."""
        if not client.rate.take():
            rate = self.settings.client_messages_per_s
            return Closing(CloseCode.POLICY_VIOLATION, "rate limit",
                           f"too many messages (at most {rate:g} a second, {RATE_BURST} at once)")
        if not await self._take_message(client, raw):
            return Closing(CloseCode.POLICY_VIOLATION, "too many invalid messages",
                           "too many invalid messages")
        return None

    async def _take_message(self, client: ClientSession, raw: str | bytes) -> bool:
        try:
            message: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return client.report_error("message is not JSON")
        if not isinstance(message, dict):
            return client.report_error("message must be a JSON object")
        kind = message.get("type")
        if kind == "ack":
            return await self.record_ack(client, message)
        if kind == "qa_action":
            return await self.record_qa_action(client, message)
        if kind != "subscribe":
            return client.report_error(f"unknown message type {str(kind)[:40]!r}")
        try:
            request = SubscribeRequest.from_message(
                message, client.grant.default_tenant,
                min_interval_s=self.settings.client_min_update_interval_s)
            subscription = client.grant.restrict(request.subscription)
        except ValueError as exc:
            return client.report_error(str(exc))
        await self.ensure_tenant(subscription.tenant)
        self._index(client, subscription)
        client.subscribe(subscription, request.interval_s)
        return True

    async def refuse(self, ws: ServerConnection, closing: Closing) -> None:
        """Tell a client why it may not connect, and close."""
        self.clients_refused += 1
        with contextlib.suppress(ConnectionClosed, TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await ws.send(encode({"type": "error", "message": closing.message}), text=True)
        await close_connection(ws, closing.code, closing.reason)

    def admit(self, request: Request | None) -> tuple[Grant, str] | Closing:
        """The grant of a new connection, or why it is refused."""
        headers = request.headers if request is not None else Headers()
        origins = headers.get_all("Origin")
        origin = origins[0] if len(origins) == 1 else None
        if len(origins) > 1 or not origin_allowed(origin, headers.get("Host"),
                                                   self.settings.allowed_origins):
            return Closing(CLOSE_FORBIDDEN, "origin not allowed",
                           f"origin {str(origin)[:100]!r} is not allowed to connect "
                           "(FLOORPULSE_ALLOWED_ORIGINS)")
        query = urlsplit(request.path).query if request is not None else ""
        tokens = parse_qs(query).get("token", [])
        token = tokens[-1] if tokens else None
        found = self.tokens.lookup(token)
        if found is None:
            if not token:
                return Closing(CLOSE_UNAUTHORIZED, "token required",
                               "a token is required: open the page with ?token=YOUR_TOKEN")
            return Closing(CLOSE_UNAUTHORIZED, "unknown token", "unknown or revoked token")
        return found

    async def handle_client(self, ws: ServerConnection) -> None:
        sock = ws.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_SEND_BUFFER_BYTES)
        admitted = self.admit(ws.request)
        if isinstance(admitted, Closing):
            await self.refuse(ws, admitted)
            return
        grant, digest = admitted
        client = ClientSession(ws, self, grant, digest)
        subscription: Subscription | None = None
        interval_s: float | None = None
        try:
            request = SubscribeRequest.from_query(
                urlsplit(ws.request.path).query if ws.request else "", grant.default_tenant,
                min_interval_s=self.settings.client_min_update_interval_s)
            subscription, interval_s = grant.restrict(request.subscription), request.interval_s
        except ValueError as exc:
            client.report_error(f"{exc}; send a subscribe message")
        if subscription is not None:
            await self.ensure_tenant(subscription.tenant)
        sender: asyncio.Task[None] | None = None
        try:
            self.clients.add(client)
            if digest:
                self.clients_by_token[digest].add(client)
            sender = asyncio.create_task(client.run_sender(self.settings.client_max_pending_s))
            if subscription is not None:
                self._index(client, subscription)
                client.subscribe(subscription, interval_s)
            async for raw in ws:
                if client.closing is not None:
                    continue  # the sender is closing the connection
                closing = await self.on_client_message(client, raw)
                if closing is not None:
                    client.fail(closing)
        except ConnectionClosed:
            pass
        finally:
            self._index(client, None)
            self.clients.discard(client)
            if digest:
                same_token = self.clients_by_token[digest]
                same_token.discard(client)
                if not same_token:
                    del self.clients_by_token[digest]
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

    Also runs, as tasks: the Redis follower, the tokens file watcher (with a tokens file),
    and the webhook sink and its counters (with webhooks). ``ready`` is set once the port
    listens and the snapshots and alerts have been read.
    """
    if not settings.redis_url:
        raise RuntimeError("FLOORPULSE_REDIS_URL must be set (or run `floorpulse up`)")
    redis = aioredis.Redis.from_url(settings.redis_url)
    gateway = Gateway(settings, redis)
    gateway.tokens.reload()
    if not gateway.tokens.required:
        logger.warning("no tokens configured (FLOORPULSE_TOKENS, FLOORPULSE_TOKENS_FILE): "
                       "anyone who can reach the gateway sees the figures as a viewer, "
                       "without alerts")
    loaded = asyncio.Event()
    tasks = [asyncio.create_task(gateway.follow_updates(loaded), name="gateway-redis")]
    if settings.tokens_file is not None:
        tasks.append(asyncio.create_task(gateway.watch_tokens(), name="gateway-tokens"))
    if settings.webhooks:
        tasks.append(asyncio.create_task(WebhookSink(settings, redis).run(),
                                         name="gateway-webhooks"))
        tasks.append(asyncio.create_task(gateway.follow_webhook_stats(),
                                         name="gateway-webhook-stats"))
    server: Server | None = None
    try:
        server = await serve(
            gateway.handle_client, settings.host, settings.http_port,
            process_request=gateway.process_request,
            max_size=MAX_CLIENT_MESSAGE_BYTES,
            extensions=compression.extensions(),
            write_limit=WRITE_LIMIT_BYTES,
            close_timeout=CLOSE_TIMEOUT_S,
        )
        logger.info("gateway on http://%s:%d/ (WebSocket %s)", settings.host,
                    settings.http_port, WS_PATH)
        loaded_wait = asyncio.create_task(loaded.wait())
        try:
            await asyncio.wait({*tasks, loaded_wait}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            loaded_wait.cancel()
        if ready is not None and loaded.is_set():
            ready.set()
        await asyncio.gather(*tasks)  # run until cancelled; raises if one of them fails
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if server is not None:
            await _shutdown(server)
        await redis.aclose()
        logger.info(
            "gateway stopped: %d updates applied, %d stale, %d invalid, %d gaps, "
            "%d slow clients dropped, %d clients refused, %d alert transitions (%d invalid), "
            "%d acknowledgements", gateway.updates_applied, gateway.updates_stale,
            gateway.updates_invalid, gateway.gaps, gateway.slow_clients_dropped,
            gateway.clients_refused, gateway.alerts_applied, gateway.alerts_invalid,
            gateway.acks_sent)


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
