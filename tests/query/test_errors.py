"""Every expected failure reaches the client as a GraphQL error with a machine-readable code."""

import base64
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from storage.projects import CreatedProject
from tests.query.graphql_client import EVENTS, TRENDS, error_codes, execute
from tests.query.tenant import Caller

DAY = {"from": "2024-05-01T00:00:00Z", "to": "2024-05-02T00:00:00Z"}


async def trends(client: httpx.AsyncClient, project_id: str, **overrides: Any) -> dict[str, Any]:
    variables = {"projectId": project_id, "series": [{"math": "TOTAL"}], "interval": "HOUR", "dateRange": DAY}
    variables.update(overrides)
    return await execute(client, TRENDS, **variables)


async def test_malformed_project_id_is_bad_user_input(client: httpx.AsyncClient) -> None:
    assert error_codes(await trends(client, "not-a-uuid")) == ["BAD_USER_INPUT"]
    assert error_codes(await execute(client, EVENTS, projectId="42")) == ["BAD_USER_INPUT"]


async def test_unknown_project_is_not_found(client: httpx.AsyncClient) -> None:
    missing = str(uuid.uuid4())

    assert error_codes(await trends(client, missing)) == ["NOT_FOUND"]
    assert error_codes(await execute(client, EVENTS, projectId=missing)) == ["NOT_FOUND"]


@pytest.mark.parametrize(
    "date_range",
    [
        pytest.param({"from": "2024-05-02T00:00:00Z", "to": "2024-05-01T00:00:00Z"}, id="to-before-from"),
        pytest.param({"from": "2024-05-01T00:00:00Z", "to": "2024-05-01T00:00:00Z"}, id="empty-range"),
        pytest.param({"from": "2024-05-01T00:00:00", "to": "2024-05-02T00:00:00Z"}, id="from-without-offset"),
    ],
)
async def test_bad_date_range_is_bad_user_input(
    client: httpx.AsyncClient, project: CreatedProject, date_range: dict[str, str]
) -> None:
    body = await trends(client, str(project.project_id), dateRange=date_range)

    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_more_than_5000_buckets_is_bad_user_input(client: httpx.AsyncClient, project: CreatedProject) -> None:
    # 5,000 minutes fit; one more does not.
    fits = {"from": "2024-05-01T00:00:00Z", "to": "2024-05-04T11:20:00Z"}
    too_many = {"from": "2024-05-01T00:00:00Z", "to": "2024-05-04T11:20:00.000001Z"}

    ok = await trends(client, str(project.project_id), interval="MINUTE", dateRange=fits)
    refused = await trends(client, str(project.project_id), interval="MINUTE", dateRange=too_many)

    assert len(ok["data"]["trends"][0]["points"]) == 5000
    assert error_codes(refused) == ["BAD_USER_INPUT"]


async def test_property_with_total_is_bad_user_input(client: httpx.AsyncClient, project: CreatedProject) -> None:
    body = await trends(client, str(project.project_id), series=[{"math": "TOTAL", "property": "amount"}])

    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_more_than_20_series_is_bad_user_input(client: httpx.AsyncClient, project: CreatedProject) -> None:
    body = await trends(client, str(project.project_id), series=[{"math": "TOTAL"}] * 21)

    assert error_codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("first", [0, -1, 501])
async def test_page_size_out_of_range_is_bad_user_input(
    client: httpx.AsyncClient, project: CreatedProject, first: int
) -> None:
    body = await execute(client, EVENTS, projectId=str(project.project_id), first=first)

    assert error_codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "cursor",
    [
        "%%%",
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(b'["2024-05-01T00:00:00", "naive"]').decode(),
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),
        base64.urlsafe_b64encode(b'["2024-05-01T00:00:00+00:00", 5]').decode(),
    ],
)
async def test_malformed_cursor_is_bad_user_input(
    client: httpx.AsyncClient, project: CreatedProject, cursor: str
) -> None:
    body = await execute(client, EVENTS, projectId=str(project.project_id), after=cursor)

    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_queries_deeper_than_the_limit_are_refused(client: httpx.AsyncClient) -> None:
    deep = '{ events(projectId: "x") { edges { node { ' + "a { " * 9 + "b" + " }" * 9 + " } } } }"

    body = await execute(client, deep)

    assert any("exceeds maximum operation depth" in error["message"] for error in body["errors"])


async def test_unexpected_failures_are_masked(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller, caplog: pytest.LogCaptureFixture
) -> None:
    # A project whose timezone PostgreSQL does not know makes the SQL itself fail.
    project_id = await db.fetchval(
        "INSERT INTO projects (name, timezone, organization_id) VALUES ('broken', 'Nowhere/Nope', $1) RETURNING id",
        caller.organization_id,
    )

    body = await trends(client, str(project_id))

    assert body["errors"][0]["message"] == "Unexpected error."
    assert "Nowhere/Nope" not in str(body)
    assert any(record.name == "query.schema" and record.levelname == "ERROR" for record in caplog.records)
    assert "extensions" not in body["errors"][0] or "code" not in body["errors"][0]["extensions"]


@pytest.mark.parametrize(
    ("document", "variables", "code"),
    [
        ("{ trends(", {}, "GRAPHQL_PARSE_FAILED"),
        ("{ noSuchField }", {}, "GRAPHQL_VALIDATION_FAILED"),
        # An operator that does not exist, sent as a variable: the value itself is wrong.
        (
            "query($f: [PropertyFilterInput!]) { activeUsers(projectId: \"x\","
            " dateRange: {from: \"2026-01-01T00:00:00Z\", to: \"2026-01-02T00:00:00Z\"}, filters: $f) { day } }",
            {"f": [{"key": "plan", "operator": "LIKE", "value": ["pro"]}]},
            "BAD_USER_INPUT",
        ),
    ],
)
async def test_errors_in_the_document_itself_carry_a_code(
    client: httpx.AsyncClient, document: str, variables: dict, code: str
) -> None:
    body = await execute(client, document, **variables)

    assert error_codes(body) == [code]
