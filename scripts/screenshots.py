"""The README's pictures, taken from a running demo (``make demo``) in headless Chromium.

    python scripts/screenshots.py 'http://127.0.0.1:8000/?token=...' [--out docs]

Opens the wallboard URL that ``floorpulse up --simulate`` prints (its admin token sees
every view) in Debian's Chromium, driven by Playwright (``executable_path``; no browser is
downloaded), and writes ``wallboard.png``, ``wfm.png`` (the adherence grid),
``wfm-intraday.png`` (the charts per queue) and ``qa.png`` at 1600x900. Run it
once the simulated day has gone on for a while (at ``--speed 10``, a few minutes), so that
agents are on their schedules, intervals have closed and contacts have been flagged.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from playwright.async_api import async_playwright, expect

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
VIEWS = {
    "wallboard": "#view-wallboard [data-agent]",  # the view, and what must be on it first
    "wfm": "#wfm-rows tr[data-agent]",
    "qa": "#qa-list [data-contact]",
}


async def take(url: str, out: Path, settle_s: float) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1600, "height": 900})
            await page.goto(url)
            await expect(page.locator("#connection")).to_have_attribute(
                "data-status", "connected", timeout=30_000)
            for view, ready in VIEWS.items():
                await page.locator(f'[data-view-tab="{view}"]').click()
                await expect(page.locator(ready).first).to_be_visible(timeout=30_000)
                if view == "qa":  # the newest flagged contact's detail, with its sparkline
                    await page.locator(ready).first.click()
                    await expect(page.locator("#qa-detail")).to_be_visible()
                await page.wait_for_timeout(settle_s * 1000)  # charts and clocks drawn
                path = out / f"{view}.png"
                await page.screenshot(path=str(path))
                print(f"wrote {path}")
                if view == "wfm":  # and the intraday charts, further down
                    await page.locator("#wfm-queues").evaluate("e => e.scrollIntoView()")
                    await page.wait_for_timeout(300)
                    path = out / "wfm-intraday.png"
                    await page.screenshot(path=str(path))
                    print(f"wrote {path}")
        finally:
            await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="the wallboard URL with its token, as `up` prints it")
    parser.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "docs")
    parser.add_argument("--settle", type=float, default=1.5, help="seconds before each shot")
    args = parser.parse_args()
    asyncio.run(take(args.url, args.out, args.settle))


if __name__ == "__main__":
    main()
