"""Paths after and before an event against the plain-Python reference, a hand-checked case, and refused input.

The randomized streams mix gaps of exactly 30 minutes and 30 minutes plus a microsecond, events tied in time
(ordered by message id), repeats of one event, unicode names, bots inside a person's stream, persons with several
distinct ids and distinct ids without a person.
"""

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest

from tests.query.event_data import GeneratedEvent, GeneratedPerson, insert_events, insert_persons
from tests.query.graphql_client import error_codes, execute
from tests.query.reference import Persons
from tests.query.reference_journeys import expected_paths
from tests.query.tenant import Caller, create_organization, create_owned_project

PATHS = """
query Paths(
  $projectId: ID!, $dateRange: DateRangeInput!, $startEvent: String!, $direction: PathDirection! = NEXT,
  $depth: Int! = 3, $limit: Int! = 20
) {
  paths(
    projectId: $projectId, dateRange: $dateRange, startEvent: $startEvent, direction: $direction, depth: $depth,
    limit: $limit
  ) {
    persons
    paths { steps persons ended }
    edges { step from to persons }
  }
}
"""

NAMES = ("$pageview", "signup", "purchase", "clicked ✓ button", "日本語", "Ärger")
GAPS = (
    timedelta(0),  # a tie in time: message ids decide
    timedelta(seconds=20),
    timedelta(minutes=4),
    timedelta(minutes=29, seconds=59),
    timedelta(minutes=30),  # exactly 30 minutes: the session goes on
    timedelta(minutes=30, microseconds=1),  # just over: it ends
    timedelta(hours=3),
)
START = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)


def _streams(rng: random.Random, persons: list[GeneratedPerson]) -> list[GeneratedEvent]:
    ids = [distinct_id for person in persons for distinct_id in person.distinct_ids] + [f"anon-{n}" for n in range(20)]
    events = []
    for distinct_id in ids:
        moment = START + timedelta(minutes=rng.uniform(-120, 600))
        name = rng.choice(NAMES)
        for _ in range(rng.randint(1, 25)):
            moment += rng.choice(GAPS)
            if rng.random() < 0.6:  # otherwise a repeat of the previous name
                name = rng.choices(NAMES, weights=(6, 2, 2, 3, 2, 1))[0]
            index = len(events)
            events.append(
                GeneratedEvent(
                    event_time=moment,
                    # Random prefixes: the tie-break by message id is not the order of generation.
                    message_id=f"{rng.getrandbits(24):06x}-{index}",
                    event=name,
                    distinct_id=distinct_id,
                    # Bot events inside a person's stream must be skipped, not end it.
                    is_bot=rng.random() < 0.04,
                )
            )
    for index in range(150):
        events.append(
            GeneratedEvent(
                event_time=START + timedelta(minutes=rng.uniform(0, 400)),
                message_id=f"bot-{index}",
                event=rng.choice(NAMES),
                distinct_id=f"crawler-{index % 4}",
                is_bot=True,
            )
        )
    return events


@pytest.fixture(scope="module")
async def paths_data(module_db: asyncpg.Connection, caller: Caller) -> tuple[str, list[GeneratedEvent], Persons]:
    project = await create_owned_project(module_db, caller.organization_id, "paths")
    rng = random.Random(20250602)
    persons = [
        GeneratedPerson(uuid4(), {}, tuple(f"path-user-{n}-{k}" for k in range(rng.choice((1, 1, 2, 3)))))
        for n in range(70)
    ]
    events = _streams(rng, persons)
    await insert_persons(module_db, project.project_id, persons)
    await insert_events(module_db, project.project_id, events)
    mapping = Persons(person_of={d: str(p.id) for p in persons for d in p.distinct_ids}, traits_of={})
    return str(project.project_id), events, mapping


RANGES = {
    "all": (START - timedelta(days=1), START + timedelta(days=3)),
    # Cuts through streams: paths end at the range's edges.
    "cut": (START + timedelta(minutes=17, seconds=3.5), START + timedelta(hours=6)),
}


