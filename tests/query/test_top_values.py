"""Top lists against the plain-Python reference, a hand-checked case, access and refused input.

The generated events carry every enriched column the dimensions read (sometimes missing),
unicode values, page paths on events that are not page views, properties of mixed JSON types
(strings, numbers, booleans, null, the empty string), bots, persons with several distinct ids
and distinct ids without a person, and events exactly on the ends of the queried ranges.
"""

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest

from config import Settings
from storage.projects import CreatedProject
from tests.query.event_data import GeneratedEvent, GeneratedPerson, insert_events, insert_persons, random_persons
from tests.query.graphql_client import error_codes, execute
from tests.query.reference import Persons
from tests.query.reference_sessions import expected_top_values
from tests.query.tenant import Caller, add_member, create_organization, create_owned_project

TOP_VALUES = """
query TopValues(
  $projectId: ID!, $dateRange: DateRangeInput!, $dimension: TopDimension!, $event: String, $property: String,
  $filters: [PropertyFilterInput!], $limit: Int! = 10
) {
  topValues(
    projectId: $projectId, dateRange: $dateRange, dimension: $dimension, event: $event, property: $property,
    filters: $filters, limit: $limit
  ) {
    values { value events persons }
    withoutValue { events persons }
    total { events persons }
  }
}
"""

CENTER = datetime(2024, 10, 27, 1, 0, tzinfo=UTC)
RANGES = {
    "days": (CENTER - timedelta(days=3), CENTER + timedelta(days=3)),
    "unaligned": (CENTER - timedelta(hours=29, seconds=7.5), CENTER + timedelta(hours=30, microseconds=3)),
}

PAGES = ("/", "/pricing", "/docs/ünïcode", "/blog/日本語", "/a/🚀", "")
COLUMNS = {
    "referrer_domain": ("google.com", "bücher.de", "t.co"),
    "country": ("DE", "US", "JP", "CI"),
    "browser": ("Chrome", "Firefox", "Safari"),
    "device_type": ("desktop", "mobile"),
    "os": ("Windows", "macOS", "iOS", "Linux"),
    "utm_source": ("newsletter", "ünï 🚀"),
}
EVENTS = ("$pageview", "purchase", "signup", "clicked button")


def _property_value(rng: random.Random) -> object:
    roll = rng.random()
    if roll < 0.4:
        return rng.choice(("free", "pro", "Pro", "énterprise 🚀", "日本語", ""))
    if roll < 0.6:
        return rng.randint(-3, 12)
    if roll < 0.7:
        return rng.choice((1.5, 0.25, 2.0))
    if roll < 0.8:
        return rng.choice((True, False))
    return None  # JSON null: no value


def random_top_events(rng: random.Random, count: int, persons: list[GeneratedPerson]) -> list[GeneratedEvent]:
    distinct_ids = [distinct_id for person in persons for distinct_id in person.distinct_ids]
    edges = [instant for pair in RANGES.values() for instant in pair]
    events = []
    for index in range(count):
        roll = rng.random()
        if roll < 0.06:
            event_time = rng.choice(edges)
        elif roll < 0.9:
            event_time = CENTER + timedelta(seconds=rng.uniform(-4 * 86400, 4 * 86400))
        else:
            event_time = CENTER + timedelta(seconds=rng.uniform(-40 * 86400, 40 * 86400))
        name = rng.choices(EVENTS, weights=(6, 2, 2, 3))[0]
        is_bot = rng.random() < 0.07
        if is_bot:
            distinct_id = f"bot-{rng.randint(0, 3)}"
        else:
            distinct_id = rng.choice(distinct_ids) if rng.random() < 0.8 else f"anon-{rng.randint(0, 20)}"
        properties = {"plan": _property_value(rng)} if rng.random() < 0.8 else {}
        if rng.random() < 0.5:
            properties["amount"] = rng.randint(0, 500)
        columns = {name: (rng.choice(values) if rng.random() < 0.8 else None) for name, values in COLUMNS.items()}
        # Clicks carry a page path too: PAGE must count page views only.
        page = rng.choice(PAGES) if name in ("$pageview", "clicked button") and rng.random() < 0.9 else None
        events.append(
            GeneratedEvent(
                event_time=event_time,
                message_id=f"top{index:06d}",
                event=name,
                properties=properties,
                distinct_id=distinct_id,
                is_bot=is_bot,
                page_path=page,
                **columns,
            )
        )
    return events


@dataclass(frozen=True)
class Loaded:
    project_id: str
    events: list[GeneratedEvent]
    persons: Persons


