"""Trends with every math, filters, breakdown and compare, against the plain-Python reference.

The data mixes what makes these easy to get wrong: persons with several distinct ids and
distinct ids without a person, property values that are strings in one event and numbers
in the next (or missing, or JSON null), unicode values, bot events, and events exactly on
local midnights and minutes in time zones with a DST change.
"""

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from tests.query.event_data import (
    GeneratedEvent,
    GeneratedPerson,
    insert_events,
    insert_persons,
    random_persons,
    random_rich_events,
)
from tests.query.graphql_client import execute
from tests.query.reference import Persons, expected_trends
from tests.query.tenant import Caller, create_owned_project

TRENDS_FULL = """
query Trends(
  $projectId: ID!, $series: [SeriesInput!]!, $interval: Interval!, $dateRange: DateRangeInput!,
  $filters: [PropertyFilterInput!], $breakdown: BreakdownInput, $breakdownLimit: Int! = 10, $compare: Boolean! = false
) {
  trends(
    projectId: $projectId, series: $series, interval: $interval, dateRange: $dateRange,
    filters: $filters, breakdown: $breakdown, breakdownLimit: $breakdownLimit, compare: $compare
  ) {
    label breakdownValue isOther compare
    points { bucket value }
  }
}
"""


@dataclass(frozen=True)
class Dataset:
    timezone: str
    center: datetime
    seed: int


DATASETS = {
    "berlin-dst-ends": Dataset("Europe/Berlin", datetime(2024, 10, 27, 1, 0, tzinfo=UTC), seed=11),
    "new-york-dst-starts": Dataset("America/New_York", datetime(2024, 3, 10, 7, 0, tzinfo=UTC), seed=12),
}

PROPERTY_MATHS = ("SUM", "AVG", "MIN", "MAX", "P50", "P90")

EVERY_MATH = [
    {"event": "purchase", "math": "TOTAL"},
    {"event": "purchase", "math": "UNIQUE_PERSONS"},
    {"event": None, "math": "UNIQUE_PERSONS"},
    *({"event": "purchase", "math": name, "property": "amount"} for name in PROPERTY_MATHS),
    *({"event": None, "math": name, "property": "amount"} for name in ("SUM", "P90")),
]

FILTER_CASES = {
    "eq-string-unicode": {"key": "plan", "operator": "EQ", "value": "énterprise 🚀"},
    "eq-string-matches-number-text": {"key": "plan", "operator": "EQ", "value": "5"},
    "eq-number": {"key": "amount", "operator": "EQ", "value": 7},
    "eq-boolean": {"key": "amount", "operator": "EQ", "value": True},
    "neq": {"key": "plan", "operator": "NEQ", "value": "pro"},
    "contains": {"key": "plan", "operator": "CONTAINS", "value": "ro"},
    "not-contains": {"key": "tag", "operator": "NOT_CONTAINS", "value": "t0"},
    "gt": {"key": "amount", "operator": "GT", "value": 250.5},
    "lt": {"key": "amount", "operator": "LT", "value": 10},
    "is-set": {"key": "amount", "operator": "IS_SET"},
    "is-not-set": {"key": "plan", "operator": "IS_NOT_SET"},
    "in": {"key": "plan", "operator": "IN", "value": ["free", "日本語", 5]},
    "person-eq": {"key": "plan", "operator": "EQ", "value": "pro", "type": "PERSON"},
    "person-gt": {"key": "age", "operator": "GT", "value": 40, "type": "PERSON"},
    "person-is-not-set": {"key": "plan", "operator": "IS_NOT_SET", "type": "PERSON"},
    "person-in": {"key": "name", "operator": "IN", "value": ["Persön 1 ✓", "Persön 2 ✓"], "type": "PERSON"},
    "typed-browser": {"key": "$browser", "operator": "EQ", "value": "Firefox"},
    "typed-browser-is-not-set": {"key": "$browser", "operator": "IS_NOT_SET"},
    "typed-pathname-contains": {"key": "$pathname", "operator": "CONTAINS", "value": "ü"},
}

