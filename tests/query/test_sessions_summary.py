"""The sessions summary against the plain-Python reference, a hand-checked case, access and refused input.

The generated sessions start in zones with a DST change, some exactly at the ends of the
queried ranges (from is inside, to is not) and on local midnights and hours; they carry
unicode pages, missing dimensions, one-event bounces and multi-event sessions of no duration.
"""

import itertools
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from config import Settings
from storage.projects import CreatedProject
from tests.query.graphql_client import error_codes, execute
from tests.query.reference_sessions import GeneratedSession, expected_summary, insert_sessions, random_sessions
from tests.query.tenant import Caller, add_member, create_organization, create_owned_project

STATS = "sessions persons avgDurationSeconds medianDurationSeconds bounceRate pageviewsPerSession eventsPerSession"
ADDITIVE_STATS = "sessions avgDurationSeconds bounceRate pageviewsPerSession eventsPerSession"
"""Without persons and medians: the statistics the hourly rollup answers."""


def sessions_query(stats: str, totals: str | None = None) -> str:
    """The summary query, every part selecting `stats` (totals: `totals`, if given)."""
    totals = totals or stats
    return f"""
query Sessions(
  $projectId: ID!, $dateRange: DateRangeInput!, $filters: [SessionFilterInput!], $breakdown: SessionDimension,
  $breakdownLimit: Int! = 10, $interval: Interval, $pagesLimit: Int! = 10
) {{
  sessionsSummary(
    projectId: $projectId, dateRange: $dateRange, filters: $filters, breakdown: $breakdown,
    breakdownLimit: $breakdownLimit, interval: $interval, pagesLimit: $pagesLimit
  ) {{
    totals {{ {totals} }}
    breakdown {{ value isOther stats {{ {stats} }} }}
    series {{ bucket stats {{ {stats} }} }}
    entryPages {{ page stats {{ {stats} }} }}
    exitPages {{ page stats {{ {stats} }} }}
  }}
}}
"""


SESSIONS = sessions_query(STATS)
ADDITIVE_SESSIONS = sessions_query(ADDITIVE_STATS)
# What the overview asks: persons and the median of the whole range only.
MIXED_SESSIONS = sessions_query(ADDITIVE_STATS, totals=STATS)


@dataclass(frozen=True)
class Dataset:
    timezone: str
    center: datetime
    seed: int


DATASETS = {
    "berlin-dst-ends": Dataset("Europe/Berlin", datetime(2024, 10, 27, 1, 0, tzinfo=UTC), seed=31),
    "new-york-dst-starts": Dataset("America/New_York", datetime(2024, 3, 10, 7, 0, tzinfo=UTC), seed=32),
}


def ranges(center: datetime) -> dict[str, tuple[datetime, datetime]]:
    return {
        "days": (center - timedelta(days=3), center + timedelta(days=3)),
        "unaligned": (center - timedelta(days=1, hours=5, seconds=7.5), center + timedelta(hours=30, microseconds=3)),
        "wide": (center - timedelta(days=30), center + timedelta(days=30)),
    }


@dataclass(frozen=True)
class Loaded:
    project_id: str
    sessions: list[GeneratedSession]


@pytest.fixture(scope="module")
async def datasets(module_db: asyncpg.Connection, caller: Caller) -> dict[str, Loaded]:
    loaded = {}
    for name, dataset in DATASETS.items():
        zone = ZoneInfo(dataset.timezone)
        project = await create_owned_project(module_db, caller.organization_id, f"sessions-{name}", dataset.timezone)
        edges = [edge for pair in ranges(dataset.center).values() for edge in pair]
        sessions = random_sessions(random.Random(dataset.seed), dataset.center, zone, 1500, edges)
        await insert_sessions(module_db, project.project_id, sessions)
        loaded[name] = Loaded(str(project.project_id), sessions)
    # Another project's sessions in the same time: never counted.
    other = await create_owned_project(module_db, caller.organization_id, "sessions-other", "UTC")
    center = DATASETS["berlin-dst-ends"].center
    noise = random_sessions(random.Random(39), center, ZoneInfo("UTC"), 200, ranges(center)["days"])
    await insert_sessions(module_db, other.project_id, noise)
    return loaded