@pytest.fixture(scope="module")
async def loaded(module_db: asyncpg.Connection, caller: Caller) -> Loaded:
    project = await create_owned_project(module_db, caller.organization_id, "top-values", "Europe/Berlin")
    rng = random.Random("top-values")
    persons = random_persons(rng, 40)
    events = random_top_events(rng, 4000, persons)
    await insert_persons(module_db, project.project_id, persons)
    await insert_events(module_db, project.project_id, events)
    mapping = Persons(
        person_of={distinct_id: str(p.id) for p in persons for distinct_id in p.distinct_ids},
        traits_of={str(p.id): p.traits for p in persons},
    )
    # Another project's events in the same time: never counted.
    other = await create_owned_project(module_db, caller.organization_id, "top-values-other", "UTC")
    noise = random_top_events(random.Random(5), 300, random_persons(random.Random(6), 3))
    await insert_events(module_db, other.project_id, noise)
    return Loaded(str(project.project_id), events, mapping)


async def check(client: httpx.AsyncClient, loaded: Loaded, range_name: str, **options: Any) -> dict:
    """Queries the top list and compares it with the reference (exactly: all counts); returns the reference."""
    date_from, date_to = RANGES[range_name]
    body = await execute(
        client,
        TOP_VALUES,
        projectId=loaded.project_id,
        dateRange={"from": date_from.isoformat(), "to": date_to.isoformat()},
        **options,
    )
    assert "errors" not in body, body["errors"]
    expected = expected_top_values(
        loaded.events,
        loaded.persons,
        date_from=date_from,
        date_to=date_to,
        dimension=options["dimension"],
        event=options.get("event"),
        key=options.get("property"),
        filters=options.get("filters") or [],
        limit=options.get("limit", 10),
    )
    assert body["data"]["topValues"] == expected
    return expected


OPTIONS = {
    "pages": {"dimension": "PAGE"},
    "pages-top-2": {"dimension": "PAGE", "limit": 2},
    "referrers": {"dimension": "REFERRER_DOMAIN"},
    "countries": {"dimension": "COUNTRY", "limit": 100},
    "browsers-of-purchases": {"dimension": "BROWSER", "event": "purchase"},
    "devices": {"dimension": "DEVICE_TYPE"},
    "os-filtered": {
        "dimension": "OS",
        "filters": [{"key": "plan", "operator": "IN", "value": ["free", "pro"], "type": "PERSON"}],
    },
    "utm-sources": {"dimension": "UTM_SOURCE", "filters": [{"key": "$browser", "operator": "NEQ", "value": "Firefox"}]},
    "plan-property": {"dimension": "EVENT_PROPERTY", "event": "$pageview", "property": "plan", "limit": 100},
    "amount-property": {
        "dimension": "EVENT_PROPERTY",
        "event": "purchase",
        "property": "amount",
        "limit": 5,
        "filters": [{"key": "amount", "operator": "GT", "value": 100}],
    },
    "typed-property": {"dimension": "EVENT_PROPERTY", "event": "signup", "property": "$browser"},
    "missing-property": {"dimension": "EVENT_PROPERTY", "event": "signup", "property": "nöpe"},
}


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("range_name", RANGES)
async def test_top_values_match_reference(
    client: httpx.AsyncClient, loaded: Loaded, range_name: str, option: str
) -> None:
    expected = await check(client, loaded, range_name, **OPTIONS[option])

    assert expected["total"]["events"] > expected["total"]["persons"] > 0, "the data must reach the range"
    if option == "missing-property":
        assert expected["values"] == [] and expected["withoutValue"] == expected["total"]
    elif option == "amount-property":
        # The filter keeps only events with a numeric amount.
        assert expected["values"] and expected["withoutValue"] == {"events": 0, "persons": 0}
    else:
        assert expected["values"] and expected["withoutValue"]["events"] > 0, "values and events without one"


async def test_property_values_keep_their_json_text_and_unicode(client: httpx.AsyncClient, loaded: Loaded) -> None:
    expected = await check(
        client, loaded, "days", dimension="EVENT_PROPERTY", event="$pageview", property="plan", limit=100
    )

    values = {row["value"] for row in expected["values"]}
    assert {"énterprise 🚀", "日本語", "", "true", "1.5", "-3", "Pro", "pro"} <= values
    assert "None" not in values and "null" not in values


async def test_range_edges_are_half_open(client: httpx.AsyncClient, loaded: Loaded) -> None:
    date_from, date_to = RANGES["days"]
    assert any(item.event_time == date_from for item in loaded.events)
    assert any(item.event_time == date_to for item in loaded.events)

    await check(client, loaded, "days", dimension="COUNTRY", limit=100)


