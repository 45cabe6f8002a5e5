"""Every export answers what GraphQL answers for the same arguments, in the project's timezone."""

import json
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest

from tests.exports.data import Dataset, create_dataset, parse_csv, text
from tests.query.graphql_client import execute
from tests.query.tenant import Caller

EVENTS = """
query($p: ID!, $after: String) { events(projectId: $p, first: 500, after: $after) {
  edges { node { messageId type event name distinctId userId anonymousId sessionId timestamp receivedAt
                 properties context traits enrichment { browser country isBot } } }
  pageInfo { hasNextPage endCursor } } }
"""

PERSONS = """
query($p: ID!, $search: String, $after: String) { persons(projectId: $p, search: $search, first: 200, after: $after) {
  edges { node { id distinctIds traits isIdentified firstSeen lastSeen createdAt } }
  pageInfo { hasNextPage endCursor } } }
"""


@pytest.fixture(scope="module")
async def dataset(module_db: asyncpg.Connection, caller: Caller) -> Dataset:
    return await create_dataset(module_db, caller)


async def _all(client: httpx.AsyncClient, query: str, field: str, **variables: Any) -> list[dict]:
    nodes, after = [], None
    while True:
        body = await execute(client, query, after=after, **variables)
        assert "errors" not in body, body
        page = body["data"][field]
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def _in_zone(value: str, dataset: Dataset) -> datetime:
    """The CSV time, which must carry the project's UTC offset at that instant."""
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == parsed.astimezone(dataset.zone).utcoffset(), value
    return parsed


async def test_events_csv_has_the_events_graphql_lists(client: httpx.AsyncClient, dataset: Dataset):
    expected = {node["messageId"]: node for node in await _all(client, EVENTS, "events", p=dataset.project_id)}
    rows = parse_csv(await client.get("/export/events.csv", params={"projectId": dataset.project_id,
                                                                    **dataset.date_range()}))
    assert len(rows) == len(expected) > 2000
    assert [row["messageId"] for row in rows] == [
        node["messageId"] for node in sorted(expected.values(), key=lambda n: (datetime.fromisoformat(
            n["timestamp"]), n["messageId"]))]
    offsets = set()
    for row in rows:
        node = expected[row["messageId"]]
        timestamp = _in_zone(row["timestamp"], dataset)
        offsets.add(timestamp.utcoffset())
        assert timestamp == datetime.fromisoformat(node["timestamp"])
        assert _in_zone(row["receivedAt"], dataset) == datetime.fromisoformat(node["receivedAt"])
        assert json.loads(row["properties"]) == node["properties"]
        assert json.loads(row["context"] or "null") == node["context"]
        assert json.loads(row["traits"] or "null") == node["traits"]
        for column in ("type", "event", "name", "distinctId", "userId", "anonymousId", "sessionId"):
            assert row[column] == text(node[column]), column
        for column in ("browser", "country", "isBot"):
            assert row[column] == text(node["enrichment"][column]), column
    assert len(offsets) == 2  # daylight saving time and standard time


async def test_events_csv_filters_on_the_range_the_event_and_bots(client: httpx.AsyncClient, dataset: Dataset):
    everything = await _all(client, EVENTS, "events", p=dataset.project_id)
    date_from, date_to = datetime.fromisoformat("2026-11-01T00:00:00-04:00"), datetime.fromisoformat(
        "2026-11-02T00:00:00-05:00")
    expected = sorted(node["messageId"] for node in everything if node["event"] == "purchase"
                      and date_from <= datetime.fromisoformat(node["timestamp"]) < date_to)
    rows = parse_csv(await client.get("/export/events.csv", params={
        "projectId": dataset.project_id, "from": date_from.isoformat(), "to": date_to.isoformat(),
        "event": "purchase"}))
    assert sorted(row["messageId"] for row in rows) == expected and expected

    with_bots = parse_csv(await client.get("/export/events.csv", params={
        "projectId": dataset.project_id, **dataset.date_range(), "includeBots": "true"}))
    assert {row["isBot"] for row in with_bots} == {"true", "false"}
    assert len(with_bots) > len(everything)


