"""DAU, WAU, MAU and stickiness against the plain-Python reference, a hand-checked case, and refused input."""

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from tests.query.event_data import GeneratedEvent, GeneratedPerson, insert_events, insert_persons
from tests.query.graphql_client import error_codes, execute
from tests.query.reference_retention import expected_active_users
from tests.query.tenant import Caller, create_owned_project
from tests.query.test_retention import DATASETS, Loaded, load_datasets

ACTIVE_USERS = """
query ActiveUsers($projectId: ID!, $dateRange: DateRangeInput!, $event: String, $filters: [PropertyFilterInput!]) {
  activeUsers(projectId: $projectId, dateRange: $dateRange, event: $event, filters: $filters) {
    day dau wau mau stickiness
  }
}
"""


@pytest.fixture(scope="module")
async def active_datasets(module_db: asyncpg.Connection, caller: Caller) -> dict[str, Loaded]:
    return await load_datasets(module_db, caller, "active")


def ranges(center: datetime) -> dict[str, tuple[datetime, datetime]]:
    return {
        "wide": (center - timedelta(days=20), center + timedelta(days=20)),
        "unaligned": (center - timedelta(days=3, hours=7, seconds=1.5), center + timedelta(hours=40)),
        "one-instant": (center, center + timedelta(microseconds=1)),
    }


async def check(
    client: httpx.AsyncClient, loaded: Loaded, dataset: str, range_name: str, **options: Any
) -> list[tuple[datetime, int, int, int, float]]:
    zone = ZoneInfo(DATASETS[dataset].timezone)
    date_from, date_to = ranges(DATASETS[dataset].center)[range_name]
    body = await execute(
        client,
        ACTIVE_USERS,
        projectId=loaded.project_id,
        dateRange={"from": date_from.astimezone(zone).isoformat(), "to": date_to.astimezone(zone).isoformat()},
        **options,
    )
    assert "errors" not in body, body["errors"]
    got = [
        (datetime.fromisoformat(row["day"]).astimezone(UTC), row["dau"], row["wau"], row["mau"], row["stickiness"])
        for row in body["data"]["activeUsers"]
    ]
    expected = expected_active_users(
        loaded.events,
        loaded.persons,
        zone=zone,
        date_from=date_from,
        date_to=date_to,
        event=options.get("event"),
        filters=options.get("filters") or [],
    )
    assert [row[:4] for row in got] == [row[:4] for row in expected]
    assert [row[4] for row in got] == pytest.approx([row[4] for row in expected], rel=1e-9, abs=1e-12)
    return expected


OPTIONS = {
    "all-events": {},
    "purchase": {"event": "purchase"},
    "event-and-filters": {
        "event": "$pageview",
        "filters": [{"key": "$browser", "operator": "EQ", "value": "Firefox"}],
    },
    "person-filter": {"filters": [{"key": "age", "operator": "GT", "value": 40, "type": "PERSON"}]},
}


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("range_name", ["wide", "unaligned", "one-instant"])
@pytest.mark.parametrize("dataset", DATASETS)
async def test_active_users_match_reference(
    client: httpx.AsyncClient, active_datasets: dict, dataset: str, range_name: str, option: str
) -> None:
    expected = await check(client, active_datasets[dataset], dataset, range_name, **OPTIONS[option])

    assert any(row[1] for row in expected), "the data must reach the range"
    if range_name == "wide":
        assert any(row[1] < row[2] < row[3] for row in expected), "the windows must differ somewhere"


@pytest.mark.parametrize("dataset", DATASETS)
async def test_days_around_dst_are_local_days(client: httpx.AsyncClient, active_datasets: dict, dataset: str) -> None:
    expected = await check(client, active_datasets[dataset], dataset, "wide")

    lengths = {(b[0] - a[0]) for a, b in itertools.pairwise(expected)}
    assert lengths == {timedelta(hours=24), timedelta(hours=23 if dataset.startswith("new-york") else 25)}


