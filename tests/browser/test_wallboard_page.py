"""The wallboard page in Chromium, fed through a real Redis and the gateway."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pytest
import redis.asyncio as aioredis
from playwright.async_api import Page, expect

from stream.settings import TokenSettings
from tests.alerts import transition

if TYPE_CHECKING:
    from tests.browser.conftest import RunningGateway

pytestmark = pytest.mark.browser

Json = dict[str, Any]
XSS_NAME = '<img src=x onerror="window.__pwned = 1">Eve'
BILLING_SL_FORMULA = ("Service level (abandons ignored) = answered within 30 s ÷ (judged − "
                      "abandoned within 30 s); abandons under 5 s not counted")


def levels(within: int, abandoned_within: int, judged: int, answered: int) -> Json:
    """The four service-level variants of docs/metrics.md."""
    def ratio(top: int, bottom: int) -> float | None:
        return round(top / bottom, 4) if bottom > 0 else None
    return {
        "abandons_against": ratio(within, judged),
        "abandons_ignored": ratio(within, judged - abandoned_within),
        "abandons_for": ratio(within + abandoned_within, judged),
        "answered_only": ratio(within, answered),
    }


def queue(waiting: int, oldest_wait_s: float, offered: int, answered: int, abandoned: int,
          within: int, as_of: float, staff: tuple[int, int, int, int],
          sl_target: float = 0.8, sl_amber: float = 0.7, threshold_s: float = 20.0,
          definition: str = "abandons_against", short_abandon_s: float = 0.0,
          rolling: tuple[int, int, int, float | None, float | None] | None = None) -> Json:
    handled = max(0, answered - staff[1] - staff[2])
    abandoned_within = abandoned // 2
    service_levels = levels(within, abandoned_within, offered, answered)
    aht = 287.0 + offered % 60 if handled else None
    r_offered, r_answered, r_abandoned, r_sl, r_asa = rolling or (
        offered // 10, answered // 10, abandoned // 10,
        service_levels[definition], 14.2 if answered else None)
    return {
        "waiting": waiting,
        "longest_wait_s": oldest_wait_s if waiting else 0.0,
        "oldest_queued_epoch": as_of - oldest_wait_s if waiting else None,
        "offered": offered, "answered": answered, "abandoned": abandoned,
        "short_abandoned": offered // 40 if short_abandon_s else 0,
        "answered_within_threshold": within, "abandoned_within_threshold": abandoned_within,
        "judged": offered, "handled": handled, "transferred": handled // 12,
        "held": handled // 5,
        "service_level": service_levels[definition], "service_levels": service_levels,
        "sl_definition": definition, "short_abandon_s": short_abandon_s,
        "sl_threshold_s": threshold_s, "sl_target": sl_target, "sl_amber": sl_amber,
        "asa_s": 14.2 + waiting * 3.1 if answered else None,
        "aht_s": aht,
        "avg_talk_s": aht * 0.7 if aht else None, "avg_hold_s": aht * 0.1 if aht else None,
        "avg_acw_s": aht * 0.2 if aht else None,
        "abandon_rate": round(abandoned / offered, 4) if offered else None,
        "agents": dict(zip(("available", "on_contact", "acw", "aux"), staff, strict=True))
        | {"logged_out": 0},
        "rolling": {
            "minutes": 30, "offered": r_offered, "answered": r_answered,
            "abandoned": r_abandoned, "service_level": r_sl, "asa_s": r_asa,
            "aht_s": aht, "abandon_rate": round(r_abandoned / r_offered, 4) if r_offered else None,
        },
    }


def interval(queue_name: str, start: datetime, offered: int, answered: int, abandoned: int,
             within: int, status: str, peak: int, asa_s: float | None, aht_s: float | None,
             threshold_s: float = 20.0, definition: str = "abandons_against") -> Json:
    """One row of ``intervals[queue]["rows"]``."""
    abandoned_within = abandoned // 2
    service_levels = levels(within, abandoned_within, offered, answered)
    return {
        "tenant": "default", "queue": queue_name,
        "interval_start": start.isoformat(),
        "interval_end": (start + timedelta(minutes=15)).isoformat(),
        "status": status, "offered": offered, "answered": answered, "abandoned": abandoned,
        "short_abandoned": 0, "answered_within_threshold": within,
        "abandoned_within_threshold": abandoned_within, "judged": offered,
        "handled": answered, "transferred": 0, "held": 0,
        "asa_s": asa_s, "aht_s": aht_s,
        "avg_talk_s": aht_s * 0.7 if aht_s else None,
        "avg_hold_s": aht_s * 0.1 if aht_s else None,
        "avg_acw_s": aht_s * 0.2 if aht_s else None,
        "service_level": service_levels[definition], "service_levels": service_levels,
        "abandon_rate": round(abandoned / offered, 4) if offered else None,
        "peak_waiting": peak, "sl_threshold_s": threshold_s,
    }


def agent(name: str, state: str, since_ago_s: float, as_of: float, team: str,
          queues: list[str], handled: int, reason: str | None = None,
          occupancy: float | None = 0.75) -> Json:
    busy = 3 * 3600 * occupancy if occupancy is not None else 0.0
    return {"name": name, "state": state, "reason": reason, "since_epoch": as_of - since_ago_s,
            "handled": handled, "team": team, "queues": queues,
            "busy_s": busy, "idle_s": 3 * 3600 - busy if occupancy is not None else 0.0,
            "occupancy": occupancy}


def team(available: int, on_contact: int, acw: int, aux: int, occupancy: float) -> Json:
    return {"agents": {"available": available, "on_contact": on_contact, "acw": acw,
                       "aux": aux, "logged_out": 0},
            "busy_s": 36000 * occupancy, "idle_s": 36000 * (1 - occupancy),
            "occupancy": occupancy}


T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def billing_rows(*extra: Json) -> Json:
    """Three intervals of billing (09:00 and 09:15 closed, 09:30 open), then ``extra``."""
    kw: Any = {"threshold_s": 30.0, "definition": "abandons_ignored"}
    return {"rows": [
        interval("billing", T0, 10, 9, 1, 8, "closed", 2, 9.5, 240.0, **kw),
        interval("billing", T0 + timedelta(minutes=15), 12, 10, 2, 7, "closed", 4, 21.0,
                 262.0, **kw),
        interval("billing", T0 + timedelta(minutes=30), 7, 5, 2, 4, "open", 3, 12.0, 250.0,
                 **kw),
        *extra,
    ]}


def small_snapshot(as_of: float) -> Json:
    return {
        "tenant": "default", "seq": 1, "as_of": "2026-11-22T09:15:03+00:00",
        "as_of_epoch": as_of, "day": "2026-11-22", "timezone": "Europe/Lisbon",
        "queues": {
            # 80 / (120 - 5) = 70% (abandons ignored): red
            "billing": queue(3, 42.0, 120, 100, 10, 80, as_of, (3, 5, 1, 2), threshold_s=30.0,
                             definition="abandons_ignored", short_abandon_s=5.0,
                             rolling=(20, 18, 1, 0.84, 12.0)),
            "sales": queue(0, 0.0, 40, 39, 1, 34, as_of, (2, 1, 0, 0)),  # 85% green
            "support": queue(1, 7.0, 20, 18, 2, 15, as_of, (1, 1, 0, 1)),  # 75% amber
            "<b>vip</b>": queue(0, 0.0, 0, 0, 0, 0, as_of, (0, 0, 0, 0)),  # no SL yet
        },
        "teams": {"Team Blue": team(2, 1, 0, 1, 0.82)},
        "agents": {
            "a-017": agent("Ana Silva", "aux", 125.0, as_of, "Team Blue", ["billing"], 12,
                           "break"),
            "a-018": agent("Bruno Costa", "on_contact", 61.0, as_of, "Team Blue",
                           ["billing", "sales"], 9, occupancy=0.91),
            "a-666": agent(XSS_NAME, "available", 5.0, as_of, "<script>alert(1)</script>",
                           ["support"], 3, "<i>reason</i>", occupancy=None),
        },
        "intervals": {
            "billing": billing_rows(),
            "sales": {"rows": [interval("sales", T0, 4, 4, 0, 4, "open", 1, 3.0, 200.0)]},
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
    expected = {"service_level": "70%", "answered": "100", "abandoned": "10", "offered": "120",
                "short_abandoned": "+3 short", "abandon_rate": "8%", "asa": "00:23",
                "aht": "04:47", "available": "3", "on_contact": "5", "acw": "1", "aux": "2",
                "sl_variant": "abandons ignored", "target": "target 80% in 30 s",
                "rolling_label": "Last 30 min", "rolling_service_level": "84%",
                "rolling_asa": "00:12", "rolling_abandon_rate": "5%"}
    for name, text in expected.items():
        await expect(billing.locator(f'[data-field="{name}"]')).to_have_text(text)
    longest = await billing.locator('[data-field="longest_wait"]').text_content()
    assert longest in ("00:42", "00:43"), longest  # ticks from stream time
    await expect(billing).to_have_class("tile sl-red")
    await expect(billing.locator('[data-field="rolling_service_level"]')).to_have_class(
        "rolling-value sl-green")
    await expect(page.locator('[data-queue="sales"]')).to_have_class("tile sl-green")
    await expect(page.locator('[data-queue="support"]')).to_have_class("tile sl-amber")
    vip = page.locator('[data-queue="<b>vip</b>"]')
    await expect(vip.locator('[data-field="queue"]')).to_have_text("<b>vip</b>")
    await expect(vip.locator('[data-field="service_level"]')).to_have_text("—")

    # Every figure carries its definition; the service level its queue's formula.
    title = await billing.locator('[data-title="service_level"]').get_attribute("title")
    assert title is not None and title.startswith(BILLING_SL_FORMULA + "\n"), title
    assert "Target 80% in 30 s: green at or above, amber down to 70%, red below" in title
    sales_title = await page.locator('[data-queue="sales"] [data-title="service_level"]'
                                     ).get_attribute("title")
    assert sales_title is not None
    assert sales_title.startswith("Service level (abandons against) = answered within 20 s "
                                  "÷ judged\n"), sales_title
    tooltips = await billing.evaluate(
        "tile => [...tile.querySelectorAll('.stats > div, .hero-figure, .staff, .rolling')]"
        ".map(element => element.title)")
    assert len(tooltips) == 13 and all(" = " in tip for tip in tooltips), tooltips
    assert any(tip.startswith("Offered = contacts queued in the period, minus short abandons")
               for tip in tooltips)
    assert any("Last 30 min = " in tip and "last 30 whole minutes" in tip for tip in tooltips)

    # Team occupancy in the team strip, agent occupancy on the card.
    blue = page.locator('[data-team="Team Blue"]')
    await expect(blue.locator('[data-field="occupancy"]')).to_have_text("82%")
    await expect(blue.locator('[data-field="on_contact"]')).to_have_text("1")
    occupancy_title = await blue.locator('[data-field="occupancy_box"]').get_attribute("title")
    assert occupancy_title is not None and occupancy_title.startswith("Occupancy = busy ÷ (busy")
    await expect(page.locator("#dead-letters")).to_have_text("3")
    await expect(page.locator("#tenant")).to_have_text("default")

    ana = page.locator('[data-agent="a-017"]')
    await expect(ana.locator('[data-field="name"]')).to_have_text("Ana Silva")
    await expect(ana.locator('[data-field="state"]')).to_have_text("Aux")
    await expect(ana.locator('[data-field="reason"]')).to_have_text("break")
    await expect(ana.locator('[data-field="team"]')).to_have_text("Team Blue")
    await expect(ana.locator('[data-field="handled"]')).to_have_text("12")
    await expect(ana.locator('[data-field="occupancy"]')).to_have_text("75%")
    await expect(page.locator('[data-agent="a-018"] [data-field="occupancy"]')).to_have_text(
        "91%")
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
    billing_now = queue(5, 50.0, 130, 112, 10, 107, as_of + 8, (1, 7, 1, 2), threshold_s=30.0,
                        definition="abandons_ignored", short_abandon_s=5.0)  # 107 / 125
    await publish(redis, settings, {
        "tenant": "default", "seq": 2, "as_of_epoch": as_of + 8, "queues": {"billing":
        billing_now}, "teams": {}, "agents": {"a-017": agent(
            "Ana Silva", "available", 0.0, as_of + 8, "Team Blue", ["billing"], 13)},
        "removed": {"queues": ["support"], "teams": [], "agents": ["a-018"]},
        "dead_letters": 4})
    await expect(billing.locator('[data-field="waiting"]')).to_have_text("5")
    await expect(billing.locator('[data-field="service_level"]')).to_have_text("86%")
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
    await page.locator('[data-view-tab="intervals"]').click()  # the same filter applies
    await expect(page.locator("[data-interval-queue]")).to_have_count(1)
    await expect(page.locator('[data-interval-queue="sales"] [data-interval]')).to_have_count(1)
    await page.goto(running_gateway.url + "?tenant=default&queues=sales#wallboard")

    await running_gateway.stop()
    await expect(connection).to_have_attribute("data-status", "disconnected", timeout=5000)
    await running_gateway.start()
    await expect(connection).to_have_attribute("data-status", "connected", timeout=8000)
    await expect(page.locator('[data-queue="sales"]')).to_have_count(1)


async def test_the_page_asks_for_the_update_interval_of_its_address(
    page: Page, running_gateway: RunningGateway, redis: aioredis.Redis
) -> None:
    await write_snapshot(redis, running_gateway.settings, small_snapshot(time.time()))
    await running_gateway.start()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    await page.goto(running_gateway.url + "?queues=sales&interval_s=0.5")
    await expect(page.locator("#connection")).to_have_attribute("data-status", "connected")
    await expect(page.locator("[data-queue]")).to_have_count(1)
    await expect(page.locator("#subscription")).to_have_text(
        "queues: sales · updates every 0.5 s")
    assert len(sockets) == 1 and sockets[0].endswith("/ws?queues=sales&interval_s=0.5"), sockets

    # one the gateway refuses: its error, no figures, and no rate shown
    await page.goto(running_gateway.url + "?interval_s=0.001")
    await expect(page.locator("#notice")).to_contain_text(
        "interval_s must be a number of seconds from 0.05 to 5, not 0.001")
    await expect(page.locator("#subscription")).to_have_text("")
    await expect(page.locator("[data-queue]")).to_have_count(0)

    # a wallboard asks for nothing: the gateway's default, and nothing shown
    await page.goto(running_gateway.url)
    await expect(page.locator("[data-queue]")).to_have_count(4)
    await expect(page.locator("#subscription")).to_have_text("")
    assert "interval_s" not in sockets[-1], sockets


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


def iso(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


async def test_interval_view_chart_table_live_updates_and_definitions(
    page: Page, running_gateway: RunningGateway, redis: aioredis.Redis
) -> None:
    settings = running_gateway.settings
    await write_snapshot(redis, settings, small_snapshot(time.time()))
    await running_gateway.start()
    await page.goto(running_gateway.url + "#intervals")

    await expect(page.locator('[data-view-tab="intervals"]')).to_have_attribute(
        "aria-current", "page")
    await expect(page.locator("#view-wallboard")).to_be_hidden()
    names = page.locator("[data-interval-queue] [data-field=queue]")
    await expect(names).to_have_text(["<b>vip</b>", "billing", "sales", "support"])
    panel = page.locator('[data-interval-queue="billing"]')
    rows = panel.locator("[data-interval]")
    await expect(rows).to_have_count(3)
    assert await rows.evaluate_all("rows => rows.map(row => row.dataset.interval)") == [
        iso(30), iso(15), iso(0)]  # newest first

    current = panel.locator(f'[data-interval="{iso(30)}"]')
    expected = {"time": "09:30–09:45", "offered": "7", "answered": "5", "abandoned": "2",
                "service_level": "67%", "asa": "00:12", "aht": "04:10",
                "abandon_rate": "29%", "peak_waiting": "3", "status": "Open"}
    for name, text in expected.items():
        await expect(current.locator(f'[data-field="{name}"]')).to_have_text(text)
    await expect(current).to_have_attribute("data-status", "open")
    await expect(current.locator('[data-field="service_level"]')).to_have_class("iv-sl sl-red")
    earliest = panel.locator(f'[data-interval="{iso(0)}"]')
    await expect(earliest.locator('[data-field="status"]')).to_have_text("Closed")
    await expect(earliest).to_have_attribute("data-status", "closed")
    await expect(earliest.locator('[data-field="service_level"]')).to_have_text("80%")
    marks = await panel.evaluate(
        "panel => [...panel.querySelectorAll('[data-interval] .status-mark')].map(mark => "
        "[getComputedStyle(mark, '::before').content, getComputedStyle(mark, '::before')"
        ".backgroundColor])")
    assert marks[0][0] == '""' and marks[0][1] != "rgba(0, 0, 0, 0)", marks  # a live dot
    assert marks[2][0] == '"✓"', marks  # a check mark

    # The chart: a bar per interval and series, the SL line against the target.
    chart = panel.locator("svg[data-chart]")
    await expect(chart.locator('rect[data-series="offered"]')).to_have_count(3)
    await expect(chart.locator('rect[data-series="answered"]')).to_have_count(3)
    await expect(chart.locator('circle[data-series="service_level"]')).to_have_count(3)
    await expect(chart.locator(".sl-line")).to_have_count(1)
    await expect(chart.locator(".sl-target-line")).to_have_attribute("data-target", "0.8")
    await expect(chart.locator(".target-label")).to_have_text("target 80%")
    bar = chart.locator(f'rect[data-series="offered"][data-slot="{iso(30)}"]')
    await expect(bar).to_have_attribute("data-value", "7")
    await expect(bar).to_have_class("bar bar-offered open")
    height_before = float(await bar.get_attribute("height") or 0)
    assert height_before > 0
    hover = await chart.locator(".hit title").all_text_contents()
    assert hover[2].startswith("09:30–09:45 (open)\nOffered 7 · answered 5"), hover

    # Definitions: the queue's SL formula on the header, all variants on a cell.
    header = await panel.locator('[data-field="sl_header"]').get_attribute("title")
    assert header is not None and header.startswith(BILLING_SL_FORMULA), header
    await expect(panel.locator('[data-field="formula"]')).to_have_text(BILLING_SL_FORMULA)
    cell = await current.locator('[data-field="service_level"]').get_attribute("title")
    assert cell is not None and "abandons ignored 67% ◀" in cell, cell
    assert "abandons against 57%" in cell and "answered only 80%" in cell, cell
    peak = await panel.locator("th[data-def=peak_waiting]").get_attribute("title")
    assert peak is not None and "sampled every 10 s of the interval" in peak

    # An update changes a row and the chart, closes 09:30 and opens 09:45.
    kw: Any = {"threshold_s": 30.0, "definition": "abandons_ignored"}
    update_rows = billing_rows(
        interval("billing", T0 + timedelta(minutes=45), 2, 1, 0, 1, "open", 1, 4.0, None, **kw))
    update_rows["rows"][2] = interval("billing", T0 + timedelta(minutes=30), 12, 11, 1, 10,
                                      "closed", 5, 8.0, 250.0, **kw)
    await publish(redis, settings, {
        "tenant": "default", "seq": 2, "intervals": {"billing": update_rows},
        "removed": {"queues": [], "teams": [], "agents": [], "intervals": ["sales"]}})
    await expect(rows).to_have_count(4)
    await expect(current.locator('[data-field="offered"]')).to_have_text("12")
    await expect(current.locator('[data-field="service_level"]')).to_have_text("83%")
    await expect(current.locator('[data-field="status"]')).to_have_text("Closed")
    latest = panel.locator(f'[data-interval="{iso(45)}"]')
    await expect(latest.locator('[data-field="status"]')).to_have_text("Open")
    await expect(latest.locator('[data-field="aht"]')).to_have_text("—")
    await expect(rows.first).to_have_attribute("data-interval", iso(45))
    await expect(bar).to_have_attribute("data-value", "12")
    await expect(bar).to_have_class("bar bar-offered")
    assert float(await bar.get_attribute("height") or 0) > height_before
    await expect(chart.locator('rect[data-series="offered"]')).to_have_count(4)
    sales = page.locator('[data-interval-queue="sales"]')
    await expect(sales.locator("[data-interval]")).to_have_count(0)
    await expect(sales.locator(".chart-empty")).to_have_text("No intervals yet today")

    # The help panel ("?") lists every definition and each queue's formula.
    await page.keyboard.press("?")
    help_panel = page.locator("#help")
    await expect(help_panel).to_be_visible()
    await expect(help_panel.locator('[data-queue-definition="billing"] dd')).to_contain_text(
        BILLING_SL_FORMULA)
    await expect(help_panel.locator('[data-definition="asa"] dt')).to_have_text(
        "ASA (average speed of answer)")
    await expect(help_panel.locator('[data-definition="occupancy"] dd')).to_contain_text(
        "Busy ÷ (busy + idle), where busy is today")
    await page.keyboard.press("Escape")
    await expect(help_panel).to_be_hidden()
    await page.locator("#help-toggle").click()
    await expect(help_panel).to_be_visible()
    await page.locator("#help-close").click()
    await expect(help_panel).to_be_hidden()

    # Back to the wallboard by its tab.
    await page.locator('[data-view-tab="wallboard"]').click()
    await expect(page.locator('[data-queue="billing"] [data-field="waiting"]')).to_have_text("3")
    await expect(page.locator("#view-intervals")).to_be_hidden()
    assert await page.evaluate("window.location.hash") == "#wallboard"


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


PROFILE = (4, 6, 8, 9, 10, 11, 11, 10, 10, 9, 9, 8, 8, 4)  # 08:00 .. 11:15, the last one partial
DAY = datetime(2026, 11, 22, tzinfo=UTC)  # Europe/Lisbon is UTC in November
LATENESS = timedelta(hours=2)


def allocate(total: int, weights: tuple[int, ...]) -> list[int]:
    """``total`` split by ``weights`` into integers (largest remainder)."""
    exact = [total * w / sum(weights) for w in weights]
    parts = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: parts[i] - exact[i])[:total - sum(parts)]:
        parts[i] += 1
    return parts


def day_of(name: str, offered: int, abandon_share: float, base_sl: float, dip_at: float,
           dip: float, as_of: datetime, waiting: int, oldest_s: float,
           staff: tuple[int, int, int, int], **settings: Any) -> tuple[Json, Json]:
    """A queue's intervals since midnight (quiet until 08:00) and its day entry (their sums)."""
    threshold = settings.get("threshold_s", 20.0)
    definition = settings.get("definition", "abandons_against")
    rows = [interval(name, DAY + timedelta(minutes=15 * i), 0, 0, 0, 0, "closed", 0, None, None,
                     threshold, definition) for i in range(32)]
    totals = [0, 0, 0, 0]
    for i, count in enumerate(allocate(offered, PROFILE)):
        start = DAY + timedelta(hours=8, minutes=15 * i)
        rush = math.exp(-(((i - dip_at) / 1.6) ** 2))
        abandoned = min(count, round(count * abandon_share * (0.6 + 1.8 * rush)))
        answered = count - abandoned - (waiting if i == len(PROFILE) - 1 else 0)
        level = min(1.0, max(0.3, base_sl - dip * rush + 0.035 * math.sin(i * 1.7)))
        within = min(answered, round(level * count))
        status = "open" if start + timedelta(minutes=15) + LATENESS > as_of else "closed"
        rows.append(interval(name, start, count, answered, abandoned, within, status,
                             round(count * 0.2 * (1 + 2 * rush)) + 1, 6.0 + 45.0 * rush,
                             275.0 + 30 * math.sin(i), threshold, definition))
        for k, value in enumerate((count, answered, abandoned, within)):
            totals[k] += value
    recent = rows[-2:]
    rolling = (sum(r["offered"] for r in recent), sum(r["answered"] for r in recent),
               sum(r["abandoned"] for r in recent), recent[0]["service_level"],
               recent[0]["asa_s"] + oldest_s / 8)
    entry = queue(waiting, oldest_s, *totals, as_of.timestamp(), staff, rolling=rolling,
                  **settings)
    return entry, {"rows": rows}