async def test_persons_csv_has_the_persons_graphql_lists(client: httpx.AsyncClient, dataset: Dataset):
    for search in (None, "pro", "persön 1"):
        variables = {"p": dataset.project_id, "search": search}
        expected = await _all(client, PERSONS, "persons", **variables)
        params = {"projectId": dataset.project_id, **({"search": search} if search else {})}
        rows = parse_csv(await client.get("/export/persons.csv", params=params))
        assert [row["id"] for row in rows] == [node["id"] for node in expected]
        assert expected
        for row, node in zip(rows, expected, strict=True):
            assert json.loads(row["distinctIds"]) == node["distinctIds"]
            assert json.loads(row["traits"]) == node["traits"]
            assert row["isIdentified"] == text(node["isIdentified"])
            for column in ("firstSeen", "lastSeen", "createdAt"):
                assert _in_zone(row[column], dataset) == datetime.fromisoformat(node[column])


def _same_time(csv_value: str, graphql_value: str, dataset: Dataset) -> None:
    assert _in_zone(csv_value, dataset) == datetime.fromisoformat(graphql_value)


async def test_trends_csv_is_the_trends_answer(client: httpx.AsyncClient, dataset: Dataset):
    variables = {
        "projectId": dataset.project_id, "interval": "DAY", "compare": True,
        "dateRange": {"from": "2026-10-28T00:00:00-04:00", "to": "2026-11-05T00:00:00-05:00"},
        "series": [{"event": "purchase", "math": "TOTAL"}, {"math": "UNIQUE_PERSONS"}],
        "breakdown": {"key": "plan"}, "breakdownLimit": 3,
    }
    answer = await execute(client, """
      query($projectId: ID!, $series: [SeriesInput!]!, $interval: Interval!, $dateRange: DateRangeInput!,
            $breakdown: BreakdownInput, $breakdownLimit: Int!, $compare: Boolean!) {
        trends(projectId: $projectId, series: $series, interval: $interval, dateRange: $dateRange,
               breakdown: $breakdown, breakdownLimit: $breakdownLimit, compare: $compare) {
          label breakdownValue isOther compare points { bucket value } } }""", **variables)
    rows = parse_csv(await client.post("/export/trends.csv", json=variables))
    expected = [(index, series, point) for index, series in enumerate(answer["data"]["trends"], start=1)
                for point in series["points"]]
    assert len(rows) == len(expected) > 8
    for row, (index, series, point) in zip(rows, expected, strict=True):
        assert row["series"] == str(index) and row["label"] == series["label"]
        assert row["breakdownValue"] == text(series["breakdownValue"])
        assert (row["isOther"], row["compare"]) == (text(series["isOther"]), text(series["compare"]))
        _same_time(row["bucket"], point["bucket"], dataset)
        assert float(row["value"]) == point["value"]
    assert any(float(row["value"]) > 0 for row in rows)


