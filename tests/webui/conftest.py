"""Fixtures for the web UI tests: the whole system (query service serving the built UI, ingest,
processor) on the test database and NATS, and Debian's Chromium driven by Playwright.

The UI must have been built (`make webui`; `make test` does it first). Playwright drives
/usr/bin/chromium and never downloads a browser of its own. Screenshots of the main screens go to
`artifacts/screenshots/` at the repository root, for people to look at.
"""

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from config import Settings
from ingest.server import IngestServer
from processor.service import ProcessorService
from query.webui import DEFAULT_DIST_DIR
from tests.query.servers import start_server, stop_server

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@dataclass(frozen=True)
class System:
    """The running system as a browser and an SDK reach it."""

    url: str
    ingest_endpoint: str


@pytest.fixture(scope="session")
def webui_dist() -> Path:
    """The build the tests serve: TRACKMINT_WEBUI_DIST_DIR (as the service reads it), else webui/dist."""
    dist = Path(os.environ.get("TRACKMINT_WEBUI_DIST_DIR") or DEFAULT_DIST_DIR)
    if not (dist / "index.html").is_file():
        pytest.fail(
            f"the web UI is not built ({dist}/index.html is missing): run `make webui` "
            "(`make test` builds it before running the tests)",
            pytrace=False,
        )
    return dist


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        message = f"the web UI tests need Chromium at {CHROMIUM}; `make test` installs it (apt-get install chromium)"
        pytest.fail(message, pytrace=False)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def system(
    webui_dist: Path, settings: Settings, ingest_server: IngestServer, processor: ProcessorService
) -> AsyncIterator[System]:
    """Query service (serving the built UI) on a free port, with ingest and a processor behind it."""
    server, task, url = await start_server(settings)
    try:
        yield System(url=url, ingest_endpoint=f"127.0.0.1:{ingest_server.port}")
    finally:
        await stop_server(server, task)


@pytest.fixture
async def browser_context(chromium: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile whose system colour scheme is light."""
    context = await chromium.new_context(viewport={"width": 1440, "height": 900}, color_scheme="light")
    context.set_default_timeout(15_000)
    try:
        yield context
    finally:
        await context.close()


@pytest.fixture
async def page(browser_context: BrowserContext) -> Page:
    return await browser_context.new_page()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
