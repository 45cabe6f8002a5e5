"""`POST /export/report.pdf` refuses what it cannot build with a clear JSON error, and answers every role
that may read analytics."""

from typing import Any

import asyncpg
import httpx
import pytest

from config import Settings
from query.reports.spec import MAX_ITEMS
from tests.query.tenant import Caller, add_member, create_organization, create_owned_project
from tests.reports.data import Dataset

RANGE = {"from": "2026-10-22T00:00:00+02:00", "to": "2026-10-29T00:00:00+01:00"}
SESSIONS = {"type": "SESSIONS"}


def body(dataset: Dataset, **changes: Any) -> dict[str, Any]:
    return {"projectId": dataset.project_id, "dateRange": RANGE} | changes


@pytest.mark.parametrize("changes, fragment", [
    ({"dateRange": {"from": RANGE["to"], "to": RANGE["from"]}}, "dateRange.to must be after dateRange.from"),
    ({"dateRange": {"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}}, "at most 732 days"),
    ({"dateRange": {"from": "2026-10-22T00:00:00", "to": RANGE["to"]}}, "must carry a UTC offset"),
    ({"dateRange": {"from": "yesterday", "to": RANGE["to"]}}, "is not an ISO 8601 time"),
    ({"dateRange": None}, "dateRange is required"),
    ({"projectId": None}, "projectId is required"),
    ({"projectId": "not-a-uuid"}, "is not a UUID"),
    ({"kind": "INSIGHTS", "items": [SESSIONS] * (MAX_ITEMS + 1)}, f"1 to {MAX_ITEMS} items"),
    ({"kind": "INSIGHTS"}, f"1 to {MAX_ITEMS} items"),
    ({"kind": "OVERVIEW", "items": [SESSIONS]}, "an OVERVIEW report has fixed contents"),
    ({"kind": "DASHBOARD"}, "kind must be one of OVERVIEW, INSIGHTS"),
    ({"kind": "INSIGHTS", "items": [{"type": "PIE"}]}, "items[1].type must be TRENDS, FUNNEL, RETENTION or SESSIONS"),
    ({"kind": "INSIGHTS", "items": [{"type": "TRENDS", "series": []}]}, "items[1].series must be a list of 1 to 5"),
    ({"kind": "INSIGHTS", "items": [{"type": "TRENDS", "series": [{"math": "MEDIAN"}]}]},
     "items[1].series[1].math must be one of"),
    ({"kind": "INSIGHTS", "items": [{"type": "TRENDS", "interval": "MINUTE", "series": [{"math": "TOTAL"}]}]},
     "a chart holds at most 400"),
    ({"kind": "INSIGHTS", "items": [{"type": "FUNNEL", "steps": [{"event": "signup"}]}]},
     "items[1].steps must be a list of 2 to 10"),
    ({"kind": "INSIGHTS", "items": [{"type": "RETENTION", "startEvent": "a", "returnEvent": "b", "periods": 40}]},
     "items[1].periods must be an integer from 1 to 12"),
    ({"kind": "INSIGHTS", "items": [{"type": "SESSIONS", "colour": "red"}]}, "unknown fields in items[1]: colour"),
    ({"title": "x" * 201}, "title must be text of 1 to 200 characters"),
    ({"kind": "INSIGHTS", "items": [{"type": "TRENDS", "series": [{"math": "TOTAL"}] * 2,
                                     "breakdown": {"key": "$browser"}, "breakdownLimit": 5}]}, "would draw 12 lines"),
    # The analytics functions' own checks come through unchanged.
    ({"kind": "INSIGHTS", "items": [{"type": "TRENDS", "series": [{"math": "SUM"}]}]}, "property"),
])
async def test_bad_reports_are_refused_with_the_reason(
    client: httpx.AsyncClient, dataset: Dataset, changes: dict[str, Any], fragment: str
) -> None:
    response = await client.post("/export/report.pdf", json=body(dataset, **changes))
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "BAD_USER_INPUT"
    assert fragment in response.json()["message"]


async def test_a_body_that_is_not_a_json_object_is_refused(client: httpx.AsyncClient) -> None:
    for content in (b"[1, 2]", b"{nope", b"x" * (65 * 1024)):
        response = await client.post("/export/report.pdf", content=content,
                                     headers={"content-type": "application/json"})
        assert response.status_code == 400 and response.json()["code"] == "BAD_USER_INPUT", response.text


async def test_callers_without_a_valid_token_are_refused(client: httpx.AsyncClient, dataset: Dataset) -> None:
    async with httpx.AsyncClient(base_url=client.base_url) as anonymous:
        response = await anonymous.post("/export/report.pdf", json=body(dataset))
        assert (response.status_code, response.json()["code"]) == (401, "UNAUTHENTICATED")
        response = await anonymous.post("/export/report.pdf", json=body(dataset),
                                        headers={"authorization": "Bearer nonsense"})
        assert (response.status_code, response.json()["code"]) == (401, "UNAUTHENTICATED")


async def test_projects_of_other_organizations_are_not_found(
    client: httpx.AsyncClient, db: asyncpg.Connection, dataset: Dataset, query_settings: Settings
) -> None:
    other = await create_organization(db, query_settings, "Other reports")
    theirs = await create_owned_project(db, other.organization_id, "theirs")
    for project_id in (str(theirs.project_id), "00000000-0000-0000-0000-000000000000"):
        response = await client.post("/export/report.pdf", json=body(dataset, projectId=project_id))
        assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND")
        assert response.json()["message"] == f"no project {project_id}"


async def test_a_viewer_may_build_a_report(
    client: httpx.AsyncClient, db: asyncpg.Connection, dataset: Dataset, caller: Caller, query_settings: Settings
) -> None:
    viewer = await add_member(db, query_settings, caller.organization_id, "VIEWER")
    async with httpx.AsyncClient(base_url=client.base_url, headers=viewer.headers, timeout=60) as http:
        response = await http.post("/export/report.pdf", json=body(dataset, title="Für alle / 2026"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert 'filename="f-r-alle-2026-' in response.headers["content-disposition"]
