"""Webhook delivery against a real Redis and local HTTP servers: JSON and Slack bodies,
filters, retries with backoff, an endpoint that fails then recovers, one that never answers
(holding nothing else), counters in Redis and on the gateway's clients, one POST per
transition with two gateways."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import connect

from gateway.webhooks import WebhookSink
from stream.embedded import EmbeddedServer, free_port
from stream.settings import Settings, WebhookSettings
from tests.alerts import publish_alert, transition
from tests.conftest import RunningGateway

pytestmark = pytest.mark.integration

Json = dict[str, Any]


@dataclass
class Endpoint:
    """A local HTTP server that records POSTs and answers with the scripted statuses
    (then 200), or never answers when ``hang``."""

    statuses: list[int] = field(default_factory=list)
    hang: bool = False
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    received: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0
    handlers: set[asyncio.Task[Any]] = field(default_factory=set)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def bodies(self) -> list[Json]:
        return [orjson.loads(body) for _, _, body in self.requests]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.handlers.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *lines = head.decode().split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines if line)}
            body = await reader.readexactly(int(headers.get("content-length", 0)))
            self.requests.append((request_line, headers, body))
            self.received.set()
            if self.hang:
                await asyncio.sleep(3600)
            status = self.statuses.pop(0) if self.statuses else 200
            writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self.handlers.discard(task)  # type: ignore[arg-type]

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.requests)} of {count} requests")
            self.received.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.received.wait(), 0.1)


@contextlib.asynccontextmanager
async def endpoint(**options: Any) -> AsyncIterator[Endpoint]:
    server_endpoint = Endpoint(**options)
    server = await asyncio.start_server(server_endpoint.handle, "127.0.0.1", 0)
    server_endpoint.port = server.sockets[0].getsockname()[1]
    try:
        yield server_endpoint
    finally:
        server.close()
        for task in list(server_endpoint.handlers):  # those that hang
            task.cancel()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await server.wait_closed()


def make_settings(redis_server: EmbeddedServer, *webhooks: WebhookSettings,
                  **overrides: Any) -> Settings:
    return Settings(redis_url=f"redis://{redis_server.host}:{redis_server.port}/0",
                    redis_prefix=f"hooks-{uuid.uuid4().hex[:8]}", webhooks=webhooks,
                    **overrides)


@contextlib.asynccontextmanager
async def running_sink(settings: Settings, redis: aioredis.Redis,
                       **options: Any) -> AsyncIterator[WebhookSink]:
    sink = WebhookSink(settings, redis, backoff_first_s=0.05, **options)
    task = asyncio.create_task(sink.run())
    try:
        async with asyncio.timeout(5):
            await sink.subscribed.wait()
        yield sink
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def stats(redis: aioredis.Redis, settings: Settings) -> dict[str, str]:
    raw = await redis.hgetall(settings.webhook_stats_key)
    return {k.decode(): v.decode() for k, v in raw.items()}


async def test_transitions_are_posted_as_json_and_as_slack_text(
    redis_server: EmbeddedServer, redis: aioredis.Redis
) -> None:
    async with endpoint() as hook, endpoint() as chat:
        settings = make_settings(
            redis_server, WebhookSettings(url=hook.url("/alerts?src=fp")),
            WebhookSettings(url=chat.url("/services/T0/B0/secret"), format="slack",
                            min_severity="warning", audiences=("supervisor",)))
        async with running_sink(settings, redis):
            sent = [transition("info-1", severity="info", queue="billing"),
                    transition("warn-1", queue="billing"),
                    transition("wfm-1", audience=["wfm"], severity="critical"),
                    transition("warn-1", state="acknowledged", queue="billing",
                               acknowledged_by="sam", comment="on it")]
            for data in sent:
                await publish_alert(redis, settings, data)
            await hook.wait_for(4)
            await chat.wait_for(2)
            await asyncio.sleep(0.2)
        assert hook.bodies == sent  # as they are, in order
        request_line, headers, _ = hook.requests[0]
        assert request_line == "POST /alerts?src=fp HTTP/1.1"
        assert headers["content-type"] == "application/json"
        assert headers["host"] == f"127.0.0.1:{hook.port}"
        assert chat.bodies == [
            {"text": ":large_orange_circle: WARNING raised: warn-1: 12 waiting\n"
                     "queue.waiting >= 10 for 1 min · tenant default, queue billing"},
            {"text": ":large_orange_circle: WARNING acknowledged: warn-1: 12 waiting "
                     "(acknowledged by sam: on it)\n"
                     "queue.waiting >= 10 for 1 min · tenant default, queue billing"}]
        assert await stats(redis, settings) == {"sent": "6"}


async def test_a_failing_endpoint_is_retried_and_a_dead_one_holds_nothing_else(
    redis_server: EmbeddedServer, redis: aioredis.Redis
) -> None:
    async with endpoint(statuses=[503, 500]) as flaky, endpoint() as healthy, \
            endpoint(hang=True) as dead:
        settings = make_settings(
            redis_server, WebhookSettings(url=flaky.url()), WebhookSettings(url=healthy.url()),
            WebhookSettings(url=dead.url("/secret-path")))
        async with running_sink(settings, redis, max_attempts=3, request_timeout_s=0.5):
            started = time.monotonic()
            await publish_alert(redis, settings, transition("a-1", queue="billing"))
            await healthy.wait_for(1)
            assert time.monotonic() - started < 0.5  # not behind the dead one's timeouts
            await publish_alert(redis, settings, transition("a-2", queue="billing"))
            await healthy.wait_for(2)
            await flaky.wait_for(4)  # a-1 three times (503, 500, 200), then a-2
            assert [b["alert_id"] for b in flaky.bodies] == ["a-1", "a-1", "a-1", "a-2"]
            # the dead endpoint: a-1 tried 3 times (0.5 s each, 0.05 s then 0.1 s apart)
            await dead.wait_for(3, timeout=5)
            deadline = time.monotonic() + 5
            while (await stats(redis, settings)).get("failed") != "1":
                assert time.monotonic() < deadline, await stats(redis, settings)
                await asyncio.sleep(0.05)
        counters = await stats(redis, settings)
        assert counters["sent"] == "4" and counters["failed"] == "1"
        assert counters["retries"] == "4"  # flaky 2, dead 2
        assert counters["last_error"] == (f"http://127.0.0.1:{dead.port}: timed out "
                                          "(gave up after 3 attempts)")
        assert "secret" not in counters["last_error"]


async def test_an_endpoint_that_refuses_a_post_is_not_retried(
    redis_server: EmbeddedServer, redis: aioredis.Redis
) -> None:
    async with endpoint(statuses=[404]) as gone:
        settings = make_settings(redis_server, WebhookSettings(url=gone.url()))
        async with running_sink(settings, redis):
            await publish_alert(redis, settings, transition("a-1"))
            await gone.wait_for(1)
            deadline = time.monotonic() + 3
            while "failed" not in await stats(redis, settings):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)
        assert len(gone.requests) == 1
        counters = await stats(redis, settings)
        assert counters["failed"] == "1" and "retries" not in counters
        assert counters["last_error"].endswith(": HTTP 404")


async def test_two_gateways_post_each_transition_once(
    redis_server: EmbeddedServer, redis: aioredis.Redis
) -> None:
    async with endpoint() as hook:
        settings = make_settings(redis_server, WebhookSettings(url=hook.url()))
        async with running_sink(settings, redis), running_sink(settings, redis):
            for data in (transition("a-1"), transition("a-1", state="cleared")):
                await publish_alert(redis, settings, data)
            await hook.wait_for(2)
            await asyncio.sleep(0.3)
        assert [(b["alert_id"], b["state"]) for b in hook.bodies] == [
            ("a-1", "raised"), ("a-1", "cleared")]


async def test_the_gateway_delivers_and_its_clients_see_the_counters(
    redis_server: EmbeddedServer, redis: aioredis.Redis
) -> None:
    async with endpoint(statuses=[502]) as hook:
        settings = make_settings(
            redis_server, WebhookSettings(url=hook.url()), http_port=free_port(),
            tokens={"tok-sup": {"name": "sam", "role": "supervisor"},
                    "tok-viewer": {"name": "val", "role": "viewer"}})
        gateway = RunningGateway(settings)
        await gateway.start()
        try:
            async with connect(gateway.ws_url + "?token=tok-sup") as sup, \
                    connect(gateway.ws_url + "?token=tok-viewer") as viewer:
                await asyncio.sleep(0.3)  # the sink is subscribed
                await publish_alert(redis, settings, transition("a-1", queue="billing"))
                await hook.wait_for(2)  # 502, then 200
                counters: Json = {}
                async with asyncio.timeout(6):
                    while counters.get("sent") != 1:
                        message = orjson.loads(await sup.recv())
                        if message["type"] == "webhooks":
                            counters = message
                assert counters["retries"] == 1 and counters["failed"] == 0
                assert counters["endpoints"] == 1
                assert counters["last_error"] == f"http://127.0.0.1:{hook.port}: HTTP 502"
                kinds = set()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        while True:
                            kinds.add(orjson.loads(await viewer.recv())["type"])
                assert "webhooks" not in kinds and "alert" not in kinds
        finally:
            await gateway.stop()
