"""The QA view in Chromium: flagged contacts written to Redis as the worker keeps them, the
list newest first, claim and review (the XADD for the worker, then the item as the worker
publishes it back), the detail pane with the conversation and the sparkline, and customer
text rendered as text."""

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
from stream.qa.queue import fold
from stream.settings import Settings
from tests.conftest import RunningGateway

pytestmark = pytest.mark.browser

TOKENS = {"tok-qa-5c1d": {"name": "quinn", "role": "qa"},
          "tok-sup-3f9a2c": {"name": "sam", "role": "supervisor"}}
XSS = '<img src=x onerror="window.__pwned = 1"><script>window.__pwned = 2</script>'
T0_MS = 1_795_424_400_000  # 2026-11-23 09:00 UTC


def flagged(contact: str, at_ms: int, texts: list[tuple[str, float]],
            reasons: list[dict[str, Any]]) -> dict[str, Any]:
    item, _ = fold(None, {"kind": "flag", "tenant": "default", "contact_id": contact,
                          "at_ms": at_ms, "content": {
                              "contact_id": contact, "flagged_at_ms": at_ms, "queue": "chat",
                              "agent": "a1", "in_progress": True, "reasons": reasons,
                              "rolling_score": -0.42, "trend": -0.61,
                              "messages": [{"event_id": f"{contact}-{i}",
                                            "ts_ms": at_ms - 60_000 + i * 10_000,
                                            "score": score, "text": text}
                                           for i, (text, score) in enumerate(texts)],
                              "hold_s": 0.0, "transfers": 0, "abandoned_wait_s": None,
                              "repeat": None}})
    assert item is not None
    return item


@pytest.fixture
async def gateway(redis_server: EmbeddedServer,
                  redis: aioredis.Redis) -> AsyncIterator[RunningGateway]:
    settings = Settings(
        redis_url=f"redis://{redis_server.host}:{redis_server.port}/0",
        http_port=free_port(), redis_prefix=f"qa-{uuid.uuid4().hex[:8]}",
        client_update_interval_s=0.1, tokens=TOKENS)
    snapshot = {"tenant": "default", "seq": 1, "as_of_epoch": time.time(), "timezone": "UTC",
                "queues": {}, "teams": {}, "agents": {}, "intervals": {}}
    await redis.sadd(settings.tenants_key, "default")
    await redis.set(settings.snapshot_key("default"), orjson.dumps(snapshot))
    older = flagged("c-old", T0_MS, [("Where is my parcel?", -0.3)], [
        {"rule": "long-hold", "reason": "On hold 7 min in total", "conditions": ["long_hold"],
         "evidence": [], "facts": ["held 7 min in total"]}])
    newer = flagged("c-new", T0_MS + 600_000, [
        ("Hi, I was charged twice.", 0.0),
        ("third hour on hold, still no answer", -0.55),
        (f"I want a supervisor {XSS}", -0.2)], [
        {"rule": "escalation", "reason": "Escalation: the customer said 'supervisor'",
         "conditions": ["escalation_phrase"], "facts": [],
         "evidence": [{"event_id": "c-new-2", "ts_ms": T0_MS, "score": -0.2,
                       "text": f"I want a supervisor {XSS}"}]}])
    for item in (older, newer):
        await redis.hset(settings.qa_key("default"), item["contact_id"], orjson.dumps(item))
    running = RunningGateway(settings)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def publish(redis: aioredis.Redis, settings: Settings, item: dict[str, Any]) -> None:
    await redis.hset(settings.qa_key("default"), item["contact_id"], orjson.dumps(item))
    await redis.publish(settings.qa_channel("default"),
                        orjson.dumps({"type": "qa_item", "item": item}))


