"""The sessions screen in a real browser: visits sent with the SDK over several days show the totals
and breakdown rows the `sessionsSummary` query answers for the same arguments, a breakdown value
becomes a filter, and a new visit moves the counters without a reload."""

import asyncio
import json
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import Page, expect

from tests.polling import eventually
from tests.webui.conftest import System
from tests.webui.journey import CHROME_USER_AGENT, PASSWORD, gql, new_email, set_up_tenant, shoot
from trackmint_sdk import Client

TIMEZONE = "America/New_York"
FIREFOX_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
STATS = "sessions avgDurationSeconds bounceRate pageviewsPerSession"
TOTALS = f"totals {{ {STATS} persons medianDurationSeconds eventsPerSession }}"
RANGE = "projectId: $p, dateRange: {from: $from, to: $to}, filters: $filters"
SUMMARY = f"""query($p: ID!, $from: DateTime!, $to: DateTime!, $filters: [SessionFilterInput!]) {{
  sessionsSummary({RANGE}) {{ {TOTALS} }}
  byBrowser: sessionsSummary({RANGE}, breakdown: BROWSER) {{ breakdown {{ value isOther stats {{ {STATS} }} }} }}
}}"""
CHANNELS = """query($p: ID!, $from: DateTime!, $to: DateTime!) {
  sessionsSummary(projectId: $p, dateRange: {from: $from, to: $to}, breakdown: REFERRER_CHANNEL) {
    breakdown { value stats { sessions } }
  }
}"""
DASH = "\u2013"
"""What lib/format.ts shows for a missing number."""


async def set_up(http: httpx.AsyncClient, email: str) -> tuple[str, str, str]:
    """A new organization with a project in TIMEZONE and a write key."""
    return await set_up_tenant(http, email, "Visits Inc", "Store", TIMEZONE)


# (user, page path or event name, when, user agent, referrer)
Call = tuple[str, str, datetime, str, str | None]


def send(system: System, key: str, calls: list[Call]) -> None:
    client = Client(key, system.ingest_endpoint)
    try:
        for user, what, timestamp, agent, referrer in calls:
            context = {"userAgent": agent}
            if what.startswith("/"):
                client.page(what.strip("/").title() or "Home", user_id=user, url=f"https://shop.example{what}",
                            referrer=referrer, timestamp=timestamp, context=context)
            else:
                client.track(what, user_id=user, timestamp=timestamp, context=context)
        assert client.flush(30)
    finally:
        client.close()
    assert client.stats.acked == len(calls)


async def log_in(page: Page, url: str, email: str, path: str) -> None:
    await page.goto(url + path)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(re.compile(re.escape(path) + "$"))


def js_round(value: float) -> int:
    """Math.round: halves go up."""
    return math.floor(value + 0.5)


def duration(seconds: float | None) -> str:
    """lib/format.ts formatDuration."""
    if seconds is None:
        return DASH
    if seconds < 60:
        return f"{js_round(seconds)}s"
    minutes = math.floor(seconds / 60)
    if minutes < 60:
        return f"{minutes}m {js_round(seconds % 60)}s"
    return f"{minutes // 60}h {minutes % 60}m"


def percent(fraction: float | None) -> str:
    return DASH if fraction is None else f"{fraction * 100:.1f}%"


def per_session(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f}"


async def expect_totals(page: Page, totals: dict) -> None:
    await expect(page.get_by_test_id("kpi-sessions-value")).to_have_text(str(totals["sessions"]))
    await expect(page.get_by_test_id("kpi-sessions")).to_contain_text(f"{totals['persons']} person")
    await expect(page.get_by_test_id("kpi-avg-duration-value")).to_have_text(duration(totals["avgDurationSeconds"]))
    median = duration(totals["medianDurationSeconds"])
    await expect(page.get_by_test_id("kpi-median-duration-value")).to_have_text(median)
    await expect(page.get_by_test_id("kpi-bounce-value")).to_have_text(percent(totals["bounceRate"]))
    await expect(page.get_by_test_id("kpi-pages-value")).to_have_text(per_session(totals["pageviewsPerSession"]))


