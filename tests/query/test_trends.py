"""Trends (TOTAL) against an independent Python computation, across DST and half-hour zones."""

import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from tests.query.event_data import GeneratedEvent, insert_events, random_events
from tests.query.graphql_client import TRENDS, execute
from tests.query.reference import expected_total
from tests.query.tenant import Caller, create_owned_project

INTERVALS = ("MINUTE", "HOUR", "DAY", "WEEK", "MONTH")


@dataclass(frozen=True)
class Dataset:
    timezone: str
    # Where events cluster: a DST change for Berlin, an ordinary day for Kolkata.
    center: datetime
    seed: int


DATASETS = {
    "berlin-dst-starts": Dataset("Europe/Berlin", datetime(2024, 3, 31, 1, 0, tzinfo=UTC), seed=1),
    "berlin-dst-ends": Dataset("Europe/Berlin", datetime(2024, 10, 27, 1, 0, tzinfo=UTC), seed=2),
    "kolkata-half-hour-offset": Dataset("Asia/Kolkata", datetime(2024, 6, 15, 18, 30, tzinfo=UTC), seed=3),
}


def date_ranges(center: datetime, interval: str) -> dict[str, tuple[datetime, datetime]]:
    """Named [from, to) ranges: aligned, unaligned at both ends or one, and shorter than a whole minute."""
    second = timedelta(seconds=1)
    if interval == "MINUTE":
        # Minute buckets are capped at 5,000: stay within a few hours of the cluster.
        wide = (center - timedelta(hours=2), center + timedelta(hours=2))
        unaligned = (center - timedelta(hours=2) + 13.25 * second, center + timedelta(minutes=90) - 0.75 * second)
    else:
        wide = (center - timedelta(days=60), center + timedelta(days=60))
        unaligned = (
            center - timedelta(days=50, hours=1, minutes=7, seconds=13, microseconds=123456),
            center + timedelta(days=45, seconds=59.5),
        )
    return {
        "aligned": wide,
        "unaligned": unaligned,
        "to-unaligned": (center - timedelta(days=1), center + timedelta(days=1) + 0.5 * second),
        # Whole minutes in the middle, ragged ends inside the dense cluster.
        "ragged-minutes": (center - 150.5 * second, center + 170.25 * second),
        "within-one-minute": (center + 10.5 * second, center + 40.25 * second),
        "across-a-minute-boundary": (center - 29.5 * second, center + 20.25 * second),
    }


CASES = [
    pytest.param(dataset, interval, range_name, id=f"{dataset}-{interval}-{range_name}")
    for dataset in DATASETS
    for interval in INTERVALS
    for range_name in date_ranges(datetime(2024, 1, 1, tzinfo=UTC), interval)
]


@pytest.fixture(scope="module")
async def datasets(module_db: asyncpg.Connection, caller: Caller) -> dict[str, tuple[str, list[GeneratedEvent]]]:
    """Per data set: a project in its timezone and the events stored for it."""
    loaded = {}
    for name, dataset in DATASETS.items():
        project = await create_owned_project(module_db, caller.organization_id, f"trends-{name}", dataset.timezone)
        events = random_events(random.Random(dataset.seed), dataset.center, count=2500)
        await insert_events(module_db, project.project_id, events)
        loaded[name] = (str(project.project_id), events)
    return loaded


def as_instants(points: list[dict[str, Any]]) -> list[tuple[datetime, float]]:
    return [(datetime.fromisoformat(point["bucket"]).astimezone(UTC), point["value"]) for point in points]


def _iso(value: datetime) -> str:
    return value.isoformat()


async def query_trends(
    client: httpx.AsyncClient,
    project_id: str,
    series: list[dict[str, Any]],
    interval: str,
    date_from: datetime | str,
    date_to: datetime | str,
) -> dict[str, Any]:
    return await execute(
        client,
        TRENDS,
        projectId=project_id,
        series=series,
        interval=interval,
        dateRange={
            "from": date_from if isinstance(date_from, str) else _iso(date_from),
            "to": date_to if isinstance(date_to, str) else _iso(date_to),
        },
    )


@pytest.mark.parametrize(("dataset", "interval", "range_name"), CASES)
async def test_total_matches_independent_computation(
    client: httpx.AsyncClient,
    datasets: dict[str, tuple[str, list[GeneratedEvent]]],
    dataset: str,
    interval: str,
    range_name: str,
) -> None:
    project_id, events = datasets[dataset]
    zone = ZoneInfo(DATASETS[dataset].timezone)
    date_from, date_to = date_ranges(DATASETS[dataset].center, interval)[range_name]
    wanted = [None, "signup", "$pageview", "never happened"]

    body = await query_trends(
        client,
        project_id,
        [{"event": event, "math": "TOTAL"} for event in wanted],
        interval,
        # Sent in the project's zone: the offset on the wire must not matter.
        date_from.astimezone(zone),
        date_to.astimezone(zone),
    )

    assert "errors" not in body, body["errors"]
    series = body["data"]["trends"]
    assert [item["label"] for item in series] == ["All events", "signup", "$pageview", "never happened"]
    all_events = expected_total(events, event=None, interval=interval, zone=zone, date_from=date_from, date_to=date_to)
    assert sum(value for _, value in all_events) > 0, "the range must hold events for the comparison to mean much"
    for event, item in zip(wanted, series, strict=True):
        expected = expected_total(
            events, event=event, interval=interval, zone=zone, date_from=date_from, date_to=date_to
        )
        assert as_instants(item["points"]) == expected, f"series {item['label']}"


