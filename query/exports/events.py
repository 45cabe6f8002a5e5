"""The event log of a date range as CSV rows, read with a server-side cursor.

Columns are the GraphQL `Event` fields (enrichment flattened), oldest first by (timestamp, messageId). Times are
ISO 8601 in the project's timezone with their offset (the transaction's TimeZone, see `streaming.py`);
properties, context and traits are JSON text.
"""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from query.analytics.list_events import CONTEXT_JSON, ENRICHMENT_COLUMNS, EventType
from query.analytics.reading import MAX_RANGE, validate_date_range
from query.errors import BadUserInputError
from query.exports.streaming import BATCH_ROWS, ISO_8601, Batches, Row

HEADER = (
    "messageId", "timestamp", "receivedAt", "type", "event", "name", "distinctId", "userId", "anonymousId",
    "sessionId", "groupId", "previousId", "properties", "context", "traits",
    "browser", "browserVersion", "os", "osVersion", "deviceType", "country", "region", "city", "referrerDomain",
    "referrerChannel", "isBot", "schemaViolation",
)

_TYPE_NAME = "CASE type " + " ".join(f"WHEN {member.value} THEN '{member.name}'" for member in EventType) + " END"

_COLUMNS = ", ".join((
    "message_id", f"to_char(event_time, '{ISO_8601}')", f"to_char(received_at, '{ISO_8601}')", _TYPE_NAME,
    "event", "name", "distinct_id", "user_id", "anonymous_id", "session_id", "group_id", "previous_id",
    "properties::text", CONTEXT_JSON, "traits::text",
    *(column if column != "is_bot" else "is_bot::text" for column in ENRICHMENT_COLUMNS),
    "schema_violation",
))

MAX_EVENT_NAME_LENGTH = 200


@dataclass(frozen=True)
class EventsExport:
    project_id: UUID
    date_from: datetime
    date_to: datetime
    event: str | None = None
    include_bots: bool = False

    @property
    def filename(self) -> str:
        return f"events-{self.date_from:%Y%m%d}-{self.date_to:%Y%m%d}.csv"


def parse_time(value: str | None, name: str) -> datetime:
    """An ISO 8601 time with a UTC offset (`Z` included), as the GraphQL DateTime scalar takes it."""
    if not value:
        raise BadUserInputError(f"{name} is required (ISO 8601 with a UTC offset)")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadUserInputError(f"{name} {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise BadUserInputError(f"{name} {value!r} must carry a UTC offset")
    try:
        parsed.astimezone(UTC)  # as the database stores it: 0001-01-01T00:00+01:00 has no UTC time
    except OverflowError:
        raise BadUserInputError(f"{name} {value!r} is out of range") from None
    return parsed


def events_export(project_id: UUID, date_from: datetime, date_to: datetime, event: str | None,
                  include_bots: bool) -> EventsExport:
    validate_date_range(date_from, date_to, MAX_RANGE)
    if event is not None and not 1 <= len(event) <= MAX_EVENT_NAME_LENGTH:
        raise BadUserInputError(f"event must be 1 to {MAX_EVENT_NAME_LENGTH} characters")
    return EventsExport(project_id, date_from, date_to, event, include_bots)


def event_batches(export: EventsExport) -> Batches:
    """Reads the export's events with a cursor (which lives in the export's transaction), BATCH_ROWS at a time."""

    async def read(connection: asyncpg.Connection) -> AsyncIterator[Sequence[Row]]:
        conditions = ["project_id = $1", "event_time >= $2", "event_time < $3"]
        args: list[object] = [export.project_id, export.date_from, export.date_to]
        if export.event is not None:
            args.append(export.event)
            conditions.append(f"event = ${len(args)}")
        if not export.include_bots:
            conditions.append("NOT is_bot")
        cursor = await connection.cursor(
            f"SELECT {_COLUMNS} FROM events WHERE {' AND '.join(conditions)} ORDER BY event_time, message_id",
            *args,
        )
        while rows := await cursor.fetch(BATCH_ROWS):
            yield rows

    return read
