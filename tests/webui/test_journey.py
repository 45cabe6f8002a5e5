"""The first journey of a new team, in a real browser: sign up, create a project and a write key,
send events with the Python SDK, and watch the overview and the live feed update without a reload."""

import asyncio
import re
from pathlib import Path

from playwright.async_api import Page, expect

from tests.polling import eventually
from tests.webui.conftest import System
from tests.webui.journey import CHROME_USER_AGENT, create_key, create_project, new_email, shoot, sign_up
from trackmint_sdk import Client

USERS = ["ada", "grace", "linus", "barbara"]


def send(system: System, key: str, calls: list[tuple[str, str]]) -> None:
    """Send (event, user) pairs with the SDK; "$pageview" sends a page view of /pricing from Chrome."""
    client = Client(key, system.ingest_endpoint)
    try:
        for event, user in calls:
            if event == "$pageview":
                client.page("Pricing", user_id=user, url="https://example.com/pricing",
                            context={"userAgent": CHROME_USER_AGENT})
            else:
                client.track(event, user_id=user, properties={"plan": "pro"},
                             context={"userAgent": CHROME_USER_AGENT})
        assert client.flush(30)
    finally:
        client.close()
    assert client.stats.acked == len(calls)


async def chart_total(page: Page, chart: str) -> float:
    """The sum of the second column of a chart's data table (what the chart plots)."""
    return await page.evaluate(
        """(chart) => [...document.querySelectorAll(`[data-chart="${chart}"] [data-testid=chart-data] tbody tr`)]
            .reduce((sum, row) => sum + Number(row.cells[1].textContent), 0)""",
        chart,
    )


