"""Erasing a person (GDPR): the person, merged persons, events, sessions and days go, every rollup is exactly
what the remaining events give, and other persons are untouched; only an ADMIN may, only in their organization."""

import asyncio
import json
import random
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from config import Settings
from processor.writer import EventWriter
from storage.person_erasure import erase_person
from tests.payloads import event_of
from tests.processor.conftest import _writer_pool
from tests.processor.people import assert_session_rollup_matches, at, person_of, write
from tests.processor.support import events_by_hour, events_by_minute, rollup_by_hour, rollup_by_minute
from tests.processor.test_active_persons import (
    DAY_MINUTES,
    counts_by_day,
    expected_counts,
    journeys,
    person_days,
    person_event_days,
)
from tests.query.tenant import Caller, add_member, create_organization, create_owned_project

ZONE = "America/New_York"

ERASE = """
mutation($p: ID!, $id: ID!) {
  erasePerson(projectId: $p, personId: $id) { personId erasedAt persons distinctIds events sessions }
}
"""


@pytest.fixture
async def writer_pool(database_url: str):
    pool = await _writer_pool(database_url)
    try:
        yield pool
    finally:
        await pool.close()


def enriched_visits(rng: random.Random) -> list:
    """Page views with a country, browser and referrer, so the per-value and session rollups have rows."""
    visits = []
    for person in range(10):
        for visit in range(3):
            moment = at(rng.randint(0, 60) * DAY_MINUTES + rng.uniform(0, 1400))
            for step, path in enumerate(("/", "/pricing", "/signup")[: rng.randint(1, 3)]):
                visits.append(event_of(
                    "page", at_ns=moment + step * 60_000_000_000, user_id=f"user-{person}", page_path=path,
                    referrer="https://news.example/" if visit else "", country=rng.choice(["DE", "FR", "US"]),
                    browser=rng.choice(["Firefox", "Chrome"]),
                ))
    return visits


async def stored_project(db: asyncpg.Connection, writer: EventWriter, organization_id, seed: int):
    """A project with ten persons' journeys (merges, bots, DST days) and visits, written by the real writer."""
    rng = random.Random(seed)
    project = await create_owned_project(db, organization_id, f"erasure-{seed}", ZONE)
    messages, activity = journeys(rng)
    visits = enriched_visits(rng)
    messages += visits
    activity += [(event.timestamp.ToNanoseconds(), event.user_id) for event in visits]
    rng.shuffle(messages)
    for start in range(0, len(messages), 25):
        await write(writer, project.project_id, messages[start:start + 25])
    return project.project_id, activity


def nonzero(counts: dict) -> dict:
    """Rollup rows an erasure brought down to zero stay, as rows do after a merge; readers sum them."""
    return {key: count for key, count in counts.items() if count}


async def assert_rollups_match_remaining_data(db: asyncpg.Connection, project_id, activity) -> None:
    assert nonzero(await rollup_by_minute(db, project_id)) == await events_by_minute(db, project_id)
    assert nonzero(await rollup_by_hour(db, project_id)) == await events_by_hour(db, project_id)
    values = [tuple(row) for row in await db.fetch(
        "SELECT event, dimension, hour, value, count FROM event_values_hourly WHERE project_id = $1 AND count <> 0"
        " ORDER BY 1, 2, 3, 4", project_id)]
    recomputed = [tuple(row) for row in await db.fetch(
        """
        SELECT e.event, d.dimension, date_bin('1 hour', e.event_time, '2000-01-01 00:00+00') AS hour, d.value, count(*)
        FROM events e
        CROSS JOIN LATERAL event_value_dimensions(e.browser, e.os, e.device_type, e.country, e.referrer_channel,
                                                  e.referrer_domain, e.utm_source, e.utm_medium, e.utm_campaign) AS d
        WHERE e.project_id = $1 AND NOT e.is_bot GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        """, project_id)]
    assert recomputed and values == recomputed
    await assert_session_rollup_matches(db, project_id)
    # DAU/WAU/MAU: as recomputed in Python from the remaining persons' activity, and as a rebuild gives.
    mapped = {row["distinct_id"] for row in await db.fetch(
        "SELECT distinct_id FROM person_distinct_ids WHERE project_id = $1", project_id)}
    remaining = [(moment, who) for moment, who in activity if who in mapped]
    incremental = await counts_by_day(db, project_id)
    expected = await expected_counts(db, project_id, remaining, ZoneInfo(ZONE))
    assert {day: counts for day, counts in incremental.items() if day in expected} == expected
    assert all(counts == (0, 0, 0) for day, counts in incremental.items() if day not in expected)
    days, by_event = await person_days(db, project_id), await person_event_days(db, project_id)
    await db.execute("SELECT rebuild_active_persons($1)", project_id)
    assert await person_days(db, project_id) == days
    assert await person_event_days(db, project_id) == by_event
    assert nonzero(await counts_by_day(db, project_id)) == nonzero(incremental)