async def test_funnel_csv_is_the_funnel_answer(client: httpx.AsyncClient, dataset: Dataset):
    variables = {"projectId": dataset.project_id, "dateRange": dataset.date_range(), "breakdown": {"key": "plan"},
                 "steps": [{"event": "$pageview"}, {"event": "signup"}, {"event": "purchase"}]}
    steps = "event persons conversionFromStart conversionFromPrevious medianSecondsFromPrevious" \
            " averageSecondsFromPrevious"
    answer = (await execute(client, f"""
      query($projectId: ID!, $steps: [FunnelStepInput!]!, $dateRange: DateRangeInput!, $breakdown: BreakdownInput) {{
        funnel(projectId: $projectId, steps: $steps, dateRange: $dateRange, breakdown: $breakdown) {{
          steps {{ {steps} }} breakdownGroups {{ breakdownValue isOther steps {{ {steps} }} }} }} }}""",
                            **variables))["data"]["funnel"]
    rows = parse_csv(await client.post("/export/funnel.csv", json=variables))
    groups = [("all", None, False, answer["steps"])] + [
        ("breakdown", group["breakdownValue"], group["isOther"], group["steps"]) for group in answer["breakdownGroups"]]
    expected = [(group, value, other, number, step) for group, value, other, group_steps in groups
                for number, step in enumerate(group_steps, start=1)]
    assert len(rows) == len(expected) > 3
    for row, (group, value, other, number, step) in zip(rows, expected, strict=True):
        assert (row["group"], row["breakdownValue"], row["isOther"], row["step"]) == (
            group, text(value), text(other), str(number))
        for name in steps.split():
            assert row[name] == text(step[name]), name
    assert int(rows[0]["persons"]) > 0


async def test_retention_and_active_users_csv_are_their_answers(client: httpx.AsyncClient, dataset: Dataset):
    variables = {"projectId": dataset.project_id, "startEvent": "$pageview", "returnEvent": "purchase",
                 "period": "DAY", "periods": 4,
                 "dateRange": {"from": "2026-10-29T00:00:00-04:00", "to": "2026-11-03T00:00:00-05:00"}}
    cohorts = (await execute(client, """
      query($projectId: ID!, $startEvent: String!, $returnEvent: String!, $period: RetentionPeriod!, $periods: Int!,
            $dateRange: DateRangeInput!) {
        retention(projectId: $projectId, startEvent: $startEvent, returnEvent: $returnEvent, period: $period,
                  periods: $periods, dateRange: $dateRange) {
          cohortStart size values { period periodStart count fraction } } }""", **variables))["data"]["retention"]
    rows = parse_csv(await client.post("/export/retention.csv", json=variables))
    expected = [(cohort, value) for cohort in cohorts for value in cohort["values"]]
    assert len(rows) == len(expected) > 5
    for row, (cohort, value) in zip(rows, expected, strict=True):
        _same_time(row["cohortStart"], cohort["cohortStart"], dataset)
        _same_time(row["periodStart"], value["periodStart"], dataset)
        assert (row["size"], row["period"], row["count"]) == (
            str(cohort["size"]), str(value["period"]), str(value["count"]))
        assert float(row["fraction"]) == value["fraction"]

    variables = {"projectId": dataset.project_id, "dateRange": variables["dateRange"]}
    days = (await execute(client, """query($projectId: ID!, $dateRange: DateRangeInput!) {
        activeUsers(projectId: $projectId, dateRange: $dateRange) { day dau wau mau stickiness } }""",
                          **variables))["data"]["activeUsers"]
    rows = parse_csv(await client.post("/export/activeUsers.csv", json=variables))
    assert len(rows) == len(days) == 5
    for row, day in zip(rows, days, strict=True):
        _same_time(row["day"], day["day"], dataset)
        assert [row[name] for name in ("dau", "wau", "mau")] == [str(day[name]) for name in ("dau", "wau", "mau")]
        assert float(row["stickiness"]) == day["stickiness"]