def _instants(summary: dict) -> dict:
    """The summary with bucket starts as UTC instants."""
    series = [{**row, "bucket": datetime.fromisoformat(row["bucket"]).astimezone(UTC)} for row in summary["series"]]
    return {**summary, "series": series}


def _assert_same(got: Any, expected: Any, path: str = "") -> None:
    """Equal, floats within a tight tolerance (SQL and Python sum in different orders)."""
    if isinstance(expected, dict):
        assert isinstance(got, dict) and got.keys() == expected.keys(), path
        for key in expected:
            _assert_same(got[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), f"{path}: {len(got)} != {len(expected)}"
        for index, (left, right) in enumerate(zip(got, expected, strict=True)):
            _assert_same(left, right, f"{path}[{index}]")
    elif isinstance(expected, float):
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-9), path
    else:
        assert got == expected and type(got) is type(expected), f"{path}: {got!r} != {expected!r}"


def _without(value: Any, keys: set[str]) -> Any:
    """`value` with those keys left out of every dict in it."""
    if isinstance(value, dict):
        return {key: _without(item, keys) for key, item in value.items() if key not in keys}
    if isinstance(value, list):
        return [_without(item, keys) for item in value]
    return value


async def check(
    client: httpx.AsyncClient, loaded: Loaded, dataset: str, range_name: str, *, selection: str = "all",
    **options: Any,
) -> dict:
    """Queries the summary (`selection`: "all" statistics, "additive" ones only, or "mixed": all in the totals,
    additive ones elsewhere) and compares it with the reference; returns the reference."""
    zone = ZoneInfo(DATASETS[dataset].timezone)
    date_from, date_to = ranges(DATASETS[dataset].center)[range_name]
    body = await execute(
        client,
        {"all": SESSIONS, "additive": ADDITIVE_SESSIONS, "mixed": MIXED_SESSIONS}[selection],
        projectId=loaded.project_id,
        dateRange={"from": date_from.astimezone(zone).isoformat(), "to": date_to.astimezone(zone).isoformat()},
        **options,
    )
    assert "errors" not in body, body["errors"]
    expected = expected_summary(
        loaded.sessions,
        date_from=date_from,
        date_to=date_to,
        zone=zone,
        filters=options.get("filters") or [],
        breakdown=options.get("breakdown"),
        breakdown_limit=options.get("breakdownLimit", 10),
        interval=options.get("interval"),
        pages_limit=options.get("pagesLimit", 10),
    )
    wanted = expected
    if selection != "all":
        wanted = _without(expected, {"persons", "medianDurationSeconds"})
    if selection == "mixed":
        wanted["totals"] = expected["totals"]
    _assert_same(_instants(body["data"]["sessionsSummary"]), wanted)
    return expected


