"""The events connection: newest first, keyset pages, every event exactly once."""

import random
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from tests.query.event_data import GeneratedEvent, insert_events
from tests.query.graphql_client import EVENTS, execute
from tests.query.tenant import Caller, create_owned_project


async def walk_pages(client: httpx.AsyncClient, project_id: str, first: int) -> list[dict]:
    nodes: list[dict] = []
    after = None
    while True:
        body = await execute(client, EVENTS, projectId=project_id, first=first, after=after)
        assert "errors" not in body, body["errors"]
        connection = body["data"]["events"]
        assert len(connection["edges"]) <= first
        nodes.extend(edge["node"] for edge in connection["edges"])
        page_info = connection["pageInfo"]
        if not page_info["hasNextPage"]:
            return nodes
        assert page_info["endCursor"] == connection["edges"][-1]["cursor"]
        after = page_info["endCursor"]


async def test_walking_all_pages_returns_every_event_once_newest_first(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller
) -> None:
    project = await create_owned_project(db, caller.organization_id, "paging", "Europe/Berlin")
    rng = random.Random(7)
    base = datetime.now(UTC) - timedelta(days=1)
    # Whole seconds over a short span, so many events share a timestamp and
    # the message id has to break ties.
    events = [
        GeneratedEvent(
            event_time=base + timedelta(seconds=rng.randint(0, 40)),
            message_id=f"m{index:05d}",
            event=rng.choice(["signup", "$pageview"]),
        )
        for index in range(237)
    ]
    await insert_events(db, project.project_id, events)
    expected = sorted(events, key=lambda item: (item.event_time, item.message_id), reverse=True)

    for first in (50, 7, 500):
        nodes = await walk_pages(client, str(project.project_id), first)

        assert [node["messageId"] for node in nodes] == [item.message_id for item in expected]
        assert [datetime.fromisoformat(node["timestamp"]) for node in nodes] == [item.event_time for item in expected]


async def test_event_node_carries_the_stored_fields(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller
) -> None:
    project = await create_owned_project(db, caller.organization_id, "fields", "UTC")
    event_time = datetime.now(UTC).replace(microsecond=123456) - timedelta(hours=2)
    await insert_events(
        db,
        project.project_id,
        [
            GeneratedEvent(
                event_time=event_time, message_id="abc", event="$pageview", properties={"plan": "pro", "n": 3}
            )
        ],
    )
    await db.execute(
        "UPDATE events SET user_id = 'u1', session_id = 's1', name = 'Home', context = $2::jsonb WHERE project_id = $1",
        project.project_id,
        '{"page": {"path": "/"}}',
    )

    body = await execute(client, EVENTS, projectId=str(project.project_id))

    connection = body["data"]["events"]
    assert connection["pageInfo"] == {"hasNextPage": False, "endCursor": connection["edges"][0]["cursor"]}
    node = connection["edges"][0]["node"]
    assert node == {
        "messageId": "abc",
        "type": "PAGE",
        "event": "$pageview",
        "name": "Home",
        "anonymousId": "anon-abc",
        "userId": "u1",
        "sessionId": "s1",
        "timestamp": node["timestamp"],
        "receivedAt": node["receivedAt"],
        "properties": {"plan": "pro", "n": 3},
        "context": {"page": {"path": "/"}},
    }
    assert datetime.fromisoformat(node["timestamp"]) == event_time


async def test_project_without_events_has_an_empty_last_page(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller
) -> None:
    project = await create_owned_project(db, caller.organization_id, "no-events", "UTC")

    body = await execute(client, EVENTS, projectId=str(project.project_id))

    assert body["data"]["events"] == {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}


ENRICHED_EVENTS = """
query($projectId: ID!, $includeBots: Boolean!) {
  events(projectId: $projectId, includeBots: $includeBots) {
    edges { node { messageId distinctId schemaViolation
                   enrichment { browser os deviceType country city referrerDomain referrerChannel isBot } } }
  }
}"""


async def test_bot_events_are_hidden_unless_asked_for_and_enrichment_is_shown(
    client: httpx.AsyncClient, db: asyncpg.Connection, caller: Caller
) -> None:
    project = await create_owned_project(db, caller.organization_id, "bots", "UTC")
    base = datetime.now(UTC) - timedelta(hours=1)
    await insert_events(db, project.project_id, [
        GeneratedEvent(event_time=base, message_id="person", event="$pageview"),
        GeneratedEvent(event_time=base + timedelta(seconds=1), message_id="crawler", event="$pageview"),
    ])
    await db.execute(
        "UPDATE events SET distinct_id = anonymous_id, browser = 'Firefox', os = 'Windows', device_type = 'desktop',"
        " country = 'DE', city = 'Berlin', referrer_domain = 'google.com', referrer_channel = 'search',"
        " schema_violation = 'properties.plan: must be string (schema rule type)'"
        " WHERE project_id = $1 AND message_id = 'person'",
        project.project_id,
    )
    await db.execute(
        "UPDATE events SET is_bot = true, device_type = 'bot' WHERE project_id = $1 AND message_id = 'crawler'",
        project.project_id,
    )

    hidden = await execute(client, ENRICHED_EVENTS, projectId=str(project.project_id), includeBots=False)
    shown = await execute(client, ENRICHED_EVENTS, projectId=str(project.project_id), includeBots=True)

    (only,) = [edge["node"] for edge in hidden["data"]["events"]["edges"]]
    assert only == {
        "messageId": "person", "distinctId": "anon-person",
        "schemaViolation": "properties.plan: must be string (schema rule type)",
        "enrichment": {"browser": "Firefox", "os": "Windows", "deviceType": "desktop", "country": "DE",
                       "city": "Berlin", "referrerDomain": "google.com", "referrerChannel": "search", "isBot": False},
    }
    assert [edge["node"]["messageId"] for edge in shown["data"]["events"]["edges"]] == ["crawler", "person"]
    assert shown["data"]["events"]["edges"][0]["node"]["enrichment"]["isBot"] is True
