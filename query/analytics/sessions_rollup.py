"""The sessions summary from `session_hourly`, when the question allows it.

`session_hourly` (migration 0012, kept by triggers on `sessions`) holds per UTC hour of
session start, overall and per value of the common dimensions, the additive sums: sessions,
total duration in exact microseconds, bounces, page views and events. From these the count,
average duration, bounce rate and per-session means are exact, so a summary that asks for
nothing else is answered from whole hours of the rollup plus the raw sessions of the partial
hours at either end of the range: some hundred thousand narrow rows for a month instead of
every session. Distinct persons and medians cannot be summed; a summary that needs them, is
filtered, or groups by a dimension the rollup leaves out, reads `sessions` (get_sessions.py).

The rows come back in the shape get_sessions reads: (part, rank, value, is_other, bucket,
statistics), with persons and median NULL.
"""

from datetime import datetime
from uuid import UUID

import asyncpg

from query.analytics._params import Params
from query.analytics.intervals import Bucketing, BucketRange, Interval, buckets_on_whole_hours, ceil_hour, floor_hour

ROLLUP_COLUMNS = frozenset({
    "entry_page", "exit_page", "referrer_domain", "referrer_channel", "utm_source", "utm_medium", "utm_campaign",
    "device_type", "browser", "os", "country",
})
"""The session dimensions `session_hourly` sums by (its function session_hourly_dimensions)."""


def rollup_can_answer(
    *, filtered: bool, breakdown_column: str | None, interval: Interval | None, timezone: str,
    buckets: BucketRange | None,
) -> bool:
    """Whether a summary without persons or medians can come from the rollup: unfiltered, grouped (if at all)
    by a summed dimension, and bucketed (if at all) on whole UTC hours."""
    if filtered or (breakdown_column is not None and breakdown_column not in ROLLUP_COLUMNS):
        return False
    return interval is None or (buckets is not None and buckets_on_whole_hours(interval, timezone, buckets))


# Over rows `g` holding sums (none at all for an empty bucket, from a LEFT JOIN): numeric sums divided
# as numeric, then rounded once to float8.
_STATS = """
    coalesce(sum(g.sessions), 0)::int8 AS sessions,
    NULL::int8 AS persons,
    (sum(g.duration_micros) / nullif(sum(g.sessions), 0) / 1000000)::float8 AS avg_duration,
    NULL::float8 AS median_duration,
    (sum(g.bounces) / nullif(sum(g.sessions), 0))::float8 AS bounce_rate,
    (sum(g.pageviews) / nullif(sum(g.sessions), 0))::float8 AS pageviews_per_session,
    (sum(g.events) / nullif(sum(g.sessions), 0))::float8 AS events_per_session
"""


async def fetch_from_rollup(
    connection: asyncpg.Connection,
    *,
    project_id: UUID,
    timezone: str,
    date_from: datetime,
    date_to: datetime,
    breakdown_column: str | None,
    breakdown_limit: int,
    interval: Interval | None,
    buckets: BucketRange | None,
    pages_limit: int,
) -> list[asyncpg.Record]:
    """The summary's rows; the caller has checked `rollup_can_answer`."""
    params = Params()
    project = params.add(project_id, "uuid")
    hours_from, hours_to = ceil_hour(date_from), floor_hour(date_to)
    if hours_from >= hours_to:  # no whole hour inside: all of it is raw
        hours_from = hours_to = date_to
    dimensions = ["", "entry_page", "exit_page"]
    if breakdown_column is not None and breakdown_column not in dimensions:
        dimensions.append(breakdown_column)
    # Column names come from ROLLUP_COLUMNS (checked by the caller), never from the request.
    assert all(column in ROLLUP_COLUMNS for column in dimensions[1:])
    raw_dimensions = ", ".join(
        "('', NULL::text)" if column == "" else f"('{column}', x.{column})" for column in dimensions
    )
    edges = " OR ".join(
        f"(x.started_at >= {params.add(start, 'timestamptz')} AND x.started_at < {params.add(end, 'timestamptz')})"
        for start, end in ((date_from, hours_from), (hours_to, date_to))
    )
    ctes = [
        f"""summed AS (
            SELECT h.dimension, h.hour AS at, h.value, h.sessions, h.duration_micros, h.bounces, h.pageviews,
                   h.events
            FROM session_hourly h
            WHERE h.project_id = {project} AND h.dimension = ANY({params.add(dimensions, 'text[]')})
              AND h.hour >= {params.add(hours_from, 'timestamptz')} AND h.hour < {params.add(hours_to, 'timestamptz')}
            UNION ALL
            -- The partial hours at the ends, from the sessions themselves.
            SELECT d.dimension, x.started_at, d.value COLLATE "C", 1, session_hourly_micros(x),
                   (x.event_count = 1)::int, x.pageview_count, x.event_count
            FROM sessions x CROSS JOIN LATERAL (VALUES {raw_dimensions}) AS d (dimension, value)
            WHERE x.project_id = {project} AND ({edges})
        )""",
        """by_value AS (
            SELECT dimension, value, sum(sessions) AS sessions, sum(duration_micros) AS duration_micros,
                   sum(bounces) AS bounces, sum(pageviews) AS pageviews, sum(events) AS events
            FROM summed WHERE dimension <> ''
            GROUP BY dimension, value
            -- Values whose sessions all moved away (fused, later attributes) leave rows of zeros.
            HAVING sum(sessions) > 0
        )""",
    ]
    parts = [f"SELECT 'total' AS part, 0::int8 AS rank, NULL::text AS value, false AS is_other,"
             f" NULL::timestamptz AS bucket, {_STATS} FROM summed g WHERE g.dimension = ''"]
    if breakdown_column is not None:
        column = params.add(breakdown_column, "text")
        limit = params.add(breakdown_limit, "int8")
        ctes.append(
            f"""ranked AS (
                SELECT g.*, row_number() OVER (ORDER BY g.sessions DESC, g.value COLLATE "C" NULLS LAST) AS rank
                FROM by_value g WHERE g.dimension = {column}
            )"""
        )
        parts.append(
            f"SELECT 'breakdown', least(g.rank, {limit} + 1), CASE WHEN g.rank <= {limit} THEN g.value END,"
            f" g.rank > {limit}, NULL, {_STATS} FROM ranked g GROUP BY 2, 3, 4"
        )
    for part, page_column in (("entry", "entry_page"), ("exit", "exit_page")):
        parts.append(
            f"(SELECT '{part}', row_number() OVER (ORDER BY sum(g.sessions) DESC, g.value COLLATE \"C\"), g.value,"
            f" false, NULL, {_STATS} FROM by_value g WHERE g.dimension = '{page_column}' AND g.value IS NOT NULL"
            f" GROUP BY g.value ORDER BY 2 LIMIT {params.add(pages_limit, 'int8')})"
        )
    if interval is not None:
        assert buckets is not None
        bucketing = Bucketing(interval, timezone, params)
        ctes.append(f"buckets AS ({bucketing.series_sql(buckets)})")
        # Rollup rows stand at their hour, raw ones at their start: every bucket starts on a whole hour.
        parts.append(
            f"SELECT 'series', 0, NULL, false, buckets.bucket, {_STATS} FROM buckets LEFT JOIN"
            f" (SELECT {bucketing.bucket_of('s.at')} AS bucket, s.* FROM summed s WHERE s.dimension = '') g"
            f" ON g.bucket = buckets.bucket GROUP BY buckets.bucket"
        )
    sql = f"WITH {', '.join(ctes)} " + " UNION ALL ".join(parts) + " ORDER BY part, rank, bucket"
    return await connection.fetch(sql, *params.values)