async def what_is_stored(db: asyncpg.Connection, project_id, distinct_ids: list[str]) -> dict[str, int]:
    return {
        "events": await db.fetchval(
            "SELECT count(*) FROM events WHERE project_id = $1 AND distinct_id = ANY($2::text[])", project_id,
            distinct_ids),
        "distinct_ids": await db.fetchval(
            "SELECT count(*) FROM person_distinct_ids WHERE project_id = $1 AND distinct_id = ANY($2::text[])",
            project_id, distinct_ids),
    }


@pytest.mark.parametrize("seed", [3, 2028])
async def test_erasing_a_merged_person_deletes_everything_of_theirs_and_keeps_every_count_exact(
    seed, writer_pool, db, caller: Caller
):
    writer = EventWriter(writer_pool)
    project_id, activity = await stored_project(db, writer, caller.organization_id, seed)
    # user-2 aliased user-1, and both identified after browsing anonymously: four ids, merged persons.
    target = await person_of(db, project_id, "user-2")
    gone = ["anon-1", "anon-2", "user-1", "user-2"]
    assert {await person_of(db, project_id, distinct_id) for distinct_id in gone} == {target}
    kept = [f"{kind}-{n}" for kind in ("anon", "user") for n in (0, 3, 4, 5, 6, 7, 8, 9)] + ["crawler"]
    before_kept = await what_is_stored(db, project_id, kept)
    before_gone = await what_is_stored(db, project_id, gone)
    sessions_before = await db.fetchval(
        "SELECT count(*) FROM sessions WHERE project_id = $1 AND person_id = $2", project_id, target)
    assert before_gone["events"] > 0 and sessions_before > 0

    # Asked with the id of a person merged away: the survivor (and all merged into it) goes.
    merged = await db.fetchval(
        "SELECT id FROM persons WHERE project_id = $1 AND merged_into = $2 LIMIT 1", project_id, target)
    erasure = await erase_person(db, project_id, merged or target, caller.user_id)

    assert erasure is not None and erasure.person_id == target
    assert (erasure.distinct_ids, erasure.events, erasure.sessions) == (
        4, before_gone["events"], sessions_before)
    assert erasure.persons >= 2
    assert await what_is_stored(db, project_id, gone) == {"events": 0, "distinct_ids": 0}
    assert await what_is_stored(db, project_id, kept) == before_kept
    for table in ("persons", "sessions", "person_days", "person_event_days"):
        column = "id" if table == "persons" else "person_id"
        assert await db.fetchval(f"SELECT count(*) FROM {table} WHERE {column} = $1", target) == 0, table
    assert await db.fetchval("SELECT count(*) FROM persons WHERE merged_into = $1", target) == 0
    await assert_rollups_match_remaining_data(db, project_id, activity)
    record = await db.fetchrow("SELECT * FROM person_erasures WHERE project_id = $1", project_id)
    assert (record["person_id"], record["erased_by"], record["events"]) == (target, caller.user_id, erasure.events)

    # Gone for good: erasing again finds nobody; the same ids sent again make a new, empty-handed person.
    assert await erase_person(db, project_id, target, caller.user_id) is None
    await write(writer, project_id, [event_of("track", at_ns=at(2), name="came back", user_id="user-2")])
    again = await person_of(db, project_id, "user-2")
    assert again is not None and again != target
    assert await db.fetchval("SELECT count(*) FROM events WHERE project_id = $1 AND distinct_id = 'user-2'",
                             project_id) == 1


async def test_an_erasure_racing_the_writer_leaves_no_event_of_the_person_before_it_and_exact_counts(
    writer_pool, database_url: str, db, caller: Caller
):
    writer = EventWriter(writer_pool)
    project_id, activity = await stored_project(db, writer, caller.organization_id, 11)
    target = await person_of(db, project_id, "user-3")  # merged with nobody else (see `journeys`), as user-6
    racing = [event_of("track", at_ns=at(3 * DAY_MINUTES + n), name="tap", user_id="user-3") for n in range(40)]
    others = [event_of("track", at_ns=at(3 * DAY_MINUTES + n), name="tap", user_id="user-6") for n in range(40)]
    eraser = await asyncpg.connect(database_url)
    try:
        results = await asyncio.gather(
            *(write(writer, project_id, [mine, theirs]) for mine, theirs in zip(racing, others, strict=True)),
            erase_person(eraser, project_id, target, caller.user_id),
        )
    finally:
        await eraser.close()
    assert results[-1] is not None
    # Whatever the interleaving: user-3's remaining events are the ones stored after the erasure, under a new
    # person; user-6 lost nothing; every count is exact.
    survivor = await person_of(db, project_id, "user-3")
    assert survivor != target
    remaining = await db.fetchval(
        "SELECT count(*) FROM events WHERE project_id = $1 AND distinct_id = 'user-3'", project_id)
    assert remaining == (0 if survivor is None else await db.fetchval(
        "SELECT count(*) FROM events WHERE project_id = $1 AND person_id = $2", project_id, survivor))
    assert await db.fetchval(
        "SELECT count(*) FROM events WHERE project_id = $1 AND message_id = ANY($2::text[])",
        project_id, [event.message_id for event in others]) == 40
    activity += [(event.timestamp.ToNanoseconds(), "user-6") for event in others]
    activity += [(event.timestamp.ToNanoseconds(), "user-3") for event in racing]
    stored_racing = {row["message_id"] for row in await db.fetch(
        "SELECT message_id FROM events WHERE project_id = $1 AND distinct_id = 'user-3'", project_id)}
    activity = [(moment, who) for moment, who in activity if who != "user-3"] + [
        (event.timestamp.ToNanoseconds(), "user-3") for event in racing if event.message_id in stored_racing]
    await assert_rollups_match_remaining_data(db, project_id, activity)


