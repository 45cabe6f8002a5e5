"""The insights builder in a real browser: a trend built from events sent with the SDK (two series,
a property math, a filter and a breakdown) shows exactly what the `trends` query answers for the
same arguments, follows new events without a reload, switches to number and table views, and keeps
the whole insight in the URL."""

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import Page, expect

from tests.polling import eventually
from tests.webui.conftest import System
from tests.webui.journey import PASSWORD, gql, new_email, set_up_tenant, shoot
from trackmint_sdk import Client

TIMEZONE = "Asia/Kolkata"
"""Half an hour off UTC: hour buckets start at :30 UTC, so a bucket computed in UTC would not match."""

TRENDS = """query($p: ID!, $series: [SeriesInput!]!, $from: DateTime!, $to: DateTime!, $filters: [PropertyFilterInput!],
              $breakdown: BreakdownInput, $compare: Boolean! = false) {
  trends(projectId: $p, series: $series, interval: HOUR, dateRange: {from: $from, to: $to}, filters: $filters,
         breakdown: $breakdown, compare: $compare) {
    label breakdownValue isOther compare points { bucket value }
  }
}"""
SERIES = [{"event": "Purchase", "math": "UNIQUE_PERSONS"}, {"event": "Purchase", "math": "SUM", "property": "amount"}]
FILTERS = [{"key": "amount", "operator": "GT", "value": 6, "type": "EVENT"}]
BREAKDOWN = {"key": "plan", "type": "EVENT"}

Purchase = tuple[str, float, str, float]
"""(user, amount, plan, hours ago)"""


async def set_up(http: httpx.AsyncClient, email: str) -> tuple[str, str]:
    """A new organization with a project in TIMEZONE and a write key."""
    _, project_id, key = await set_up_tenant(http, email, "Shopfront", "Store", TIMEZONE)
    return project_id, key


def send(system: System, key: str, purchases: list[Purchase], signups: list[str] = ()) -> None:
    client = Client(key, system.ingest_endpoint)
    try:
        now = datetime.now(UTC)
        for user, amount, plan, hours_ago in purchases:
            client.track("Purchase", user_id=user, properties={"amount": amount, "plan": plan},
                         timestamp=now - timedelta(hours=hours_ago))
        for user in signups:
            client.track("Signed Up", user_id=user, properties={"plan": "free"})
        assert client.flush(30)
    finally:
        client.close()
    assert client.stats.acked == len(purchases) + len(signups)


def api_rows(trends: list[dict]) -> list[tuple[str, str, str, str, float]]:
    """The API's answer as the chart's data table lists it: (label, breakdown, period, bucket, value)."""
    rows = []
    for line in trends:
        breakdown = "Other" if line["isOther"] else (line["breakdownValue"] or "(none)")
        period = "previous" if line["compare"] else "current"
        rows += [(line["label"], breakdown, period, p["bucket"], float(p["value"])) for p in line["points"]]
    return sorted(rows)


async def ui_rows(page: Page) -> list[tuple[str, str, str, str, float]]:
    rows = await page.evaluate(
        """() => [...document.querySelectorAll('[data-chart="trend"] [data-testid=chart-data] tbody tr')]
            .map((row) => [...row.cells].map((cell) => cell.textContent))"""
    )
    return sorted((label, breakdown, period, bucket, float(value))
                  for _, label, breakdown, period, bucket, value in rows)


