"""A chart's CSV button in a real browser downloads the server's export of the chart's own query: the
page posts the variables its GraphQL query used to `POST /export/<name>.csv` with the access token, and
the file it saves is byte for byte what that export answers, under the server's file name, with times
in the project's timezone. A refused export shows on the card."""

import asyncio
import csv
import io
import json
import re
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import Locator, Page, Request, expect

from tests.webui.conftest import System
from tests.webui.journey import CHROME_USER_AGENT, PASSWORD, new_email, set_up_tenant, shoot
from trackmint_sdk import Client

TIMEZONE = "Asia/Kolkata"
"""Half an hour off UTC: a bucket or offset computed in UTC (or the browser's zone) shows."""

PAGES = {"ada": ["/pricing", "/docs"], "grace": ["/pricing"], "linus": ["/pricing", "/docs", "/blog"]}
SIGNED_UP = ["ada", "grace", "linus"]
PLAN_CHOSEN = ["ada", "linus"]
TOTAL_EVENTS = sum(map(len, PAGES.values())) + len(SIGNED_UP) + len(PLAN_CHOSEN)


def send(system: System, key: str) -> None:
    client = Client(key, system.ingest_endpoint)
    try:
        for user, paths in PAGES.items():
            for path in paths:
                client.page(path, user_id=user, url=f"https://example.com{path}",
                            context={"userAgent": CHROME_USER_AGENT})
        for user in SIGNED_UP:
            client.track("Signed Up", user_id=user, properties={"plan": "free"})
        for user in PLAN_CHOSEN:
            client.track("Plan Chosen", user_id=user, properties={"plan": "pro"})
        assert client.flush(30)
    finally:
        client.close()
    assert client.stats.acked == TOTAL_EVENTS


def record_graphql(page: Page) -> dict[str, dict]:
    """The variables of the latest GraphQL request of each operation the page sends (GET or POST)."""
    seen: dict[str, dict] = {}

    def on_request(request: Request) -> None:
        url = urlparse(request.url)
        if url.path != "/graphql":
            return
        if request.method == "GET":
            query = parse_qs(url.query)
            name = query.get("operationName", [None])[0]
            variables = json.loads(query.get("variables", ["{}"])[0])
        else:
            body = request.post_data_json or {}
            name, variables = body.get("operationName"), body.get("variables") or {}
        if name:
            seen[name] = variables

    page.on("request", on_request)
    return seen


async def download_csv(page: Page, card: Locator, name: str) -> tuple[bytes, dict, str]:
    """Click the card's CSV button: (the saved file, the variables posted to the export, the file's name)."""
    is_export = f"/export/{name}.csv"
    async with (page.expect_request(lambda r: urlparse(r.url).path == is_export) as posted,
                page.expect_download() as download):
        await card.get_by_role("button", name="CSV").click()
    request = await posted.value
    assert request.method == "POST"
    assert re.fullmatch(r"Bearer \S+", request.headers["authorization"])
    saved = await download.value
    content = await asyncio.to_thread(Path(await saved.path()).read_bytes)
    return content, request.post_data_json, saved.suggested_filename


async def server_export(http: httpx.AsyncClient, token: str, name: str, variables: dict) -> bytes:
    response = await http.post(f"/export/{name}.csv", json=variables, headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return response.content


def rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode(), newline="")))


def header(content: bytes) -> str:
    return content.decode().split("\r\n", 1)[0]


def in_project_zone(value: str) -> datetime:
    """A CSV time, which must carry the project's offset at that instant."""
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == parsed.astimezone(ZoneInfo(TIMEZONE)).utcoffset(), value
    return parsed


