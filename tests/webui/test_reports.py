"""The Reports screen in a real browser: a PDF of the overview downloads with the numbers GraphQL answers, and
a schedule made on the screen shows what its send did."""

import asyncio
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from playwright.async_api import Page, expect

from query.reports.content import format_number
from tests.query.event_data import GeneratedEvent, insert_events
from tests.webui.conftest import System
from tests.webui.journey import PASSWORD, gql, new_email, set_up_tenant, shoot

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils (make installs it)")

TIMEZONE = "Europe/Lisbon"
TOTAL = """query($p: ID!, $r: DateRangeInput!) {
  trends(projectId: $p, series: [{math: TOTAL}], interval: DAY, dateRange: $r) { points { value } } }"""


async def test_a_report_downloads_as_pdf_and_a_schedule_shows_its_last_send(
    page: Page, system: System, db: asyncpg.Connection, screenshots: Path, tmp_path: Path
) -> None:
    email = new_email()
    now = datetime.now(UTC)
    async with httpx.AsyncClient(base_url=system.url, timeout=60) as http:
        token, project_id, _ = await set_up_tenant(http, email, "Report Co", "Shop", TIMEZONE)
        events = [GeneratedEvent(event_time=now - timedelta(hours=3 * index + 1), message_id=f"r{index}",
                                 event="$pageview" if index % 3 else "Signed Up", distinct_id=f"user-{index % 5}",
                                 page_path=("/", "/pricing")[index % 2], browser="Firefox", country="PT")
                  for index in range(40)]
        await insert_events(db, UUID(project_id), events)
        channel = await gql(http, """mutation($p: ID!) { createAlertChannel(kind: EMAIL, name: "Team inbox",
            projectId: $p, emails: ["team@example.com"]) { channel { id } } }""", token, p=project_id)
        assert channel["createAlertChannel"]["channel"]["id"]

        await page.goto(system.url + "/reports")
        await page.get_by_label("Email").fill(email)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await expect(page.get_by_role("heading", name="Reports")).to_be_visible()

        # The overview of the last 7 days, as a PDF.
        builder = page.get_by_role("form", name="Build a report")
        await builder.get_by_label("Title").fill("Shop weekly")
        await builder.get_by_label("Date range").select_option("7d")
        async with page.expect_download() as download:
            await builder.get_by_role("button", name="Download PDF").click()
        saved = await (await download.value).path()
        assert (await download.value).suggested_filename.startswith("shop-weekly-")
        pdf = await asyncio.to_thread(Path(saved).read_bytes)
        assert pdf.startswith(b"%PDF-")
        text = (await asyncio.to_thread(subprocess.run, ["pdftotext", "-layout", saved, "-"], capture_output=True,
                                        text=True, check=True)).stdout
        assert "Shop weekly" in text and f"({TIMEZONE})" in text
        # The range the screen asked for is the "Last 7 days" preset: local midnights in Lisbon.
        dates = re.search(r"(\d{4}-\d\d-\d\d) 00:00 \S (\d{4}-\d\d-\d\d) 00:00", text)
        assert dates, text
        start = datetime.fromisoformat(dates.group(1)).replace(tzinfo=None)
        end = datetime.fromisoformat(dates.group(2)).replace(tzinfo=None)
        assert (end - start).days == 7
        total = await gql(http, TOTAL, token, p=project_id, r={
            "from": f"{dates.group(1)}T00:00:00{_offset(start)}", "to": f"{dates.group(2)}T00:00:00{_offset(end)}"})
        events_total = sum(point["value"] for point in total["trends"][0]["points"])
        assert events_total == 40
        assert format_number(events_total) in text

        # A weekly schedule of this report, to the admin, through the email channel.
        schedule = page.get_by_role("form", name="Schedule this report")
        await schedule.get_by_label("Schedule name").fill("Monday numbers")
        await schedule.get_by_label("Weekday").select_option("Monday")
        await schedule.get_by_label("Hour").select_option("08:00")
        await schedule.get_by_role("checkbox").first.check()
        await schedule.get_by_role("button", name="Schedule").click()
        row = page.get_by_role("table", name="Scheduled reports").locator("tr", has_text="Monday numbers")
        await expect(row).to_contain_text("Mondays at 08:00")
        await expect(row.get_by_test_id("report-status")).to_contain_text("never sent")
        # This system has no SMTP server: sending now fails, and the screen says why.
        await row.get_by_role("button", name="Send now").click()
        await expect(row.get_by_test_id("report-status")).to_contain_text("failed")
        await expect(row.get_by_test_id("report-status")).to_contain_text("no SMTP server is configured")
        await shoot(page, screenshots, "reports")
    # Alerting leaders of other tests serve every project: leave no schedule behind.
    await db.execute("DELETE FROM report_schedules WHERE project_id = $1", UUID(project_id))


def _offset(day: datetime) -> str:
    """Lisbon's UTC offset at local midnight of `day` (+00:00 in winter, +01:00 in summer)."""
    offset = day.replace(tzinfo=ZoneInfo(TIMEZONE)).utcoffset() or timedelta(0)
    hours = int(offset.total_seconds() // 3600)
    return f"+{hours:02d}:00"