def realistic_snapshot(as_of_dt: datetime) -> Json:
    as_of = as_of_dt.timestamp()
    days = {
        "billing": day_of("billing", 412, 0.06, 0.84, 6, 0.3, as_of_dt, 4, 47.0, (1, 6, 2, 1),
                          threshold_s=30.0, definition="abandons_ignored", short_abandon_s=5.0),
        "sales": day_of("sales", 268, 0.02, 0.88, 9, 0.1, as_of_dt, 1, 9.0, (2, 5, 1, 1),
                        sl_target=0.85, sl_amber=0.75),
        "support": day_of("support", 533, 0.09, 0.76, 5, 0.35, as_of_dt, 7, 96.0, (0, 8, 1, 2)),
        "retention": day_of("retention", 87, 0.02, 0.93, 4, 0.05, as_of_dt, 0, 0.0,
                            (2, 2, 0, 1), definition="answered_only"),
        "chat": day_of("chat", 356, 0.03, 0.95, 7, 0.12, as_of_dt, 2, 18.0, (1, 4, 1, 0),
                       sl_target=0.9, sl_amber=0.8, threshold_s=60.0,
                       definition="abandons_for"),
    }
    skills = [["billing", "support"], ["sales", "retention"], ["support", "chat"],
              ["billing", "chat"], ["sales"]]
    agents = {
        f"a-{101 + i}": agent(name, state, age, as_of, TEAMS[i % 3], skills[i % 5],
                              8 + (i * 7) % 23, reason, occupancy=0.55 + (i * 37 % 40) / 100)
        for i, (name, state, age, reason) in enumerate(PEOPLE)
    }
    teams = {}
    for k, name in enumerate(TEAMS):
        states = [p[1] for i, p in enumerate(PEOPLE) if i % 3 == k]
        teams[name] = team(*(states.count(s) for s in ("available", "on_contact", "acw", "aux")),
                           occupancy=(0.86, 0.79, 0.71)[k])
    return {"tenant": "acme-lisbon", "seq": 1, "as_of_epoch": as_of, "timezone": "Europe/Lisbon",
            "day": "2026-11-22", "queues": {q: d[0] for q, d in days.items()},
            "intervals": {q: d[1] for q, d in days.items()}, "teams": teams, "agents": agents,
            "dead_letters": 2, "processed": 48213}


