"""Helpers for the identity and session tests: writing events through the real writer and reading persons back."""

import json
import time
import uuid

import asyncpg

from processor.transform import rows_from_batch
from processor.writer import EventWriter
from tests.processor.support import envelope

MINUTE_NS = 60 * 1_000_000_000
T0 = (time.time_ns() // MINUTE_NS - 24 * 60) * MINUTE_NS
"""A minute-aligned moment a day ago: recent enough for the stored partitions, far from range edges."""


def at(minutes: float) -> int:
    return T0 + int(minutes * MINUTE_NS)


async def write(writer: EventWriter, project_id, events) -> int:
    return await writer.write(rows_from_batch(envelope(project_id, list(events))))


async def new_project(db: asyncpg.Connection) -> uuid.UUID:
    return await db.fetchval("INSERT INTO projects (name) VALUES ('people') RETURNING id")


async def person_of(db: asyncpg.Connection, project_id, distinct_id: str) -> uuid.UUID | None:
    return await db.fetchval(
        "SELECT person_id FROM person_distinct_ids WHERE project_id = $1 AND distinct_id = $2", project_id, distinct_id
    )


async def live_persons(db: asyncpg.Connection, project_id) -> dict[uuid.UUID, set[str]]:
    """Each unmerged person with its distinct ids."""
    rows = await db.fetch(
        "SELECT p.id, array_agg(d.distinct_id ORDER BY d.distinct_id) AS ids FROM persons p"
        " LEFT JOIN person_distinct_ids d ON d.person_id = p.id"
        " WHERE p.project_id = $1 AND p.merged_into IS NULL GROUP BY p.id",
        project_id,
    )
    return {row["id"]: {i for i in row["ids"] if i is not None} for row in rows}


async def traits_of(db: asyncpg.Connection, person_id) -> dict:
    return json.loads(await db.fetchval("SELECT traits::text FROM persons WHERE id = $1", person_id))


async def sessions_of(db: asyncpg.Connection, project_id) -> list[asyncpg.Record]:
    return await db.fetch("SELECT * FROM sessions WHERE project_id = $1 ORDER BY started_at, id", project_id)


async def assert_session_rollup_matches(db: asyncpg.Connection, project_id) -> None:
    """`session_hourly` (kept by triggers) equals the same sums recomputed from `sessions` now."""
    rollup_sql = """
        SELECT dimension, hour, value, sessions, duration_micros, bounces, pageviews, events
        FROM session_hourly WHERE project_id = $1 AND sessions <> 0 ORDER BY 1, 2, 3
    """
    recomputed_sql = """
        SELECT d.dimension, date_bin('1 hour', s.started_at, '2000-01-01 00:00+00') AS hour, d.value,
               count(*) AS sessions, sum(session_hourly_micros(s)) AS duration_micros,
               count(*) FILTER (WHERE s.event_count = 1) AS bounces, sum(s.pageview_count) AS pageviews,
               sum(s.event_count) AS events
        FROM sessions s CROSS JOIN LATERAL session_hourly_dimensions(s) AS d
        WHERE s.project_id = $1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    """
    await _assert_same_rows(db, project_id, rollup_sql, recomputed_sql)


async def assert_value_rollup_matches(db: asyncpg.Connection, project_id) -> None:
    """`event_values_hourly` (kept by the writer) equals the same counts recomputed from `events` now."""
    rollup_sql = """
        SELECT event, dimension, hour, value, count FROM event_values_hourly WHERE project_id = $1
        ORDER BY 1, 2, 3, 4
    """
    recomputed_sql = """
        SELECT e.event, d.dimension, date_bin('1 hour', e.event_time, '2000-01-01 00:00+00') AS hour, d.value,
               count(*) AS count
        FROM events e
        CROSS JOIN LATERAL event_value_dimensions(e.browser, e.os, e.device_type, e.country, e.referrer_channel,
                                                  e.referrer_domain, e.utm_source, e.utm_medium, e.utm_campaign) AS d
        WHERE e.project_id = $1 AND NOT e.is_bot GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    """
    await _assert_same_rows(db, project_id, rollup_sql, recomputed_sql)


async def _assert_same_rows(db: asyncpg.Connection, project_id, rollup_sql: str, recomputed_sql: str) -> None:
    rollup = [tuple(row) for row in await db.fetch(rollup_sql, project_id)]
    recomputed = [tuple(row) for row in await db.fetch(recomputed_sql, project_id)]
    assert recomputed, "the project must have rows to sum"
    assert rollup == recomputed
