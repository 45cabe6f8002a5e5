"""A person's journey against a plain-Python grouping of the generated events, pagination, and refused input.

Events go through the processor's real writer, in shuffled batches (late events fill gaps and fuse sessions),
so persons, merges and sessions are the processor's own. The data holds a merge through identify, a merge
through alias, SDK session ids (one spanning two distinct ids that are merged later), events tied in time,
gaps of exactly 30 minutes and just over, and bot events of a person's own distinct id.
"""

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest

from processor.transform import rows_from_batch
from processor.writer import WRITER_SESSION_SETTINGS, EventWriter, prepare_connection
from storage.database import create_pool
from tests.payloads import event_of
from tests.processor.support import envelope
from tests.query.graphql_client import error_codes, execute
from tests.query.reference_journeys import ExpectedSession, JourneyInput, expected_journey
from tests.query.tenant import Caller, create_organization, create_owned_project

JOURNEY = """
query Journey($projectId: ID!, $personId: ID!, $limit: Int! = 10, $before: String, $eventsPerSession: Int! = 200) {
  personJourney(
    projectId: $projectId, personId: $personId, limit: $limit, before: $before, eventsPerSession: $eventsPerSession
  ) {
    personId requestedPersonId merged distinctIds hasMore nextCursor
    sessions {
      id cursor sessionKey startedAt endedAt durationSeconds eventCount pageviewCount isBounce
      entryPage exitPage country browser moreEvents
      events { messageId type event time distinctId pagePath properties }
    }
  }
}
"""

