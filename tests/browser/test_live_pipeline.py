"""End to end in a real browser: events published to Kafka go through the real worker, Redis
and the gateway, and the page's figures change to the expected values."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Page, expect

from stream.embedded import free_port
from stream.kafka import EventSender
from tests.conftest import RunningGateway

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
