"""The wallboard page in Chromium, fed through a real Redis and the gateway."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pytest
import redis.asyncio as aioredis
from playwright.async_api import Page, expect

from stream.embedded import EmbeddedServer

if TYPE_CHECKING:
    from tests.browser.conftest import RunningGateway

pytestmark = pytest.mark.browser

Json = dict[str, Any]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "wallboard.png"
XSS_NAME = '<img src=x onerror="window.__pwned = 1">Eve'


@pytest.fixture
async def redis(redis_server: EmbeddedServer) -> Any:
    client = aioredis.Redis(host=redis_server.host, port=redis_server.port)
    try:
        yield client
    finally:
        await client.aclose()


def queue(waiting: int, oldest_wait_s: float, offered: int, answered: int, abandoned: int,
          within: int, as_of: float, staff: tuple[int, int, int, int],
          sl_target: float = 0.8, sl_amber: float = 0.7) -> Json:
    handled = max(0, answered - staff[1] - staff[2])
    return {
        "waiting": waiting,
        "longest_wait_s": oldest_wait_s if waiting else 0.0,
        "oldest_queued_epoch": as_of - oldest_wait_s if waiting else None,
        "offered": offered, "answered": answered, "abandoned": abandoned,
        "answered_within_threshold": within, "handled": handled,
        "service_level": round(within / offered, 4) if offered else None,
        "sl_threshold_s": 20.0, "sl_target": sl_target, "sl_amber": sl_amber,
        "asa_s": 14.2 + waiting * 3.1 if answered else None,
        "aht_s": 287.0 + offered % 60 if handled else None,
        "abandon_rate": round(abandoned / offered, 4) if offered else None,
        "agents": dict(zip(("available", "on_contact", "acw", "aux"), staff, strict=True))
        | {"logged_out": 0},
    }


def agent(name: str, state: str, since_ago_s: float, as_of: float, team: str,
          queues: list[str], handled: int, reason: str | None = None) -> Json:
    return {"name": name, "state": state, "reason": reason, "since_epoch": as_of - since_ago_s,
            "handled": handled, "team": team, "queues": queues}


def small_snapshot(as_of: float) -> Json:
    return {
        "tenant": "default", "seq": 1, "as_of": "2026-11-22T09:15:03+00:00",
        "as_of_epoch": as_of, "day": "2026-11-22", "timezone": "Europe/Lisbon",
        "queues": {
            "billing": queue(3, 42.0, 120, 100, 10, 80, as_of, (3, 5, 1, 2)),  # 67% red
            "sales": queue(0, 0.0, 40, 39, 1, 34, as_of, (2, 1, 0, 0)),  # 85% green
            "support": queue(1, 7.0, 20, 18, 2, 15, as_of, (1, 1, 0, 1)),  # 75% amber
            "<b>vip</b>": queue(0, 0.0, 0, 0, 0, 0, as_of, (0, 0, 0, 0)),  # no SL yet
        },
        "teams": {"Team Blue": {"agents": {"available": 2, "on_contact": 1, "acw": 0, "aux": 1,
                                           "logged_out": 0}}},
        "agents": {
            "a-017": agent("Ana Silva", "aux", 125.0, as_of, "Team Blue", ["billing"], 12,
                           "break"),
            "a-018": agent("Bruno Costa", "on_contact", 61.0, as_of, "Team Blue",
                           ["billing", "sales"], 9),
            "a-666": agent(XSS_NAME, "available", 5.0, as_of, "<script>alert(1)</script>",
                           ["support"], 3, "<i>reason</i>"),
        },
        "dead_letters": 3, "processed": 12345,
    }


async def publish(redis: aioredis.Redis, settings: Any, data: Json) -> None:
    await redis.publish(settings.updates_channel(data["tenant"]), orjson.dumps(data))


async def write_snapshot(redis: aioredis.Redis, settings: Any, data: Json) -> None:
    await redis.sadd(settings.tenants_key, data["tenant"])
    await redis.set(settings.snapshot_key(data["tenant"]), orjson.dumps(data))


async def test_tiles_agents_updates_and_escaping(
    page: Page, running_gateway: RunningGateway, redis: aioredis.Redis
) -> None:
    as_of = time.time()
    settings = running_gateway.settings
    snapshot = small_snapshot(as_of)
    await write_snapshot(redis, settings, snapshot)
    await running_gateway.start()
    await page.goto(running_gateway.url)

    billing = page.locator('[data-queue="billing"]')
    await expect(billing.locator('[data-field="waiting"]')).to_have_text("3")
    await expect(page.locator("#connection")).to_have_attribute("data-status", "connected")
    expected = {"service_level": "67%", "answered": "100", "abandoned": "10", "offered": "120",
                "abandon_rate": "8%", "asa": "00:23", "aht": "04:47", "available": "3",
                "on_contact": "5", "acw": "1", "aux": "2"}
    for name, text in expected.items():
        await expect(billing.locator(f'[data-field="{name}"]')).to_have_text(text)
    longest = await billing.locator('[data-field="longest_wait"]').text_content()
    assert longest in ("00:42", "00:43"), longest  # ticks from stream time
    await expect(billing).to_have_class("tile sl-red")
    await expect(page.locator('[data-queue="sales"]')).to_have_class("tile sl-green")
    await expect(page.locator('[data-queue="support"]')).to_have_class("tile sl-amber")
    vip = page.locator('[data-queue="<b>vip</b>"]')
    await expect(vip.locator('[data-field="queue"]')).to_have_text("<b>vip</b>")
    await expect(vip.locator('[data-field="service_level"]')).to_have_text("—")
    title = await billing.locator('[data-title="service_level"]').get_attribute("title")
    assert title == ("Service level = answered within 20 s ÷ offered "
                     "(today, abandons count against)")
    await expect(page.locator("#dead-letters")).to_have_text("3")
    await expect(page.locator("#tenant")).to_have_text("default")

    ana = page.locator('[data-agent="a-017"]')
    await expect(ana.locator('[data-field="name"]')).to_have_text("Ana Silva")
    await expect(ana.locator('[data-field="state"]')).to_have_text("Aux")
    await expect(ana.locator('[data-field="reason"]')).to_have_text("break")
    await expect(ana.locator('[data-field="team"]')).to_have_text("Team Blue")
    await expect(ana.locator('[data-field="handled"]')).to_have_text("12")
    assert (await ana.locator('[data-field="time_in_state"]').text_content()) in ("02:05",
                                                                                   "02:06")

    # Event text is text, never markup.
    eve = page.locator('[data-agent="a-666"]')
    await expect(eve.locator('[data-field="name"]')).to_have_text(XSS_NAME)
    await expect(eve.locator('[data-field="team"]')).to_have_text("<script>alert(1)</script>")
    await expect(eve.locator('[data-field="reason"]')).to_have_text("<i>reason</i>")
    assert await page.locator("#agents img, #agents script, #agents i, #queues b").count() == 0
    assert await page.evaluate("window.__pwned") is None

    # An update changes the figures and the colour; a removed agent goes away.
    billing_now = queue(5, 50.0, 130, 112, 10, 107, as_of + 8, (1, 7, 1, 2))
    await publish(redis, settings, {
        "tenant": "default", "seq": 2, "as_of_epoch": as_of + 8, "queues": {"billing":
        billing_now}, "teams": {}, "agents": {"a-017": agent(
            "Ana Silva", "available", 0.0, as_of + 8, "Team Blue", ["billing"], 13)},
        "removed": {"queues": ["support"], "teams": [], "agents": ["a-018"]},
        "dead_letters": 4})
    await expect(billing.locator('[data-field="waiting"]')).to_have_text("5")
    await expect(billing.locator('[data-field="service_level"]')).to_have_text("82%")
    await expect(billing).to_have_class("tile sl-green")
    await expect(ana.locator('[data-field="state"]')).to_have_text("Available")
    await expect(ana.locator('[data-field="reason"]')).to_have_text("")
    await expect(page.locator('[data-agent="a-018"]')).to_have_count(0)
    await expect(page.locator('[data-queue="support"]')).to_have_count(0)
    await expect(page.locator("#dead-letters")).to_have_text("4")


async def test_connection_indicator_follows_the_gateway(
    page: Page, running_gateway: RunningGateway, redis: aioredis.Redis
) -> None:
    await write_snapshot(redis, running_gateway.settings, small_snapshot(time.time()))
    await running_gateway.start()
    await page.goto(running_gateway.url + "?tenant=default&queues=sales")
    connection = page.locator("#connection")
    await expect(connection).to_have_attribute("data-status", "connected")
    await expect(page.locator("[data-queue]")).to_have_count(1)  # the subscription filters
    await expect(page.locator('[data-agent="a-018"]')).to_have_count(1)
    await expect(page.locator('[data-agent="a-017"]')).to_have_count(0)

    await running_gateway.stop()
    await expect(connection).to_have_attribute("data-status", "disconnected", timeout=5000)
    await running_gateway.start()
    await expect(connection).to_have_attribute("data-status", "connected", timeout=8000)
    await expect(page.locator('[data-queue="sales"]')).to_have_count(1)


async def test_stale_when_nothing_arrives(
    page: Page, running_gateway: RunningGateway, redis: aioredis.Redis
) -> None:
    await write_snapshot(redis, running_gateway.settings, small_snapshot(time.time()))
    await running_gateway.start()
    await page.clock.install()
    await page.goto(running_gateway.url)
    connection = page.locator("#connection")
    await expect(connection).to_have_attribute("data-status", "connected")
    await page.clock.run_for(6000)
    await expect(connection).to_have_attribute("data-status", "stale")


TEAMS = ("Team Blue", "Team Green", "Team Orange")
PEOPLE = [
    ("Ana Silva", "on_contact", 184, None), ("Bruno Costa", "available", 12, None),
    ("Carla Mendes", "acw", 41, None), ("Diego Ramos", "on_contact", 402, None),
    ("Elena Petrova", "aux", 611, "lunch"), ("Farah Khan", "on_contact", 95, None),
    ("Gustavo Lima", "available", 66, None), ("Hana Sato", "on_contact", 233, None),
    ("Ivan Horvat", "aux", 128, "break"), ("Julia Novak", "on_contact", 17, None),
    ("Kofi Mensah", "acw", 22, None), ("Lena Fischer", "available", 3, None),
    ("Mateo Rossi", "on_contact", 517, None), ("Nadia Haddad", "on_contact", 48, None),
    ("Oscar Lindqvist", "aux", 1290, "training"), ("Priya Nair", "available", 35, None),
    ("Quentin Moreau", "on_contact", 301, None), ("Rosa Delgado", "acw", 9, None),
    ("Samir Aziz", "on_contact", 142, None), ("Tomás Oliveira", "aux", 254, "meeting"),
]


def realistic_snapshot(as_of: float) -> Json:
    queues = {
        "billing": queue(4, 47.0, 412, 371, 29, 331, as_of, (1, 6, 2, 1)),
        "sales": queue(1, 9.0, 268, 259, 6, 212, as_of, (2, 5, 1, 1), sl_target=0.85,
                       sl_amber=0.75),
        "support": queue(7, 96.0, 533, 468, 51, 362, as_of, (0, 8, 1, 2)),
        "retention": queue(0, 0.0, 87, 85, 2, 79, as_of, (2, 2, 0, 1)),
        "chat": queue(2, 18.0, 356, 344, 9, 325, as_of, (1, 4, 1, 0), sl_target=0.9,
                      sl_amber=0.8),
    }
    skills = [["billing", "support"], ["sales", "retention"], ["support", "chat"],
              ["billing", "chat"], ["sales"]]
    agents = {
        f"a-{101 + i}": agent(name, state, age, as_of, TEAMS[i % 3], skills[i % 5],
                              8 + (i * 7) % 23, reason)
        for i, (name, state, age, reason) in enumerate(PEOPLE)
    }
    return {"tenant": "acme-lisbon", "seq": 1, "as_of_epoch": as_of, "timezone": "Europe/Lisbon",
            "day": "2026-11-22", "queues": queues, "teams": {}, "agents": agents,
            "dead_letters": 2, "processed": 48213}


async def test_screenshot_for_the_readme(
    page: Page, running_gateway: RunningGateway, redis: aioredis.Redis
) -> None:
    as_of = datetime(2026, 11, 22, 9, 25, 3, tzinfo=UTC).timestamp()
    snapshot = realistic_snapshot(as_of)
    snapshot["tenant"] = "default"
    await write_snapshot(redis, running_gateway.settings, snapshot)
    await running_gateway.start()
    await page.goto(running_gateway.url)
    await expect(page.locator("[data-agent]")).to_have_count(len(PEOPLE))
    await expect(page.locator("#connection")).to_have_attribute("data-status", "connected")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000
