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
        shift = _shifted(period.shift, params)
        edges = " OR ".join(
            f"(e.event_time >= {params.add(start, 'timestamptz')} AND e.event_time < {params.add(end, 'timestamptz')})"
            for start, end in ((period.date_from, hours_from), (hours_to, period.date_to))
        )
        counted.append(f"""
            SELECT {period.is_compare} AS is_compare, {bucketing.bucket_of(f"(h.hour{shift})")} AS bucket,
                   h.value AS bd, sum(h.count) AS n
            FROM event_values_hourly h
            WHERE h.project_id = {project} {event_rollup} AND h.dimension = {dimension}
              AND h.hour >= {params.add(hours_from, 'timestamptz')} AND h.hour < {params.add(hours_to, 'timestamptz')}
            GROUP BY 2, 3
            UNION ALL
            SELECT {period.is_compare}, {bucketing.bucket_of(f"(e.event_time{shift})")}, e.{column} COLLATE "C",
                   count(*)
            FROM events e
            WHERE e.project_id = {project} {event_raw} AND NOT e.is_bot AND ({edges})
            GROUP BY 2, 3
        """)
    other_rank = params.add(limit + 1, "int8")
    compare_periods = "SELECT false AS is_compare" + (
        " UNION ALL SELECT true" if any(period.is_compare for period in periods) else ""
    )
    # As the raw path: ranked by events of the current period, ties by value in code-point order, no value
    # last; `key` makes NULL (no value) a joinable value.
    sql = f"""
        WITH counted AS ({" UNION ALL ".join(counted)}),
        top AS (
            SELECT bd, coalesce('v' || bd, 'n') AS key,
                   row_number() OVER (ORDER BY sum(n) DESC, bd COLLATE "C" NULLS LAST) AS rank
            FROM counted WHERE NOT is_compare
            GROUP BY bd
            HAVING sum(n) > 0
            ORDER BY rank
            LIMIT {params.add(limit, 'int8')}
        ),
        tagged AS (
            SELECT counted.*, coalesce(top.rank, {other_rank}) AS rank
            FROM counted LEFT JOIN top ON top.key = coalesce('v' || counted.bd, 'n')
        ),
        groups AS (
            SELECT rank, bd AS value, false AS is_other FROM top
            UNION ALL
            SELECT {other_rank}, NULL, true WHERE EXISTS (SELECT 1 FROM tagged WHERE rank = {other_rank} AND n > 0)
        ),
        agg AS (SELECT is_compare, rank, bucket, sum(n) AS value FROM tagged GROUP BY 1, 2, 3),
        periods AS ({compare_periods}),
        buckets AS ({bucketing.series_sql(buckets)})
        SELECT periods.is_compare, groups.rank, groups.value AS breakdown_value, groups.is_other,
               buckets.bucket, coalesce(agg.value, 0)::float8 AS value
        FROM periods CROSS JOIN groups CROSS JOIN buckets
        LEFT JOIN agg ON agg.is_compare = periods.is_compare AND agg.rank = groups.rank
                     AND agg.bucket = buckets.bucket
        ORDER BY periods.is_compare, groups.rank, buckets.bucket
    """
    return await connection.fetch(sql, *params.values)


def _shifted(shift: timedelta, params: Params) -> str:
    """SQL to add to a timestamp: a pure time interval (no days part), so DST never stretches it."""
    if not shift:
        return ""
    return f" + {params.add(shift / timedelta(microseconds=1), 'float8')} * interval '1 microsecond'"