OPTIONS = {
    "plain": {},
    "breakdown-browser": {"breakdown": "BROWSER", "breakdownLimit": 2},
    "breakdown-entry-page": {"breakdown": "ENTRY_PAGE", "breakdownLimit": 3, "pagesLimit": 4},
    "breakdown-all-values": {"breakdown": "COUNTRY", "breakdownLimit": 100},
    "filters": {
        "filters": [
            {"dimension": "DEVICE_TYPE", "operator": "NEQ", "values": ["mobile"]},
            {"dimension": "CITY", "operator": "IN", "values": ["Berlin", "東京", "Paris"]},
        ],
        "breakdown": "CITY",
    },
    "unicode-filter": {"filters": [{"dimension": "ENTRY_PAGE", "operator": "CONTAINS", "values": ["ü"]}]},
    "set-filters": {
        "filters": [
            {"dimension": "UTM_SOURCE", "operator": "IS_SET"},
            {"dimension": "REFERRER_DOMAIN", "operator": "IS_NOT_SET"},
            {"dimension": "EXIT_PAGE", "operator": "NOT_CONTAINS", "values": ["/blog"]},
        ]
    },
    "eq-filter": {"filters": [{"dimension": "OS", "operator": "EQ", "values": ["iOS"]}], "breakdown": "REGION"},
    "hours": {"interval": "HOUR"},
    "days-and-breakdown": {"interval": "DAY", "breakdown": "EXIT_PAGE", "breakdownLimit": 4},
    "weeks": {"interval": "WEEK"},
    "months": {"interval": "MONTH"},
}


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("range_name", ["days", "unaligned", "wide"])
@pytest.mark.parametrize("dataset", DATASETS)
async def test_summary_matches_reference(
    client: httpx.AsyncClient, datasets: dict, dataset: str, range_name: str, option: str
) -> None:
    expected = await check(client, datasets[dataset], dataset, range_name, **OPTIONS[option])

    totals = expected["totals"]
    assert totals["sessions"] > totals["persons"] > 0, "the data must reach the range, persons with many sessions"
    assert 0 < totals["bounceRate"] < 1
    if option.startswith("breakdown-") and option != "breakdown-all-values":
        assert expected["breakdown"][-1]["isOther"], "there must be an Other row"
    if option == "breakdown-all-values":
        assert not any(row["isOther"] for row in expected["breakdown"])
        assert any(row["value"] is None for row in expected["breakdown"]), "sessions without a country"


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("range_name", ["days", "unaligned", "wide"])
@pytest.mark.parametrize("dataset", DATASETS)
async def test_summary_without_persons_and_medians_matches_reference(
    client: httpx.AsyncClient, datasets: dict, dataset: str, range_name: str, option: str
) -> None:
    # Unfiltered, with whole-hour buckets: from the hourly rollup and the raw partial hours at the ends;
    # the others from the sessions. Either way, the same numbers.
    await check(client, datasets[dataset], dataset, range_name, selection="additive", **OPTIONS[option])


@pytest.mark.parametrize("option", ["plain", "breakdown-browser", "filters", "days-and-breakdown", "months"])
@pytest.mark.parametrize("range_name", ["unaligned", "wide"])
@pytest.mark.parametrize("dataset", DATASETS)
async def test_persons_and_medians_of_the_totals_only_match_reference(
    client: httpx.AsyncClient, datasets: dict, dataset: str, range_name: str, option: str
) -> None:
    # The totals from the sessions, the other parts from the rollup, in one snapshot.
    await check(client, datasets[dataset], dataset, range_name, selection="mixed", **OPTIONS[option])


@pytest.mark.parametrize("dataset", DATASETS)
async def test_minute_buckets_match_reference(client: httpx.AsyncClient, datasets: dict, dataset: str) -> None:
    # The unaligned range: about 3300 minutes, within what a query may ask for.
    expected = await check(client, datasets[dataset], dataset, "unaligned", interval="MINUTE", breakdown="OS")

    assert sum(row["stats"]["sessions"] for row in expected["series"]) == expected["totals"]["sessions"]


@pytest.mark.parametrize("dataset", DATASETS)
async def test_sessions_on_range_edges(client: httpx.AsyncClient, datasets: dict, dataset: str) -> None:
    loaded = datasets[dataset]
    date_from, date_to = ranges(DATASETS[dataset].center)["days"]
    # The generated data does start sessions exactly on both ends: the reference keeps `from` and drops `to`.
    assert any(s.started_at == date_from for s in loaded.sessions)
    assert any(s.started_at == date_to for s in loaded.sessions)

    await check(client, loaded, dataset, "days", interval="DAY")


@pytest.mark.parametrize("dataset", DATASETS)
async def test_day_buckets_are_local_days_across_dst(client: httpx.AsyncClient, datasets: dict, dataset: str) -> None:
    expected = await check(client, datasets[dataset], dataset, "days", interval="DAY")

    lengths = {b["bucket"] - a["bucket"] for a, b in itertools.pairwise(expected["series"])}
    assert lengths == {timedelta(hours=24), timedelta(hours=23 if dataset.startswith("new-york") else 25)}


