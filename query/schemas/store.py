"""SQL of the schemas domain: event schemas, the rejected-events page and event definitions.

Bound parameters only; every function takes a project id the caller already
checked with `load_project`.
"""

import base64
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from query.errors import BadUserInputError

MAX_PAGE_SIZE = 200
MAX_PROPERTY_ROWS = 20_000
"""Most (event, property, type) rows one eventDefinitions answer carries."""


async def list_schemas(connection: asyncpg.Connection, project_id: UUID) -> list[asyncpg.Record]:
    return await connection.fetch(
        "SELECT event, json_schema::text AS json_schema, mode, created_at, updated_at FROM event_schemas"
        " WHERE project_id = $1 ORDER BY event", project_id,
    )


async def upsert_schema(connection: asyncpg.Connection, project_id: UUID, event: str, json_schema: str,
                        mode: str) -> asyncpg.Record:
    return await connection.fetchrow(
        """
        INSERT INTO event_schemas (project_id, event, json_schema, mode) VALUES ($1, $2, $3::jsonb, $4)
        ON CONFLICT (project_id, event) DO UPDATE
        SET json_schema = EXCLUDED.json_schema, mode = EXCLUDED.mode, updated_at = now()
        RETURNING event, json_schema::text AS json_schema, mode, created_at, updated_at
        """,
        project_id, event, json_schema, mode,
    )


async def delete_schema(connection: asyncpg.Connection, project_id: UUID, event: str) -> bool:
    status = await connection.execute("DELETE FROM event_schemas WHERE project_id = $1 AND event = $2",
                                      project_id, event)
    return status == "DELETE 1"


def encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"rejected:{row_id}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind != "rejected":
            raise ValueError(kind)
        return int(value)
    except ValueError:
        raise BadUserInputError(f"after {cursor!r} is not a cursor of rejectedEvents") from None


@dataclass(frozen=True)
class RejectedPage:
    rows: list[asyncpg.Record]
    has_next_page: bool


async def list_rejected(connection: asyncpg.Connection, project_id: UUID, *, event: str | None, code: str | None,
                        first: int, after: str | None) -> RejectedPage:
    """Newest first; `after` is the cursor of the last row of the previous page."""
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise BadUserInputError(f"first must be between 1 and {MAX_PAGE_SIZE}")
    before_id = decode_cursor(after) if after else None
    rows = await connection.fetch(
        """
        SELECT id, message_id, event, code, reason, payload, received_at, rejected_at, replayed_at, replay_result
        FROM rejected_events
        WHERE project_id = $1 AND ($2::text IS NULL OR event = $2) AND ($3::text IS NULL OR code = $3)
          AND ($4::bigint IS NULL OR id < $4)
        ORDER BY id DESC LIMIT $5
        """,
        project_id, event, code, before_id, first + 1,
    )
    return RejectedPage(rows[:first], len(rows) > first)


@dataclass(frozen=True)
class EventVolume:
    event: str
    volume: int
    first_seen: datetime | None
    last_seen: datetime | None


async def event_volumes(connection: asyncpg.Connection, project_id: UUID) -> list[EventVolume]:
    """Every event name in the rollup: human volume (bots excluded), first and last minute seen by anyone."""
    rows = await connection.fetch(
        """
        SELECT event, coalesce(sum(count) FILTER (WHERE NOT is_bot), 0)::bigint AS volume,
               min(minute) AS first_seen, max(minute) AS last_seen
        FROM event_counts WHERE project_id = $1 GROUP BY event ORDER BY volume DESC, event
        """,
        project_id,
    )
    return [EventVolume(row["event"], row["volume"], row["first_seen"], row["last_seen"]) for row in rows]


async def event_properties(connection: asyncpg.Connection, project_id: UUID) -> list[asyncpg.Record]:
    return await connection.fetch(
        "SELECT event, property, type, first_seen, last_seen FROM event_properties WHERE project_id = $1"
        " ORDER BY event, property, type LIMIT $2",
        project_id, MAX_PROPERTY_ROWS,
    )