async def test_a_new_team_sees_its_events_arrive_live(page: Page, system: System, screenshots: Path) -> None:
    await sign_up(page, system.url, new_email(), "Acme Analytics")
    await shoot(page, screenshots, "01-signup")
    await page.get_by_role("button", name="Create account").click()

    # A new organization has no project: the overview says so and links to creating one.
    await expect(page.get_by_text("No project yet")).to_be_visible()
    await page.get_by_role("link", name="Create your first project").click()
    await create_project(page, "Acme Web", "Europe/Berlin")
    await shoot(page, screenshots, "02-projects")
    await expect(page.get_by_role("combobox", name="Project")).to_have_value(re.compile(".+"))

    await page.get_by_role("link", name="Create a write key").click()
    key = await create_key(page, "backend")
    await expect(page.locator("tr", has_text="backend").get_by_text("Active")).to_be_visible()
    await shoot(page, screenshots, "03-api-keys")

    # The overview of the empty project, then events arrive while it is open.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Overview").click()
    await expect(page.get_by_test_id("kpi-events-value")).to_have_text("0")
    await expect(page.locator('[data-chart="events-over-time"]').get_by_text("No data in this range")).to_be_visible()
    await page.evaluate("window.__sameDocument = true")

    # Four persons, three events each (two tracks and a page view): 12 events, 4 sessions, no bounce.
    calls = [(event, user) for user in USERS for event in ("Signed Up", "$pageview", "Plan Chosen")]
    await asyncio.to_thread(send, system, key, calls)

    await expect(page.get_by_test_id("kpi-events-value")).to_have_text("12", timeout=20_000)
    await expect(page.get_by_test_id("kpi-persons-value")).to_have_text("4")
    await expect(page.get_by_test_id("kpi-sessions-value")).to_have_text("4")
    await expect(page.get_by_test_id("kpi-bounce-value")).to_have_text("0.0%")
    await expect(page.get_by_test_id("kpi-live-value")).to_have_text("4")
    await expect(page.locator('[data-chart="events-over-time"] canvas')).to_be_visible()
    assert await chart_total(page, "events-over-time") == 12
    await expect(page.locator('[data-toplist="top-pages"]').get_by_text("/pricing")).to_be_visible()
    await expect(page.locator('[data-toplist="top-browsers"]').get_by_text("Chrome")).to_be_visible()
    await shoot(page, screenshots, "04-overview")

    # Every chart exports: its data as CSV (the server's export of the chart's query), the picture as PNG.
    chart = page.locator('[data-chart="events-over-time"]')
    async with page.expect_download() as csv_download:
        await chart.get_by_role("button", name="CSV").click()
    csv_path = Path(await (await csv_download.value).path())
    csv = (await asyncio.to_thread(csv_path.read_text)).splitlines()
    assert re.fullmatch(r"trends-\d{8}-\d{6}\.csv", (await csv_download.value).suggested_filename)
    assert csv[0] == "series,label,breakdownValue,isOther,compare,bucket,value"
    assert sum(float(line.split(",")[-1]) for line in csv[1:]) == 12
    async with page.expect_download() as png_download:
        await chart.get_by_role("button", name="PNG").click()
    assert (await png_download.value).suggested_filename == "events-over-time.png"
    png_path = Path(await (await png_download.value).path())
    assert (await asyncio.to_thread(png_path.read_bytes))[:8] == b"\x89PNG\r\n\x1a\n"

    # More events: the counters and the chart move again, still without a reload.
    await asyncio.to_thread(send, system, key, [("Signed Up", "ada"), ("Signed Up", "edsger")])
    await expect(page.get_by_test_id("kpi-events-value")).to_have_text("14", timeout=20_000)
    await expect(page.get_by_test_id("kpi-live-value")).to_have_text("5")
    assert await eventually(lambda: chart_total(page, "events-over-time"), lambda total: total == 14) == 14

    # The live feed: new events appear as they are stored; the filter and pause work.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Live events").click()
    await expect(page.get_by_text("Waiting for events…")).to_be_visible()
    await expect(page.get_by_test_id("live-status")).to_have_text("live")
    await asyncio.to_thread(send, system, key, [("Order Completed", "ada"), ("Order Completed", "grace")])
    await expect(page.locator('tr[data-event="Order Completed"]')).to_have_count(2, timeout=20_000)
    await shoot(page, screenshots, "05-live")

    filters = page.get_by_role("form", name="Live filters")
    await filters.get_by_label("Event names").fill("Plan Changed")
    await filters.get_by_role("button", name="Apply").click()
    await expect(page.get_by_text("Waiting for events…")).to_be_visible()
    await asyncio.to_thread(send, system, key, [("Order Completed", "linus"), ("Plan Changed", "linus")])
    await expect(page.locator('tr[data-event="Plan Changed"]')).to_have_count(1, timeout=20_000)
    await expect(page.locator('tr[data-event="Order Completed"]')).to_have_count(0)

    await page.get_by_role("button", name="Pause").click()
    await asyncio.to_thread(send, system, key, [("Plan Changed", "grace")])
    await expect(page.get_by_test_id("live-status")).to_have_text("paused · 1 new", timeout=20_000)
    await expect(page.locator('tr[data-event="Plan Changed"]')).to_have_count(1)
    await page.get_by_role("button", name="Resume").click()
    await expect(page.locator('tr[data-event="Plan Changed"]')).to_have_count(2)

    # The overview in dark mode: the page and the chart take the dark theme's colours.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Overview").click()
    await expect(page.get_by_test_id("kpi-events-value")).to_have_text("19")
    await page.get_by_role("radio", name="Dark theme").click()
    assert await page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(14, 17, 22)"
    await expect(page.locator('[data-chart="events-over-time"] canvas')).to_be_visible()
    await shoot(page, screenshots, "07-overview-dark")

    assert await page.evaluate("window.__sameDocument === true"), "the page reloaded"


async def test_dark_mode_toggle_changes_the_theme_and_persists(page: Page, system: System, screenshots: Path) -> None:
    await page.goto(system.url + "/login")
    background = "getComputedStyle(document.body).backgroundColor"
    # The browser's system scheme is light, and "system" is the default.
    assert await page.evaluate(background) == "rgb(246, 247, 249)"
    await shoot(page, screenshots, "00-login")

    await page.get_by_role("radio", name="Dark theme").click()
    assert await page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert await page.evaluate(background) == "rgb(14, 17, 22)"
    card = await page.evaluate("getComputedStyle(document.querySelector('.auth-card')).backgroundColor")
    assert card == "rgb(22, 26, 33)"
    await shoot(page, screenshots, "06-login-dark")

    await page.reload()
    assert await page.evaluate(background) == "rgb(14, 17, 22)"
    await page.get_by_role("radio", name="System theme").click()
    assert await page.evaluate(background) == "rgb(246, 247, 249)"
    # Following the system: a dark system scheme darkens the page without a choice being stored.
    await page.emulate_media(color_scheme="dark")
    await expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert await page.evaluate("localStorage.getItem('trackmint.theme')") is None
