"""The retention screen in a real browser: cohorts of events sent with the SDK over several days show
the numbers the `retention` query answers for the same arguments, and a new return event fills a
cell without a reload."""

import asyncio
import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import Page, expect

from tests.polling import eventually
from tests.webui.conftest import System
from tests.webui.journey import PASSWORD, gql, new_email, set_up_tenant, shoot
from trackmint_sdk import Client

TIMEZONE = "Asia/Kolkata"
"""Half an hour off UTC's days: a day bucketed in UTC would move events to the wrong cohort."""

RETENTION = """query($p: ID!, $from: DateTime!, $to: DateTime!) {
  retention(projectId: $p, startEvent: "Signed Up", returnEvent: "Opened App", period: DAY, periods: 7,
            dateRange: {from: $from, to: $to}, mode: RECURRING) {
    cohortStart size values { period count fraction }
  }
}"""


async def set_up(http: httpx.AsyncClient, email: str) -> tuple[str, str, str]:
    """A new organization with a project in TIMEZONE and a write key."""
    return await set_up_tenant(http, email, "Cohorts Ltd", "Habits", TIMEZONE)


def send(system: System, key: str, calls: list[tuple[str, str, datetime]]) -> None:
    client = Client(key, system.ingest_endpoint)
    try:
        for event, user, timestamp in calls:
            client.track(event, user_id=user, timestamp=timestamp, properties={"source": "test"})
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