async def test_top_values_by_hand(module_db: asyncpg.Connection, caller: Caller, client: httpx.AsyncClient) -> None:
    project = await create_owned_project(module_db, caller.organization_id, "top-values-by-hand", "UTC")
    alice = GeneratedPerson(uuid4(), {}, ("alice-web", "alice-phone"))
    await insert_persons(module_db, project.project_id, [alice])
    start = datetime(2024, 5, 1, tzinfo=UTC)
    rows = [
        ("/ünï", "alice-web", False, start),
        ("/ünï", "alice-phone", False, start + timedelta(hours=1)),
        ("/ünï", "bob", False, start + timedelta(hours=2)),
        ("/", "bob", False, start + timedelta(hours=3)),
        ("/", "carol", False, start + timedelta(hours=4)),
        ("/b", "carol", False, start + timedelta(hours=5)),
        (None, "carol", False, start + timedelta(hours=6)),
        ("/bot", "bot", True, start + timedelta(hours=7)),
        # Exactly at `to`: outside.
        ("/late", "dave", False, start + timedelta(days=1)),
    ]
    await insert_events(
        module_db,
        project.project_id,
        [
            GeneratedEvent(
                event_time=time, message_id=f"hand{n}", event="$pageview", distinct_id=who, is_bot=bot, page_path=path
            )
            for n, (path, who, bot, time) in enumerate(rows)
        ],
    )

    body = await execute(
        client,
        TOP_VALUES,
        projectId=str(project.project_id),
        dateRange={"from": "2024-05-01T00:00:00Z", "to": "2024-05-02T00:00:00Z"},
        dimension="PAGE",
        limit=2,
    )

    assert "errors" not in body, body["errors"]
    assert body["data"]["topValues"] == {
        # Alice's two devices are one person.
        "values": [{"value": "/ünï", "events": 3, "persons": 2}, {"value": "/", "events": 2, "persons": 2}],
        "withoutValue": {"events": 1, "persons": 1},
        "total": {"events": 7, "persons": 3},
    }


async def test_a_viewer_reads_top_values(
    query_url: str, query_settings: Settings, module_db: asyncpg.Connection, caller: Caller, loaded: Loaded
) -> None:
    viewer = await add_member(module_db, query_settings, caller.organization_id, "VIEWER")

    async with httpx.AsyncClient(base_url=query_url, headers=viewer.headers, timeout=30) as http:
        await check(http, loaded, "days", dimension="BROWSER")


async def test_another_organizations_project_is_not_found(
    query_url: str, query_settings: Settings, module_db: asyncpg.Connection, loaded: Loaded
) -> None:
    stranger = await create_organization(module_db, query_settings, "Top values stranger")

    async with httpx.AsyncClient(base_url=query_url, headers=stranger.headers, timeout=30) as http:
        body = await execute(
            http,
            TOP_VALUES,
            projectId=loaded.project_id,
            dateRange={"from": "2024-10-20T00:00:00Z", "to": "2024-10-30T00:00:00Z"},
            dimension="PAGE",
        )

    assert error_codes(body) == ["NOT_FOUND"]
    assert body["data"] is None


BASE = {"dateRange": {"from": "2024-05-01T00:00:00Z", "to": "2024-05-08T00:00:00Z"}, "dimension": "COUNTRY"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            {"dateRange": {"from": "2024-05-08T00:00:00Z", "to": "2024-05-01T00:00:00Z"}}, "must be after",
            id="inverted",
        ),
        pytest.param(
            {"dateRange": {"from": "2024-05-01T00:00:00", "to": "2024-05-08T00:00:00Z"}}, "UTC offset", id="no-offset"
        ),
        pytest.param(
            {"dateRange": {"from": "2020-01-01T00:00:00Z", "to": "2024-01-01T00:00:00Z"}}, "at most 732 days",
            id="too-long",
        ),
        pytest.param({"limit": 101}, "limit must be between", id="limit-101"),
        pytest.param({"limit": 0}, "limit must be between", id="limit-0"),
        pytest.param({"dimension": "EVENT_PROPERTY", "property": "plan"}, "needs an event", id="property-no-event"),
        pytest.param({"dimension": "EVENT_PROPERTY", "event": "signup"}, "needs a property", id="no-property"),
        pytest.param(
            {"dimension": "EVENT_PROPERTY", "event": "signup", "property": ""}, "key must be 1 to", id="empty-key"
        ),
        pytest.param(
            {"dimension": "EVENT_PROPERTY", "event": "signup", "property": "k" * 201}, "key must be 1 to",
            id="long-key",
        ),
        pytest.param({"property": "plan"}, "takes no property", id="property-on-column"),
        pytest.param({"dimension": "PAGE", "event": "signup"}, "takes no other event", id="page-other-event"),
        pytest.param({"event": ""}, "event must be 1 to", id="empty-event"),
        pytest.param({"filters": [{"key": "amount", "operator": "GT", "value": "5"}]}, "needs a number", id="filter"),
    ],
)
async def test_bad_input_is_refused(
    client: httpx.AsyncClient, project: CreatedProject, overrides: dict, message: str
) -> None:
    body = await execute(client, TOP_VALUES, projectId=str(project.project_id), **{**BASE, **overrides})

    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert message in body["errors"][0]["message"]
    assert body["data"] is None


async def test_unknown_dimension_is_refused_by_the_schema(client: httpx.AsyncClient, project: CreatedProject) -> None:
    body = await execute(client, TOP_VALUES, projectId=str(project.project_id), **{**BASE, "dimension": "PASSWORD"})

    assert body.get("data") is None
    assert "TopDimension" in body["errors"][0]["message"]