async def query_paths(client: httpx.AsyncClient, project_id: str, **variables: Any) -> dict:
    body = await execute(client, PATHS, projectId=project_id, **variables)
    assert "errors" not in body, body["errors"]
    return body["data"]["paths"]


@pytest.mark.parametrize("limit", [4, 100])
@pytest.mark.parametrize("depth", [1, 3, 5])
@pytest.mark.parametrize("direction", ["NEXT", "PREVIOUS"])
@pytest.mark.parametrize("start_event", ["$pageview", "日本語"])
@pytest.mark.parametrize("range_name", RANGES)
async def test_paths_match_reference(
    client: httpx.AsyncClient, paths_data: tuple, range_name: str, start_event: str, direction: str, depth: int,
    limit: int,
) -> None:
    project_id, events, persons = paths_data
    date_from, date_to = RANGES[range_name]

    got = await query_paths(
        client,
        project_id,
        dateRange={"from": date_from.isoformat(), "to": date_to.isoformat()},
        startEvent=start_event,
        direction=direction,
        depth=depth,
        limit=limit,
    )

    expected = expected_paths(
        events, persons, date_from=date_from, date_to=date_to, start_event=start_event, direction=direction,
        depth=depth, limit=limit,
    )
    assert got["persons"] == expected.persons > 20
    assert [(tuple(p["steps"]), p["persons"], p["ended"]) for p in got["paths"]] == expected.paths
    assert [(e["step"], e["from"], e["to"], e["persons"]) for e in got["edges"]] == expected.edges
    assert len(got["paths"]) > 1
    # Each person takes exactly one edge at step 1 (there are fewer than 50 of them).
    assert sum(e["persons"] for e in got["edges"] if e["step"] == 1) == expected.persons
    if depth == 3 and limit == 100:
        assert any(p["ended"] for p in got["paths"]) and any(not p["ended"] for p in got["paths"])


async def test_paths_by_hand(module_db: asyncpg.Connection, caller: Caller, client: httpx.AsyncClient) -> None:
    project = await create_owned_project(module_db, caller.organization_id, "paths-by-hand")
    alice = GeneratedPerson(uuid4(), {}, ("alice-web", "alice-phone"))
    await insert_persons(module_db, project.project_id, [alice])

    def at(minutes: float, microseconds: int = 0) -> datetime:
        return START + timedelta(minutes=minutes, microseconds=microseconds)

    rows = [
        # Alice, over two distinct ids: the first signup anchors NEXT.
        ("a1", at(0), "$pageview", "alice-web", False),
        ("a2", at(1), "signup", "alice-phone", False),
        ("a3", at(2), "signup", "alice-web", False),  # a repeat: collapsed
        ("a4", at(3), "$pageview", "alice-web", True),  # a bot event: skipped
        ("b9", at(4), "purchase", "alice-web", False),  # tied in time with b1, later by message id
        ("b1", at(4), "日本語", "alice-web", False),
        ("b2", at(34), "$pageview", "alice-phone", False),  # exactly 30 minutes later: same session
        ("b3", at(64, 1), "purchase", "alice-web", False),  # 30 minutes and 1 µs later: a new session
        ("b4", at(65), "signup", "alice-web", False),  # PREVIOUS anchors on this last signup
        # Bob: signup is his last event.
        ("c1", at(10), "$pageview", "bob", False),
        ("c2", at(11), "signup", "bob", False),
        # A crawler never counts.
        ("d1", at(5), "signup", "crawler", True),
        ("d2", at(6), "purchase", "crawler", True),
    ]
    await insert_events(
        module_db,
        project.project_id,
        [GeneratedEvent(time, message, name, distinct_id=who, is_bot=bot) for message, time, name, who, bot in rows],
    )
    date_range = {"from": (START - timedelta(hours=1)).isoformat(), "to": (START + timedelta(hours=3)).isoformat()}

    after = await query_paths(
        client, str(project.project_id), dateRange=date_range, startEvent="signup", depth=5
    )
    before = await query_paths(
        client, str(project.project_id), dateRange=date_range, startEvent="signup", depth=2, direction="PREVIOUS"
    )

    assert after == {
        "persons": 2,
        "paths": [
            {"steps": ["signup"], "persons": 1, "ended": True},
            {"steps": ["signup", "日本語", "purchase", "$pageview"], "persons": 1, "ended": True},
        ],
        "edges": [
            {"step": 1, "from": "signup", "to": None, "persons": 1},
            {"step": 1, "from": "signup", "to": "日本語", "persons": 1},
            {"step": 2, "from": "日本語", "to": "purchase", "persons": 1},
            {"step": 3, "from": "purchase", "to": "$pageview", "persons": 1},
            {"step": 4, "from": "$pageview", "to": None, "persons": 1},
        ],
    }
    # The range ends exactly at Alice's $pageview: it is left out, and her path ends one step earlier.
    cut = await query_paths(
        client, str(project.project_id), dateRange={**date_range, "to": at(34).isoformat()}, startEvent="signup",
        depth=5,
    )
    assert cut["paths"] == [
        {"steps": ["signup"], "persons": 1, "ended": True},
        {"steps": ["signup", "日本語", "purchase"], "persons": 1, "ended": True},
    ]
    assert before == {
        "persons": 2,
        "paths": [
            # Alice's last signup follows a purchase after a gap of just over 30 minutes from the rest.
            {"steps": ["signup", "$pageview"], "persons": 1, "ended": True},
            {"steps": ["signup", "purchase"], "persons": 1, "ended": True},
        ],
        "edges": [
            {"step": 1, "from": "signup", "to": "$pageview", "persons": 1},
            {"step": 1, "from": "signup", "to": "purchase", "persons": 1},
            {"step": 2, "from": "$pageview", "to": None, "persons": 1},
            {"step": 2, "from": "purchase", "to": None, "persons": 1},
        ],
    }


