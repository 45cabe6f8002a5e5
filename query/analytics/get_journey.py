"""A person's journey: their sessions, newest first, each with its events in time order.

The person: `person_id` must be a person of the project. A person merged into
another (`persons.merged_into`, through chains) resolves to the surviving
person, whose journey holds both; the result says which person it is
(`person_id`) and which id was asked for (`requested_person_id`). An id the
project does not know is NOT_FOUND.

Sessions are the processor's (`processor/sessions.py`): bots are not in them.
Pages of at most MAX_SESSIONS sessions, ordered by (started_at, id)
descending; `before` is the opaque cursor of the last session of the previous
page (`next_cursor`) and returns the sessions after it in that order.

A session's events are the person's non-bot events (through all their
distinct ids in `person_distinct_ids`) that it covers:

- a session with an SDK session id (`session_key`): the events with that
  `session_id`, between its start and end;
- a derived session (`session_key` NULL): the events without a session id
  between its start and end, both included.

(An event of another person that carries the same SDK session id belongs to
that other person's journey, never to this one.) Events are ordered by
(event_time, message_id); at most `events_per_session` (1..MAX_EVENTS_PER_SESSION)
of the first are returned, and `more_events` counts the rest.

Reads use the indexes `sessions (person_id, started_at)` and
`events (project_id, distinct_id, event_time)`: one backward index scan for
the page of sessions, one index range scan per session and distinct id.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from query.analytics._params import Params
from query.analytics.list_events import EventType
from query.analytics.reading import read_only
from query.errors import BadUserInputError, NotFoundError
from storage.persons import distinct_ids_of, list_person_sessions, resolve_person_id

MAX_SESSIONS = 50
"""Most sessions one page may hold."""

DEFAULT_SESSIONS = 10

MAX_EVENTS_PER_SESSION = 200
"""Most events returned per session; `more_events` counts the rest."""

SESSION_ATTRIBUTES = (
    "entry_page", "exit_page", "entry_url", "referrer", "referrer_domain", "referrer_channel", "utm_source",
    "utm_medium", "utm_campaign", "utm_term", "utm_content", "device_type", "browser", "os", "country", "region",
    "city",
)
"""Session columns copied as they are (all text, possibly null)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class JourneyEvent:
    message_id: str
    type: EventType
    event: str
    name: str
    time: datetime
    distinct_id: str
    page_path: str | None
    page_url: str | None
    properties: dict


@dataclass(frozen=True)
class JourneySession:
    id: UUID
    session_key: str | None
    started_at: datetime
    ended_at: datetime
    duration_seconds: float
    event_count: int
    pageview_count: int
    is_bounce: bool
    attributes: dict[str, str | None]
    events: list[JourneyEvent]
    # Events of the session beyond the ones returned.
    more_events: int
    cursor: str


@dataclass(frozen=True)
class PersonJourney:
    person_id: UUID
    requested_person_id: UUID
    distinct_ids: list[str]
    sessions: list[JourneySession]
    has_more: bool
    next_cursor: str | None