async def test_summary_by_hand(module_db: asyncpg.Connection, caller: Caller, client: httpx.AsyncClient) -> None:
    project = await create_owned_project(module_db, caller.organization_id, "sessions-by-hand", "Europe/Berlin")
    zone = ZoneInfo("Europe/Berlin")
    alice, bob = uuid4(), uuid4()

    def session(person: Any, start: datetime, seconds: float, events: int, pageviews: int, **attributes: Any):
        return GeneratedSession(
            id=uuid4(), person_id=person, started_at=start.astimezone(UTC),
            ended_at=(start + timedelta(seconds=seconds)).astimezone(UTC), event_count=events,
            pageview_count=pageviews, **attributes,
        )

    midnight = datetime(2024, 3, 4, tzinfo=zone)
    await insert_sessions(
        module_db,
        project.project_id,
        [
            # Exactly at `from`: counted. A bounce, on the unicode page.
            session(alice, midnight, 0, 1, 1, entry_page="/ünï", exit_page="/ünï", browser="Firefox"),
            session(alice, midnight + timedelta(hours=1), 60, 4, 2, entry_page="/", exit_page="/ünï", browser="Chrome"),
            # No browser: null ties with Firefox and Chrome (one session each) and ranks after them.
            session(bob, midnight + timedelta(hours=25), 150, 3, 0),
            # Exactly at `to`: not counted.
            session(bob, midnight + timedelta(days=2), 10, 2, 1, entry_page="/", exit_page="/", browser="Chrome"),
        ],
    )

    body = await execute(
        client,
        SESSIONS,
        projectId=str(project.project_id),
        dateRange={"from": "2024-03-04T00:00:00+01:00", "to": "2024-03-06T00:00:00+01:00"},
        breakdown="BROWSER",
        breakdownLimit=2,
        interval="DAY",
    )

    assert "errors" not in body, body["errors"]
    summary = body["data"]["sessionsSummary"]
    assert summary["totals"] == {
        "sessions": 3, "persons": 2, "avgDurationSeconds": 70.0, "medianDurationSeconds": 60.0,
        "bounceRate": pytest.approx(1 / 3), "pageviewsPerSession": 1.0, "eventsPerSession": pytest.approx(8 / 3),
    }
    # Ties in code-point order, sessions without the dimension last.
    assert [(row["value"], row["isOther"], row["stats"]["sessions"]) for row in summary["breakdown"]] == [
        ("Chrome", False, 1),
        ("Firefox", False, 1),
        (None, True, 1),
    ]
    assert [(row["bucket"], row["stats"]["sessions"]) for row in summary["series"]] == [
        ("2024-03-04T00:00:00+01:00", 2),
        ("2024-03-05T00:00:00+01:00", 1),
    ]
    assert [(row["page"], row["stats"]["sessions"], row["stats"]["bounceRate"]) for row in summary["entryPages"]] == [
        ("/", 1, 0.0),
        ("/ünï", 1, 1.0),
    ]
    assert [(row["page"], row["stats"]["sessions"], row["stats"]["bounceRate"]) for row in summary["exitPages"]] == [
        ("/ünï", 2, 0.5),
    ]


async def test_additive_statistics_come_from_the_hourly_rollup(
    module_db: asyncpg.Connection, caller: Caller, client: httpx.AsyncClient
) -> None:
    project = await create_owned_project(module_db, caller.organization_id, "sessions-rollup", "UTC")
    start = datetime(2024, 6, 3, 9, 30, tzinfo=UTC)
    sessions = [
        GeneratedSession(
            id=uuid4(), person_id=uuid4(), started_at=start + timedelta(minutes=10 * index),
            ended_at=start + timedelta(minutes=10 * index, seconds=index), event_count=1 + index % 2,
            pageview_count=1, entry_page="/", exit_page="/", browser="Chrome",
        )
        for index in range(12)
    ]
    await insert_sessions(module_db, project.project_id, sessions)
    # The triggers summed them per hour; a change made to the rollup alone shows where the answer came from.
    await module_db.execute(
        "UPDATE session_hourly SET sessions = sessions + 100, events = events + 100"
        " WHERE project_id = $1 AND dimension = '' AND hour = '2024-06-03 10:00+00'",
        project.project_id,
    )
    variables = {
        "projectId": str(project.project_id),
        "dateRange": {"from": "2024-06-03T09:45:00Z", "to": "2024-06-03T12:15:00Z"},
        "breakdown": "BROWSER",
        "interval": "HOUR",
    }

    additive = (await execute(client, ADDITIVE_SESSIONS, **variables))["data"]["sessionsSummary"]
    everything = (await execute(client, SESSIONS, **variables))["data"]["sessionsSummary"]
    mixed = (await execute(client, MIXED_SESSIONS, **variables))["data"]["sessionsSummary"]

    # In range: 09:50 (a partial hour, from the sessions), six in 10:00-11:00 and three in 11:00-11:20 (rollup).
    assert [row["stats"]["sessions"] for row in everything["series"]] == [1, 6, 3, 0]
    assert [row["stats"]["sessions"] for row in additive["series"]] == [1, 106, 3, 0]
    assert (everything["totals"]["sessions"], additive["totals"]["sessions"]) == (10, 110)
    assert additive["totals"]["eventsPerSession"] == pytest.approx((15 + 100) / 110)
    assert everything["totals"]["eventsPerSession"] == pytest.approx(15 / 10)
    # The browser rows were left alone: the breakdown, from them, is the truth.
    assert [(row["value"], row["stats"]["sessions"]) for row in additive["breakdown"]] == [("Chrome", 10)]
    assert everything["totals"]["persons"] == 10
    # Persons and the median in the totals only: the totals from the sessions, the series from the rollup.
    assert (mixed["totals"]["sessions"], mixed["totals"]["persons"]) == (10, 10)
    assert [row["stats"]["sessions"] for row in mixed["series"]] == [1, 106, 3, 0]


