"""`POST /export/report.pdf`: the PDF shows the same numbers as GraphQL, and draws every chart.

Numbers are read back with `pdftotext`; charts are checked on the pages rendered by `pdftoppm -png -r 60`:
each chart with data paints a band of its series colour, an empty range paints none.
"""

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from query.reports.charts import PALETTE
from query.reports.content import DASH, format_number, format_percent, format_seconds
from tests.query.graphql_client import execute
from tests.reports.data import Dataset, colour_bands, pdf_pages, pdf_text, text_lines

pytestmark = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs poppler-utils (make installs it)")

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "reports"

OVERVIEW_QUERY = """
query($p: ID!, $r: DateRangeInput!) {
  trends(projectId: $p, series: [{math: TOTAL}], interval: DAY, dateRange: $r) { points { bucket value } }
  sessionsSummary(projectId: $p, dateRange: $r) { totals { sessions persons bounceRate medianDurationSeconds } }
  pages: topValues(projectId: $p, dateRange: $r, dimension: PAGE, limit: 8) { values { value events persons } }
  referrers: topValues(projectId: $p, dateRange: $r, dimension: REFERRER_DOMAIN, limit: 8) {
    values { value events persons } }
  countries: topValues(projectId: $p, dateRange: $r, dimension: COUNTRY, limit: 8) { values { value events persons } }
  browsers: topValues(projectId: $p, dateRange: $r, dimension: BROWSER, limit: 8) { values { value events persons } }
}
"""

INSIGHTS: list[dict[str, Any]] = [
    {"type": "TRENDS", "title": "Signups and purchases", "interval": "DAY",
     "series": [{"event": "signup", "math": "TOTAL"}, {"event": "purchase", "math": "UNIQUE_PERSONS"}]},
    {"type": "FUNNEL", "steps": [{"event": "$pageview"}, {"event": "signup"}, {"event": "purchase"}]},
    {"type": "RETENTION", "startEvent": "signup", "returnEvent": "$pageview", "period": "DAY", "periods": 4},
    {"type": "SESSIONS", "breakdown": "BROWSER"},
]

INSIGHTS_QUERY = """
query($p: ID!, $r: DateRangeInput!) {
  trends(projectId: $p, interval: DAY, dateRange: $r,
         series: [{event: "signup", math: TOTAL}, {event: "purchase", math: UNIQUE_PERSONS}]) {
    label points { bucket value } }
  funnel(projectId: $p, dateRange: $r, steps: [{event: "$pageview"}, {event: "signup"}, {event: "purchase"}]) {
    steps { event persons conversionFromStart conversionFromPrevious medianSecondsFromPrevious } }
  retention(projectId: $p, dateRange: $r, startEvent: "signup", returnEvent: "$pageview", period: DAY, periods: 4) {
    cohortStart size values { period fraction } }
  sessionsSummary(projectId: $p, dateRange: $r, breakdown: BROWSER) {
    totals { sessions persons bounceRate medianDurationSeconds pageviewsPerSession }
    breakdown { value isOther stats { sessions persons bounceRate medianDurationSeconds pageviewsPerSession } } }
}
"""