def open_alerts() -> list[Json]:
    """Three open alerts of the realistic day, as the worker keeps them."""
    return [
        transition("longest-wait-high", severity="critical", queue="support",
                   metric="queue.longest_wait_s", value=196.0, threshold=180.0,
                   condition="queue.longest_wait_s > 180",
                   message="support: longest wait 3 min 16 s (over 3 min)",
                   raised_at="2026-11-22T11:21:40.000+00:00"),
        transition("break-too-long", state="acknowledged", agent="a-109", team="Team Orange",
                   metric="agent.aux_duration_s", value=1290.0, threshold=900.0,
                   condition="agent.aux_duration_s > 900",
                   message="Ivan Horvat (Team Orange) on break for 21 min 30 s (allowed 15 min)",
                   acknowledged_by="sam", comment="back in 2 min",
                   raised_at="2026-11-22T11:18:00.000+00:00"),
        transition("service-level-under-target", audience=["supervisor", "wfm"],
                   queue="billing", metric="queue.service_level", value=0.78, threshold=0.8,
                   condition="queue.service_level < target (0.8) for 5 min",
                   message="billing: service level 78% under the 80% target for 5 min",
                   raised_at="2026-11-22T11:10:00.000+00:00"),
    ]


async def test_a_realistic_day_with_alerts_renders_in_full(
    page: Page, running_gateway: RunningGateway, redis: aioredis.Redis, tmp_path: Path
) -> None:
    running_gateway.settings = running_gateway.settings.model_copy(
        update={"tokens": {"tok-demo-admin": TokenSettings(name="demo", role="admin")}})
    snapshot = realistic_snapshot(datetime(2026, 11, 22, 11, 25, 3, tzinfo=UTC))
    snapshot["tenant"] = "default"
    await write_snapshot(redis, running_gateway.settings, snapshot)
    for alert in open_alerts():
        await redis.hset(running_gateway.settings.alerts_key("default"), alert["alert_id"],
                         orjson.dumps(alert))
    await running_gateway.start()
    await page.goto(running_gateway.url + "?token=tok-demo-admin")
    await expect(page.locator("[data-agent]")).to_have_count(len(PEOPLE))
    await expect(page.locator("[data-alert]")).to_have_count(3)
    await expect(page.locator("#connection")).to_have_attribute("data-status", "connected")
    # A picture kept with the test's files, for a look (the README's come from the demo:
    # scripts/screenshots.py).
    await page.screenshot(path=str(tmp_path / "wallboard.png"))
    assert (tmp_path / "wallboard.png").stat().st_size > 10_000

    # The interval view of the same day (kept with the test's files, for a look).
    await page.locator('[data-view-tab="intervals"]').click()
    support = page.locator('[data-interval-queue="support"]')
    await expect(support.locator("[data-interval]")).to_have_count(46)
    await expect(support.locator('rect[data-series="offered"]')).to_have_count(14)  # from 08:00
    await page.screenshot(path=str(tmp_path / "intervals.png"))