async def test_zones_with_half_hour_offsets_read_the_sessions(
    module_db: asyncpg.Connection, caller: Caller, client: httpx.AsyncClient
) -> None:
    # Kolkata's local days start at 18:30 UTC: no whole UTC hour holds them, so days come from the sessions.
    zone = ZoneInfo("Asia/Kolkata")
    project = await create_owned_project(module_db, caller.organization_id, "sessions-kolkata", "Asia/Kolkata")
    center = datetime(2024, 6, 3, 18, 30, tzinfo=UTC)
    date_from, date_to = center - timedelta(days=2), center + timedelta(days=2)
    sessions = random_sessions(random.Random(41), center, zone, 400, [date_from, date_to])
    await insert_sessions(module_db, project.project_id, sessions)
    variables = {
        "projectId": str(project.project_id),
        "dateRange": {"from": date_from.astimezone(zone).isoformat(), "to": date_to.astimezone(zone).isoformat()},
    }

    for interval in ("DAY", "HOUR"):
        body = await execute(client, ADDITIVE_SESSIONS, interval=interval, breakdown="COUNTRY", **variables)

        assert "errors" not in body, body["errors"]
        expected = expected_summary(sessions, date_from=date_from, date_to=date_to, zone=zone, interval=interval,
                                    breakdown="COUNTRY")
        assert len(expected["series"]) == (4 if interval == "DAY" else 96)
        wanted = _without(expected, {"persons", "medianDurationSeconds"})
        _assert_same(_instants(body["data"]["sessionsSummary"]), wanted)


async def test_empty_range_has_zero_sessions_and_no_averages(client: httpx.AsyncClient, datasets: dict) -> None:
    body = await execute(
        client,
        SESSIONS,
        projectId=datasets["berlin-dst-ends"].project_id,
        dateRange={"from": "2019-01-01T00:00:00+01:00", "to": "2019-01-03T00:00:00+01:00"},
        breakdown="OS",
        interval="DAY",
    )

    assert "errors" not in body, body["errors"]
    summary = body["data"]["sessionsSummary"]
    assert summary["totals"] == {
        "sessions": 0, "persons": 0, "avgDurationSeconds": None, "medianDurationSeconds": None, "bounceRate": None,
        "pageviewsPerSession": None, "eventsPerSession": None,
    }
    assert summary["breakdown"] == [] and summary["entryPages"] == [] and summary["exitPages"] == []
    assert [(row["bucket"], row["stats"]["sessions"]) for row in summary["series"]] == [
        ("2019-01-01T00:00:00+01:00", 0),
        ("2019-01-02T00:00:00+01:00", 0),
    ]


async def test_a_viewer_reads_sessions(
    query_url: str, query_settings: Settings, module_db: asyncpg.Connection, caller: Caller, datasets: dict
) -> None:
    viewer = await add_member(module_db, query_settings, caller.organization_id, "VIEWER")

    async with httpx.AsyncClient(base_url=query_url, headers=viewer.headers, timeout=30) as http:
        await check(http, datasets["berlin-dst-ends"], "berlin-dst-ends", "days", breakdown="BROWSER")