async def post_report(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/export/report.pdf", json=body)


async def pdf_of(client: httpx.AsyncClient, body: dict[str, Any]) -> bytes:
    response = await post_report(client, body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith('attachment; filename="')
    assert response.content.startswith(b"%PDF-")
    return response.content


def day_label(bucket: str, dataset: Dataset) -> str:
    return datetime.fromisoformat(bucket).astimezone(dataset.zone).strftime("%a %b %d")


async def test_overview_report_shows_the_numbers_graphql_answers(
    client: httpx.AsyncClient, dataset: Dataset, tmp_path: Path
) -> None:
    pdf = await pdf_of(client, {"projectId": dataset.project_id, "dateRange": dataset.date_range(),
                                "kind": "OVERVIEW", "title": "Weekly overview"})
    lines = text_lines(pdf_text(pdf, tmp_path))
    text = "\n".join(lines)
    answer = await execute(client, OVERVIEW_QUERY, p=dataset.project_id, r=dataset.date_range())
    assert "errors" not in answer, answer
    data = answer["data"]

    assert "Weekly overview" in lines
    assert f"2026-10-22 00:00 {DASH} 2026-10-29 00:00 (Europe/Berlin)" in text
    total = sum(point["value"] for point in data["trends"][0]["points"])
    totals = data["sessionsSummary"]["totals"]
    kpis = " ".join([format_number(total), format_number(totals["persons"]), format_number(totals["sessions"]),
                     format_percent(totals["bounceRate"])])
    assert kpis in text, text
    assert f"median {format_seconds(totals['medianDurationSeconds'])}" in text
    points = data["trends"][0]["points"]
    assert len(points) == 7 and total > 0
    for point in points:
        assert f"{day_label(point['bucket'], dataset)} {format_number(point['value'])}" in lines
    for name in ("pages", "referrers", "countries", "browsers"):
        assert data[name]["values"], name
        for row in data[name]["values"]:
            assert f"{row['value']} {format_number(row['events'])} {format_number(row['persons'])}" in lines, row


async def test_overview_report_draws_every_chart(client: httpx.AsyncClient, dataset: Dataset, tmp_path: Path) -> None:
    pdf = await pdf_of(client, {"projectId": dataset.project_id, "dateRange": dataset.date_range()})
    pages = pdf_pages(pdf, tmp_path)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for number, page in enumerate(pages, start=1):
        page.save(ARTIFACTS / f"overview-page-{number}.png")
    # Events over time, then the four top lists: five charts, each a band of the series colour.
    bands = [band for page in pages for band in colour_bands(page, PALETTE[0])]
    assert len(bands) == 5, bands
    assert pages[0].size == (497, 702)  # A4 at 60 dpi


async def test_a_range_without_data_draws_no_series(
    client: httpx.AsyncClient, dataset: Dataset, tmp_path: Path
) -> None:
    empty = {"from": "2020-01-01T00:00:00+01:00", "to": "2020-01-08T00:00:00+01:00"}
    pdf = await pdf_of(client, {"projectId": dataset.project_id, "dateRange": empty})
    pages = pdf_pages(pdf, tmp_path)
    assert [band for page in pages for band in colour_bands(page, PALETTE[0])] == []
    assert "No data in this range." in pdf_text(pdf, tmp_path)


async def test_insights_report_shows_each_insight_as_graphql_answers_it(
    client: httpx.AsyncClient, dataset: Dataset, tmp_path: Path
) -> None:
    pdf = await pdf_of(client, {"projectId": dataset.project_id, "dateRange": dataset.date_range(),
                                "kind": "INSIGHTS", "title": "Growth", "items": INSIGHTS})
    lines = text_lines(pdf_text(pdf, tmp_path))
    answer = await execute(client, INSIGHTS_QUERY, p=dataset.project_id, r=dataset.date_range())
    assert "errors" not in answer, answer
    data = answer["data"]

    signups, buyers = data["trends"]
    assert sum(point["value"] for point in signups["points"]) > 0
    for signup, buyer in zip(signups["points"], buyers["points"], strict=True):
        row = f"{day_label(signup['bucket'], dataset)} {format_number(signup['value'])} {format_number(buyer['value'])}"
        assert row in lines, row
    for number, step in enumerate(data["funnel"]["steps"], start=1):
        row = (f"{number}. {step['event']} {format_number(step['persons'])}"
               f" {format_percent(step['conversionFromStart'])} {format_percent(step['conversionFromPrevious'])}"
               f" {format_seconds(step['medianSecondsFromPrevious'])}")
        assert row in lines, row
    cohorts = data["retention"]
    assert len(cohorts) == 7
    for cohort in cohorts:
        cells = " ".join(format_percent(value["fraction"]) for value in cohort["values"])
        assert f"{day_label(cohort['cohortStart'], dataset)} {format_number(cohort['size'])} {cells}" in lines
    totals = data["sessionsSummary"]["totals"]
    assert (f"All sessions {format_number(totals['sessions'])} {format_number(totals['persons'])}"
            f" {format_seconds(totals['medianDurationSeconds'])} {format_percent(totals['bounceRate'])}"
            f" {format_number(totals['pageviewsPerSession'])}") in lines
    for group in data["sessionsSummary"]["breakdown"]:
        name = "Other" if group["isOther"] else group["value"] or "(none)"
        stats = group["stats"]
        assert (f"{name} {format_number(stats['sessions'])} {format_number(stats['persons'])}"
                f" {format_seconds(stats['medianDurationSeconds'])} {format_percent(stats['bounceRate'])}"
                f" {format_number(stats['pageviewsPerSession'])}") in lines, group

    pages = pdf_pages(pdf, tmp_path)
    for number, page in enumerate(pages, start=1):
        page.save(ARTIFACTS / f"insights-page-{number}.png")
    # Trends (two lines), funnel, retention, sessions by browser: four charts in the first colour, and the
    # second series of the trends chart in the second colour.
    assert len([band for page in pages for band in colour_bands(page, PALETTE[0])]) == 4
    assert len([band for page in pages for band in colour_bands(page, PALETTE[1])]) == 1