BREAKDOWNS = {
    "event-plan": ({"key": "plan"}, 10),
    "event-tag-top-3": ({"key": "tag"}, 3),
    "person-plan": ({"key": "plan", "type": "PERSON"}, 2),
    "typed-browser": ({"key": "$browser"}, 10),
    "amount-top-5": ({"key": "amount"}, 5),
}


def date_ranges(center: datetime, zone: ZoneInfo) -> dict[str, tuple[str, datetime, datetime]]:
    """Per name: (interval, from, to), across the DST change, aligned and not."""

    def midnight(days: int) -> datetime:  # local midnight `days` days from the center's local day
        day = center.astimezone(zone).date() + timedelta(days=days)
        return datetime(day.year, day.month, day.day, tzinfo=zone)

    return {
        # From one local midnight to another: unique persons come from the daily rollups.
        "days-local-midnights": ("DAY", midnight(-9), midnight(8)),
        "weeks-local-midnights": ("WEEK", midnight(-40), midnight(33)),
        "months-local-midnights": ("MONTH", midnight(-61), midnight(45)),
        "day-wide": ("DAY", center - timedelta(days=20), center + timedelta(days=20)),
        "hour-unaligned": (
            "HOUR",
            center - timedelta(days=2, minutes=17, seconds=3.5),
            center + timedelta(days=1, hours=5, seconds=0.25),
        ),
        "minute-ragged": ("MINUTE", center - timedelta(seconds=150.5), center + timedelta(seconds=170.25)),
        "week": ("WEEK", center - timedelta(days=30), center + timedelta(days=30)),
    }


@pytest.fixture(scope="module")
async def rich_datasets(
    module_db: asyncpg.Connection, caller: Caller
) -> dict[str, tuple[str, list[GeneratedEvent], Persons]]:
    loaded = {}
    for name, dataset in DATASETS.items():
        project = await create_owned_project(module_db, caller.organization_id, f"math-{name}", dataset.timezone)
        rng = random.Random(dataset.seed)
        persons = random_persons(rng, 40)
        events = random_rich_events(rng, dataset.center, 2000, persons, ZoneInfo(dataset.timezone))
        await insert_persons(module_db, project.project_id, persons)
        await insert_events(module_db, project.project_id, events)
        mapping = Persons(
            person_of={distinct_id: str(p.id) for p in persons for distinct_id in p.distinct_ids},
            traits_of={str(p.id): p.traits for p in persons},
        )
        loaded[name] = (str(project.project_id), events, mapping)
    return loaded


async def check(
    client: httpx.AsyncClient,
    loaded: tuple[str, list[GeneratedEvent], Persons],
    dataset: Dataset,
    range_name: str,
    series: list[dict],
    **options: Any,
) -> list[dict]:
    """Queries trends and compares every line with the reference; returns the lines."""
    project_id, events, persons = loaded
    zone = ZoneInfo(dataset.timezone)
    interval, date_from, date_to = date_ranges(dataset.center, zone)[range_name]
    body = await execute(
        client,
        TRENDS_FULL,
        projectId=project_id,
        series=series,
        interval=interval,
        dateRange={"from": date_from.astimezone(zone).isoformat(), "to": date_to.astimezone(zone).isoformat()},
        **options,
    )
    assert "errors" not in body, body["errors"]
    got = body["data"]["trends"]
    expected = []
    for item in series:
        lines = expected_trends(
            events,
            persons,
            series=item,
            interval=interval,
            zone=zone,
            date_from=date_from,
            date_to=date_to,
            filters=options.get("filters") or [],
            breakdown=options.get("breakdown"),
            breakdown_limit=options.get("breakdownLimit", 10),
            compare=options.get("compare", False),
        )
        expected.extend({**line, "label": item["event"] or "All events"} for line in lines)
    assert [(g["label"], g["breakdownValue"], g["isOther"], g["compare"]) for g in got] == [
        (e["label"], e["breakdownValue"], e["isOther"], e["compare"]) for e in expected
    ]
    for line, wanted in zip(got, expected, strict=True):
        points = [(datetime.fromisoformat(p["bucket"]).astimezone(UTC), p["value"]) for p in line["points"]]
        assert [bucket for bucket, _ in points] == [bucket for bucket, _ in wanted["points"]]
        values = [value for _, value in points]
        assert values == pytest.approx([value for _, value in wanted["points"]], rel=1e-9, abs=1e-9), (
            f"{line['label']} {line['breakdownValue']} compare={line['compare']}"
        )
    return got