async def test_sessions_csv_is_the_sessions_summary(client: httpx.AsyncClient, dataset: Dataset):
    stats = "sessions persons avgDurationSeconds medianDurationSeconds bounceRate pageviewsPerSession eventsPerSession"
    variables = {"projectId": dataset.project_id, "dateRange": dataset.date_range(), "breakdown": "BROWSER",
                 "interval": "DAY", "pagesLimit": 3}
    summary = (await execute(client, f"""
      query($projectId: ID!, $dateRange: DateRangeInput!, $breakdown: SessionDimension, $interval: Interval,
            $pagesLimit: Int!) {{
        sessionsSummary(projectId: $projectId, dateRange: $dateRange, breakdown: $breakdown, interval: $interval,
                        pagesLimit: $pagesLimit) {{
          totals {{ {stats} }} breakdown {{ value isOther stats {{ {stats} }} }} series {{ bucket stats {{ {stats} }} }}
          entryPages {{ page stats {{ {stats} }} }} exitPages {{ page stats {{ {stats} }} }} }} }}""",
                               **variables))["data"]["sessionsSummary"]
    rows = parse_csv(await client.post("/export/sessions.csv", json=variables))
    expected = [("totals", None, False, summary["totals"])]
    expected += [("breakdown", row["value"], row["isOther"], row["stats"]) for row in summary["breakdown"]]
    expected += [("series", bucket["bucket"], False, bucket["stats"]) for bucket in summary["series"]]
    expected += [(section, page["page"], False, page["stats"]) for section in ("entryPages", "exitPages")
                 for page in summary[section]]
    assert len(rows) == len(expected) > 100
    for row, (section, value, other, group) in zip(rows, expected, strict=True):
        assert (row["section"], row["isOther"]) == (section, text(other))
        if section == "series":
            _same_time(row["value"], value, dataset)
        else:
            assert row["value"] == text(value)
        for name in stats.split():
            assert row[name] == text(group[name]), name
    assert int(rows[0]["sessions"]) > 0


async def test_top_values_csv_is_the_top_values_answer(client: httpx.AsyncClient, dataset: Dataset):
    variables = {"projectId": dataset.project_id, "dateRange": dataset.date_range(), "dimension": "BROWSER",
                 "limit": 3}
    answer = (await execute(client, """
      query($projectId: ID!, $dateRange: DateRangeInput!, $dimension: TopDimension!, $limit: Int!) {
        topValues(projectId: $projectId, dateRange: $dateRange, dimension: $dimension, limit: $limit) {
          values { value events persons } withoutValue { events persons } total { events persons } } }""",
                            **variables))["data"]["topValues"]
    rows = parse_csv(await client.post("/export/topValues.csv", json=variables))
    expected = [("value", value["value"], value) for value in answer["values"]]
    expected += [(section, None, answer[section]) for section in ("withoutValue", "total")]
    assert len(rows) == len(expected) == 5
    for row, (section, value, counts) in zip(rows, expected, strict=True):
        assert (row["section"], row["value"]) == (section, text(value))
        assert (row["events"], row["persons"]) == (str(counts["events"]), str(counts["persons"]))
    assert int(rows[-1]["events"]) > int(rows[0]["events"]) > 0


async def test_backtest_csv_is_the_backtest_answer(client: httpx.AsyncClient, dataset: Dataset):
    variables = {
        "projectId": dataset.project_id,
        "dateRange": {"from": "2026-10-31T00:00:00-04:00", "to": "2026-11-03T00:00:00-05:00"},
        "rule": {"name": "Purchases", "interval": "HOUR", "series": {"event": "purchase", "math": "TOTAL"},
                 "detector": {"kind": "THRESHOLD", "direction": "UP", "threshold": 1}},
    }
    fields = "bucket value firing expected lower upper reason"
    points = (await execute(client, f"""
      query($projectId: ID!, $rule: AlertRuleInput!, $dateRange: DateRangeInput!) {{
        backtestAlert(projectId: $projectId, rule: $rule, dateRange: $dateRange) {{ points {{ {fields} }} }} }}""",
                            **variables))["data"]["backtestAlert"]["points"]
    rows = parse_csv(await client.post("/export/backtest.csv", json=variables))
    assert len(rows) == len(points) == 73  # hours of the range, 25 on the day New York falls back
    for row, point in zip(rows, points, strict=True):
        _same_time(row["bucket"], point["bucket"], dataset)
        assert float(row["value"]) == point["value"]
        for name in ("firing", "expected", "lower", "upper", "reason"):
            assert row[name] == text(point[name]), name
    assert any(row["firing"] == "true" for row in rows)
