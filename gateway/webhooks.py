"""Alert transitions POSTed to webhooks (``settings.webhooks``), as a task of the gateway.

:class:`WebhookSink` subscribes to every tenant's alerts channel. Each transition goes to
every webhook whose filters match (tenants, audiences, minimum severity), into that webhook's
bounded queue; one delivery task per webhook POSTs its queue in order: the transition as
JSON, or ``{"text": ...}`` for Slack-compatible endpoints. A failed POST (connection error,
timeout, HTTP 408, 429 or 5xx) is tried again after 0.5 s, 1 s, 2 s, ... (at most 30 s), up to
``MAX_ATTEMPTS`` in all; another answer that is not 2xx fails at once. A slow or failing
endpoint only ever holds its own queue; a full queue drops the new transition (counted as
failed).

Counters in the Redis hash ``settings.webhook_stats_key``: ``sent``, ``failed``,
``retries``, ``dropped``, ``last_error`` and ``last_error_at`` (wall clock, ISO 8601). Errors
name the endpoint by scheme, host and port only: a webhook's path is often its secret.

Several gateway processes may run the sink on one Redis: before a POST, the sink claims the
(webhook, alert, state) in Redis (``SET NX``), so each transition is POSTed once.

Exceptions::

    DeliveryError          the POST did not succeed
     +-- RetryableError    ... and may succeed later (connection, timeout, 408, 429, 5xx)
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.alerts import SEVERITY_RANK, check_transition
from stream.settings import Settings, WebhookSettings

logger = logging.getLogger(__name__)

Json = dict[str, Any]
Post = Callable[[str, bytes, float], Awaitable[int]]  # (url, body, timeout) -> HTTP status

QUEUE_SIZE = 1000
MAX_ATTEMPTS = 6
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
REQUEST_TIMEOUT_S = 10.0
CLAIM_TTL_S = 24 * 3600
MAX_RESPONSE_HEAD = 16 * 1024
REDIS_RETRY_FIRST_S = 0.2
REDIS_RETRY_MAX_S = 5.0
SUBSCRIBE_TIMEOUT_S = 5.0
USER_AGENT = "floorpulse-webhooks"
SEVERITY_MARK = {"critical": ":red_circle:", "warning": ":large_orange_circle:",
                 "info": ":large_blue_circle:"}


class DeliveryError(Exception):
    """The POST did not succeed."""


class RetryableError(DeliveryError):
    """The POST did not succeed and may later."""


# ---------------------------------------------------------------------------------------------
# What goes where


def endpoint_label(url: str) -> str:
    """``https://hooks.example.com`` for any URL of that host: safe to show and log."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def matches(webhook: WebhookSettings, transition: Json) -> bool:
    scope = transition.get("scope") or {}
    if webhook.tenants is not None and scope.get("tenant") not in webhook.tenants:
        return False
    if SEVERITY_RANK.get(str(transition.get("severity")), 0) < SEVERITY_RANK[
            webhook.min_severity]:
        return False
    audience = transition.get("audience") or []
    return webhook.audiences is None or not set(webhook.audiences).isdisjoint(audience)


def scope_text(scope: Json) -> str:
    return ", ".join(f"{key} {scope[key]}" for key in ("tenant", "queue", "team", "agent",
                                                        "reason") if scope.get(key))


def slack_text(transition: Json) -> str:
    """One line of text for a chat channel."""
    state = str(transition.get("state"))
    severity = str(transition.get("severity"))
    head = f"{SEVERITY_MARK.get(severity, '')} {severity.upper()} {state}".strip()
    text = f"{head}: {transition.get('message')}"
    if state == "acknowledged":
        text += f" (acknowledged by {transition.get('acknowledged_by')}"
        text += f": {transition['comment']})" if transition.get("comment") else ")"
    details = [str(transition.get("condition") or transition.get("rule_id")),
               scope_text(transition.get("scope") or {})]
    return f"{text}\n{' · '.join(d for d in details if d)}"


def body_for(webhook: WebhookSettings, transition: Json) -> bytes:
    if webhook.format == "slack":
        return orjson.dumps({"text": slack_text(transition)})
    return orjson.dumps(transition)


