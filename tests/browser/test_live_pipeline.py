"""End to end in a real browser: events published to Kafka go through the real worker, Redis
and the gateway, and the page's figures change to the expected values; an alert the worker
raises from them is shown and acknowledged on the page."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from playwright.async_api import Page, expect

from stream.embedded import free_port
from stream.kafka import EventSender
from stream.settings import TokenSettings
from tests.alerts import alerting_stream
from tests.conftest import RunningGateway, redis_client

pytestmark = [pytest.mark.browser, pytest.mark.integration]

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def publish(settings: Any, events: list[dict[str, object]]) -> None:
    sender = EventSender(settings)
    try:
        sender.send_all(events)
    finally:
        sender.close()


async def test_events_published_to_kafka_change_the_page(
        page: Page, make_settings: Any, start_worker: Any) -> None:
    settings = make_settings(http_port=free_port(), client_update_interval_s=0.1)
    start_worker(settings)
    gateway = RunningGateway(settings)
    await gateway.start()
    try:
        await page.goto(gateway.url)
        await asyncio.to_thread(publish, settings, [
            {"type": "agent.state", "event_id": "s1", "ts": at(0), "agent_id": "a1",
             "state": "available", "name": "Ana <b>Silva</b>", "team": "Blue",
             "queues": ["billing"]},
            {"type": "agent.state", "event_id": "s2", "ts": at(0), "agent_id": "a2",
             "state": "available", "name": "Bo Chen", "team": "Blue", "queues": ["billing"]},
            {"type": "contact.queued", "event_id": "q1", "ts": at(10), "contact_id": "c1",
             "queue": "billing", "channel": "voice"},
            {"type": "contact.queued", "event_id": "q2", "ts": at(20), "contact_id": "c2",
             "queue": "billing", "channel": "voice"},
            {"type": "contact.answered", "event_id": "a2", "ts": at(25), "contact_id": "c2",
             "queue": "billing", "agent_id": "a2"},
            {"type": "agent.state", "event_id": "s3", "ts": at(25), "agent_id": "a2",
             "state": "on_contact"},
            {"type": "contact.queued", "event_id": "q3", "ts": at(30), "contact_id": "c3",
             "queue": "billing", "channel": "voice"},
        ])
        billing = page.locator('[data-queue="billing"]')
        # The worker starts cold (group join, recovery): allow it time for the first figures.
        await expect(billing.locator('[data-field="offered"]')).to_have_text("3", timeout=45_000)
        # c3 has waited 0 s of its 20 s threshold: not judged yet, so SL = 1 of 2 judged.
        figures = {"waiting": "2", "answered": "1", "abandoned": "0", "service_level": "50%",
                   "asa": "00:05", "available": "1", "on_contact": "1"}
        for name, text in figures.items():
            await expect(billing.locator(f'[data-field="{name}"]')).to_have_text(text)
        ana = page.locator('[data-agent="a1"]')
        await expect(ana.locator('[data-field="name"]')).to_have_text("Ana <b>Silva</b>")
        await expect(page.locator('[data-agent="a2"] [data-field="state"]')).to_have_text(
            "On contact")

        # Outcomes arrive (one of them twice, one out of order): the page follows.
        await asyncio.to_thread(publish, settings, [
            {"type": "contact.wrapped", "event_id": "w2", "ts": at(145), "contact_id": "c2",
             "agent_id": "a2"},
            {"type": "contact.abandoned", "event_id": "x1", "ts": at(70), "contact_id": "c1",
             "queue": "billing"},
            {"type": "contact.ended", "event_id": "e2", "ts": at(125), "contact_id": "c2",
             "agent_id": "a2"},
            {"type": "contact.abandoned", "event_id": "x1", "ts": at(70), "contact_id": "c1",
             "queue": "billing"},
            {"type": "contact.answered", "event_id": "a3", "ts": at(150), "contact_id": "c3",
             "queue": "billing", "agent_id": "a1"},
            {"type": "agent.state", "event_id": "s4", "ts": at(150), "agent_id": "a1",
             "state": "on_contact"},
            {"type": "agent.state", "event_id": "s5", "ts": at(145), "agent_id": "a2",
             "state": "aux", "reason": "break"},
        ])
        # ASA (5 s + 120 s) / 2 = 62.5 s: durations show whole seconds, truncated.
        figures = {"waiting": "0", "answered": "2", "abandoned": "1", "service_level": "33%",
                   "asa": "01:02", "aht": "02:00", "abandon_rate": "33%", "handled": "1",
                   "available": "0", "on_contact": "1", "aux": "1"}
        for name, text in figures.items():
            await expect(billing.locator(f'[data-field="{name}"]')).to_have_text(
                text, timeout=20_000)
        await expect(page.locator('[data-agent="a2"] [data-field="reason"]')).to_have_text(
            "break")
        await expect(page.locator("#connection")).to_have_attribute("data-status", "connected")
    finally:
        await gateway.stop()


async def test_an_alert_raised_by_the_worker_is_acknowledged_on_the_page(
        page: Page, make_settings: Any, start_worker: Any) -> None:
    # Events of the last 20 minutes (within the worker's window of an hour): an agent on
    # break since then, twelve calls queued at once; the break alert is raised at 910 s,
    # evaluated when an event at 1000 s arrives (instants are multiples of 10 s).
    now = datetime.now(UTC)
    start = now.replace(second=now.second // 10 * 10, microsecond=0) - timedelta(minutes=20)
    events = alerting_stream(start)
    back = next(i for i, e in enumerate(events)
                if e.get("agent_id") == "ana" and e.get("state") == "available")
    nudge = {"type": "agent.state", "event_id": "nudge", "agent_id": "bo", "state": "acw",
             "ts": (start + timedelta(seconds=1000)).isoformat()}
    settings = make_settings(
        http_port=free_port(), client_update_interval_s=0.1, topic_partitions=1,
        tokens={"tok-sup-e2e": TokenSettings(name="sam", role="supervisor")})
    start_worker(settings)
    gateway = RunningGateway(settings)
    await gateway.start()
    try:
        await page.goto(gateway.url + "?token=tok-sup-e2e")
        await asyncio.to_thread(publish, settings, [*events[:back], nudge])
        item = page.locator('[data-alert^="break-too-long/"]')
        await expect(item).to_have_count(1, timeout=45_000)  # a cold worker: group join
        await expect(item.locator('[data-field="message"]')).to_have_text(
            "ana (Blue) on break for 15 min 10 s (allowed 15 min)")
        await expect(item.locator('[data-field="state"]')).to_have_text("Open")

        await item.locator('[data-field="comment"]').fill("on my way")
        await item.locator('[data-field="ack_button"]').click()
        # Only the worker's "acknowledged" transition says who acknowledged.
        await expect(item.locator('[data-field="acknowledged"]')).to_have_text(
            "Acknowledged by sam: on my way", timeout=10_000)
        stored = redis_client(settings).hget(
            settings.alerts_key("default"), await item.get_attribute("data-alert") or "")
        assert stored is not None and orjson.loads(stored)["acknowledged_by"] == "sam"

        await asyncio.to_thread(publish, settings, events[back:])  # back from her break
        await expect(item).to_have_count(0, timeout=10_000)
    finally:
        await gateway.stop()