async def test_chart_csv_buttons_download_the_server_export_of_the_chart_query(
    page: Page, system: System, screenshots: Path
) -> None:
    email = new_email()
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as http:
        token, project_id, key = await set_up_tenant(http, email, "Export Co", "Site", TIMEZONE)
        await asyncio.to_thread(send, system, key)
        graphql = record_graphql(page)

        await page.goto(system.url + "/overview")
        await page.get_by_label("Email").fill(email)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await expect(page.get_by_test_id("kpi-events-value")).to_have_text(str(TOTAL_EVENTS), timeout=20_000)
        top_pages = page.locator('[data-toplist="top-pages"]')
        await expect(top_pages.locator("tbody tr")).to_have_count(3)

        # Overview, top pages: the topValues export of the list's own arguments.
        content, posted, filename = await download_csv(page, top_pages, "topValues")
        assert posted == {**graphql["OverviewTopValues"], "dimension": "PAGE"}
        assert posted["projectId"] == project_id and posted["limit"] == 8
        assert re.fullmatch(r"topValues-\d{8}-\d{6}\.csv", filename)
        assert content == await server_export(http, token, "topValues", posted)
        assert header(content) == "section,value,events,persons"
        listed = [(row["value"], int(row["events"]), int(row["persons"])) for row in rows(content)
                  if row["section"] == "value"]
        assert listed == [("/pricing", 3, 3), ("/docs", 2, 2), ("/blog", 1, 1)]

        # Overview, events over time: the trends export, times in the project's timezone.
        content, posted, filename = await download_csv(page, page.locator('[data-chart="events-over-time"]'), "trends")
        assert posted == graphql["OverviewTrends"]
        assert re.fullmatch(r"trends-\d{8}-\d{6}\.csv", filename)
        assert content == await server_export(http, token, "trends", posted)
        assert header(content) == "series,label,breakdownValue,isOther,compare,bucket,value"
        assert sum(float(row["value"]) for row in rows(content)) == TOTAL_EVENTS
        for row in rows(content):
            in_project_zone(row["bucket"])

        # Insights (trends by day, broken down by plan): day buckets start at midnight in Kolkata.
        await page.goto(system.url + "/insights?breakdown=plan")
        trend = page.locator('[data-chart="trend"]')
        await expect(trend.locator("canvas")).to_be_visible()
        content, posted, filename = await download_csv(page, trend, "trends")
        assert posted == graphql["InsightTrends"]
        assert posted["interval"] == "DAY" and posted["breakdown"] == {"key": "plan", "type": "EVENT"}
        assert re.fullmatch(r"trends-\d{8}-\d{6}\.csv", filename)
        assert content == await server_export(http, token, "trends", posted)
        exported = rows(content)
        by_plan = {plan: sum(float(row["value"]) for row in exported if row["breakdownValue"] == plan)
                   for plan in ("free", "pro")}
        assert by_plan == {"free": len(SIGNED_UP), "pro": len(PLAN_CHOSEN)}
        for row in exported:
            assert in_project_zone(row["bucket"]).time().isoformat() == "00:00:00"
        await shoot(page, screenshots, "40-insights-export")
        # Drawn as numbers (no ECharts), the card downloads the same export.
        await page.get_by_role("group", name="Chart type").get_by_role("button", name="Number").click()
        await expect(page.get_by_test_id("insight-number").first).to_be_visible()
        again, posted_again, _ = await download_csv(page, page.locator('[data-chart="trend"]'), "trends")
        assert posted_again == posted and again == content

        # Sessions: the chart and the three tables all download the sessionsSummary export they are drawn from.
        await page.goto(system.url + "/sessions")
        await expect(page.get_by_test_id("kpi-sessions-value")).to_have_text(str(len(PAGES)))
        breakdown = page.get_by_test_id("sessions-breakdown")
        await expect(breakdown.locator("tr[data-value]")).to_have_count(1)
        content, posted, filename = await download_csv(page, breakdown, "sessions")
        assert posted == graphql["SessionsDetails"]
        assert (posted["breakdown"], posted["breakdownLimit"], posted["pagesLimit"]) == ("BROWSER", 10, 10)
        assert re.fullmatch(r"sessions-\d{8}-\d{6}\.csv", filename)
        assert content == await server_export(http, token, "sessions", posted)
        assert header(content) == ("section,value,isOther,sessions,persons,avgDurationSeconds,medianDurationSeconds,"
                                   "bounceRate,pageviewsPerSession,eventsPerSession")
        exported = rows(content)
        assert [(row["section"], row["sessions"]) for row in exported[:2]] == [("totals", "3"), ("breakdown", "3")]
        assert exported[1]["value"] == "Chrome"
        series = [row for row in exported if row["section"] == "series"]
        assert sum(int(row["sessions"]) for row in series) == len(PAGES)
        for row in series:
            assert in_project_zone(row["value"]).time().isoformat() == "00:00:00"
        chart_content, chart_posted, _ = await download_csv(
            page, page.locator('[data-chart="sessions-over-time"]'), "sessions")
        assert (chart_posted, chart_content) == (posted, content)

        # Funnels: Signed Up -> Plan Chosen, 3 then 2.
        await page.goto(system.url + "/funnels")
        await page.get_by_label("Event of step 1").select_option("Signed Up")
        await page.get_by_label("Event of step 2").select_option("Plan Chosen")
        await expect(page.get_by_test_id("step-persons")).to_have_text(["3", "2"])
        funnel = page.locator('[data-chart="funnel"]')
        content, posted, filename = await download_csv(page, funnel, "funnel")
        assert posted == graphql["FunnelResult"]
        assert posted["steps"] == [{"event": "Signed Up", "filters": []}, {"event": "Plan Chosen", "filters": []}]
        assert re.fullmatch(r"funnel-\d{8}-\d{6}\.csv", filename)
        assert content == await server_export(http, token, "funnel", posted)
        assert header(content) == ("group,breakdownValue,isOther,step,event,persons,conversionFromStart,"
                                   "conversionFromPrevious,medianSecondsFromPrevious,averageSecondsFromPrevious")
        assert [(row["group"], row["step"], row["event"], row["persons"]) for row in rows(content)] == [
            ("all", "1", "Signed Up", "3"), ("all", "2", "Plan Chosen", "2")]

        # A refused export (the server is busy) shows on the card, and nothing is saved.
        refusal = {"code": "RATE_LIMITED", "message": "2 exports are already running on this server; retry shortly"}
        await page.route("**/export/funnel.csv", lambda route: route.fulfill(
            status=429, json=refusal, headers={"Retry-After": "5"}))
        downloads: list[object] = []
        page.on("download", lambda download: downloads.append(download))
        await funnel.get_by_role("button", name="CSV").click()
        await expect(funnel.get_by_test_id("csv-error")).to_contain_text(refusal["message"])
        await expect(funnel.get_by_role("button", name="CSV")).to_be_enabled()
        assert downloads == []
        await shoot(page, screenshots, "41-funnel-export-refused")
        await page.unroute("**/export/funnel.csv")
        async with page.expect_download():
            await funnel.get_by_role("button", name="CSV").click()
        await expect(funnel.get_by_test_id("csv-error")).to_have_count(0)