def cases(*names: str) -> list:
    return [
        pytest.param(dataset, range_name, id=f"{dataset}-{range_name}")
        for dataset in DATASETS
        for range_name in names
    ]


ALL_RANGES = ("day-wide", "hour-unaligned", "minute-ragged", "week")


@pytest.mark.parametrize(("dataset", "range_name"), cases(*ALL_RANGES))
async def test_every_math_matches_reference(
    client: httpx.AsyncClient, rich_datasets: dict, dataset: str, range_name: str
) -> None:
    got = await check(client, rich_datasets[dataset], DATASETS[dataset], range_name, EVERY_MATH)

    if range_name == "day-wide":
        assert any(point["value"] for line in got for point in line["points"]), "the data must reach the range"


@pytest.mark.parametrize(
    ("dataset", "range_name"), cases("days-local-midnights", "weeks-local-midnights", "months-local-midnights")
)
async def test_unique_persons_over_whole_local_days_match_reference(
    client: httpx.AsyncClient, rich_datasets: dict, dataset: str, range_name: str
) -> None:
    series = [{"event": "purchase", "math": "UNIQUE_PERSONS"}, {"event": "$pageview", "math": "UNIQUE_PERSONS"},
              {"event": None, "math": "UNIQUE_PERSONS"}]

    got = await check(client, rich_datasets[dataset], DATASETS[dataset], range_name, series)

    assert sum(point["value"] for line in got for point in line["points"]) > 0, "the data must reach the range"


@pytest.mark.parametrize("filter_name", FILTER_CASES)
@pytest.mark.parametrize(("dataset", "range_name"), cases("day-wide"))
async def test_each_filter_operator_matches_reference(
    client: httpx.AsyncClient, rich_datasets: dict, dataset: str, range_name: str, filter_name: str
) -> None:
    series = [
        {"event": None, "math": "TOTAL"},
        {"event": "purchase", "math": "UNIQUE_PERSONS"},
        {"event": "purchase", "math": "SUM", "property": "amount"},
    ]

    got = await check(
        client, rich_datasets[dataset], DATASETS[dataset], range_name, series, filters=[FILTER_CASES[filter_name]]
    )

    assert any(point["value"] for point in got[0]["points"]), f"filter {filter_name} must keep some events"


@pytest.mark.parametrize(("dataset", "range_name"), cases("day-wide", "hour-unaligned"))
async def test_series_filters_and_global_filters_combine(
    client: httpx.AsyncClient, rich_datasets: dict, dataset: str, range_name: str
) -> None:
    series = [
        {"event": None, "math": "TOTAL", "filters": [FILTER_CASES["typed-browser"]]},
        {"event": "$pageview", "math": "UNIQUE_PERSONS", "filters": [FILTER_CASES["person-gt"]]},
        {"event": "purchase", "math": "P50", "property": "amount", "filters": [FILTER_CASES["gt"]]},
        {"event": "signup", "math": "TOTAL"},
    ]

    await check(
        client,
        rich_datasets[dataset],
        DATASETS[dataset],
        range_name,
        series,
        filters=[FILTER_CASES["neq"], FILTER_CASES["is-set"]],
    )


@pytest.mark.parametrize("breakdown_name", BREAKDOWNS)
@pytest.mark.parametrize(("dataset", "range_name"), cases("day-wide", "hour-unaligned"))
async def test_breakdown_top_values_and_other_match_reference(
    client: httpx.AsyncClient, rich_datasets: dict, dataset: str, range_name: str, breakdown_name: str
) -> None:
    breakdown, limit = BREAKDOWNS[breakdown_name]
    series = [
        {"event": None, "math": "TOTAL"},
        {"event": None, "math": "UNIQUE_PERSONS"},
        {"event": "purchase", "math": "AVG", "property": "amount"},
    ]

    got = await check(
        client, rich_datasets[dataset], DATASETS[dataset], range_name, series, breakdown=breakdown, breakdownLimit=limit
    )

    if breakdown_name == "event-tag-top-3":
        assert [line["isOther"] for line in got[:4]] == [False, False, False, True]


