"""Daily active persons, kept exact as events are stored, in the writer's transaction.

`person_event_days` holds one row per person, event name and local day (project
timezone) with such a non-bot event; `person_days` one row per person and day;
`active_person_counts`, per day, DAU and the changes of WAU and MAU that one
person-day causes (see `active_person_changes` in migration
0010). A new day changes its own contribution and the one of the person's next
day (whose previous day it becomes), so the counts are corrected by subtracting
the old contributions of the person's days from the earliest new one on and
adding the new ones, whatever order events arrive in. A merge re-counts both
persons' days as one person's.

Persons are resolved and locked by identity before this runs, so two writers
never change the same person's days at once.
"""

from uuid import UUID

import asyncpg

CREATE_FRESH_DAYS = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS fresh_person_days (project_id uuid, person_id uuid, day date)"
    " ON COMMIT DELETE ROWS"
)

# Shared, in project order: a timezone change (rebuild_active_persons) waits for this transaction,
# and the timezone read by the next statement is the one the rollup is kept in.
_LOCK_PROJECTS = """
SELECT pg_advisory_xact_lock_shared(active_persons_lock_key(project_id))
FROM (SELECT DISTINCT project_id FROM fresh_events ORDER BY project_id) AS projects
"""

_RECORD_DAYS = """
WITH candidate AS (
    SELECT DISTINCT s.project_id, s.event, f.person_id,
           (('epoch'::timestamptz + s.event_time * interval '1 microsecond') AT TIME ZONE p.timezone)::date AS day
    FROM staging_events s
    JOIN fresh_events f ON f.project_id = s.project_id AND f.message_id = s.message_id
    JOIN projects p ON p.id = s.project_id
    WHERE f.person_id IS NOT NULL
), by_event AS (
    INSERT INTO person_event_days (project_id, event, day, person_id)
    SELECT project_id, event, day, person_id FROM candidate ORDER BY 1, 2, 3, 4
    ON CONFLICT DO NOTHING
), added AS (
    INSERT INTO person_days (project_id, person_id, day)
    SELECT DISTINCT project_id, person_id, day FROM candidate ORDER BY 1, 2, 3
    ON CONFLICT DO NOTHING
    RETURNING project_id, person_id, day
)
INSERT INTO fresh_person_days SELECT project_id, person_id, day FROM added
"""

_ADD_CHANGES = """
INSERT INTO active_person_counts AS counts (project_id, day, dau, wau_change, mau_change)
SELECT project_id, at, sum(dau), sum(wau_change), sum(mau_change)
FROM ({changes}) AS changes
GROUP BY project_id, at
HAVING sum(dau) <> 0 OR sum(wau_change) <> 0 OR sum(mau_change) <> 0
ORDER BY project_id, at
ON CONFLICT (project_id, day) DO UPDATE SET
    dau = counts.dau + EXCLUDED.dau,
    wau_change = counts.wau_change + EXCLUDED.wau_change,
    mau_change = counts.mau_change + EXCLUDED.mau_change
"""

# The days of each person with a new day, from the day before its earliest new one (the
# previous day of that one, itself unchanged), with their previous day before and after.
_AFTER_NEW_DAYS = """
WITH earliest AS (
    SELECT project_id, person_id, min(day) AS day FROM fresh_person_days GROUP BY 1, 2
), days AS (
    SELECT d.project_id, d.person_id, d.day, e.day AS earliest, n.day IS NOT NULL AS is_new
    FROM earliest e
    CROSS JOIN LATERAL (
        SELECT max(b.day) AS day FROM person_days b
        WHERE b.project_id = e.project_id AND b.person_id = e.person_id AND b.day < e.day
    ) before
    JOIN person_days d ON d.project_id = e.project_id AND d.person_id = e.person_id
                      AND d.day >= coalesce(before.day, e.day)
    LEFT JOIN fresh_person_days n ON n.project_id = d.project_id AND n.person_id = d.person_id AND n.day = d.day
), ordered AS (
    SELECT project_id, day, earliest, is_new,
           max(day) OVER earlier AS previous_now,
           max(day) FILTER (WHERE NOT is_new) OVER earlier AS previous_before
    FROM days
    WINDOW earlier AS (PARTITION BY project_id, person_id ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
)
SELECT o.project_id, c.at, c.dau * v.sign AS dau, c.wau_change * v.sign AS wau_change,
       c.mau_change * v.sign AS mau_change
FROM ordered o
CROSS JOIN LATERAL (
    SELECT 1 AS sign, o.previous_now AS previous
    UNION ALL
    SELECT -1, o.previous_before WHERE NOT o.is_new
) v
CROSS JOIN LATERAL active_person_changes(o.day, v.previous) c
WHERE o.day >= o.earliest
"""

# Every day of the given persons ($2) of project $1, counted with `sign` ($3).
_OF_PERSONS = """
SELECT d.project_id, c.at, c.dau * $3 AS dau, c.wau_change * $3 AS wau_change, c.mau_change * $3 AS mau_change
FROM (
    SELECT project_id, day, lag(day) OVER (PARTITION BY person_id ORDER BY day) AS previous
    FROM person_days WHERE project_id = $1 AND person_id = ANY($2::uuid[])
) d
CROSS JOIN LATERAL active_person_changes(d.day, d.previous) c
"""

_MOVE_DAYS = """
WITH moved AS (DELETE FROM person_days WHERE project_id = $1 AND person_id = $2 RETURNING day)
INSERT INTO person_days (project_id, person_id, day)
SELECT $1, $3, day FROM moved ORDER BY day ON CONFLICT DO NOTHING
"""

_MOVE_EVENT_DAYS = """
WITH moved AS (DELETE FROM person_event_days WHERE project_id = $1 AND person_id = $2 RETURNING event, day)
INSERT INTO person_event_days (project_id, event, day, person_id)
SELECT $1, event, day, $3 FROM moved ORDER BY event, day ON CONFLICT DO NOTHING
"""


async def lock_active_persons(connection: asyncpg.Connection) -> None:
    """Take the batch's projects' rollup locks (shared), before anything reads a timezone or changes a row."""
    await connection.execute(_LOCK_PROJECTS)


async def record_active_persons(connection: asyncpg.Connection) -> None:
    """Add the newly stored events (in `fresh_events`, `staging_events`) to the rollup; persons resolved and
    `lock_active_persons` taken first."""
    await connection.execute(_RECORD_DAYS)
    await connection.execute(_ADD_CHANGES.format(changes=_AFTER_NEW_DAYS))


async def merge_active_persons(
    connection: asyncpg.Connection, project_id: str, merges: list[tuple[UUID, UUID]]
) -> None:
    """Give merged persons' days to the surviving person, counting them as one person's from now on."""
    project = UUID(project_id)
    for loser, winner in merges:
        await connection.execute(_ADD_CHANGES.format(changes=_OF_PERSONS), project, [loser, winner], -1)
        await connection.execute(_MOVE_DAYS, project, loser, winner)
        await connection.execute(_MOVE_EVENT_DAYS, project, loser, winner)
        await connection.execute(_ADD_CHANGES.format(changes=_OF_PERSONS), project, [winner], 1)