async def test_empty_range_is_all_zero(client: httpx.AsyncClient, active_datasets: dict) -> None:
    body = await execute(
        client,
        ACTIVE_USERS,
        projectId=active_datasets["berlin-dst-ends"].project_id,
        dateRange={"from": "2019-01-01T00:00:00+01:00", "to": "2019-01-03T00:00:00+01:00"},
    )

    assert "errors" not in body, body["errors"]
    assert body["data"]["activeUsers"] == [
        {"day": "2019-01-01T00:00:00+01:00", "dau": 0, "wau": 0, "mau": 0, "stickiness": 0.0},
        {"day": "2019-01-02T00:00:00+01:00", "dau": 0, "wau": 0, "mau": 0, "stickiness": 0.0},
    ]


async def test_windows_by_hand(module_db: asyncpg.Connection, caller: Caller, client: httpx.AsyncClient) -> None:
    project = await create_owned_project(module_db, caller.organization_id, "active-by-hand", "America/New_York")
    zone = ZoneInfo("America/New_York")
    await insert_persons(module_db, project.project_id, [GeneratedPerson(uuid4(), {}, ("ann-web", "ann-app"))])

    def at(*parts: int) -> datetime:
        return datetime(*parts, tzinfo=zone).astimezone(UTC)

    rows = [
        ("ann-web", at(2024, 3, 10), False),  # local midnight of the DST day
        ("ann-app", at(2024, 3, 10, 23, 59, 59), False),  # same person, same day, other id
        ("dan", at(2024, 3, 4), False),  # 6 days before 10 March: inside its week; 7 before 11 March: outside
        ("eve", at(2024, 2, 10, 12), False),  # 29 days before 10 March: inside its month; 30 before 11 March: not
        ("fay", at(2024, 2, 11), False),  # 29 days before 11 March: inside its month
        ("bot", at(2024, 3, 11, 8), True),
    ]
    await insert_events(
        module_db,
        project.project_id,
        [
            GeneratedEvent(event_time=time, message_id=f"au{n}", event="$pageview", distinct_id=who, is_bot=bot)
            for n, (who, time, bot) in enumerate(rows)
        ],
    )

    body = await execute(
        client,
        ACTIVE_USERS,
        projectId=str(project.project_id),
        dateRange={"from": "2024-03-10T00:00:00-05:00", "to": "2024-03-12T00:00:00-04:00"},
    )

    assert "errors" not in body, body["errors"]
    assert body["data"]["activeUsers"] == [
        {"day": "2024-03-10T00:00:00-05:00", "dau": 1, "wau": 2, "mau": 4, "stickiness": 0.25},
        {"day": "2024-03-11T00:00:00-04:00", "dau": 0, "wau": 1, "mau": 3, "stickiness": 0.0},
    ]


DAY = {"from": "2024-05-01T00:00:00Z", "to": "2024-05-08T00:00:00Z"}


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"dateRange": {"from": DAY["to"], "to": DAY["from"]}}, id="inverted"),
        pytest.param({"dateRange": {"from": DAY["from"], "to": DAY["from"]}}, id="empty"),
        pytest.param({"dateRange": {"from": "2023-01-01T00:00:00Z", "to": "2024-05-01T00:00:00Z"}}, id="huge"),
        pytest.param({"dateRange": {"from": "2024-05-01T00:00:00", "to": DAY["to"]}}, id="no-offset"),
        pytest.param({"event": ""}, id="empty-event"),
        pytest.param({"filters": [{"key": "amount", "operator": "LT", "value": True}]}, id="bad-filter"),
        pytest.param({"filters": [{"key": "$browser", "operator": "GT", "value": 1}]}, id="gt-on-text-column"),
    ],
)
async def test_bad_input_is_refused(client: httpx.AsyncClient, project: Any, overrides: dict) -> None:
    body = await execute(client, ACTIVE_USERS, projectId=str(project.project_id), **{"dateRange": DAY, **overrides})

    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert body["data"] is None