ENRICHED_BREAKDOWNS = {
    "country-top-5": ({"key": "$country"}, 5),
    "country-all": ({"key": "$country"}, 50),
    "utm-source": ({"key": "$utm_source"}, 2),
    "browser-top-1": ({"key": "$browser"}, 1),
}


@pytest.mark.parametrize("compare", [False, True])
@pytest.mark.parametrize("breakdown_name", ENRICHED_BREAKDOWNS)
@pytest.mark.parametrize(("dataset", "range_name"), cases(*ALL_RANGES))
async def test_counts_broken_down_by_an_enriched_column_match_reference(
    client: httpx.AsyncClient, rich_datasets: dict, dataset: str, range_name: str, breakdown_name: str, compare: bool
) -> None:
    # Whole hours from `event_values_hourly` and raw partial hours where the buckets start on whole hours
    # (minutes and DST-crossing ranges included); raw events elsewhere.
    breakdown, limit = ENRICHED_BREAKDOWNS[breakdown_name]
    series = [{"event": None, "math": "TOTAL"}, {"event": "$pageview", "math": "TOTAL"}]

    got = await check(
        client, rich_datasets[dataset], DATASETS[dataset], range_name, series, breakdown=breakdown,
        breakdownLimit=limit, compare=compare,
    )

    assert any(point["value"] for line in got if not line["isOther"] for point in line["points"]), "no data"


@pytest.mark.parametrize(("dataset", "range_name"), cases(*ALL_RANGES))
async def test_compare_previous_period_matches_reference(
    client: httpx.AsyncClient, rich_datasets: dict, dataset: str, range_name: str
) -> None:
    series = [
        {"event": None, "math": "TOTAL"},  # the rollup path
        {"event": "purchase", "math": "TOTAL", "filters": [FILTER_CASES["is-set"]]},
        {"event": None, "math": "UNIQUE_PERSONS"},
        {"event": "purchase", "math": "MAX", "property": "amount"},
    ]

    got = await check(client, rich_datasets[dataset], DATASETS[dataset], range_name, series, compare=True)

    assert [line["compare"] for line in got] == [False, True] * 4
    assert got[0]["points"] and [p["bucket"] for p in got[0]["points"]] == [p["bucket"] for p in got[1]["points"]]


@pytest.mark.parametrize(("dataset", "range_name"), cases("day-wide", "minute-ragged"))
async def test_compare_with_breakdown_and_filters_matches_reference(
    client: httpx.AsyncClient, rich_datasets: dict, dataset: str, range_name: str
) -> None:
    series = [{"event": None, "math": "TOTAL"}, {"event": None, "math": "UNIQUE_PERSONS"}]

    await check(
        client,
        rich_datasets[dataset],
        DATASETS[dataset],
        range_name,
        series,
        filters=[FILTER_CASES["person-is-not-set"]],
        breakdown={"key": "tag"},
        breakdownLimit=4,
        compare=True,
    )


async def test_a_person_with_several_distinct_ids_counts_once_and_bots_never(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller
) -> None:
    project = await create_owned_project(db, caller.organization_id, "persons", "UTC")
    person = GeneratedPerson(id=uuid.uuid4(), traits={"plan": "pro"}, distinct_ids=("anon-1", "user-1"))
    await insert_persons(db, project.project_id, [person])
    noon = datetime(2024, 5, 1, 12, tzinfo=UTC)
    events = [
        GeneratedEvent(noon, "m1", "purchase", {"amount": 10}, distinct_id="anon-1"),
        GeneratedEvent(noon + timedelta(minutes=5), "m2", "purchase", {"amount": "20"}, distinct_id="user-1"),
        GeneratedEvent(noon + timedelta(minutes=9), "m3", "purchase", {"amount": 30.5}, distinct_id="stranger"),
        GeneratedEvent(noon, "m4", "purchase", {"amount": 1000}, distinct_id="crawler", is_bot=True),
    ]
    await insert_events(db, project.project_id, events)
    series = [
        {"event": "purchase", "math": "UNIQUE_PERSONS"},
        {"event": "purchase", "math": "SUM", "property": "amount"},
        {"event": "purchase", "math": "UNIQUE_PERSONS", "filters": [FILTER_CASES["person-eq"]]},
    ]

    body = await execute(
        client,
        TRENDS_FULL,
        projectId=str(project.project_id),
        series=series,
        interval="DAY",
        dateRange={"from": "2024-05-01T00:00:00Z", "to": "2024-05-02T00:00:00Z"},
    )

    assert [line["points"][0]["value"] for line in body["data"]["trends"]] == [2.0, 40.5, 1.0]


