"""Trends of event counts broken down by an enriched column, from `event_values_hourly`.

The processor counts every non-bot event per event name, UTC hour and value of the common enriched
columns (migration 0014). A TOTAL series without filters, broken down by one of them, with buckets
that start on whole UTC hours, is then added up from whole hours of that rollup plus the raw events of
the partial hours at either end of each period: the same numbers as counting the events (the top
values, their ranking and `Other` included), from some thousands of rows instead of every event.

The rows come back as get_trends' raw path gives them: (is_compare, rank, breakdown_value, is_other,
bucket, value), every bucket of every group present.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from query.analytics._params import Params
from query.analytics._trend_rows import breakdown_groups_sql, series_grid_sql, shifted
from query.analytics.intervals import Bucketing, BucketRange, Interval, ceil_hour, floor_hour

ROLLUP_COLUMNS = frozenset({
    "browser", "os", "device_type", "country", "referrer_channel", "referrer_domain", "utm_source", "utm_medium",
    "utm_campaign",
})
"""The `events` columns `event_values_hourly` counts by (its function event_value_dimensions)."""


@dataclass(frozen=True)
class Period:
    is_compare: bool
    date_from: datetime
    date_to: datetime
    # Added to the period's times to find their bucket: the previous period is drawn on the current buckets.
    shift: timedelta


async def fetch_breakdown_from_rollup(
    connection: asyncpg.Connection,
    *,
    project_id: UUID,
    timezone: str,
    interval: Interval,
    buckets: BucketRange,
    event: str | None,
    column: str,
    limit: int,
    periods: Sequence[Period],
) -> list[asyncpg.Record]:
    """The caller has checked: TOTAL, no filters, `column` in ROLLUP_COLUMNS, buckets on whole UTC hours and
    shifts of whole hours."""
    assert column in ROLLUP_COLUMNS
    params = Params()
    bucketing = Bucketing(interval, timezone, params)
    project = params.add(project_id, "uuid")
    event_rollup = "" if event is None else f"AND h.event = {params.add(event, 'text')}"
    event_raw = "" if event is None else f"AND e.event = {params.add(event, 'text')}"
    dimension = params.add(column, "text")
    counted = []
    for period in periods:
        hours_from, hours_to = ceil_hour(period.date_from), floor_hour(period.date_to)
        if hours_from >= hours_to:  # no whole hour inside: all of it is raw
            hours_from = hours_to = period.date_to
        edges = " OR ".join(
            f"(e.event_time >= {params.add(start, 'timestamptz')} AND e.event_time < {params.add(end, 'timestamptz')})"
            for start, end in ((period.date_from, hours_from), (hours_to, period.date_to))
        )
        hour_bucket = bucketing.bucket_of(shifted("h.hour", period.shift, params))
        event_bucket = bucketing.bucket_of(shifted("e.event_time", period.shift, params))
        counted.append(f"""
            SELECT {period.is_compare} AS is_compare, {hour_bucket} AS bucket,
                   h.value AS bd, sum(h.count) AS n
            FROM event_values_hourly h
            WHERE h.project_id = {project} {event_rollup} AND h.dimension = {dimension}
              AND h.hour >= {params.add(hours_from, 'timestamptz')} AND h.hour < {params.add(hours_to, 'timestamptz')}
            GROUP BY 2, 3
            UNION ALL
            SELECT {period.is_compare}, {event_bucket}, e.{column} COLLATE "C", count(*)
            FROM events e
            WHERE e.project_id = {project} {event_raw} AND NOT e.is_bot AND ({edges})
            GROUP BY 2, 3
        """)
    groups = breakdown_groups_sql("counted", "sum(n)", params.add(limit, "int8"), params.add(limit + 1, "int8"))
    compare = any(period.is_compare for period in periods)
    sql = f"""
        WITH counted AS ({" UNION ALL ".join(counted)}),
        {groups},
        agg AS (SELECT is_compare, rank, bucket, sum(n) AS value FROM tagged GROUP BY 1, 2, 3),
        {series_grid_sql(compare, bucketing.series_sql(buckets))}
    """
    return await connection.fetch(sql, *params.values)