async def test_retention_grid_matches_the_api_and_fills_live(page: Page, system: System, screenshots: Path) -> None:
    zone = ZoneInfo(TIMEZONE)
    now = datetime.now(UTC)
    today = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)

    def day(offset: int, hour: int = 10) -> datetime:
        return (today + timedelta(days=offset)).replace(hour=hour).astimezone(UTC)

    just_now = now - timedelta(seconds=30)
    calls = [
        ("Signed Up", "u1", day(-5)), ("Opened App", "u1", day(-4)), ("Opened App", "u1", day(-3)),
        ("Opened App", "u1", day(-1)),
        ("Signed Up", "u2", day(-5, 11)), ("Opened App", "u2", day(-3, 9)),
        ("Signed Up", "u3", day(-4, 8)), ("Opened App", "u3", day(-4, 20)), ("Opened App", "u3", day(-2)),
        ("Signed Up", "u4", day(-2, 7)),
        ("Signed Up", "u5", day(-1, 12)), ("Opened App", "u5", just_now),
    ]
    email = new_email()
    # The 7-day preset: local midnight six days ago up to local midnight tomorrow.
    date_from = (today - timedelta(days=6)).isoformat()
    date_to = (today + timedelta(days=1)).isoformat()
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as http:
        token, project_id, key = await set_up(http, email)
        await asyncio.to_thread(send, system, key, calls)

        async def answer() -> list[dict]:
            return (await gql(http, RETENTION, token, p=project_id, **{"from": date_from, "to": date_to}))["retention"]

        cohorts = await eventually(answer, lambda result: sum(c["size"] for c in result) == 5)
        # The API's own answer is what we expect from the events (checked independently here).
        by_day = {datetime.fromisoformat(c["cohortStart"]).astimezone(zone).date(): c for c in cohorts}
        first = by_day[(today - timedelta(days=5)).date()]
        assert first["size"] == 2
        assert [v["count"] for v in first["values"]] == [0, 1, 2, 0, 1, 0]

        await log_in(page, system.url, email, "/retention")
        await page.evaluate("window.__sameDocument = true")
        settings = page.get_by_role("form", name="Retention settings")
        await settings.get_by_label("Start event").fill("Signed Up")
        await settings.get_by_label("Return event").fill("Opened App")
        await settings.get_by_role("button", name="Apply").click()
        await settings.get_by_label("Periods").fill("7")
        await expect(page).to_have_url(re.compile(r"start=Signed\+Up&return=Opened\+App&periods=7"))

        grid = page.get_by_test_id("retention-grid")
        assert await grid.get_attribute("data-from") == datetime.fromisoformat(date_from).astimezone(UTC).isoformat(
            timespec="milliseconds").replace("+00:00", "Z")
        await expect(grid.locator("tr[data-cohort]")).to_have_count(len(cohorts))
        for cohort in cohorts:
            row = grid.locator(f'tr[data-cohort="{cohort["cohortStart"]}"]')
            await expect(row).to_have_attribute("data-size", str(cohort["size"]))
            known = {v["period"]: v for v in cohort["values"]}
            for k in range(7):
                cell = row.locator(f'td[data-period="{k}"]')
                if k not in known:
                    await expect(cell).to_have_text("")
                    continue
                await expect(cell).to_have_attribute("data-count", str(known[k]["count"]))
                if cohort["size"] == 0:  # nobody to come back: a dash, not 0%
                    await expect(cell).to_have_text("\u2013")
                else:
                    await expect(cell.locator(".retention-percent")).to_have_text(f"{known[k]['fraction'] * 100:.1f}%")
        # The first cohort's row, as a person reads it.
        first_row = grid.locator(f'tr[data-cohort="{first["cohortStart"]}"]')
        await expect(first_row.get_by_test_id("cohort-size")).to_have_text("2")
        await expect(first_row.locator('td[data-period="2"] .retention-percent')).to_have_text("100.0%")
        await expect(first_row.locator('td[data-period="6"]')).to_have_text("")
        # The average curve plots, per k, retained persons over the persons of the cohorts that reached k.
        curve = page.locator('[data-chart="average-retention"]')
        await expect(curve.locator("canvas")).to_be_visible()
        day0 = await page.evaluate(
            """() => [...document.querySelectorAll(
                '[data-chart="average-retention"] [data-testid=chart-data] tbody tr')]
                .map((row) => [...row.cells].map((cell) => cell.textContent))[0]""")
        total = sum(c["size"] for c in cohorts)
        retained0 = sum(v["count"] for c in cohorts for v in c["values"] if v["period"] == 0)
        assert day0[2:] == [str(retained0), str(total)]
        await shoot(page, screenshots, "retention")

        # A return event today for u2: the first cohort's day-5 cell fills without a reload.
        await expect(first_row.locator('td[data-period="5"]')).to_have_attribute("data-count", "0")
        await asyncio.to_thread(send, system, key, [("Opened App", "u2", just_now + timedelta(seconds=1))])
        await expect(first_row.locator('td[data-period="5"]')).to_have_attribute("data-count", "1", timeout=20_000)
        await expect(first_row.locator('td[data-period="5"] .retention-percent')).to_have_text("50.0%")
        await expect(curve.locator(".badge-live")).to_be_visible()
        updated = {c["cohortStart"]: c for c in await answer()}
        assert [v["count"] for v in updated[first["cohortStart"]]["values"]] == [0, 1, 2, 0, 1, 1]

        # Exports: the curve's CSV is the server's retention export of the same query (times in the project's
        # timezone), the picture a PNG.
        async with page.expect_download() as csv_download:
            await curve.get_by_role("button", name="CSV").click()
        saved = await csv_download.value
        assert re.fullmatch(r"retention-\d{8}-\d{6}\.csv", saved.suggested_filename)
        content = await asyncio.to_thread(Path(await saved.path()).read_bytes)
        exported = list(csv.DictReader(io.StringIO(content.decode(), newline="")))
        assert all(datetime.fromisoformat(row["cohortStart"]).utcoffset() == timedelta(hours=5, minutes=30)
                   for row in exported)
        first_start = datetime.fromisoformat(first["cohortStart"])
        assert [int(row["count"]) for row in exported
                if datetime.fromisoformat(row["cohortStart"]) == first_start] == [0, 1, 2, 0, 1, 1]
        async with page.expect_download() as png_download:
            await curve.get_by_role("button", name="PNG").click()
        assert (await png_download.value).suggested_filename == "average-retention.png"

        await page.get_by_role("radio", name="Dark theme").click()
        await expect(curve.locator("canvas")).to_be_visible()
        await shoot(page, screenshots, "retention-dark")
        assert await page.evaluate("window.__sameDocument === true"), "the page reloaded"
