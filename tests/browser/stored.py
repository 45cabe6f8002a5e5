"""Reading what the snippet's events became in PostgreSQL, waiting for the processor with a deadline."""

import json
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from tests.polling import eventually


@dataclass(frozen=True)
class StoredEvent:
    message_id: str
    type: int
    event: str
    anonymous_id: str | None
    user_id: str | None
    session_id: str | None
    page_path: str | None
    utm_source: str | None
    library_name: str | None
    properties: dict


async def stored_events(db: asyncpg.Connection, project_id) -> list[StoredEvent]:
    rows = await db.fetch(
        "SELECT message_id, type, event, anonymous_id, user_id, session_id, page_path, utm_source, library_name,"
        " properties FROM events WHERE project_id = $1 ORDER BY event_time, message_id",
        project_id,
    )
    return [StoredEvent(**{**dict(row), "properties": json.loads(row["properties"])}) for row in rows]


async def wait_for_events(db: asyncpg.Connection, project_id, done: Callable[[list[StoredEvent]], bool],
                          within: float = 15) -> list[StoredEvent]:
    """The project's events once `done(events)` holds (or when the deadline passes: the caller asserts)."""
    return await eventually(lambda: stored_events(db, project_id), done, within)


def named(events: list[StoredEvent], name: str) -> list[StoredEvent]:
    return [event for event in events if event.event == name]