# ---------------------------------------------------------------------------------------------
# HTTP


async def post_json(url: str, body: bytes, timeout: float) -> int:
    """POST ``body`` as JSON with HTTP/1.1; the status code of the answer.

    Raises :class:`RetryableError` when the endpoint cannot be reached or does not answer
    within ``timeout``.
    """
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if secure else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = parts.netloc.rpartition("@")[2]
    authorization = ""
    if parts.username is not None:  # https://user:password@host/...: HTTP basic auth
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        authorization = f"Authorization: Basic {base64.b64encode(pair).decode()}\r\n"
    head = (f"POST {target} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: {USER_AGENT}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"{authorization}Connection: close\r\n\r\n").encode()
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=ssl.create_default_context() if secure else None,
                limit=MAX_RESPONSE_HEAD)
            writer.write(head + body)
            await writer.drain()
            status_line = await reader.readline()
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
        raise RetryableError(_error_text(exc)) from exc
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()
    fields = status_line.split()
    if len(fields) < 2 or not fields[0].startswith(b"HTTP/") or not fields[1].isdigit():
        raise RetryableError(f"not an HTTP answer: {status_line[:60]!r}")
    return int(fields[1])


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


def check_status(status: int) -> None:
    if 200 <= status < 300:
        return
    if status in (408, 429) or status >= 500:
        raise RetryableError(f"HTTP {status}")
    raise DeliveryError(f"HTTP {status}")


# ---------------------------------------------------------------------------------------------
# The sink


class Endpoint:
    """One webhook: its queue and its delivery task."""

    def __init__(self, webhook: WebhookSettings) -> None:
        self.webhook = webhook
        self.label = endpoint_label(webhook.url)
        self.key = hashlib.sha256(webhook.url.encode()).hexdigest()[:16]
        self.queue: asyncio.Queue[Json] = asyncio.Queue(QUEUE_SIZE)


