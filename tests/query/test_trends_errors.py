"""Bad trends input (filters, property maths, breakdowns, sizes) is refused with BAD_USER_INPUT."""

from datetime import timedelta
from typing import Any

import httpx
import pytest

from query.analytics import reading
from storage.projects import CreatedProject
from tests.query.graphql_client import error_codes, execute
from tests.query.test_trends_math import TRENDS_FULL

DAY = {"from": "2024-05-01T00:00:00Z", "to": "2024-05-02T00:00:00Z"}


async def trends(client: httpx.AsyncClient, project_id: str, **overrides: Any) -> dict[str, Any]:
    variables = {"projectId": project_id, "series": [{"math": "TOTAL"}], "interval": "HOUR", "dateRange": DAY}
    variables.update(overrides)
    return await execute(client, TRENDS_FULL, **variables)


def condition(operator: str, value: Any = None, key: str = "amount", kind: str = "EVENT") -> dict[str, Any]:
    return {"key": key, "operator": operator, "value": value, "type": kind}


@pytest.mark.parametrize(
    "bad_filter",
    [
        pytest.param(condition("GT", "5"), id="gt-with-a-string"),
        pytest.param(condition("LT", True), id="lt-with-a-boolean"),
        pytest.param(condition("GT", None), id="gt-without-value"),
        pytest.param(condition("CONTAINS", 5), id="contains-with-a-number"),
        pytest.param(condition("CONTAINS", ""), id="contains-empty"),
        pytest.param(condition("IN", "free"), id="in-with-a-scalar"),
        pytest.param(condition("IN", []), id="in-with-an-empty-list"),
        pytest.param(condition("IN", [{"a": 1}]), id="in-with-an-object"),
        pytest.param(condition("IN", ["x"] * 101), id="in-with-101-values"),
        pytest.param(condition("EQ", {"a": 1}), id="eq-with-an-object"),
        pytest.param(condition("EQ", None), id="eq-without-value"),
        pytest.param(condition("IS_SET", "x"), id="is-set-with-a-value"),
        pytest.param(condition("EQ", "x", key=""), id="empty-key"),
        pytest.param(condition("EQ", "x", key="k" * 201), id="key-too-long"),
        pytest.param(condition("GT", 5, key="$browser"), id="gt-on-a-text-column"),
        pytest.param(condition("EQ", 5, key="$country"), id="number-on-a-text-column"),
        pytest.param(condition("GT", "old", key="age", kind="PERSON"), id="person-gt-with-a-string"),
    ],
)
async def test_malformed_filter_is_bad_user_input(
    client: httpx.AsyncClient, project: CreatedProject, bad_filter: dict[str, Any]
) -> None:
    as_global = await trends(client, str(project.project_id), filters=[bad_filter])
    per_series = await trends(client, str(project.project_id), series=[{"math": "TOTAL", "filters": [bad_filter]}])

    assert error_codes(as_global) == ["BAD_USER_INPUT"]
    assert error_codes(per_series) == ["BAD_USER_INPUT"]


async def test_unknown_operator_is_refused_by_the_schema(client: httpx.AsyncClient, project: CreatedProject) -> None:
    body = await trends(client, str(project.project_id), filters=[condition("STARTS_WITH", "a")])

    assert "data" not in body or body["data"] is None
    assert "STARTS_WITH" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    "series",
    [
        pytest.param({"math": "SUM"}, id="sum-without-property"),
        pytest.param({"math": "P90", "event": "purchase"}, id="p90-without-property"),
        pytest.param({"math": "UNIQUE_PERSONS", "property": "amount"}, id="unique-persons-with-property"),
        pytest.param({"math": "AVG", "property": "$browser"}, id="avg-of-a-text-column"),
        pytest.param({"math": "MAX", "property": ""}, id="empty-property"),
    ],
)
async def test_property_math_misuse_is_bad_user_input(
    client: httpx.AsyncClient, project: CreatedProject, series: dict[str, Any]
) -> None:
    body = await trends(client, str(project.project_id), series=[series])

    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_more_than_20_filters_is_bad_user_input(client: httpx.AsyncClient, project: CreatedProject) -> None:
    twenty = [condition("IS_SET")] * 20
    too_many = [condition("IS_SET")] * 21

    ok = await trends(client, str(project.project_id), filters=twenty)
    refused = await trends(client, str(project.project_id), filters=too_many)
    refused_per_series = await trends(
        client, str(project.project_id), series=[{"math": "TOTAL", "filters": too_many}]
    )

    assert "errors" not in ok
    assert error_codes(refused) == ["BAD_USER_INPUT"]
    assert error_codes(refused_per_series) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("limit", [0, -1, 51])
