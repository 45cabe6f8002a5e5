"""Real-time: who is active right now, and events per minute over the last half hour.

`now` is the database clock (`now()`) unless the caller passes one (tests do).

- Active persons: distinct persons (as trends' UNIQUE_PERSONS, through
  `person_distinct_ids`) with a non-bot event whose time lies in
  (now - 5 minutes, now]. Events later than `now` do not count: event times
  are skew-corrected on ingest, so a future time is a client clock still off,
  and counting it would keep that person "active" until the clock caught up.
- Events per minute: ACTIVITY_MINUTES buckets, UTC minutes, the last one the
  minute holding `now`, from the per-minute rollup `event_counts` (non-bot
  rows only), zero-filled. A bucket counts its whole minute, so the current
  one may hold a few events timed after `now` within it.
- Total: the sum of those buckets.

Both read an index range of the project (`events (project_id, event_time)`,
`event_counts (project_id, minute)`), so their cost does not grow with history.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from query.analytics._params import Params
from query.analytics.reading import PERSON_SQL, fetch_read_only, person_joins
from query.errors import BadUserInputError

ACTIVE_WINDOW = timedelta(minutes=5)
"""How far back an event makes its person active."""

ACTIVITY_MINUTES = 30
"""Minute buckets of the events-per-minute chart, the current minute included."""


@dataclass(frozen=True)
class MinuteCount:
    minute: datetime
    events: int


@dataclass(frozen=True)
class Realtime:
    now: datetime
    active_persons: int
    events_per_minute: list[MinuteCount]
    total_events: int


async def get_realtime(connection: asyncpg.Connection, *, project_id: UUID, now: datetime | None = None) -> Realtime:
    if now is not None and (now.tzinfo is None or now.utcoffset() is None):
        raise BadUserInputError("now must carry a UTC offset")
    params = Params()
    project = params.add(project_id, "uuid")
    at = f"coalesce({params.add(now, 'timestamptz')}, now())"
    window = params.add(ACTIVE_WINDOW, "interval")
    minutes = params.add(ACTIVITY_MINUTES, "int4")
    sql = f"""
        WITH clock AS (SELECT {at} AS now, date_trunc('minute', {at} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS minute),
        active AS (
            SELECT count(DISTINCT {PERSON_SQL}) AS persons
            FROM clock, events e {person_joins(project, traits=False)}
            WHERE e.project_id = {project} AND NOT e.is_bot AND e.distinct_id IS NOT NULL
              AND e.event_time > clock.now - {window} AND e.event_time <= clock.now
        ),
        buckets AS (
            SELECT clock.minute - make_interval(mins => k) AS minute
            FROM clock, generate_series(0, {minutes} - 1) AS k
        ),
        counts AS (
            SELECT c.minute, sum(c.count) AS events
            FROM clock, event_counts c
            WHERE c.project_id = {project} AND NOT c.is_bot
              AND c.minute > clock.minute - make_interval(mins => {minutes}) AND c.minute <= clock.minute
            GROUP BY c.minute
        )
        SELECT clock.now, active.persons, b.minute, coalesce(counts.events, 0)::bigint AS events
        FROM clock, active, buckets b LEFT JOIN counts ON counts.minute = b.minute
        ORDER BY b.minute
    """
    rows = await fetch_read_only(connection, sql, params.values, "nothing: it reads the last 30 minutes; report this")
    per_minute = [MinuteCount(minute=row["minute"], events=row["events"]) for row in rows]
    return Realtime(
        now=rows[0]["now"],
        active_persons=rows[0]["persons"],
        events_per_minute=per_minute,
        total_events=sum(item.events for item in per_minute),
    )