async def test_a_trend_built_in_the_browser_matches_the_api_and_updates_live(
    page: Page, system: System, screenshots: Path
) -> None:
    zone = ZoneInfo(TIMEZONE)
    today = datetime.now(UTC).astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    # A custom range typed in the project's timezone: yesterday and today, local midnight to midnight
    # (it holds the last 24 hours whatever the time of day).
    date_from, date_to = today - timedelta(days=1), today + timedelta(days=1)
    email = new_email()
    purchases: list[Purchase] = [
        ("ada", 10, "pro", 17), ("ada", 30, "pro", 9), ("grace", 5, "free", 14), ("linus", 20, "pro", 6),
        ("barbara", 7, "free", 12), ("barbara", 12.5, "team", 3), ("ada", 15, "pro", 3), ("grace", 9, "free", 1),
    ]
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as http:
        project_id, key = await set_up(http, email)
        await asyncio.to_thread(send, system, key, purchases, ["edsger"])
        # The test's own session, as a user logging in over GraphQL gets it.
        login = "mutation($e: String!, $pw: String!) { login(email: $e, password: $pw) { accessToken } }"
        token = (await gql(http, login, e=email, pw=PASSWORD))["login"]["accessToken"]

        async def answer(compare: bool = False) -> list[dict]:
            variables = {"from": date_from.isoformat(), "to": date_to.isoformat()}
            return (await gql(http, TRENDS, token, p=project_id, series=SERIES, filters=FILTERS,
                              breakdown=BREAKDOWN, compare=compare, **variables))["trends"]

        def total(trends: list[dict]) -> float:
            # Series B (sum of amount) over every breakdown line: both series have the same breakdown
            # values (same event, same filters), and the answer lists series A's lines first.
            current = [t for t in trends if not t["compare"]]
            return sum(p["value"] for t in current[len(current) // 2:] for p in t["points"])

        # Independently of the API: amount > 6 keeps every purchase but grace's 5.
        expected = await eventually(answer, lambda trends: total(trends) == 10 + 30 + 20 + 7 + 12.5 + 15 + 9)
        assert total(expected) == 103.5

        await page.goto(system.url + "/insights")
        await page.get_by_label("Email").fill(email)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await expect(page.get_by_role("heading", name="Insights")).to_be_visible()
        await page.evaluate("window.__sameDocument = true")

        # Range first (it resets the interval to the range's default), then the interval.
        await page.get_by_label("Date range").select_option("custom")
        await page.get_by_label("From").fill(date_from.strftime("%Y-%m-%dT%H:%M"))
        await page.get_by_label("To", exact=True).fill(date_to.strftime("%Y-%m-%dT%H:%M"))
        await page.get_by_role("form", name="Custom range").get_by_role("button", name="Apply").click()
        await page.get_by_label("Interval").select_option("HOUR")

        await page.get_by_label("Event of series A").select_option("Purchase")
        await page.get_by_label("Math of series A").select_option("UNIQUE_PERSONS")
        await page.get_by_role("button", name="+ Add series").click()
        await page.get_by_label("Math of series B").select_option("SUM")
        await page.get_by_label("Property of series B").fill("amount")
        await page.get_by_label("Property of series B").press("Enter")

        await page.get_by_role("button", name="+ Add filter").click()
        add = page.get_by_role("form", name="Add filter")
        await add.get_by_label("Property", exact=True).fill("amount")
        await add.get_by_label("Operator").select_option("GT")
        await add.get_by_label("Value").fill("6")
        await add.get_by_role("button", name="Add").click()
        await expect(page.get_by_test_id("filter-tag")).to_have_text(re.compile(r"amount > 6"))
        await page.get_by_label("Breakdown by").fill("plan")
        await page.get_by_label("Breakdown by").press("Enter")

        # The page asks for exactly this range (the custom bounds read in the project's timezone).
        root = page.locator("[data-range-from]")
        iso = lambda moment: moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")  # noqa: E731
        await expect(root).to_have_attribute("data-range-from", iso(date_from))
        await expect(root).to_have_attribute("data-range-to", iso(date_to))

        want = api_rows(expected)
        assert len(want) == 2 * 3 * 48  # two series, three plans, 48 hours
        got = await eventually(lambda: ui_rows(page), lambda rows: rows == want)
        assert got == want
        await expect(page.locator('[data-chart="trend"] canvas')).to_be_visible()
        await expect(page.get_by_test_id("live-badge")).to_be_visible()
        await page.get_by_role("heading", name="Insights").click()  # no focused field in the picture
        await page.wait_for_timeout(600)  # let the chart's animation finish
        await shoot(page, screenshots, "insights")

        # New events: the chart follows without a reload (a new plan value, too).
        await asyncio.to_thread(send, system, key, [("margaret", 50, "pro", 0), ("alan", 8, "enterprise", 0)])
        expected = await eventually(answer, lambda trends: total(trends) == 103.5 + 58)
        want = api_rows(expected)
        got = await eventually(lambda: ui_rows(page), lambda rows: rows == want, within=20)
        assert got == want
        assert await page.evaluate("window.__sameDocument === true"), "the page reloaded"

        # The number view: one card per line; a sum shows the range's total.
        await page.get_by_role("group", name="Chart type").get_by_role("button", name="Number").click()
        numbers = page.get_by_test_id("insight-number")
        await expect(numbers).to_have_count(8)  # two series x (pro, free, team, enterprise)
        pro_sum = page.locator('[data-testid=insight-number][data-series="B. Purchase · sum of amount · pro"]')
        await expect(pro_sum.get_by_test_id("insight-number-value")).to_have_text("125")
        await shoot(page, screenshots, "insights-number")

        # The table view: a row per line, a column per hour.
        await page.get_by_role("group", name="Chart type").get_by_role("button", name="Table").click()
        table = page.get_by_test_id("insight-table")
        await expect(table.locator("tbody tr")).to_have_count(8)
        await expect(table.locator("thead th")).to_have_count(2 + 48)
        row = table.locator("tbody tr", has_text=re.compile(r"sum of amount · pro"))
        await expect(row.locator("td").first).to_have_text("125")
        await shoot(page, screenshots, "insights-table")
        assert await ui_rows(page) == want

        # Everything is in the URL: a reload (or a shared link) rebuilds the same insight.
        query = parse_qs(urlparse(page.url).query)
        assert query["chart"] == ["table"] and query["breakdown"] == ["plan"] and query["interval"] == ["HOUR"]
        await page.reload()
        await expect(page.get_by_label("Event of series A")).to_have_value("Purchase")
        await expect(page.get_by_label("Math of series B")).to_have_value("SUM")
        await expect(page.get_by_test_id("filter-tag")).to_have_text(re.compile(r"amount > 6"))
        await expect(page.get_by_test_id("insight-table").locator("tbody tr")).to_have_count(8)
        assert await eventually(lambda: ui_rows(page), lambda rows: rows == want) == want

        # A series the API refuses shows its reason in place of the chart, and recovers once fixed.
        await page.get_by_label("Property of series B").fill("$browser")
        await page.get_by_label("Property of series B").press("Enter")
        await expect(page.locator('[data-chart="trend"]').get_by_role("alert")).to_contain_text("text property")
        await page.get_by_label("Property of series B").fill("amount")
        await page.get_by_label("Property of series B").press("Enter")
        assert await eventually(lambda: ui_rows(page), lambda rows: rows == want) == want

        # Compared with the previous period (two days earlier, empty): every line gets its previous one.
        compare = page.get_by_label("Compare with previous period")
        await compare.click()  # the URL holds the state: the box is checked once the page re-renders
        await expect(compare).to_be_checked()
        want = api_rows(await answer(compare=True))
        assert len(want) == 2 * 2 * 4 * 48
        assert await eventually(lambda: ui_rows(page), lambda rows: rows == want) == want

        # Bars, then the lines in the dark theme.
        await page.get_by_role("group", name="Chart type").get_by_role("button", name="Bar").click()
        await expect(page.locator('[data-chart="trend"] canvas')).to_be_visible()
        assert await ui_rows(page) == want
        await page.get_by_role("group", name="Chart type").get_by_role("button", name="Line").click()
        await page.get_by_role("radio", name="Dark theme").click()
        await expect(page.locator('[data-chart="trend"] canvas')).to_be_visible()
        await page.wait_for_timeout(600)
        await shoot(page, screenshots, "insights-dark")
