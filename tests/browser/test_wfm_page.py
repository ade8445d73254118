"""The WFM view in Chromium: the adherence grid and the intraday charts, from the snapshot
the pipeline computes for the recorded morning (tests/data/wfm_day.jsonl), then an update
that puts an agent out of adherence."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pytest
import redis.asyncio as aioredis
from playwright.async_api import Page, expect

from stream.report import read_events, report_snapshot
from stream.settings import QueueSettings, Settings

if TYPE_CHECKING:
    from tests.browser.conftest import RunningGateway

pytestmark = pytest.mark.browser

DAY_FILE = Path(__file__).parent.parent / "data" / "wfm_day.jsonl"


def morning() -> dict[str, Any]:
    settings = Settings(queues={"billing": QueueSettings(sl_threshold_s=20, sl_target=0.8)})
    snapshot = report_snapshot(read_events(DAY_FILE), settings)
    snapshot["seq"] = 1
    return snapshot


async def test_adherence_grid_and_intraday_chart(
    page: Page, running_gateway: RunningGateway, redis: aioredis.Redis
) -> None:
    settings = running_gateway.settings
    snapshot = morning()
    await redis.sadd(settings.tenants_key, "default")
    await redis.set(settings.snapshot_key("default"), orjson.dumps(snapshot))
    await running_gateway.start()
    await page.goto(running_gateway.url + "#wfm")

    await expect(page.locator('[data-view-tab="wfm"]')).to_have_attribute("aria-current", "page")
    await expect(page.locator("#view-wallboard")).to_be_hidden()
    rows = page.locator("#wfm-rows tr")
    await expect(rows).to_have_count(9)
    a8 = page.locator('#wfm-rows tr[data-agent="a8"]')
    # a8 was scheduled from 09:00 and logged in at 09:10: in now, 750 s of 1350 s in
    for name, text in {"scheduled": "open", "actual": "available", "status": "In",
                       "time-out": "—", "adherence": "56%"}.items():
        await expect(a8.locator(f".wfm-{name}")).to_have_text(text)
    a9 = page.locator('#wfm-rows tr[data-agent="a9"]')  # scheduled from 09:30
    await expect(a9.locator(".wfm-status")).to_have_text("Not scheduled")
    await expect(a9).to_have_attribute("data-status", "unscheduled")

    chart = page.locator('[data-wfm-queue="billing"]')
    await expect(chart.locator("rect.wfm-forecast")).to_have_count(5)  # 09:00-10:00
    await expect(chart.locator("rect.wfm-actual")).to_have_count(2)  # 09:00, 09:15
    await expect(chart.locator("rect.wfm-reforecast")).to_have_count(3)
    for line in ("required", "staffed", "planned"):
        await expect(chart.locator(f"polyline.wfm-{line}")).to_have_count(1)
    await expect(chart.locator(".wfm-summary")).to_contain_text("Volume 150% of forecast")
    await expect(chart.locator(".wfm-summary")).to_contain_text(
        "next: need 10, planned 9 (1 short)")

    # An update: a1 went on an unscheduled break 6 min 40 s ago: out, severe, ticking.
    a1 = dict(snapshot["adherence"]["a1"])
    as_of = snapshot["as_of_epoch"]
    a1.update(state="aux", reason="personal", status="out", out_since_epoch=as_of - 400,
              since_epoch=as_of - 340, ticking={"scheduled": True, "adherent": False,
                                                "work_scheduled": True, "worked": False})
    update = {"tenant": "default", "seq": 2, "as_of_epoch": as_of, "adherence": {"a1": a1},
              "removed": {"adherence": []}}
    await redis.publish(settings.updates_channel("default"), orjson.dumps(update))
    row = page.locator('#wfm-rows tr[data-agent="a1"]')
    await expect(row).to_have_attribute("data-status", "severe")
    await expect(row.locator(".wfm-status")).to_have_text("Out · severe")
    await expect(row.locator(".wfm-actual")).to_have_text("aux · personal")
    first = await row.locator(".wfm-time-out").text_content()
    assert first is not None and first.startswith("06:"), first
    await expect(page.locator("#wfm-rows tr").first).to_have_attribute("data-agent", "a1")

    # The other views do not show the WFM view (nor the WFM view theirs).
    for view in ("wallboard", "intervals"):
        await page.locator(f'[data-view-tab="{view}"]').click()
        await expect(page.locator(f"#view-{view}")).to_be_visible()
        await expect(page.locator("#view-wfm")).to_be_hidden()