async def test_sessions_screen_matches_the_api_filters_and_updates_live(
    page: Page, system: System, screenshots: Path
) -> None:
    zone = ZoneInfo(TIMEZONE)
    now = datetime.now(UTC)
    today = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)

    def at(days: int, hour: int, minute: int, second: int = 0) -> datetime:
        return (today + timedelta(days=days)).replace(hour=hour, minute=minute, second=second).astimezone(UTC)

    google, twitter = "https://www.google.com/", "https://twitter.com/someone"
    calls: list[Call] = [
        # ada: 5 minutes, two pages, from Google search.
        ("ada", "/home", at(-2, 10, 0), CHROME_USER_AGENT, google),
        ("ada", "/pricing", at(-2, 10, 2), CHROME_USER_AGENT, None),
        ("ada", "Signed Up", at(-2, 10, 5), CHROME_USER_AGENT, None),
        # grace: a bounce from Twitter, on Firefox.
        ("grace", "/home", at(-1, 9, 0), FIREFOX_USER_AGENT, twitter),
        # linus: 90 seconds, two pages, direct.
        ("linus", "/blog", at(-1, 14, 0), CHROME_USER_AGENT, None),
        ("linus", "/pricing", at(-1, 14, 1, 30), CHROME_USER_AGENT, None),
        # ada again that evening: 10 minutes, one page.
        ("ada", "/home", at(-1, 20, 0), CHROME_USER_AGENT, google),
        ("ada", "Plan Chosen", at(-1, 20, 10), CHROME_USER_AGENT, None),
        # barbara, a few minutes ago on Firefox: one minute.
        ("barbara", "/pricing", now - timedelta(minutes=10), FIREFOX_USER_AGENT, None),
        ("barbara", "Signed Up", now - timedelta(minutes=9), FIREFOX_USER_AGENT, None),
    ]
    email = new_email()
    date_range = {"from": (today - timedelta(days=6)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as http:
        token, project_id, key = await set_up(http, email)
        await asyncio.to_thread(send, system, key, calls)

        async def answer(filters: list[dict] | None = None, sessions: int = 5) -> dict:
            async def probe() -> dict:
                return await gql(http, SUMMARY, token, p=project_id, filters=filters, **date_range)
            return await eventually(probe, lambda data: data["sessionsSummary"]["totals"]["sessions"] == sessions)

        data = await answer()
        totals = data["sessionsSummary"]["totals"]
        # The API agrees with the sessions we made (independent arithmetic).
        assert totals["sessions"] == 5 and totals["persons"] == 4
        assert totals["bounceRate"] == 0.2
        assert totals["avgDurationSeconds"] == (300 + 0 + 90 + 600 + 60) / 5
        assert totals["medianDurationSeconds"] == 90
        chrome = next(row for row in data["byBrowser"]["breakdown"] if row["value"] == "Chrome")
        assert chrome["stats"]["sessions"] == 3

        await log_in(page, system.url, email, "/sessions")
        await page.evaluate("window.__sameDocument = true")
        kpis = page.get_by_test_id("sessions-kpis")
        await expect(kpis).to_have_attribute("data-from", re.compile(r"Z$"))
        ui_from = datetime.fromisoformat((await kpis.get_attribute("data-from") or "").replace("Z", "+00:00"))
        assert ui_from == datetime.fromisoformat(date_range["from"])
        await expect_totals(page, totals)

        # The browser breakdown row, as the API counts it.
        breakdown = page.get_by_test_id("sessions-breakdown")
        row = breakdown.locator('tr[data-value="Chrome"]')
        await expect(row).to_have_attribute("data-sessions", str(chrome["stats"]["sessions"]))
        stats = chrome["stats"]
        await expect(row.locator('[data-stat="avgDuration"]')).to_have_text(duration(stats["avgDurationSeconds"]))
        await expect(row.locator('[data-stat="bounceRate"]')).to_have_text(percent(stats["bounceRate"]))
        await expect(row.locator('[data-stat="pageviews"]')).to_have_text(per_session(stats["pageviewsPerSession"]))
        firefox = next(r for r in data["byBrowser"]["breakdown"] if r["value"] == "Firefox")
        await expect(breakdown.locator('tr[data-value="Firefox"]')).to_have_attribute(
            "data-sessions", str(firefox["stats"]["sessions"]))
        # Sessions over time: one bar per local day, summing to the total.
        chart = page.locator('[data-chart="sessions-over-time"]')
        await expect(chart.locator("canvas")).to_be_visible()
        buckets = await page.evaluate(
            """() => [...document.querySelectorAll(
                '[data-chart="sessions-over-time"] [data-testid=chart-data] tbody tr')]
                .map((row) => Number(row.cells[1].textContent))""")
        assert len(buckets) == 7 and sum(buckets) == 5 and buckets[-3:] == [1, 3, 1]
        await expect(page.get_by_test_id("sessions-entry-pages").locator('tr[data-value="/home"]')).to_have_attribute(
            "data-sessions", "3")
        await shoot(page, screenshots, "sessions")

        # Another breakdown: by referrer channel, every row as the API answers.
        await page.get_by_label("Break down by").select_option("REFERRER_CHANNEL")
        channels = await gql(http, CHANNELS, token, p=project_id, **date_range)
        for channel in channels["sessionsSummary"]["breakdown"]:
            await expect(breakdown.locator(f'tr[data-value="{channel["value"] or "(none)"}"]')).to_have_attribute(
                "data-sessions", str(channel["stats"]["sessions"]))
        await expect(breakdown.locator('tr[data-value="search"]')).to_have_attribute("data-sessions", "2")

        # Clicking a value keeps only its sessions: the totals are the API's with that filter.
        await page.get_by_label("Break down by").select_option("BROWSER")
        await breakdown.get_by_role("button", name="Chrome").click()
        await expect(page.get_by_test_id("session-filter")).to_have_text(re.compile(r"Browser is “Chrome”"))
        filtered = await answer([{"dimension": "BROWSER", "operator": "EQ", "values": ["Chrome"]}], sessions=3)
        await expect_totals(page, filtered["sessionsSummary"]["totals"])
        await page.get_by_role("button", name=re.compile("Remove filter")).click()
        await expect(page.get_by_test_id("kpi-sessions-value")).to_have_text("5")

        # A new visit arrives: the counters move without a reload.
        visit: Call = ("edsger", "/docs", now - timedelta(minutes=1), CHROME_USER_AGENT, None)
        await asyncio.to_thread(send, system, key, [visit])
        await expect(page.get_by_test_id("kpi-sessions-value")).to_have_text("6", timeout=20_000)
        await expect_totals(page, (await answer(sessions=6))["sessionsSummary"]["totals"])
        await expect(page.get_by_test_id("sessions-entry-pages").locator('tr[data-value="/docs"]')).to_be_visible()

        await page.get_by_role("radio", name="Dark theme").click()
        await expect(chart.locator("canvas")).to_be_visible()
        await shoot(page, screenshots, "sessions-dark")
        assert await page.evaluate("window.__sameDocument === true"), "the page reloaded"


async def test_malformed_filters_in_the_link_are_dropped_not_fatal(page: Page, system: System) -> None:
    email = new_email()
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as http:
        await set_up(http, email)
    await log_in(page, system.url, email, "/sessions")
    # Hand-edited JSON: a null, a filter without values and one with a number among them, beside a good one.
    filters = json.dumps([
        None,
        {"dimension": "BROWSER", "operator": "EQ"},
        {"dimension": "OS", "operator": "EQ", "values": [1]},
        {"dimension": "BROWSER", "operator": "EQ", "values": ["Chrome"]},
    ])
    await page.goto(f"{system.url}/sessions?{urlencode({'filters': filters})}")
    await expect(page.get_by_test_id("session-filter")).to_have_count(1)
    await expect(page.get_by_test_id("session-filter")).to_have_text(re.compile(r"Browser is “Chrome”"))
    await expect(page.get_by_test_id("kpi-sessions-value")).to_have_text("0")