async def test_only_unfiltered_total_reads_the_rollup(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller
) -> None:
    # The rollup is made to disagree with the log on purpose, to see which one each query reads.
    project = await create_owned_project(db, caller.organization_id, "rollup-or-raw", "UTC")
    minute = datetime(2024, 5, 1, 12, tzinfo=UTC)
    await insert_events(db, project.project_id, [GeneratedEvent(minute, "only", "signup", {"plan": "pro"})])
    await db.execute("UPDATE event_counts SET count = 7 WHERE project_id = $1", project.project_id)
    await db.execute("UPDATE event_counts_hourly SET count = 7 WHERE project_id = $1", project.project_id)
    date_range = {"from": "2024-05-01T00:00:00Z", "to": "2024-05-02T00:00:00Z"}

    async def total(**options: Any) -> list[float]:
        body = await execute(
            client,
            TRENDS_FULL,
            projectId=str(project.project_id),
            series=[{"event": "signup", "math": "TOTAL"}],
            interval="DAY",
            dateRange=date_range,
            **options,
        )
        return [sum(point["value"] for point in line["points"]) for line in body["data"]["trends"]]

    assert await total() == [7.0]
    assert await total(compare=True) == [7.0, 0.0]
    assert await total(filters=[{"key": "plan", "operator": "IS_SET"}]) == [1.0]
    assert await total(breakdown={"key": "plan"}) == [1.0]


async def test_counts_by_an_enriched_column_read_the_hourly_values_rollup(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller
) -> None:
    # The rollup is made to disagree with the log on purpose, to see which one each query reads.
    project = await create_owned_project(db, caller.organization_id, "values-rollup-or-raw", "UTC")
    noon = datetime(2024, 5, 1, 12, tzinfo=UTC)
    await insert_events(db, project.project_id, [
        GeneratedEvent(noon, "a", "signup", country="DE"),
        GeneratedEvent(noon + timedelta(minutes=70), "b", "signup", country="FR"),
        GeneratedEvent(noon, "c", "signup", country="DE", is_bot=True),
    ])
    await db.execute(
        "UPDATE event_values_hourly SET count = 7 WHERE project_id = $1 AND value = 'DE'", project.project_id
    )

    async def by_country(date_range: dict, **options: Any) -> list[tuple]:
        body = await execute(
            client, TRENDS_FULL, projectId=str(project.project_id), series=[{"event": "signup", "math": "TOTAL"}],
            interval="HOUR", dateRange=date_range, breakdown={"key": "$country"}, **options,
        )
        return [(line["breakdownValue"], sum(point["value"] for point in line["points"]))
                for line in body["data"]["trends"]]

    whole_hours = {"from": "2024-05-01T12:00:00Z", "to": "2024-05-01T14:00:00Z"}
    assert await by_country(whole_hours) == [("DE", 7.0), ("FR", 1.0)]
    # The hour of 12:00 is cut by this range's end: its events are counted from the log.
    assert await by_country({"from": "2024-05-01T11:00:00Z", "to": "2024-05-01T12:30:00Z"}) == [("DE", 1.0)]
    assert await by_country(whole_hours, filters=[{"key": "$country", "operator": "IS_SET"}]) == [
        ("DE", 1.0), ("FR", 1.0)]
