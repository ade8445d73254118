"""Alerts on the page, in Chromium: the page opened with ?token=, alerts published into Redis
as the worker would, the banner and list, acknowledging (the XADD for the worker), the sound
toggle, the webhook counters, and what a viewer and a refused token see."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis
from playwright.async_api import Page, expect

from stream.embedded import EmbeddedServer, free_port
from stream.settings import Settings, WebhookSettings
from tests.alerts import publish_alert, transition
from tests.conftest import RunningGateway

pytestmark = pytest.mark.browser

Json = dict[str, Any]
TOKENS = {
    "tok-sup-3f9a2c": {"name": "sam", "role": "supervisor"},
    "tok-viewer-77b1": {"name": "val", "role": "viewer"},
}
XSS = '<img src=x onerror="window.__pwned = 1">'


@pytest.fixture
async def gateway(redis_server: EmbeddedServer,
                  redis: aioredis.Redis) -> AsyncIterator[RunningGateway]:
    """A gateway with tokens, a tenant's figures and one open alert."""
    settings = Settings(
        redis_url=f"redis://{redis_server.host}:{redis_server.port}/0",
        http_port=free_port(), redis_prefix=f"alerts-{uuid.uuid4().hex[:8]}",
        client_update_interval_s=0.1, tokens=TOKENS,
        # a webhook no transition matches: the page shows the counters in Redis
        webhooks=(WebhookSettings(url="http://127.0.0.1:9/hook", tenants=("nobody",)),))
    as_of = time.time()
    snapshot = {
        "tenant": "default", "seq": 1, "as_of_epoch": as_of, "timezone": "UTC",
        "queues": {"billing": {"waiting": 12, "offered": 40, "answered": 30}},
        "teams": {}, "intervals": {},
        "agents": {"a-017": {"name": "Ana Silva", "state": "aux", "reason": "break",
                             "since_epoch": as_of - 1000, "team": "Blue",
                             "queues": ["billing"], "handled": 3}},
    }
    await redis.sadd(settings.tenants_key, "default")
    await redis.set(settings.snapshot_key("default"), orjson.dumps(snapshot))
    waiting = transition("waiting-high", queue="billing", message="billing: 12 waiting",
                         raised_at="2026-11-23T08:00:00.000+00:00")
    await redis.hset(settings.alerts_key("default"), waiting["alert_id"], orjson.dumps(waiting))
    running = RunningGateway(settings)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def test_a_supervisor_sees_alerts_and_acknowledges_one(
    page: Page, gateway: RunningGateway, redis: aioredis.Redis
) -> None:
    settings = gateway.settings
    await page.goto(gateway.url + "?token=tok-sup-3f9a2c#wallboard")
    banner = page.locator("#alert-banner")
    await expect(banner).to_have_attribute("data-severity", "warning")
    await expect(page.locator("#alert-banner-text")).to_have_text("billing: 12 waiting")
    await expect(page.locator("#who")).to_have_text("sam · supervisor")
    # the token is kept for the session, not left in the address bar
    assert "token" not in await page.evaluate("window.location.href")
    assert await page.evaluate("sessionStorage.getItem('floorpulse.token')") == "tok-sup-3f9a2c"

    item = page.locator('[data-alert="waiting-high"]')
    expected = {"severity": "warning", "message": "billing: 12 waiting", "state": "Open",
                "condition": "queue.waiting >= 10 for 1 min", "scope": "queue billing",
                "value": "12", "raised": "08:00:00", "acknowledged": ""}
    for name, text in expected.items():
        await expect(item.locator(f'[data-field="{name}"]')).to_have_text(text)
    await expect(item).to_have_attribute("data-severity", "warning")

    # A critical alert arrives (published as the worker would): banner and order follow.
    sound = page.locator("#sound-toggle")
    await expect(sound).to_have_attribute("aria-pressed", "false")  # off by default
    await sound.click()
    await expect(sound).to_have_attribute("aria-pressed", "true")
    await publish_alert(redis, settings, transition(
        "break-too-long", severity="critical", agent="a-017", team="Blue",
        metric="agent.aux_duration_s", value=1000.0, message=f"Ana on break {XSS}",
        raised_at="2026-11-23T08:05:00.000+00:00"))
    await expect(banner).to_have_attribute("data-severity", "critical")
    await expect(page.locator("#alert-banner-count")).to_have_text(
        "2 open · 1 critical, 1 warning")
    await expect(page.locator("[data-alert]")).to_have_count(2)
    ids = await page.locator("[data-alert]").evaluate_all(
        "items => items.map(item => item.dataset.alert)")
    assert ids == ["break-too-long", "waiting-high"]
    critical = page.locator('[data-alert="break-too-long"]')
    await expect(critical.locator('[data-field="message"]')).to_have_text(f"Ana on break {XSS}")
    await expect(critical.locator('[data-field="scope"]')).to_have_text(
        "team Blue · agent Ana Silva (a-017)")
    await expect(critical.locator('[data-field="value"]')).to_have_text("16:40")
    await expect(sound).to_have_attribute("data-beeps", "1")
    assert await page.locator("#alerts img").count() == 0
    assert await page.evaluate("window.__pwned") is None

    # Acknowledge with a comment: the gateway XADDs it for the worker.
    await item.locator('[data-field="comment"]').fill("calling in two agents")
    await item.locator('[data-field="ack_button"]').click()
    await expect(item.locator('[data-field="ack_button"]')).to_have_text("Acknowledging…")
    fields: dict[str, str] = {}
    for _ in range(50):
        entries = await redis.xrange(settings.alert_acks_stream)
        if entries:
            fields = {k.decode(): v.decode() for k, v in entries[0][1].items()}
            break
        await asyncio.sleep(0.1)
    assert abs(int(fields.pop("at_ms")) - time.time() * 1000) < 10_000
    assert fields == {"tenant": "default", "alert_id": "waiting-high", "who": "sam",
                      "role": "supervisor", "comment": "calling in two agents"}

    # The worker's transition comes back: who acknowledged, and no button any more.
    await publish_alert(redis, settings, transition(
        "waiting-high", state="acknowledged", queue="billing", message="billing: 12 waiting",
        acknowledged_by="sam", comment="calling in two agents"))
    await expect(item.locator('[data-field="acknowledged"]')).to_have_text(
        "Acknowledged by sam: calling in two agents")
    await expect(item.locator('[data-field="state"]')).to_have_text("Acknowledged")
    await expect(item.locator('[data-field="ack_box"]')).to_be_hidden()

    # Cleared alerts leave; the banner says when none is open.
    for alert_id in ("break-too-long", "waiting-high"):
        await publish_alert(redis, settings, transition(alert_id, state="cleared"))
    await expect(page.locator("[data-alert]")).to_have_count(0)
    await expect(banner).to_have_attribute("data-severity", "none")
    await expect(page.locator("#alert-banner-text")).to_have_text("No open alerts")

    # Webhook counters from Redis.
    await redis.hset(settings.webhook_stats_key, mapping={
        "sent": 5, "failed": 1, "retries": 2, "last_error": "https://hooks.example: HTTP 503",
        "last_error_at": "2026-11-23T08:06:00+00:00"})
    webhooks = page.locator("#webhooks")
    await expect(webhooks).to_be_visible(timeout=5000)
    await expect(page.locator("#webhooks-sent")).to_have_text("5")
    await expect(page.locator("#webhooks-failed")).to_have_text("1")
    await expect(page.locator("#webhooks-retries")).to_have_text("2")
    title = await webhooks.get_attribute("title")
    assert title is not None and "Last error: https://hooks.example: HTTP 503" in title

    # A reload keeps the token (this tab's session).
    await page.reload()
    await expect(page.locator("#who")).to_have_text("sam · supervisor")
    await expect(page.locator("#connection")).to_have_attribute("data-status", "connected")


async def test_a_viewer_sees_figures_and_no_alerts(
    page: Page, gateway: RunningGateway
) -> None:
    await page.goto(gateway.url + "?token=tok-viewer-77b1")
    await expect(page.locator('[data-queue="billing"] [data-field="waiting"]')).to_have_text(
        "12")
    await expect(page.locator("#who")).to_have_text("val · viewer")
    await expect(page.locator("#alerts")).to_be_hidden()
    await expect(page.locator("#sound-toggle")).to_be_hidden()
    await expect(page.locator("#webhooks")).to_be_hidden()
    assert await page.locator("[data-alert]").count() == 0


async def test_a_bad_token_is_refused_on_the_page(page: Page, gateway: RunningGateway) -> None:
    await page.goto(gateway.url + "?token=wrong")
    await expect(page.locator("#connection")).to_have_attribute("data-status", "refused")
    await expect(page.locator("#notice")).to_contain_text(
        "Access refused: unknown or revoked token")
    await page.wait_for_timeout(1500)  # no reconnection loop
    await expect(page.locator("#connection")).to_have_attribute("data-status", "refused")
