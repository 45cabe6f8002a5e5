"""Erasing a person (GDPR article 17): the person, every event of their distinct ids, their sessions and
their active days, taken out of every rollup in the same transaction, so no count still includes them.

Who is erased: the surviving person a given id resolves to, and every person merged into it (their
distinct ids point to the survivor since the merge). Events are found by distinct id, the way analytics
join them to persons, so bot events of those ids go too.

Concurrency with the processor: the persons are locked first (`FOR UPDATE`, in id order, as the
processor's identity step locks them). A writer that locked one before us commits first, and its events
are then deleted with the rest; a writer that comes after finds the person gone, retries, and files its
events under a new person: data sent after the erasure is new data. Rollup rows are decremented with the
writer's own ordered upserts, in the writer's order of tables, so the two cannot deadlock each other.

Kept: `event_message_ids` (random ids, no personal data; they keep a redelivered copy of an erased event
from being stored again) and a `person_erasures` record of who erased how much, when.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from storage.persons import MAX_MERGE_DEPTH

ERASURE_STATEMENT_TIMEOUT = "300s"
"""An erasure deletes every event of one person in one transaction: far more than a query may take."""

# The survivor `$2` resolves to, and every person merged into it (at any depth), locked in id order.
_LOCK_PERSONS = f"""
WITH RECURSIVE up(id, merged_into, depth) AS (
    SELECT id, merged_into, 0 FROM persons WHERE project_id = $1 AND id = $2
    UNION ALL
    SELECT p.id, p.merged_into, u.depth + 1 FROM up u
    JOIN persons p ON p.id = u.merged_into AND p.project_id = $1
    WHERE u.depth < {MAX_MERGE_DEPTH}
), survivor AS (
    SELECT id FROM up WHERE merged_into IS NULL LIMIT 1
), down(id, depth) AS (
    SELECT id, 0 FROM survivor
    UNION ALL
    SELECT p.id, d.depth + 1 FROM down d
    JOIN persons p ON p.merged_into = d.id AND p.project_id = $1
    WHERE d.depth < {MAX_MERGE_DEPTH}
)
SELECT p.id, p.merged_into IS NULL AS is_survivor
FROM persons p WHERE p.id IN (SELECT id FROM down) ORDER BY p.id FOR UPDATE OF p
"""

# Every day of the persons ($2), with the DAU/WAU/MAU changes it caused, taken back (see
# `active_person_changes` in migration 0010); the same ordered upsert as the processor's.
_TAKE_BACK_ACTIVE_DAYS = """
INSERT INTO active_person_counts AS counts (project_id, day, dau, wau_change, mau_change)
SELECT $1, c.at, -sum(c.dau), -sum(c.wau_change), -sum(c.mau_change)
FROM (
    SELECT day, lag(day) OVER (PARTITION BY person_id ORDER BY day) AS previous
    FROM person_days WHERE project_id = $1 AND person_id = ANY($2::uuid[])
) d
CROSS JOIN LATERAL active_person_changes(d.day, d.previous) c
GROUP BY c.at
HAVING sum(c.dau) <> 0 OR sum(c.wau_change) <> 0 OR sum(c.mau_change) <> 0
ORDER BY c.at
ON CONFLICT (project_id, day) DO UPDATE SET
    dau = counts.dau + EXCLUDED.dau,
    wau_change = counts.wau_change + EXCLUDED.wau_change,
    mau_change = counts.mau_change + EXCLUDED.mau_change
