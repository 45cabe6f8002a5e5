"""Everything stored about one person (GDPR article 15 and 20: access and portability), as JSON Lines.

One JSON object per line, each with a `record` kind: first the `person` (id, distinct ids, traits, times),
then each `session`, then every `event` of the person's distinct ids, oldest first, with the same fields as
the events CSV export. Lines are built by PostgreSQL (no per-row Python work) and read with a cursor
inside the export's single-snapshot transaction, so a person with millions of events streams in constant
memory. Times are ISO 8601 in the project's timezone with their offset.
"""

from collections.abc import AsyncIterator, Sequence
from uuid import UUID

import asyncpg

from query.analytics.list_events import CONTEXT_JSON, EventType
from query.errors import NotFoundError
from query.exports.streaming import BATCH_ROWS, ISO_8601, Batches, Row
from storage.persons import resolve_person_id

MEDIA_TYPE = "application/x-ndjson; charset=utf-8"


def _time(column: str) -> str:
    return f"to_char({column}, '{ISO_8601}')"


_PERSON = f"""
SELECT jsonb_build_object(
    'record', 'person', 'id', p.id, 'distinctIds', coalesce(ids.list, '[]'), 'traits', p.traits,
    'isIdentified', p.is_identified, 'firstSeen', {_time('p.first_seen')}, 'lastSeen', {_time('p.last_seen')},
    'createdAt', {_time('p.created_at')}
)::text
FROM persons p
LEFT JOIN LATERAL (
    SELECT jsonb_agg(d.distinct_id ORDER BY d.distinct_id) AS list
    FROM person_distinct_ids d WHERE d.project_id = p.project_id AND d.person_id = p.id
) ids ON true
WHERE p.project_id = $1 AND p.id = $2
"""

_SESSIONS = f"""
SELECT jsonb_build_object(
    'record', 'session', 'id', s.id, 'sessionId', s.session_key, 'startedAt', {_time('s.started_at')},
    'endedAt', {_time('s.ended_at')}, 'durationSeconds', s.duration_seconds, 'events', s.event_count,
    'pageviews', s.pageview_count, 'isBounce', s.is_bounce, 'entryPage', s.entry_page, 'exitPage', s.exit_page,
    'entryUrl', s.entry_url, 'referrer', s.referrer, 'referrerDomain', s.referrer_domain,
    'referrerChannel', s.referrer_channel, 'utmSource', s.utm_source, 'utmMedium', s.utm_medium,
    'utmCampaign', s.utm_campaign, 'utmTerm', s.utm_term, 'utmContent', s.utm_content,
    'deviceType', s.device_type, 'browser', s.browser, 'os', s.os, 'country', s.country, 'region', s.region,
    'city', s.city
)::text
FROM sessions s WHERE s.project_id = $1 AND s.person_id = $2
ORDER BY s.started_at, s.id
"""

_TYPE_NAME = "CASE type " + " ".join(f"WHEN {member.value} THEN '{member.name}'" for member in EventType) + " END"

# The events CSV export's columns, by the same names.
_EVENTS = f"""
SELECT jsonb_build_object(
    'record', 'event', 'messageId', message_id, 'timestamp', {_time('event_time')},
    'receivedAt', {_time('received_at')}, 'type', {_TYPE_NAME}, 'event', event, 'name', name,
    'distinctId', distinct_id, 'userId', user_id, 'anonymousId', anonymous_id, 'sessionId', session_id,
    'groupId', group_id, 'previousId', previous_id, 'properties', properties, 'context', ({CONTEXT_JSON})::jsonb,
    'traits', traits, 'enrichment', jsonb_build_object(
        'browser', browser, 'browserVersion', browser_version, 'os', os, 'osVersion', os_version,
        'deviceType', device_type, 'country', country, 'region', region, 'city', city,
        'referrerDomain', referrer_domain, 'referrerChannel', referrer_channel, 'isBot', is_bot),
    'schemaViolation', schema_violation
)::text
FROM events
WHERE project_id = $1
  AND distinct_id IN (SELECT distinct_id FROM person_distinct_ids WHERE project_id = $1 AND person_id = $2)
ORDER BY event_time, message_id
"""


def person_lines(project_id: UUID, person_id: UUID) -> Batches:
    """The person's lines (1-tuples of JSON text), BATCH_ROWS at a time; NotFoundError before the first when the
    project has no such person. A merged person's id exports the person it was merged into."""

    async def read(connection: asyncpg.Connection) -> AsyncIterator[Sequence[Row]]:
        survivor = await resolve_person_id(connection, project_id, person_id)
        person = None if survivor is None else await connection.fetchrow(_PERSON, project_id, survivor)
        if person is None:
            raise NotFoundError(f"no person {person_id}")
        yield [tuple(person)]
        for query in (_SESSIONS, _EVENTS):
            cursor = await connection.cursor(query, project_id, survivor)
            while rows := await cursor.fetch(BATCH_ROWS):
                yield rows

    return read


def json_lines(batch: Sequence[Row]) -> bytes:
    """Rows of one JSON text each, one per line."""
    return "".join(f"{row[0]}\n" for row in batch).encode("utf-8")
