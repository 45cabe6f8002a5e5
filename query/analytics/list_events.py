"""The event log of a project, newest first, one page at a time.

Pages are cut by keyset on (event_time, message_id), never OFFSET: a page costs
the same at any depth and events arriving meanwhile shift nothing. The cursor
is opaque to clients: base64 of the last row's event_time and message_id.
"""

import base64
import binascii
import enum
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from query.errors import BadUserInputError

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50


class EventType(enum.Enum):
    """The Segment call an event came from; values are the proto enum numbers stored in `events.type`."""

    TRACK = 1
    PAGE = 2
    SCREEN = 3
    IDENTIFY = 4
    GROUP = 5
    ALIAS = 6


@dataclass(frozen=True)
class EventRow:
    message_id: str
    type: EventType
    event: str
    name: str
    anonymous_id: str | None
    user_id: str | None
    session_id: str | None
    event_time: datetime
    received_at: datetime
    properties: Any
    context: Any
    cursor: str
    distinct_id: str | None = None
    traits: Any = None
    group_id: str | None = None
    previous_id: str | None = None
    enrichment: dict[str, Any] | None = None
    schema_violation: str | None = None


@dataclass(frozen=True)
class EventPage:
    events: list[EventRow]
    has_next_page: bool

    @property
    def end_cursor(self) -> str | None:
        return self.events[-1].cursor if self.events else None


def encode_cursor(event_time: datetime, message_id: str) -> str:
    payload = json.dumps([event_time.isoformat(), message_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        event_time_text, message_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        event_time = datetime.fromisoformat(event_time_text)
    except (binascii.Error, ValueError, TypeError, UnicodeError):
        raise BadUserInputError("malformed cursor") from None
    if event_time.tzinfo is None or not isinstance(message_id, str):
        raise BadUserInputError("malformed cursor")
    return event_time, message_id


# Events store context in typed columns plus a jsonb of other keys; the API shows it in Segment's shape.
CONTEXT_JSON = """nullif(coalesce(context, '{}') || jsonb_strip_nulls(jsonb_build_object(
    'userAgent', user_agent, 'locale', locale, 'timezone', timezone,
    'page', nullif(jsonb_strip_nulls(jsonb_build_object(
        'url', page_url, 'path', page_path, 'referrer', page_referrer, 'title', page_title, 'search', page_search)),
        '{}'),
    'campaign', nullif(jsonb_strip_nulls(jsonb_build_object(
        'source', utm_source, 'medium', utm_medium, 'name', utm_campaign, 'term', utm_term, 'content', utm_content)),
        '{}'),
    'library', nullif(jsonb_strip_nulls(jsonb_build_object('name', library_name, 'version', library_version)), '{}')
)), '{}')::text"""


ENRICHMENT_COLUMNS = (
    "browser", "browser_version", "os", "os_version", "device_type", "country", "region", "city", "referrer_domain",
    "referrer_channel", "is_bot",
)
"""What ingest derived from the event's context, shown as the event's `enrichment`."""


async def list_events(
    connection: asyncpg.Connection,
    *,
    project_id: UUID,
    first: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
    include_bots: bool = False,
) -> EventPage:
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise BadUserInputError(f"first must be between 1 and {MAX_PAGE_SIZE}, got {first}")
    args: list[object] = [project_id, first + 1]
    keyset = ""
    if after is not None:
        args.extend(decode_cursor(after))
        keyset = "AND (event_time, message_id) < ($3, $4)"
    if not include_bots:
        keyset += " AND NOT is_bot"
    # One row more than asked tells whether another page follows.
    rows = await connection.fetch(
        f"""
        SELECT message_id, type, event, name, anonymous_id, user_id, session_id,
               event_time, received_at, properties::text AS properties,
               {CONTEXT_JSON} AS context, distinct_id, traits::text AS traits, group_id, previous_id,
               schema_violation, {", ".join(ENRICHMENT_COLUMNS)}
        FROM events
        WHERE project_id = $1 {keyset}
        ORDER BY event_time DESC, message_id DESC
        LIMIT $2
        """,
        *args,
    )
    events = [_event_row(row) for row in rows[:first]]
    return EventPage(events=events, has_next_page=len(rows) > first)


def _event_row(row: asyncpg.Record) -> EventRow:
    return EventRow(
        message_id=row["message_id"],
        type=EventType(row["type"]),
        event=row["event"],
        name=row["name"],
        anonymous_id=row["anonymous_id"],
        user_id=row["user_id"],
        session_id=row["session_id"],
        event_time=row["event_time"],
        received_at=row["received_at"],
        properties=json.loads(row["properties"]),
        context=None if row["context"] is None else json.loads(row["context"]),
        cursor=encode_cursor(row["event_time"], row["message_id"]),
        distinct_id=row["distinct_id"],
        traits=None if row["traits"] is None else json.loads(row["traits"]),
        group_id=row["group_id"],
        previous_id=row["previous_id"],
        enrichment={column: row[column] for column in ENRICHMENT_COLUMNS},
        schema_violation=row["schema_violation"],
    )