"""

# The events of the distinct ids ($2), deleted, and subtracted from the minute, hour and hour-per-value
# counts exactly as processor/writer.py's STORE_FRESH added them (the rows exist, so each upsert updates).
_DELETE_EVENTS = """
WITH gone AS (
    DELETE FROM events WHERE project_id = $1 AND distinct_id = ANY($2::text[])
    RETURNING project_id, event, event_time, is_bot, browser, os, device_type, country,
              referrer_channel, referrer_domain, utm_source, utm_medium, utm_campaign
), by_minute AS (
    INSERT INTO event_counts (project_id, event, minute, is_bot, count)
    SELECT project_id, event, date_trunc('minute', event_time), is_bot, -count(*)
    FROM gone GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (project_id, event, minute, is_bot) DO UPDATE SET count = event_counts.count + EXCLUDED.count
), by_hour AS (
    INSERT INTO event_counts_hourly (project_id, event, hour, is_bot, count)
    SELECT project_id, event, date_trunc('hour', event_time), is_bot, -count(*)
    FROM gone GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (project_id, event, hour, is_bot) DO UPDATE SET count = event_counts_hourly.count + EXCLUDED.count
), by_value AS (
    INSERT INTO event_values_hourly (project_id, event, dimension, hour, value_key, value, count)
    SELECT g.project_id, g.event, d.dimension, date_trunc('hour', g.event_time), rollup_value_key(d.value), d.value,
           -count(*)
    FROM gone g
    CROSS JOIN LATERAL event_value_dimensions(g.browser, g.os, g.device_type, g.country, g.referrer_channel,
                                              g.referrer_domain, g.utm_source, g.utm_medium, g.utm_campaign) AS d
    WHERE NOT g.is_bot
    GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (project_id, event, dimension, hour, value_key)
    DO UPDATE SET count = event_values_hourly.count + EXCLUDED.count
)
SELECT count(*) FROM gone
"""


@dataclass(frozen=True)
class Erasure:
    """What one erasure deleted."""

    person_id: UUID
    erased_at: datetime
    persons: int
    distinct_ids: int
    events: int
    sessions: int


async def erase_person(
    connection: asyncpg.Connection, project_id: UUID, person_id: UUID, erased_by: UUID | None
) -> Erasure | None:
    """Erase the person `person_id` resolves to (merged persons included); None when no such person.

    Runs its own transaction on `connection` (in UTC, as the writer's rollups are cut in UTC hours).
    """
    async with connection.transaction():
        await connection.execute(
            "SELECT set_config('statement_timeout', $1, true), set_config('TimeZone', 'UTC', true)",
            ERASURE_STATEMENT_TIMEOUT,
        )
        # Locks in the writer's order (processor/people.py, then writer.py): the project's active-persons lock
        # (shared; a timezone change, which rebuilds the days, waits for us), the persons, their sessions, the
        # active days, the event counts.
        await connection.execute("SELECT pg_advisory_xact_lock_shared(active_persons_lock_key($1))", project_id)
        locked = await connection.fetch(_LOCK_PERSONS, project_id, person_id)
        if not locked:
            return None
        survivor = next((row["id"] for row in locked if row["is_survivor"]), person_id)
        persons = [row["id"] for row in locked]
        distinct_ids = [row["distinct_id"] for row in await connection.fetch(
            "SELECT distinct_id FROM person_distinct_ids WHERE project_id = $1 AND person_id = ANY($2::uuid[])"
            " ORDER BY distinct_id",
            project_id, persons,
        )]
        # The sessions table's triggers take them out of session_hourly.
        sessions = await connection.fetchval(
            "WITH gone AS (DELETE FROM sessions WHERE project_id = $1 AND person_id = ANY($2::uuid[]) RETURNING 1)"
            " SELECT count(*) FROM gone",
            project_id, persons,
        )
        await connection.execute(_TAKE_BACK_ACTIVE_DAYS, project_id, persons)
        await connection.execute(
            "DELETE FROM person_days WHERE project_id = $1 AND person_id = ANY($2::uuid[])", project_id, persons
        )
        await connection.execute(
            "DELETE FROM person_event_days WHERE project_id = $1 AND person_id = ANY($2::uuid[])",
            project_id, persons,
        )
        events = await connection.fetchval(_DELETE_EVENTS, project_id, distinct_ids)
        # Distinct ids and persons merged into the survivor go with it (ON DELETE CASCADE).
        await connection.execute("DELETE FROM persons WHERE project_id = $1 AND id = ANY($2::uuid[])",
                                 project_id, persons)
        erased_at = await connection.fetchval(
            "INSERT INTO person_erasures (project_id, person_id, erased_by, persons, distinct_ids, events, sessions)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING erased_at",
            project_id, survivor, erased_by, len(persons), len(distinct_ids), events, sessions,
        )
    return Erasure(survivor, erased_at, len(persons), len(distinct_ids), events, sessions)