async def test_another_organizations_project_is_not_found(
    query_url: str, query_settings: Settings, module_db: asyncpg.Connection, datasets: dict
) -> None:
    stranger = await create_organization(module_db, query_settings, "Sessions stranger")

    async with httpx.AsyncClient(base_url=query_url, headers=stranger.headers, timeout=30) as http:
        body = await execute(
            http,
            SESSIONS,
            projectId=datasets["berlin-dst-ends"].project_id,
            dateRange={"from": "2024-10-20T00:00:00Z", "to": "2024-10-30T00:00:00Z"},
        )

    assert error_codes(body) == ["NOT_FOUND"]
    assert body["data"] is None


BASE = {"dateRange": {"from": "2024-05-01T00:00:00Z", "to": "2024-05-08T00:00:00Z"}}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            {"dateRange": {"from": "2024-05-08T00:00:00Z", "to": "2024-05-01T00:00:00Z"}}, "must be after",
            id="inverted",
        ),
        pytest.param(
            {"dateRange": {"from": "2024-05-01T00:00:00Z", "to": "2024-05-01T00:00:00Z"}}, "must be after", id="empty"
        ),
        pytest.param(
            {"dateRange": {"from": "2024-05-01T00:00:00", "to": "2024-05-08T00:00:00Z"}}, "UTC offset", id="no-offset"
        ),
        pytest.param(
            {"dateRange": {"from": "2020-01-01T00:00:00Z", "to": "2024-01-01T00:00:00Z"}}, "at most 732 days",
            id="too-long",
        ),
        pytest.param({"breakdown": "OS", "breakdownLimit": 101}, "breakdownLimit must be between", id="limit-101"),
        pytest.param({"breakdown": "OS", "breakdownLimit": 0}, "breakdownLimit must be between", id="limit-0"),
        pytest.param({"pagesLimit": 101}, "pagesLimit must be between", id="pages-101"),
        pytest.param({"pagesLimit": -1}, "pagesLimit must be between", id="pages-negative"),
        pytest.param(
            {"interval": "MINUTE", "dateRange": {"from": "2024-05-01T00:00:00Z", "to": "2024-05-08T00:00:00Z"}},
            "minute buckets",
            id="too-many-buckets",
        ),
        pytest.param(
            {"filters": [{"dimension": "OS", "operator": "GT", "values": ["5"]}]}, "does not apply", id="gt"
        ),
        pytest.param({"filters": [{"dimension": "OS", "operator": "IN", "values": []}]}, "IN takes", id="empty-in"),
        pytest.param(
            {"filters": [{"dimension": "OS", "operator": "EQ", "values": ["a", "b"]}]}, "EQ takes one", id="two-eq"
        ),
        pytest.param(
            {"filters": [{"dimension": "OS", "operator": "IS_SET", "values": ["a"]}]}, "takes no value", id="set-value"
        ),
        pytest.param(
            {"filters": [{"dimension": "OS", "operator": "CONTAINS", "values": [""]}]}, "non-empty", id="contains-empty"
        ),
        pytest.param(
            {"filters": [{"dimension": "OS", "operator": "EQ", "values": ["x" * 2001]}]}, "at most 2000", id="long"
        ),
        pytest.param(
            {"filters": [{"dimension": "OS", "operator": "IS_SET"}] * 21}, "at most 20 filters", id="many-filters"
        ),
    ],
)
async def test_bad_input_is_refused(
    client: httpx.AsyncClient, project: CreatedProject, overrides: dict, message: str
) -> None:
    body = await execute(client, SESSIONS, projectId=str(project.project_id), **{**BASE, **overrides})

    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert message in body["errors"][0]["message"]
    assert body["data"] is None


async def test_unknown_dimension_is_refused_by_the_schema(client: httpx.AsyncClient, project: CreatedProject) -> None:
    body = await execute(client, SESSIONS, projectId=str(project.project_id), breakdown="PASSWORD", **BASE)

    assert body.get("data") is None
    assert "SessionDimension" in body["errors"][0]["message"]