class WebhookSink:
    """Alert channels -> webhooks. ``run()`` until cancelled."""

    def __init__(self, settings: Settings, redis: aioredis.Redis, *, post: Post = post_json,
                 backoff_first_s: float = BACKOFF_FIRST_S,
                 backoff_max_s: float = BACKOFF_MAX_S, max_attempts: int = MAX_ATTEMPTS,
                 request_timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        self.settings = settings
        self.redis = redis
        self.post = post
        self.backoff_first_s = backoff_first_s
        self.backoff_max_s = backoff_max_s
        self.max_attempts = max_attempts
        self.request_timeout_s = request_timeout_s
        self.endpoints = [Endpoint(webhook) for webhook in settings.webhooks]
        head, _, tail = settings.alerts_channel("\0").partition("\0")
        self._head, self._tail = head.encode(), tail.encode()
        self._pattern = _glob_escape(head) + "*" + _glob_escape(tail)
        self.subscribed = asyncio.Event()
        self.invalid = 0
        self._background: set[asyncio.Future[None]] = set()

    async def run(self) -> None:
        if not self.endpoints:
            return
        logger.info("webhooks: %s", ", ".join(f"{e.label} ({e.webhook.format})"
                                               for e in self.endpoints))
        async with asyncio.TaskGroup() as tasks:
            for endpoint in self.endpoints:
                tasks.create_task(self.deliver(endpoint), name=f"webhook-{endpoint.label}")
            tasks.create_task(self.follow(), name="webhooks-redis")

    # -- in --------------------------------------------------------------------------------

    async def follow(self) -> None:
        """Read the alert channels; reconnect after Redis errors."""
        delay = REDIS_RETRY_FIRST_S
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.psubscribe(self._pattern)
                async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
                    while True:
                        reply = await pubsub.get_message(timeout=SUBSCRIBE_TIMEOUT_S)
                        if reply is not None and reply["type"] == "psubscribe":
                            break
                self.subscribed.set()
                delay = REDIS_RETRY_FIRST_S
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True,
                                                       timeout=None)
                    if message is not None and message["type"] == "pmessage":
                        self.offer(message["channel"], message["data"])
            except (RedisError, OSError, TimeoutError) as exc:
                self.subscribed.clear()
                logger.warning("webhooks: redis unavailable (%s); retrying in %.1f s", exc,
                               delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, REDIS_RETRY_MAX_S)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # untyped in redis-py < 8

    def offer(self, channel: bytes, data: bytes) -> None:
        """Queue one transition for every webhook it matches; never waits."""
        if not (channel.startswith(self._head) and channel.endswith(self._tail)):
            return
        tenant = channel[len(self._head):len(channel) - len(self._tail)].decode(
            errors="replace")
        try:
            transition = check_transition(orjson.loads(data), tenant)
        except ValueError as exc:
            self.invalid += 1
            if self.invalid in (1, 10, 100) or self.invalid % 1000 == 0:
                logger.warning("webhooks: invalid transition on %r (%d so far): %s", channel,
                               self.invalid, exc)
            return
        for endpoint in self.endpoints:
            if not matches(endpoint.webhook, transition):
                continue
            try:
                endpoint.queue.put_nowait(transition)
            except asyncio.QueueFull:
                self._spawn(self.count("dropped", "failed", error=(
                    f"{endpoint.label}: {QUEUE_SIZE} transitions waiting; one dropped")))

    # -- out -------------------------------------------------------------------------------

    async def deliver(self, endpoint: Endpoint) -> None:
        while True:
            transition = await endpoint.queue.get()
            if await self.claim(endpoint, transition):
                await self.send(endpoint, transition)

    async def claim(self, endpoint: Endpoint, transition: Json) -> bool:
        """``False`` when another gateway has taken this transition for this webhook."""
        key = (f"{self.settings.webhook_stats_key}:claimed:{endpoint.key}:"
               f"{transition['alert_id']}:{transition['state']}")
        try:
            return bool(await self.redis.set(key, b"1", nx=True, ex=CLAIM_TTL_S))
        except (RedisError, OSError):
            return True  # better twice than never

    async def send(self, endpoint: Endpoint, transition: Json) -> None:
        body = body_for(endpoint.webhook, transition)
        delay = self.backoff_first_s
        for attempt in range(1, self.max_attempts + 1):
            try:
                check_status(await self.post(endpoint.webhook.url, body,
                                             self.request_timeout_s))
            except RetryableError as exc:
                if attempt < self.max_attempts:
                    await self.count("retries", error=f"{endpoint.label}: {exc}")
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.backoff_max_s)
                    continue
                error = f"{endpoint.label}: {exc} (gave up after {attempt} attempts)"
            except DeliveryError as exc:
                error = f"{endpoint.label}: {exc}"
            else:
                await self.count("sent")
                return
            logger.warning("webhook %s not delivered: %s", transition["alert_id"], error)
            await self.count("failed", error=error)
            return

    async def count(self, *fields: str, error: str | None = None) -> None:
        key = self.settings.webhook_stats_key
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for field in fields:
                    pipe.hincrby(key, field, 1)
                if error is not None:
                    pipe.hset(key, mapping={
                        "last_error": error[:300],
                        "last_error_at": datetime.now(UTC).isoformat(timespec="seconds")})
                await pipe.execute()
        except (RedisError, OSError) as exc:
            logger.debug("webhook counters not written: %s", exc)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


async def read_stats(redis: aioredis.Redis, settings: Settings) -> Json:
    """The counters as the page shows them."""
    raw = await redis.hgetall(settings.webhook_stats_key)
    values = {(k.decode() if isinstance(k, bytes) else str(k)):
              (v.decode(errors="replace") if isinstance(v, bytes) else str(v))
              for k, v in raw.items()}
    stats: Json = {}
    for name in ("sent", "failed", "retries", "dropped"):
        text = values.get(name, "0")
        stats[name] = int(text) if text.isdigit() else 0
    stats["last_error"] = values.get("last_error") or None
    stats["last_error_at"] = values.get("last_error_at") or None
    stats["endpoints"] = len(settings.webhooks)
    return stats
