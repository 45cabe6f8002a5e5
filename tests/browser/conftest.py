"""Fixtures for the browser tests: Debian's Chromium through Playwright, the whole ingest → processor →
PostgreSQL stack with its HTTP bridge, and a customer's site on another port (so, another origin).

Playwright drives /usr/bin/chromium (installed by `make test` from Debian's packages); it never
downloads a browser of its own.
"""

import os
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from playwright.async_api import Browser, BrowserContext, Request, async_playwright

from ingest.server import IngestServer
from processor.service import ProcessorService
from storage.projects import CreatedProject
from tests.browser.pages import VISITOR_USER_AGENT
from tests.browser.servers import FlakyProxy, SiteServer

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        message = f"the browser tests need Chromium at {CHROMIUM}; `make test` installs it (apt-get install chromium)"
        pytest.fail(message, pytrace=False)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


class RequestLog:
    """Every request the pages of a browser context made (beacons included), as (method, url, resource type)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str]] = []

    def record(self, request: Request) -> None:
        self.requests.append((request.method, request.url, request.resource_type))

    def to(self, path: str) -> list[tuple[str, str, str]]:
        return [entry for entry in self.requests if path in entry[1]]


@pytest.fixture
async def browser_context(chromium: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh visitor: empty storage and cookies, an ordinary (not headless) Chrome user agent."""
    context = await chromium.new_context(user_agent=VISITOR_USER_AGENT)
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        await context.close()


@pytest.fixture
def request_log(browser_context: BrowserContext) -> RequestLog:
    log = RequestLog()
    browser_context.on("request", log.record)
    return log


@pytest.fixture
def site() -> Iterator[SiteServer]:
    server = SiteServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def bridge_url(ingest_server: IngestServer, processor: ProcessorService) -> str:
    """The bridge of a running ingest, with a processor storing what it accepts."""
    return f"http://127.0.0.1:{ingest_server.bridge_port}"


@pytest.fixture
def proxy(bridge_url: str) -> Iterator[FlakyProxy]:
    server = FlakyProxy(bridge_url).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def browser_project(db: asyncpg.Connection, project: CreatedProject) -> CreatedProject:
    """The test's project with every autocapture option on, as its owner would configure it."""
    await db.execute(
        "UPDATE projects SET autocapture = $2::jsonb WHERE id = $1",
        project.project_id, '{"pageviews": true, "clicks": true, "forms": true, "form_values": true}',
    )
    return project