MINUTE_NS = 60 * 1_000_000_000
BASE_NS = (int(datetime.now(UTC).timestamp()) // 60 - 4 * 24 * 60) * MINUTE_NS
"""Four days ago, minute-aligned: in the stored partitions, and the streams end before now."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

GAPS = (0.5, 2, 7, 29, 30, 31, 95)
"""Minutes between events: 30 continues a derived session, 31 starts a new one."""


@dataclass
class Generated:
    inputs: list[JourneyInput]
    messages: list  # event_pb2.Event, index-aligned with inputs


def _add(generated: Generated, rng: random.Random, kind: str, at_ns: int, **fields: Any) -> None:
    message_id = str(uuid4())
    path = f"/p/{rng.randint(1, 6)}/ü" if kind == "page" else ""
    country = fields.pop("country", rng.choice(["DE", "US", "JP"]))
    message = event_of(kind, at_ns=at_ns, message_id=message_id, page_path=path, country=country, **fields)
    generated.messages.append(message)
    generated.inputs.append(
        JourneyInput(
            message_id=message_id,
            time=EPOCH + timedelta(microseconds=at_ns // 1000),
            event=message.name if kind == "track" else {"page": "$pageview", "identify": "$identify",
                                                         "alias": "$create_alias"}[kind],
            distinct_id=fields.get("user_id") or fields["anonymous_id"],
            session_id=fields.get("session_id") or None,
            page_path=path or None,
            is_pageview=kind == "page",
            country=country,
            is_bot=fields.get("is_bot", False),
        )
    )


def _stream(generated: Generated, rng: random.Random, count: int, *, bot: bool = False, **ids: str) -> int:
    """`count` events of one distinct id at random gaps; returns the last time. Ties only for track events,
    with the previous event's country, so which of two tied events is first never changes a session's attributes."""
    at_ns = BASE_NS + int(rng.uniform(0, 600) * MINUTE_NS) + rng.randint(1, 10**9)
    country = "DE"
    for index in range(count):
        tie = index > 0 and rng.random() < 0.08
        if not tie:
            at_ns += int(rng.choice(GAPS) * MINUTE_NS)
            country = rng.choice(["DE", "US", "JP"])
        kind = "track" if tie or rng.random() < 0.4 else "page"
        _add(generated, rng, kind, at_ns, name=rng.choice(["tap", "buy ✓", "日本語"]), country=country,
             is_bot=bot or rng.random() < 0.05, **ids)
    return at_ns


@dataclass
class JourneyData:
    project_id: UUID
    inputs: list[JourneyInput]
    # distinct ids of each named human.
    humans: dict[str, set[str]]
    # For each merged person id (captured before its merge): the human it belonged to.
    merged: dict[UUID, str]


@pytest.fixture(scope="module")
async def writer_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, size=2, init=prepare_connection, server_settings=WRITER_SESSION_SETTINGS)
    try:
        yield pool
    finally:
        await pool.close()


async def _person_of(db: asyncpg.Connection, project_id: UUID, distinct_id: str) -> UUID:
    return await db.fetchval(
        "SELECT person_id FROM person_distinct_ids WHERE project_id = $1 AND distinct_id = $2", project_id, distinct_id
    )


async def _write_shuffled(writer: EventWriter, project_id: UUID, messages: list, rng: random.Random) -> None:
    messages = list(messages)
    rng.shuffle(messages)
    while messages:
        size = rng.randint(1, 25)
        batch, messages = messages[:size], messages[size:]
        await writer.write(rows_from_batch(envelope(project_id, batch)))


@pytest.fixture(scope="module")
async def journey_data(module_db: asyncpg.Connection, caller: Caller, writer_pool: asyncpg.Pool) -> JourneyData:
    project = await create_owned_project(module_db, caller.organization_id, "journeys")
    rng = random.Random(314)
    before, after = Generated([], []), Generated([], [])
    # Alice: identified on one device; anonymous on another, identified there later (a merge by identify).
    _stream(before, rng, 45, user_id="alice", anonymous_id="dev-1")
    end = _stream(before, rng, 30, anonymous_id="dev-2")
    # An SDK session over both of her ids, with gaps far over 30 minutes, half of it written after the merge.
    for index, (generated, ids) in enumerate(
        [(before, {"anonymous_id": "dev-2"}), (after, {"user_id": "alice", "anonymous_id": "dev-2"})] * 2
    ):
        _add(generated, rng, "page", BASE_NS + (200 + 45 * index) * MINUTE_NS + 7, session_id="alice-tab", **ids)
    _add(after, rng, "identify", end + 5 * MINUTE_NS, user_id="alice", anonymous_id="dev-2", traits={})
    _stream(after, rng, 15, anonymous_id="dev-2")
    # Carol: a user and, separately, an anonymous visitor; alias makes them one (a merge by alias).
    _stream(before, rng, 25, user_id="carol")
    end = _stream(before, rng, 25, anonymous_id="dev-3")
    _add(after, rng, "alias", end + MINUTE_NS, user_id="carol", previous_id="dev-3", anonymous_id="")
    # Dan: SDK sessions and plain events mixed, all arriving out of order.
    for key in ("tab-1", "tab-2", ""):
        _stream(after, rng, 20, anonymous_id="dev-4", session_id=key)
    # Eve: one lonely event; a crawler.
    _add(after, rng, "page", BASE_NS + 99 * MINUTE_NS, anonymous_id="eve")
    _stream(after, rng, 10, anonymous_id="crawler", bot=True)

    writer = EventWriter(writer_pool)
    await _write_shuffled(writer, project.project_id, before.messages, rng)
    about_to_merge = {
        await _person_of(module_db, project.project_id, "alice"): "alice",
        await _person_of(module_db, project.project_id, "dev-2"): "alice",
        await _person_of(module_db, project.project_id, "carol"): "carol",
        await _person_of(module_db, project.project_id, "dev-3"): "carol",
    }
    assert len(about_to_merge) == 4
    await _write_shuffled(writer, project.project_id, after.messages, rng)
    merged_ids = {
        row["id"]
        for row in await module_db.fetch(
            "SELECT id FROM persons WHERE project_id = $1 AND merged_into IS NOT NULL", project.project_id
        )
    }
    assert len(merged_ids) == 2 and merged_ids <= set(about_to_merge)
    return JourneyData(
        project_id=project.project_id,
        inputs=before.inputs + after.inputs,
        humans={"alice": {"alice", "dev-2"}, "carol": {"carol", "dev-3"}, "dan": {"dev-4"}, "eve": {"eve"}},
        merged={person: about_to_merge[person] for person in merged_ids},
    )


async def journey(client: httpx.AsyncClient, project_id: UUID, person_id: object, **variables: Any) -> dict:
    body = await execute(client, JOURNEY, projectId=str(project_id), personId=str(person_id), **variables)
    assert "errors" not in body, body["errors"]
    return body["data"]["personJourney"]


def _shape(session: dict) -> tuple:
    return (
        session["sessionKey"],
        datetime.fromisoformat(session["startedAt"]),
        datetime.fromisoformat(session["endedAt"]),
        tuple(event["messageId"] for event in session["events"]),
        session["pageviewCount"],
        session["entryPage"],
        session["exitPage"],
        session["country"],
    )


def _expected_shape(session: ExpectedSession) -> tuple:
    return (
        session.session_key, session.started_at, session.ended_at, session.message_ids, session.pageviews,
        session.entry_page, session.exit_page, session.country,
    )


@pytest.mark.parametrize("human", ["alice", "carol", "dan", "eve"])
async def test_journey_matches_reference(
    db: asyncpg.Connection, client: httpx.AsyncClient, journey_data: JourneyData, human: str
) -> None:
    person = await _person_of(db, journey_data.project_id, next(iter(journey_data.humans[human])))

    got = await journey(client, journey_data.project_id, person, limit=50)

    expected = expected_journey(journey_data.inputs, journey_data.humans[human])
    assert got["personId"] == got["requestedPersonId"] == str(person) and not got["merged"]
    assert set(got["distinctIds"]) == journey_data.humans[human]
    assert [_shape(session) for session in got["sessions"]] == [_expected_shape(session) for session in expected]
    assert not got["hasMore"] and got["nextCursor"] is None
    for session in got["sessions"]:
        assert session["eventCount"] == len(session["events"]) and session["moreEvents"] == 0
        assert session["isBounce"] == (len(session["events"]) == 1)
        started, ended = datetime.fromisoformat(session["startedAt"]), datetime.fromisoformat(session["endedAt"])
        assert session["durationSeconds"] == pytest.approx((ended - started).total_seconds())
        times = [(datetime.fromisoformat(event["time"]), event["messageId"]) for event in session["events"]]
        assert times == sorted(times)
        assert all(event["distinctId"] in journey_data.humans[human] for event in session["events"])
    if human == "alice":
        assert {session["sessionKey"] for session in got["sessions"]} == {None, "alice-tab"}
        assert len(got["sessions"]) > 5
    if human == "dan":
        assert {session["sessionKey"] for session in got["sessions"]} == {None, "tab-1", "tab-2"}


async def test_a_merged_person_answers_with_the_survivor(
    db: asyncpg.Connection, client: httpx.AsyncClient, journey_data: JourneyData
) -> None:
    for merged, human in journey_data.merged.items():
        survivor = await _person_of(db, journey_data.project_id, next(iter(journey_data.humans[human])))
        assert survivor != merged

        via_merged = await journey(client, journey_data.project_id, merged, limit=50)
        direct = await journey(client, journey_data.project_id, survivor, limit=50)

        assert via_merged["merged"] and via_merged["requestedPersonId"] == str(merged)
        assert via_merged["personId"] == str(survivor)
        assert via_merged["sessions"] == direct["sessions"]
        # The merged person's own events are in the survivor's journey.
        assert {event["distinctId"] for s in via_merged["sessions"] for event in s["events"]} == (
            journey_data.humans[human]
        )


async def test_pages_of_sessions_follow_each_other(
    db: asyncpg.Connection, client: httpx.AsyncClient, journey_data: JourneyData
) -> None:
    person = await _person_of(db, journey_data.project_id, "alice")
    whole = await journey(client, journey_data.project_id, person, limit=50)

    pages, before = [], None
    while True:
        page = await journey(client, journey_data.project_id, person, limit=4, before=before)
        pages.append(page["sessions"])
        if not page["hasMore"]:
            assert page["nextCursor"] is None
            break
        assert page["nextCursor"] == page["sessions"][-1]["cursor"]
        before = page["nextCursor"]

    assert [len(page) for page in pages[:-1]] == [4] * (len(pages) - 1) and 1 <= len(pages[-1]) <= 4
    assert [session for page in pages for session in page] == whole["sessions"]
    starts = [datetime.fromisoformat(session["startedAt"]) for session in whole["sessions"]]
    assert starts == sorted(starts, reverse=True)


async def test_events_per_session_are_capped_with_a_count_of_the_rest(
    db: asyncpg.Connection, client: httpx.AsyncClient, journey_data: JourneyData
) -> None:
    person = await _person_of(db, journey_data.project_id, "dev-4")
    whole = await journey(client, journey_data.project_id, person, limit=50)

    capped = await journey(client, journey_data.project_id, person, limit=50, eventsPerSession=2)

    assert any(len(session["events"]) > 2 for session in whole["sessions"])
    for full, cut in zip(whole["sessions"], capped["sessions"], strict=True):
        assert cut["events"] == full["events"][:2]
        assert cut["moreEvents"] == len(full["events"]) - len(cut["events"])


async def test_bot_events_are_left_out(
    db: asyncpg.Connection, client: httpx.AsyncClient, journey_data: JourneyData
) -> None:
    bots = {item.message_id for item in journey_data.inputs if item.is_bot and item.distinct_id in {"alice", "dev-2"}}
    person = await _person_of(db, journey_data.project_id, "alice")

    got = await journey(client, journey_data.project_id, person, limit=50)

    assert bots, "the data must hold bot events of Alice's own ids"
    assert not bots & {event["messageId"] for session in got["sessions"] for event in session["events"]}


async def test_unknown_or_foreign_persons_and_projects_are_not_found(
    db: asyncpg.Connection, query_settings: Any, caller: Caller, client: httpx.AsyncClient, journey_data: JourneyData
) -> None:
    alice = await _person_of(db, journey_data.project_id, "alice")
    elsewhere = await create_owned_project(db, caller.organization_id, "journeys-elsewhere")
    other = await create_organization(db, query_settings, "Journeys other tenant")
    foreign = await create_owned_project(db, other.organization_id, "theirs")

    for project_id, person_id in [
        (journey_data.project_id, uuid4()),  # no such person
        (elsewhere.project_id, alice),  # a person of another project of the same organization
        (foreign.project_id, alice),  # another organization's project
        (uuid4(), alice),  # no such project
    ]:
        body = await execute(client, JOURNEY, projectId=str(project_id), personId=str(person_id))
        assert error_codes(body) == ["NOT_FOUND"], (project_id, person_id, body)


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"personId": "not-a-uuid"}, id="person-not-a-uuid"),
        pytest.param({"limit": 0}, id="limit-0"),
        pytest.param({"limit": 51}, id="limit-51"),
        pytest.param({"eventsPerSession": 0}, id="events-0"),
        pytest.param({"eventsPerSession": 201}, id="events-201"),
        pytest.param({"before": "garbage!"}, id="bad-cursor"),
        pytest.param({"before": "MTIzOm5vdC1hLXV1aWQ="}, id="cursor-without-uuid"),
    ],
)
async def test_bad_input_is_refused(
    db: asyncpg.Connection, client: httpx.AsyncClient, journey_data: JourneyData, overrides: dict
) -> None:
    person = await _person_of(db, journey_data.project_id, "alice")
    variables = {"projectId": str(journey_data.project_id), "personId": str(person), **overrides}

    body = await execute(client, JOURNEY, **variables)

    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert body["data"] is None