async def test_only_an_admin_of_the_projects_organization_may_erase_and_gets_what_was_deleted(
    writer_pool, db, client: httpx.AsyncClient, caller: Caller, query_settings: Settings
):
    project = await create_owned_project(db, caller.organization_id, "erasure-api")
    await write(EventWriter(writer_pool), project.project_id,
                [event_of("page", at_ns=at(n), user_id="ada", page_path="/") for n in range(3)])
    person = str(await person_of(db, project.project_id, "ada"))
    variables = {"p": str(project.project_id), "id": person}
    for role in ("DEVELOPER", "VIEWER"):
        member = await add_member(db, query_settings, caller.organization_id, role)
        refused = (await client.post("/graphql", json={"query": ERASE, "variables": variables},
                                     headers=member.headers)).json()
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", role
    stranger = await create_organization(db, query_settings, "Elsewhere")
    hidden = (await client.post("/graphql", json={"query": ERASE, "variables": variables},
                                headers=stranger.headers)).json()
    assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    malformed = (await client.post("/graphql", json={"query": ERASE, "variables": {**variables, "id": "ada"}})).json()
    assert malformed["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert await person_of(db, project.project_id, "ada") is not None

    answer = (await client.post("/graphql", json={"query": ERASE, "variables": variables})).json()
    assert answer["data"]["erasePerson"] | {"erasedAt": None} == {
        "personId": person, "erasedAt": None, "persons": 1, "distinctIds": 1, "events": 3, "sessions": 1}
    again = (await client.post("/graphql", json={"query": ERASE, "variables": variables})).json()
    assert again["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    journey = (await client.post("/graphql", json={
        "query": "query($p: ID!, $id: ID!) { person(projectId: $p, id: $id) { id } }", "variables": variables})).json()
    assert journey["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_persons_data_export_holds_the_person_their_sessions_and_every_event(
    writer_pool, db, client: httpx.AsyncClient, caller: Caller, query_settings: Settings
):
    project = await create_owned_project(db, caller.organization_id, "person-export", "Europe/Berlin")
    events = [event_of("identify", at_ns=at(0), anonymous_id="anon-ada", user_id="ada", traits={"name": "Ada ✓"})]
    events += [event_of("page", at_ns=at(n), user_id="ada", page_path=f"/{n}", country="DE") for n in range(1, 6)]
    events += [event_of("page", at_ns=at(n), user_id="bob", page_path="/") for n in range(3)]
    await write(EventWriter(writer_pool), project.project_id, events)
    person = str(await person_of(db, project.project_id, "ada"))
    params = {"projectId": str(project.project_id), "personId": person}

    response = await client.get("/export/person.ndjson", params=params)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert f"person-{person}.ndjson" in response.headers["content-disposition"]
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["record"] for line in lines] == ["person", "session"] + ["event"] * 6
    assert lines[0]["id"] == person and lines[0]["distinctIds"] == ["ada", "anon-ada"]
    assert lines[0]["traits"]["name"] == "Ada ✓"
    assert lines[1]["events"] == 6 and lines[1]["entryPage"] == "/1"
    stored = [row["message_id"] for row in await db.fetch(
        "SELECT message_id FROM events WHERE project_id = $1 AND distinct_id IN ('ada', 'anon-ada')"
        " ORDER BY event_time, message_id", project.project_id)]
    assert [line["messageId"] for line in lines[2:]] == stored
    assert lines[3]["enrichment"]["country"] == "DE" and lines[3]["context"]["page"]["path"] == "/1"
    assert lines[2]["timestamp"].endswith(("+01:00", "+02:00"))  # the project's zone

    viewer = await add_member(db, query_settings, caller.organization_id, "VIEWER")
    assert (await client.get("/export/person.ndjson", params=params, headers=viewer.headers)).status_code == 200
    stranger = await create_organization(db, query_settings, "Elsewhere")
    refused = await client.get("/export/person.ndjson", params=params, headers=stranger.headers)
    assert refused.status_code == 404 and refused.json()["code"] == "NOT_FOUND"
    unknown = await client.get("/export/person.ndjson", params={**params, "personId": str(project.project_id)})
    assert unknown.status_code == 404 and unknown.json()["code"] == "NOT_FOUND"
    malformed = await client.get("/export/person.ndjson", params={**params, "personId": "ada"})
    assert malformed.status_code == 400 and "personId" in malformed.json()["message"]
    missing = await client.get("/export/person.ndjson", params={"projectId": str(project.project_id)})
    assert missing.status_code == 400