async def test_breakdown_limit_out_of_range_is_bad_user_input(
    client: httpx.AsyncClient, project: CreatedProject, limit: int
) -> None:
    body = await trends(client, str(project.project_id), breakdown={"key": "plan"}, breakdownLimit=limit)

    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_empty_breakdown_key_and_no_series_are_bad_user_input(
    client: httpx.AsyncClient, project: CreatedProject
) -> None:
    assert error_codes(await trends(client, str(project.project_id), breakdown={"key": ""})) == ["BAD_USER_INPUT"]
    assert error_codes(await trends(client, str(project.project_id), series=[])) == ["BAD_USER_INPUT"]


async def test_answer_with_too_many_points_is_bad_user_input(
    client: httpx.AsyncClient, project: CreatedProject
) -> None:
    # 5,000 minute buckets x 51 breakdown lines x 2 periods: far past MAX_POINTS.
    minutes = {"from": "2024-05-01T00:00:00Z", "to": "2024-05-04T11:20:00Z"}

    body = await trends(
        client,
        str(project.project_id),
        interval="MINUTE",
        dateRange=minutes,
        breakdown={"key": "plan"},
        breakdownLimit=50,
        compare=True,
    )

    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "points" in body["errors"][0]["message"]


async def test_statement_timeout_is_bad_user_input_not_a_hung_server(
    client: httpx.AsyncClient, project: CreatedProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server runs in this process: a 1 ms limit makes any real statement time out.
    monkeypatch.setattr(reading, "STATEMENT_TIMEOUT", timedelta(milliseconds=1))
    minutes = {"from": "2024-05-01T00:00:00Z", "to": "2024-05-04T11:20:00Z"}

    body = await trends(
        client,
        str(project.project_id),
        series=[{"math": "P90", "property": "amount"}],
        interval="MINUTE",
        dateRange=minutes,
        breakdown={"key": "plan"},
        compare=True,
    )

    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "longer than" in body["errors"][0]["message"]


async def test_new_arguments_are_optional_and_give_plain_series(
    client: httpx.AsyncClient, project: CreatedProject
) -> None:
    body = await trends(client, str(project.project_id), series=[{"math": "UNIQUE_PERSONS"}])

    assert "errors" not in body
    [line] = body["data"]["trends"]
    assert (line["breakdownValue"], line["isOther"], line["compare"]) == (None, False, False)
    assert [point["value"] for point in line["points"]] == [0.0] * 24


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"dateRange": {"from": "0001-01-01T00:00:00+01:00", "to": "2024-05-02T00:00:00Z"}},
                     "dateRange.from is out of range", id="before-year-one-in-utc"),
        pytest.param({"dateRange": {"from": "2024-05-01T00:00:00Z", "to": "9999-12-31T23:00:00-05:00"}},
                     "dateRange.to is out of range", id="after-year-9999-in-utc"),
        # Found by tests/fuzz: these ran into the 30 s statement timeout (asyncpg sends datetime.min as -infinity).
        pytest.param({"dateRange": {"from": "0001-01-01T00:00:00Z", "to": "0001-03-01T00:00:00Z"}},
                     "dateRange.from is out of range", id="from-the-first-instant-of-year-one"),
        pytest.param({"dateRange": {"from": "9999-12-01T00:00:00Z", "to": "9999-12-31T23:59:59.999999Z"}},
                     "dateRange.from is out of range", id="in-year-9999"),
        pytest.param({"series": [{"event": "sign\u0000up", "math": "TOTAL"}]}, "NUL", id="nul-in-an-event-name"),
        pytest.param({"filters": [condition("EQ", "pr\u0000o", key="plan")]}, "NUL", id="nul-in-a-filter-value"),
    ],
)
async def test_input_postgresql_cannot_hold_is_bad_user_input_not_an_unexpected_error(
    client: httpx.AsyncClient, project: CreatedProject, overrides: dict[str, Any], message: str
) -> None:
    body = await trends(client, str(project.project_id), **overrides)

    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert message in body["errors"][0]["message"]