async def test_qa_claims_and_reviews_a_flagged_contact_with_text_shown_as_text(
        page: Page, gateway: RunningGateway, redis: aioredis.Redis) -> None:
    settings = gateway.settings
    await page.goto(gateway.url + "?token=tok-qa-5c1d#qa")
    tab = page.locator('[data-view-tab="qa"]')
    await expect(tab).to_be_visible()
    rows = page.locator("#qa-list [data-contact]")
    await expect(rows).to_have_count(2)
    assert await rows.evaluate_all("rows => rows.map(r => r.dataset.contact)") == [
        "c-new", "c-old"]  # newest first
    row = page.locator('[data-contact="c-new"]')
    await expect(row.locator('[data-field="reasons"]')).to_have_text(
        "Escalation: the customer said 'supervisor'")
    await expect(row.locator('[data-field="trend"]')).to_have_text("↘ -0.61")
    await expect(row.locator('[data-field="status"]')).to_have_text("Open")
    await expect(row.locator('[data-field="review"]')).to_be_visible()

    # Claim: the gateway XADDs it; the worker's fold comes back as the item.
    await row.locator('[data-field="claim"]').click()
    entry: dict[str, str] = {}
    for _ in range(50):
        entries = await redis.xrange(settings.qa_actions_stream)
        if entries:
            entry = {k.decode(): v.decode() for k, v in entries[-1][1].items()}
            break
        await asyncio.sleep(0.1)
    entry.pop("at_ms")
    assert entry == {"tenant": "default", "contact_id": "c-new", "action": "claim",
                     "who": "quinn", "role": "qa", "note": ""}
    raw = await redis.hget(settings.qa_key("default"), "c-new")
    assert raw is not None
    item, _ = fold(orjson.loads(raw), {"kind": "action", "tenant": "default",
                                       "contact_id": "c-new", "action": "claim",
                                       "who": "quinn", "role": "qa", "at_ms": T0_MS,
                                       "action_id": "1-0"})
    assert item is not None
    await publish(redis, settings, item)
    await expect(row.locator('[data-field="status"]')).to_have_text("Claimed by quinn")
    await expect(row.locator('[data-field="claim"]')).to_be_hidden()

    # The detail pane: reasons, the conversation, the sparkline; text stays text.
    await row.locator('[data-field="open"]').click()
    detail = page.locator("#qa-detail")
    await expect(detail).to_be_visible()
    await expect(page.locator("#qa-detail-contact")).to_have_text("Contact c-new")
    messages = page.locator("#qa-detail-messages .qa-message-text")
    await expect(messages).to_have_text([
        "Hi, I was charged twice.", "third hour on hold, still no answer",
        f"I want a supervisor {XSS}"])
    await expect(page.locator("#qa-detail-reasons .qa-evidence")).to_have_text(
        f"I want a supervisor {XSS}")
    await expect(page.locator("#qa-sparkline")).to_have_attribute("data-points", "3")
    await expect(page.locator("#qa-sparkline circle.qa-spark-negative")).to_have_count(2)
    assert await page.locator("#view-qa img, #view-qa script").count() == 0
    assert await page.evaluate("window.__pwned") is None
    # With the pane open beside the list, the row still holds its buttons (none under it).
    row_box, pane_box = await row.bounding_box(), await detail.bounding_box()
    assert row_box is not None and pane_box is not None
    for button in await row.locator(".qa-actions button:visible").all():
        box = await button.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= min(row_box["x"] + row_box["width"], pane_box["x"])

    # Review.
    await row.locator('[data-field="review"]').click()
    for _ in range(50):
        entries = await redis.xrange(settings.qa_actions_stream)
        if len(entries) == 2:
            break
        await asyncio.sleep(0.1)
    assert entries[-1][1][b"action"] == b"review"
    reviewed, _ = fold(item, {"kind": "action", "tenant": "default", "contact_id": "c-new",
                              "action": "review", "who": "quinn", "role": "qa",
                              "at_ms": T0_MS, "action_id": "2-0"})
    assert reviewed is not None
    await publish(redis, settings, reviewed)
    await expect(row.locator('[data-field="status"]')).to_have_text("Reviewed by quinn")
    await expect(row.locator('[data-field="review"]')).to_be_hidden()
    await expect(row.locator('[data-field="dismiss"]')).to_be_hidden()


async def test_a_supervisor_has_no_qa_view(page: Page, gateway: RunningGateway) -> None:
    await page.goto(gateway.url + "?token=tok-sup-3f9a2c#wallboard")
    await expect(page.locator("#who")).to_have_text("sam · supervisor")
    await expect(page.locator('[data-view-tab="qa"]')).to_be_hidden()
    await expect(page.locator("#qa-list [data-contact]")).to_have_count(0)
