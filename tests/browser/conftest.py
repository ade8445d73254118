"""Browser fixtures: Debian's headless Chromium driven by Playwright (never a downloaded one).

- ``browser`` (session): one Chromium for the whole run.
- ``page`` (per test): a fresh 1600x900 context and page; JavaScript errors on the page fail
  the test.
- ``redis_server`` (session) and ``running_gateway`` (per test, started on demand): a real
  Redis and the gateway on a free port with a unique key prefix, for tests that feed the page.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, Playwright, ViewportSize, async_playwright

from stream.embedded import EmbeddedServer, free_port
from stream.settings import Settings
from tests.conftest import RunningGateway

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1600, "height": 900}


@pytest.fixture(scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is not installed: run ./scripts/install-chromium.sh")
    async with async_playwright() as instance:
        yield instance


@pytest.fixture(scope="session")
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    chromium = await playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    try:
        yield chromium
    finally:
        await chromium.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport=VIEWPORT)
    new_page = await context.new_page()
    errors: list[str] = []
    new_page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield new_page
    finally:
        await context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
async def running_gateway(redis_server: EmbeddedServer) -> AsyncIterator[RunningGateway]:
    """A gateway, not yet started (write the snapshot first, then ``await start()``)."""
    running = RunningGateway(Settings(
        redis_url=f"redis://{redis_server.host}:{redis_server.port}/0",
        http_port=free_port(),
        redis_prefix=f"browser-{uuid.uuid4().hex[:8]}",
        client_update_interval_s=0.1,
    ))
    try:
        yield running
    finally:
        await running.stop()