async def test_hour_buckets_skip_the_missing_local_hour_when_dst_starts(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller
) -> None:
    project = await create_owned_project(db, caller.organization_id, "dst-starts", "Europe/Berlin")

    body = await query_trends(
        client,
        str(project.project_id),
        [{"math": "TOTAL"}],
        "HOUR",
        "2024-03-31T00:00:00+01:00",
        "2024-04-01T00:00:00+02:00",
    )

    buckets = [point["bucket"] for point in body["data"]["trends"][0]["points"]]
    assert len(buckets) == 23
    assert buckets[1:3] == ["2024-03-31T01:00:00+01:00", "2024-03-31T03:00:00+02:00"]


async def test_hour_buckets_repeat_the_local_hour_when_dst_ends(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller
) -> None:
    project = await create_owned_project(db, caller.organization_id, "dst-ends", "Europe/Berlin")

    body = await query_trends(
        client,
        str(project.project_id),
        [{"math": "TOTAL"}],
        "HOUR",
        "2024-10-27T00:00:00+02:00",
        "2024-10-28T00:00:00+01:00",
    )

    buckets = [point["bucket"] for point in body["data"]["trends"][0]["points"]]
    assert len(buckets) == 25
    assert buckets[2:4] == ["2024-10-27T02:00:00+02:00", "2024-10-27T02:00:00+01:00"]


async def test_day_buckets_are_local_days_of_23_and_24_hours_across_dst(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller
) -> None:
    project = await create_owned_project(db, caller.organization_id, "dst-days", "Europe/Berlin")

    body = await query_trends(
        client,
        str(project.project_id),
        [{"math": "TOTAL"}],
        "DAY",
        "2024-03-30T12:00:00Z",
        "2024-04-01T12:00:00Z",
    )

    assert [point["bucket"] for point in body["data"]["trends"][0]["points"]] == [
        "2024-03-30T00:00:00+01:00",
        "2024-03-31T00:00:00+01:00",
        "2024-04-01T00:00:00+02:00",
    ]


async def test_hour_buckets_follow_the_local_clock_in_a_half_hour_zone(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller
) -> None:
    project = await create_owned_project(db, caller.organization_id, "kolkata", "Asia/Kolkata")

    body = await query_trends(
        client,
        str(project.project_id),
        [{"math": "TOTAL"}],
        "HOUR",
        "2024-06-14T23:45:00Z",
        "2024-06-15T01:00:00Z",
    )

    assert [point["bucket"] for point in body["data"]["trends"][0]["points"]] == [
        "2024-06-15T05:00:00+05:30",
        "2024-06-15T06:00:00+05:30",
    ]


async def test_week_buckets_start_on_monday_and_months_on_the_first(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller
) -> None:
    project = await create_owned_project(db, caller.organization_id, "calendar", "UTC")
    series = [{"math": "TOTAL"}]

    weeks = await query_trends(
        client, str(project.project_id), series, "WEEK", "2024-02-28T00:00:00Z", "2024-03-12T00:00:00Z"
    )
    months = await query_trends(
        client, str(project.project_id), series, "MONTH", "2024-01-31T23:00:00Z", "2024-03-01T00:00:00Z"
    )

    assert [p["bucket"] for p in weeks["data"]["trends"][0]["points"]] == [
        "2024-02-26T00:00:00+00:00",
        "2024-03-04T00:00:00+00:00",
        "2024-03-11T00:00:00+00:00",
    ]
    assert [p["bucket"] for p in months["data"]["trends"][0]["points"]] == [
        "2024-01-01T00:00:00+00:00",
        "2024-02-01T00:00:00+00:00",
    ]


async def test_whole_minutes_are_read_from_the_rollup_and_partial_minutes_from_events(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller
) -> None:
    # The rollup is made to disagree with the log on purpose, to see which one each part reads.
    project = await create_owned_project(db, caller.organization_id, f"rollup-{secrets.token_hex(2)}", "UTC")
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    event = GeneratedEvent(event_time=minute + timedelta(seconds=30), message_id="only", event="signup")
    await insert_events(db, project.project_id, [event])
    await db.execute(
        "UPDATE event_counts SET count = 7 WHERE project_id = $1 AND minute = $2", project.project_id, minute
    )
    series = [{"event": "signup", "math": "TOTAL"}]

    whole = await query_trends(client, str(project.project_id), series, "HOUR", minute, minute + timedelta(minutes=1))
    partial = await query_trends(
        client,
        str(project.project_id),
        series,
        "HOUR",
        minute + timedelta(seconds=1),
        minute + timedelta(minutes=1),
    )

    assert sum(p["value"] for p in whole["data"]["trends"][0]["points"]) == 7
    assert sum(p["value"] for p in partial["data"]["trends"][0]["points"]) == 1


async def test_empty_project_gets_zero_filled_buckets(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller
) -> None:
    project = await create_owned_project(db, caller.organization_id, "empty", "UTC")

    body = await query_trends(
        client,
        str(project.project_id),
        [{"math": "TOTAL"}, {"event": "x", "math": "TOTAL"}],
        "DAY",
        "2024-05-01T00:00:00Z",
        "2024-05-04T00:00:00Z",
    )

    for series in body["data"]["trends"]:
        assert [p["value"] for p in series["points"]] == [0.0, 0.0, 0.0]