async def test_empty_range_has_no_paths(client: httpx.AsyncClient, paths_data: tuple) -> None:
    got = await query_paths(
        client,
        paths_data[0],
        dateRange={"from": "2019-01-01T00:00:00Z", "to": "2019-01-02T00:00:00Z"},
        startEvent="$pageview",
    )

    assert got == {"persons": 0, "paths": [], "edges": []}


BASE = {"dateRange": {"from": "2025-06-01T00:00:00Z", "to": "2025-06-08T00:00:00Z"}, "startEvent": "signup"}


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"depth": 0}, id="depth-0"),
        pytest.param({"depth": 6}, id="depth-6"),
        pytest.param({"limit": 0}, id="limit-0"),
        pytest.param({"limit": 101}, id="limit-101"),
        pytest.param({"startEvent": ""}, id="empty-start-event"),
        pytest.param({"startEvent": "x" * 201}, id="long-start-event"),
        pytest.param({"dateRange": {"from": "2025-06-08T00:00:00Z", "to": "2025-06-01T00:00:00Z"}}, id="inverted"),
        pytest.param({"dateRange": {"from": "2025-06-01T00:00:00Z", "to": "2025-06-01T00:00:00Z"}}, id="empty"),
        pytest.param({"dateRange": {"from": "2025-06-01T00:00:00", "to": "2025-06-08T00:00:00Z"}}, id="no-offset"),
    ],
)
async def test_bad_input_is_refused(client: httpx.AsyncClient, project: Any, overrides: dict) -> None:
    body = await execute(client, PATHS, projectId=str(project.project_id), **{**BASE, **overrides})

    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert body["data"] is None


async def test_unknown_or_foreign_project_is_not_found(
    db: asyncpg.Connection, query_settings: Any, client: httpx.AsyncClient
) -> None:
    other = await create_organization(db, query_settings, "Paths other tenant")
    foreign = await create_owned_project(db, other.organization_id, "theirs")

    for project_id in (str(uuid4()), str(foreign.project_id)):
        assert error_codes(await execute(client, PATHS, projectId=project_id, **BASE)) == ["NOT_FOUND"]
