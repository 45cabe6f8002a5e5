"""Trends: per series, one number per time bucket over a date range.

TOTAL counts events (bot events excluded). Whole minutes are read from the `event_counts` rollup;
the partial minutes at either end of a range that is not minute-aligned are
counted from raw `events`, so the answer is exact for any [from, to):

    from     ceil_minute(from)          floor_minute(to)     to
    |--raw--|---------- rollup ----------|-------raw-------|

When no whole minute fits between from and to, the whole range is raw.
"""

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from query.analytics._params import Params
from query.analytics.intervals import Bucketing, BucketRange, Interval, get_bucket_range
from query.errors import BadUserInputError

MAX_SERIES = 20
"""Most series one trends query may ask for."""

ALL_EVENTS_LABEL = "All events"

_MINUTE = timedelta(minutes=1)


class Math(enum.Enum):
    TOTAL = "total"


@dataclass(frozen=True)
class SeriesSpec:
    # None means every event of the project.
    event: str | None
    math: Math
    property_name: str | None = None

    @property
    def label(self) -> str:
        return ALL_EVENTS_LABEL if self.event is None else self.event


@dataclass(frozen=True)
class TrendPoint:
    # Start of the bucket, in the project's timezone.
    bucket: datetime
    value: float


@dataclass(frozen=True)
class TrendSeries:
    label: str
    points: list[TrendPoint]


async def get_trends(
    connection: asyncpg.Connection,
    *,
    project_id: UUID,
    timezone: str,
    series: Sequence[SeriesSpec],
    interval: Interval,
    date_from: datetime,
    date_to: datetime,
) -> list[TrendSeries]:
    _validate(series, date_from, date_to)
    buckets = await get_bucket_range(connection, interval, timezone, date_from, date_to)
    zone = ZoneInfo(timezone)
    results = []
    for spec in series:
        rows = await _fetch_total(connection, project_id, timezone, spec, interval, buckets, date_from, date_to)
        points = [TrendPoint(bucket=row["bucket"].astimezone(zone), value=row["value"]) for row in rows]
        results.append(TrendSeries(label=spec.label, points=points))
    return results


def _validate(series: Sequence[SeriesSpec], date_from: datetime, date_to: datetime) -> None:
    if len(series) > MAX_SERIES:
        raise BadUserInputError(f"at most {MAX_SERIES} series per query, got {len(series)}")
    for spec in series:
        if spec.math is Math.TOTAL and spec.property_name is not None:
            raise BadUserInputError("math TOTAL counts events and takes no property")
    for name, value in (("from", date_from), ("to", date_to)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise BadUserInputError(f"dateRange.{name} must carry a UTC offset")
    if date_to <= date_from:
        raise BadUserInputError("dateRange.to must be after dateRange.from")


def _ceil_minute(value: datetime) -> datetime:
    floor = _floor_minute(value)
    return floor if floor == value else floor + _MINUTE


def _floor_minute(value: datetime) -> datetime:
    # In UTC: the rollup's minutes are absolute minutes whatever the project's zone.
    return value.astimezone(UTC).replace(second=0, microsecond=0)


async def _fetch_total(
    connection: asyncpg.Connection,
    project_id: UUID,
    timezone: str,
    spec: SeriesSpec,
    interval: Interval,
    buckets: BucketRange,
    date_from: datetime,
    date_to: datetime,
) -> list[asyncpg.Record]:
    whole_from, whole_to = _ceil_minute(date_from), _floor_minute(date_to)
    if whole_from < whole_to:
        raw_ranges = [(date_from, whole_from), (whole_to, date_to)]
    else:
        # Less than one whole minute inside the range: the rollup has nothing to offer.
        raw_ranges = [(date_from, date_to), (date_to, date_to)]
        whole_from = whole_to = date_to

    params = Params()
    bucketing = Bucketing(interval, timezone, params)
    project = params.add(project_id, "uuid")
    event_filter = "" if spec.event is None else f"AND event = {params.add(spec.event, 'text')}"
    raw_conditions = " OR ".join(
        f"(event_time >= {params.add(start, 'timestamptz')} AND event_time < {params.add(end, 'timestamptz')})"
        for start, end in raw_ranges
    )
    rollup_from = params.add(whole_from, "timestamptz")
    rollup_to = params.add(whole_to, "timestamptz")
    sql = f"""
        WITH counts AS (
            SELECT {bucketing.bucket_of("event_time")} AS bucket, count(*) AS n
            FROM events
            WHERE project_id = {project} {event_filter} AND NOT is_bot AND ({raw_conditions})
            GROUP BY 1
            UNION ALL
            SELECT {bucketing.bucket_of("minute")} AS bucket, sum(count) AS n
            FROM event_counts
            WHERE project_id = {project} {event_filter} AND NOT is_bot
              AND minute >= {rollup_from} AND minute < {rollup_to}
            GROUP BY 1
        ),
        buckets AS ({bucketing.series_sql(buckets)})
        SELECT buckets.bucket, coalesce(sum(counts.n), 0)::float8 AS value
        FROM buckets LEFT JOIN counts ON counts.bucket = buckets.bucket
        GROUP BY buckets.bucket
        ORDER BY buckets.bucket
    """
    return await connection.fetch(sql, *params.values)