def encode_cursor(started_at: datetime, session_id: UUID) -> str:
    micros = (started_at - _EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}:{session_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        micros, session_id = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
        return _EPOCH + timedelta(microseconds=int(micros)), UUID(session_id)
    except (ValueError, binascii.Error, UnicodeError, OverflowError):
        raise BadUserInputError(f"before {cursor[:100]!r} is not a cursor this query returned") from None


# One lateral range scan per session: its events through the person's distinct ids, first ones and a count.
_EVENTS_SQL = """
    SELECT page.id AS session_id, ev.message_id, ev.type, ev.event, ev.name, ev.event_time, ev.distinct_id,
           ev.page_path, ev.page_url, ev.properties::text AS properties, ev.total
    FROM unnest({ids}, {keys}, {starts}, {ends}) AS page (id, session_key, started_at, ended_at)
    CROSS JOIN LATERAL (
        SELECT e.message_id, e.type, e.event, e.name, e.event_time, e.distinct_id, e.page_path, e.page_url,
               e.properties, count(*) OVER () AS total,
               row_number() OVER (ORDER BY e.event_time, e.message_id) AS position
        FROM events e
        WHERE e.project_id = {project} AND e.distinct_id = ANY({distinct_ids})
          AND e.event_time >= page.started_at AND e.event_time <= page.ended_at AND NOT e.is_bot
          AND CASE WHEN page.session_key IS NULL THEN e.session_id IS NULL
                   ELSE e.session_id = page.session_key END
    ) ev
    WHERE ev.position <= {cap}
    ORDER BY page.id, ev.position
"""


async def get_person_journey(
    connection: asyncpg.Connection,
    *,
    project_id: UUID,
    person_id: UUID,
    limit: int = DEFAULT_SESSIONS,
    before: str | None = None,
    events_per_session: int = MAX_EVENTS_PER_SESSION,
) -> PersonJourney:
    if not 1 <= limit <= MAX_SESSIONS:
        raise BadUserInputError(f"limit must be between 1 and {MAX_SESSIONS}, got {limit}")
    if not 1 <= events_per_session <= MAX_EVENTS_PER_SESSION:
        raise BadUserInputError(
            f"eventsPerSession must be between 1 and {MAX_EVENTS_PER_SESSION}, got {events_per_session}"
        )
    before_key = decode_cursor(before) if before is not None else None

    async with read_only(connection, "the number of sessions (limit) or of events per session"):
        surviving = await resolve_person_id(connection, project_id, person_id)
        if surviving is None:
            raise NotFoundError(f"no person {person_id} in this project")
        distinct_ids = (await distinct_ids_of(connection, project_id, [surviving]))[surviving]
        rows = await list_person_sessions(
            connection, project_id, surviving, first=limit + 1, before=before_key
        )
        page, has_more = rows[:limit], len(rows) > limit

        events_by_session: dict[UUID, list[asyncpg.Record]] = {row.id: [] for row in page}
        if page and distinct_ids:
            params = Params()
            events_sql = _EVENTS_SQL.format(
                ids=params.add([row.id for row in page], "uuid[]"),
                keys=params.add([row.session_key for row in page], "text[]"),
                starts=params.add([row.started_at for row in page], "timestamptz[]"),
                ends=params.add([row.ended_at for row in page], "timestamptz[]"),
                project=params.add(project_id, "uuid"),
                distinct_ids=params.add(distinct_ids, "text[]"),
                cap=params.add(events_per_session, "int8"),
            )
            for event in await connection.fetch(events_sql, *params.values):
                events_by_session[event["session_id"]].append(event)

    sessions = []
    for row in page:
        events = events_by_session[row.id]
        sessions.append(
            JourneySession(
                id=row.id,
                session_key=row.session_key,
                started_at=row.started_at,
                ended_at=row.ended_at,
                duration_seconds=row.duration_seconds,
                event_count=row.event_count,
                pageview_count=row.pageview_count,
                is_bounce=row.is_bounce,
                attributes={name: getattr(row, name) for name in SESSION_ATTRIBUTES},
                events=[
                    JourneyEvent(
                        message_id=event["message_id"],
                        type=EventType(event["type"]),
                        event=event["event"],
                        name=event["name"],
                        time=event["event_time"],
                        distinct_id=event["distinct_id"],
                        page_path=event["page_path"],
                        page_url=event["page_url"],
                        properties=json.loads(event["properties"]),
                    )
                    for event in events
                ],
                more_events=events[0]["total"] - len(events) if events else 0,
                cursor=encode_cursor(row.started_at, row.id),
            )
        )
    return PersonJourney(
        person_id=surviving,
        requested_person_id=person_id,
        distinct_ids=distinct_ids,
        sessions=sessions,
        has_more=has_more,
        next_cursor=sessions[-1].cursor if has_more else None,
    )
