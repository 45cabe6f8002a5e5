"""Real-time: active persons and events per minute against the plain-Python reference, and the GraphQL field."""

import random
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from query.analytics.get_realtime import get_realtime
from query.errors import BadUserInputError
from tests.query.event_data import GeneratedEvent, GeneratedPerson, insert_events, insert_persons
from tests.query.graphql_client import error_codes, execute
from tests.query.reference import Persons
from tests.query.reference_realtime import expected_realtime
from tests.query.tenant import Caller, create_organization, create_owned_project

REALTIME = """
query Realtime($projectId: ID!) {
  realtime(projectId: $projectId) {
    now activePersons totalEvents
    eventsPerMinute { minute events }
  }
}
"""

# Not minute-aligned, so buckets and the 5-minute window cut through minutes.
NOW = datetime(2026, 3, 14, 15, 9, 26, 535897, tzinfo=UTC)


def _events(rng: random.Random, persons: list[GeneratedPerson]) -> list[GeneratedEvent]:
    ids = [distinct_id for person in persons for distinct_id in person.distinct_ids] + ["anon-x", "anon-y"]
    events = []
    for index in range(600):
        offset = timedelta(seconds=rng.uniform(-40 * 60, 90))
        roll = rng.random()
        if roll < 0.05:
            offset = timedelta(minutes=-5)  # exactly 5 minutes before now: not active
        elif roll < 0.10:
            offset = timedelta(0)  # exactly now: active
        elif roll < 0.13:
            offset = timedelta(microseconds=1)  # just after now: not active, but in the current minute
        elif roll < 0.16:
            offset = timedelta(minutes=-5, microseconds=1)  # the earliest active instant
        is_bot = rng.random() < 0.1
        events.append(
            GeneratedEvent(
                event_time=NOW + offset,
                message_id=f"rt{index:05d}",
                event=rng.choice(["$pageview", "signup", "ümlaut 🚀"]),
                distinct_id=f"bot-{index % 3}" if is_bot else rng.choice(ids),
                is_bot=is_bot,
            )
        )
    # Persons seen only on the window's edges: exactly 5 minutes before now (out) and just after now (out).
    events.append(GeneratedEvent(NOW - timedelta(minutes=5), "rt-edge-old", "signup", distinct_id="only-at-edge"))
    events.append(GeneratedEvent(NOW + timedelta(microseconds=1), "rt-edge-new", "signup", distinct_id="only-ahead"))
    return events


@pytest.fixture(scope="module")
async def realtime_data(module_db: asyncpg.Connection, caller: Caller) -> tuple[str, list[GeneratedEvent], Persons]:
    project = await create_owned_project(module_db, caller.organization_id, "realtime")
    rng = random.Random(4242)
    persons = [
        GeneratedPerson(uuid4(), {}, tuple(f"rt-user-{n}-{k}" for k in range(rng.randint(1, 3)))) for n in range(25)
    ]
    events = _events(rng, persons)
    await insert_persons(module_db, project.project_id, persons)
    await insert_events(module_db, project.project_id, events)
    mapping = Persons(
        person_of={distinct_id: str(p.id) for p in persons for distinct_id in p.distinct_ids}, traits_of={}
    )
    return str(project.project_id), events, mapping


@pytest.mark.parametrize(
    "now",
    [
        pytest.param(NOW, id="now"),
        pytest.param(NOW - timedelta(minutes=5), id="five-minutes-earlier"),
        pytest.param(NOW.replace(second=0, microsecond=0), id="on-a-minute"),
        pytest.param(NOW + timedelta(hours=3), id="after-everything"),
    ],
)
async def test_realtime_matches_reference(
    db: asyncpg.Connection, realtime_data: tuple[str, list[GeneratedEvent], Persons], now: datetime
) -> None:
    project_id, events, persons = realtime_data

    got = await get_realtime(db, project_id=UUID(project_id), now=now)

    active, per_minute = expected_realtime(events, persons, now)
    assert got.now == now
    assert got.active_persons == active
    assert [(item.minute, item.events) for item in got.events_per_minute] == per_minute
    assert got.total_events == sum(count for _, count in per_minute)
    if now == NOW:
        # The data must reach both numbers, bots must be what keeps them lower, and an exact
        # boundary must matter.
        assert active > 10 and sum(count for _, count in per_minute) > 300
        with_bots, _ = expected_realtime(
            [GeneratedEvent(e.event_time, e.message_id, e.event, distinct_id=e.distinct_id) for e in events],
            persons,
            now,
        )
        assert with_bots > active


async def test_a_timezone_offset_in_now_is_the_same_instant(
    db: asyncpg.Connection, realtime_data: tuple[str, list[GeneratedEvent], Persons]
) -> None:
    project_id = UUID(realtime_data[0])
    local = NOW.astimezone(ZoneInfo("Asia/Kathmandu"))  # +05:45: minutes are still UTC minutes

    assert await get_realtime(db, project_id=project_id, now=local) == await get_realtime(
        db, project_id=project_id, now=NOW
    )


async def test_now_without_offset_is_refused(db: asyncpg.Connection, project) -> None:
    with pytest.raises(BadUserInputError, match="UTC offset"):
        await get_realtime(db, project_id=project.project_id, now=NOW.replace(tzinfo=None))


async def test_graphql_realtime_uses_the_database_clock(
    module_db: asyncpg.Connection, caller: Caller, client: httpx.AsyncClient
) -> None:
    project = await create_owned_project(module_db, caller.organization_id, "realtime-live")
    clock = await module_db.fetchval("SELECT now()")
    alice = GeneratedPerson(uuid4(), {}, ("alice-web", "alice-phone"))
    await insert_persons(module_db, project.project_id, [alice])
    events = [
        GeneratedEvent(clock - timedelta(minutes=2), "live1", "$pageview", distinct_id="alice-web"),
        GeneratedEvent(clock - timedelta(minutes=2), "live2", "signup", distinct_id="alice-phone"),
        GeneratedEvent(clock - timedelta(minutes=3), "live3", "$pageview", distinct_id="bob"),
        GeneratedEvent(clock - timedelta(minutes=3), "live4", "$pageview", distinct_id="crawler", is_bot=True),
        # Active long ago: counted per minute, not active.
        GeneratedEvent(clock - timedelta(minutes=20), "live5", "$pageview", distinct_id="carol"),
        # Too old for the chart.
        GeneratedEvent(clock - timedelta(minutes=45), "live6", "$pageview", distinct_id="dave"),
    ]
    await insert_events(module_db, project.project_id, events)

    body = await execute(client, REALTIME, projectId=str(project.project_id))

    assert "errors" not in body, body["errors"]
    realtime = body["data"]["realtime"]
    now = datetime.fromisoformat(realtime["now"])
    assert now >= clock
    persons = Persons(person_of=dict.fromkeys(alice.distinct_ids, str(alice.id)), traits_of={})
    active, per_minute = expected_realtime(events, persons, now)
    assert (realtime["activePersons"], active) == (2, 2)
    assert [(datetime.fromisoformat(m["minute"]), m["events"]) for m in realtime["eventsPerMinute"]] == per_minute
    assert realtime["totalEvents"] == 4


async def test_realtime_of_an_unknown_or_foreign_project_is_not_found(
    db: asyncpg.Connection, query_settings, client: httpx.AsyncClient
) -> None:
    other = await create_organization(db, query_settings, "Other tenant")
    foreign = await create_owned_project(db, other.organization_id, "theirs")

    for project_id in (str(uuid4()), str(foreign.project_id)):
        assert error_codes(await execute(client, REALTIME, projectId=project_id)) == ["NOT_FOUND"]
    assert error_codes(await execute(client, REALTIME, projectId="not-a-uuid")) == ["BAD_USER_INPUT"]
