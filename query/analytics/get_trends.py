"""Trends: per series, one number per time bucket over a date range.

Maths: TOTAL counts events; UNIQUE_PERSONS counts distinct persons (an event's
distinct id resolved through `person_distinct_ids`; an unmapped distinct id is
its own person); SUM/AVG/MIN/MAX/P50/P90 aggregate a numeric event property
(P50/P90 are `percentile_cont`), ignoring events where it is missing or not a
JSON number. Bot events are always excluded. A bucket without events is 0 for
every math, so charts need no gaps.

Breakdowns of TOTAL by a common enriched column (browser, country, ...) add up
`event_values_hourly` instead (trends_breakdown_rollup.py).

The fast path, TOTAL without filters or breakdown, reads whole minutes from the
`event_counts` rollup and the partial minutes at either end of a range that is
not minute-aligned from raw `events`, so the answer is exact for any [from, to):

    from     ceil_minute(from)          floor_minute(to)     to
    |--raw--|---------- rollup ----------|-------raw-------|

When no whole minute fits between from and to, the whole range is raw.
Everything else is one aggregating SQL statement over raw `events` per series.

Breakdown: the top N values of one property by number of matching events over
the whole (current) range, ties broken by value in code-point order; events
whose value is not among them are summed into one `Other` series (for
UNIQUE_PERSONS: the distinct persons of those events). Events without the
property form their own value, null.

Compare: the previous period is the same length immediately before `from`. Its
series use the current period's buckets: each holds the events that happened
exactly one period length earlier, so both lines share one x axis. With a
breakdown, the previous period is split by the current period's top values.

Every statement runs under `reading.STATEMENT_TIMEOUT`, so a huge query fails alone
instead of piling up database load.
"""

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from query.analytics._params import Params
from query.analytics._trend_rows import breakdown_groups_sql, series_grid_sql, shifted
from query.analytics.filters import (
    PropertyFilter,
    PropertyRef,
    Sources,
    filters_sql,
    needs_person,
    property_number,
    property_text,
    validate_filters,
    validate_key,
)
from query.analytics.intervals import (
    Bucketing,
    BucketRange,
    Interval,
    buckets_on_whole_hours,
    ceil_hour,
    floor_hour,
    get_bucket_range,
)
from query.analytics.reading import PERSON_SQL, person_joins, read_only, validate_date_range
from query.analytics.trends_breakdown_rollup import ROLLUP_COLUMNS as BREAKDOWN_ROLLUP_COLUMNS
from query.analytics.trends_breakdown_rollup import Period, fetch_breakdown_from_rollup
from query.errors import BadUserInputError

MAX_SERIES = 20
"""Most series one trends query may ask for."""

DEFAULT_BREAKDOWN_LIMIT = 10
MAX_BREAKDOWN_LIMIT = 50
"""Most breakdown values shown as their own series (the rest is `Other`)."""

MAX_POINTS = 200_000
"""Most points one answer may hold (series x breakdown values x periods x buckets)."""

ALL_EVENTS_LABEL = "All events"

_MINUTE = timedelta(minutes=1)
_HOUR = timedelta(hours=1)


class Math(enum.Enum):
    TOTAL = "total"
    UNIQUE_PERSONS = "unique_persons"
    SUM = "sum"
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    P50 = "p50"
    P90 = "p90"

    @property
    def needs_property(self) -> bool:
        return self not in (Math.TOTAL, Math.UNIQUE_PERSONS)


_AGGREGATES = {
    Math.TOTAL: "count(*)",
    Math.UNIQUE_PERSONS: "count(DISTINCT person)",
    Math.SUM: "sum(v)",
    Math.AVG: "avg(v)",
    Math.MIN: "min(v)",
    Math.MAX: "max(v)",
    Math.P50: "percentile_cont(0.5) WITHIN GROUP (ORDER BY v)",
    Math.P90: "percentile_cont(0.9) WITHIN GROUP (ORDER BY v)",
}


@dataclass(frozen=True)
class SeriesSpec:
    # None means every event of the project.
    event: str | None
    math: Math
    property_name: str | None = None
    filters: tuple[PropertyFilter, ...] = ()

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
    # The breakdown value of this series; None without a breakdown, for `Other`, and for events without the property.
    breakdown_value: str | None = None
    is_other: bool = False
    compare: bool = False


async def get_trends(
    connection: asyncpg.Connection,
    *,
    project_id: UUID,
    timezone: str,
    series: Sequence[SeriesSpec],
    interval: Interval,
    date_from: datetime,
    date_to: datetime,
    filters: Sequence[PropertyFilter] = (),
    breakdown: PropertyRef | None = None,
    breakdown_limit: int = DEFAULT_BREAKDOWN_LIMIT,
    compare: bool = False,
) -> list[TrendSeries]:
    _validate(series, date_from, date_to, filters, breakdown, breakdown_limit)
    query = _Query(
        project_id=project_id,
        timezone=timezone,
        interval=interval,
        date_from=date_from,
        date_to=date_to,
        filters=tuple(filters),
        breakdown=breakdown,
        breakdown_limit=breakdown_limit,
        compare=compare,
    )
    zone = ZoneInfo(timezone)
    results = []
    async with read_only(connection, "the date range, the filters or the breakdown"):
        buckets = await get_bucket_range(connection, interval, timezone, date_from, date_to)
        groups = (breakdown_limit + 1) if breakdown is not None else 1
        points = len(series) * groups * (2 if compare else 1) * buckets.count
        if points > MAX_POINTS:
            raise BadUserInputError(
                f"the answer would hold up to {points} points; at most {MAX_POINTS} are allowed:"
                " use a larger interval, fewer series or a smaller breakdown limit"
            )
        for spec in series:
            results.extend(await _fetch_series(connection, query, spec, buckets, zone))
    return results


def _aggregate_sql(math: Math) -> str:
    """Per (is_compare, rank, bucket) of `tagged`: the series' value."""
    if math is Math.UNIQUE_PERSONS:
        # Distinct pairs first, then a count: hashed (and parallel) where count(DISTINCT) would sort every row.
        return """
            SELECT is_compare, rank, bucket, count(*) AS value
            FROM (SELECT DISTINCT is_compare, rank, bucket, person FROM tagged) AS pairs
            GROUP BY 1, 2, 3
        """
    return f"SELECT is_compare, rank, bucket, {_AGGREGATES[math]} AS value FROM tagged GROUP BY 1, 2, 3"


@dataclass(frozen=True)
class _Query:
    project_id: UUID
    timezone: str
    interval: Interval
    date_from: datetime
    date_to: datetime
    filters: tuple[PropertyFilter, ...]
    breakdown: PropertyRef | None
    breakdown_limit: int
    compare: bool

    @property
    def length(self) -> timedelta:
        return self.date_to - self.date_from


def _validate(
    series: Sequence[SeriesSpec],
    date_from: datetime,
    date_to: datetime,
    filters: Sequence[PropertyFilter],
    breakdown: PropertyRef | None,
    breakdown_limit: int,
) -> None:
    if not series:
        raise BadUserInputError("at least one series is needed")
    if len(series) > MAX_SERIES:
        raise BadUserInputError(f"at most {MAX_SERIES} series per query, got {len(series)}")
    for spec in series:
        if spec.math.needs_property:
            if spec.property_name is None:
                raise BadUserInputError(f"math {spec.math.name} needs a numeric property")
            validate_key(spec.property_name)
            if PropertyRef(spec.property_name).column is not None:
                raise BadUserInputError(
                    f"{spec.property_name} is a text property; math {spec.math.name} needs a number"
                )
        elif spec.property_name is not None:
            raise BadUserInputError(f"math {spec.math.name} counts events or persons and takes no property")
        validate_filters(spec.filters, "filters per series")
    validate_filters(tuple(filters))
    if breakdown is not None:
        validate_key(breakdown.key, "breakdown")
    if not 1 <= breakdown_limit <= MAX_BREAKDOWN_LIMIT:
        raise BadUserInputError(f"breakdownLimit must be between 1 and {MAX_BREAKDOWN_LIMIT}, got {breakdown_limit}")
    validate_date_range(date_from, date_to)


async def _fetch_series(
    connection: asyncpg.Connection, query: _Query, spec: SeriesSpec, buckets: BucketRange, zone: ZoneInfo
) -> list[TrendSeries]:
    def points(rows: list[asyncpg.Record]) -> list[TrendPoint]:
        return [TrendPoint(bucket=row["bucket"].astimezone(zone), value=row["value"]) for row in rows]

    if spec.math is Math.TOTAL and not spec.filters and not query.filters and query.breakdown is None:
        shifts = [(False, timedelta(0))] + ([(True, query.length)] if query.compare else [])
        return [
            TrendSeries(
                label=spec.label,
                points=points(await _fetch_total(connection, query, spec, buckets, shift)),
                compare=is_compare,
            )
            for is_compare, shift in shifts
        ]
    if _unique_persons_from_days(query, spec):
        rows = await _fetch_unique_persons_from_days(connection, query, spec, buckets)
    elif _breakdown_from_rollup(query, spec, buckets):
        assert query.breakdown is not None and query.breakdown.column is not None
        periods = [Period(False, query.date_from, query.date_to, timedelta(0))]
        if query.compare:
            periods.append(Period(True, query.date_from - query.length, query.date_from, query.length))
        rows = await fetch_breakdown_from_rollup(
            connection, project_id=query.project_id, timezone=query.timezone, interval=query.interval,
            buckets=buckets, event=spec.event, column=query.breakdown.column, limit=query.breakdown_limit,
            periods=periods,
        )
    else:
        rows = await _fetch_raw(connection, query, spec, buckets)
    results: list[TrendSeries] = []
    current: list[asyncpg.Record] = []
    for index, row in enumerate(rows):
        current.append(row)
        following = rows[index + 1] if index + 1 < len(rows) else None
        if following is None or (following["is_compare"], following["rank"]) != (row["is_compare"], row["rank"]):
            results.append(
                TrendSeries(
                    label=spec.label,
                    points=points(current),
                    breakdown_value=row["breakdown_value"],
                    is_other=row["is_other"],
                    compare=row["is_compare"],
                )
            )
            current = []
    return results


def _breakdown_from_rollup(query: _Query, spec: SeriesSpec, buckets: BucketRange) -> bool:
    """Whether a broken-down series can be added up from `event_values_hourly`: TOTAL without filters, by a
    column the rollup counts, in buckets (and a previous period) of whole UTC hours."""
    if spec.math is not Math.TOTAL or spec.filters or query.filters or query.breakdown is None:
        return False
    if query.breakdown.column not in BREAKDOWN_ROLLUP_COLUMNS:
        return False
    if query.compare and query.length % _HOUR:
        return False
    return buckets_on_whole_hours(query.interval, query.timezone, buckets)


def _unique_persons_from_days(query: _Query, spec: SeriesSpec) -> bool:
    """Whether UNIQUE_PERSONS can be read from the daily rollups: no filters, breakdown or comparison, buckets of
    whole local days, and a range from one local midnight to another."""
    if spec.math is not Math.UNIQUE_PERSONS or spec.filters or query.filters or query.breakdown or query.compare:
        return False
    if query.interval not in (Interval.DAY, Interval.WEEK, Interval.MONTH):
        return False
    zone = ZoneInfo(query.timezone)
    return all(moment.astimezone(zone).time() == time(0) for moment in (query.date_from, query.date_to))


async def _fetch_unique_persons_from_days(
    connection: asyncpg.Connection, query: _Query, spec: SeriesSpec, buckets: BucketRange
) -> list[asyncpg.Record]:
    """UNIQUE_PERSONS per bucket from `person_event_days` (one event) or `person_days` (every event): the range
    is whole local days, so the persons of a bucket are those of its days."""
    params = Params()
    bucketing = Bucketing(query.interval, query.timezone, params)
    project = params.add(query.project_id, "uuid")
    tz = bucketing.timezone_param
    zone = ZoneInfo(query.timezone)
    first = params.add(query.date_from.astimezone(zone).date(), "date")
    end = params.add(query.date_to.astimezone(zone).date(), "date")
    if spec.event is None:
        days = f"SELECT person_id, day FROM person_days WHERE project_id = {project}"
    else:
        days = (f"SELECT person_id, day FROM person_event_days"
                f" WHERE project_id = {project} AND event = {params.add(spec.event, 'text')}")
    selected = f"{days} AND day >= {first} AND day < {end}"
    day_bucket = bucketing.bucket_of(f"(day::timestamp AT TIME ZONE {tz})")
    if query.interval is Interval.DAY:  # rows are distinct per (person, day): a count per day
        agg = f"agg AS (SELECT {day_bucket} AS bucket, count(*) AS value FROM ({selected}) AS d GROUP BY day)"
    else:  # persons active on several days of a bucket: distinct pairs first (hashed), then a count
        agg = f"""pairs AS (SELECT DISTINCT {day_bucket} AS bucket, person_id FROM ({selected}) AS d),
        agg AS (SELECT bucket, count(*) AS value FROM pairs GROUP BY bucket)"""
    sql = f"""
        WITH {agg},
        buckets AS ({bucketing.series_sql(buckets)})
        SELECT false AS is_compare, 1::int8 AS rank, NULL::text AS breakdown_value, false AS is_other,
               buckets.bucket, coalesce(agg.value, 0)::float8 AS value
        FROM buckets LEFT JOIN agg ON agg.bucket = buckets.bucket
        ORDER BY buckets.bucket
    """
    return await connection.fetch(sql, *params.values)


def _ceil_minute(value: datetime) -> datetime:
    floor = _floor_minute(value)
    return floor if floor == value else floor + _MINUTE


def _floor_minute(value: datetime) -> datetime:
    # In UTC: the rollup's minutes are absolute minutes whatever the project's zone.
    return value.astimezone(UTC).replace(second=0, microsecond=0)


async def _fetch_total(
    connection: asyncpg.Connection,
    query: _Query,
    spec: SeriesSpec,
    buckets: BucketRange,
    shift: timedelta,
) -> list[asyncpg.Record]:
    """TOTAL from the rollup (whole minutes) and raw events (partial minutes) of [from, to) - shift."""
    date_from, date_to = query.date_from - shift, query.date_to - shift
    whole_from, whole_to = _ceil_minute(date_from), _floor_minute(date_to)
    if whole_from < whole_to and not shift % _MINUTE:
        raw_ranges = [(date_from, whole_from), (whole_to, date_to)]
    else:
        # Less than one whole minute inside the range: the rollup has nothing to offer. Nor has it for
        # a previous period shifted by a length that is not whole minutes: one of its minutes would
        # straddle two buckets.
        raw_ranges = [(date_from, date_to), (date_to, date_to)]
        whole_from = whole_to = date_to

    # Whole UTC hours inside the whole minutes come from the hourly rollup when no bucket boundary cuts an
    # hour: every bucket starts on a whole UTC hour (zones with whole-hour offsets, intervals of an hour or
    # more) and the shift is whole hours.
    hours_from, hours_to = ceil_hour(whole_from), floor_hour(whole_to)
    if hours_from >= hours_to or shift % _HOUR or not buckets_on_whole_hours(query.interval, query.timezone, buckets):
        hours_from = hours_to = whole_to
    minute_ranges = [(whole_from, hours_from), (hours_to, whole_to)]

    params = Params()
    bucketing = Bucketing(query.interval, query.timezone, params)
    project = params.add(query.project_id, "uuid")
    event_filter = "" if spec.event is None else f"AND event = {params.add(spec.event, 'text')}"
    raw_conditions = " OR ".join(
        f"(event_time >= {params.add(start, 'timestamptz')} AND event_time < {params.add(end, 'timestamptz')})"
        for start, end in raw_ranges
    )
    minute_conditions = " OR ".join(
        f"(minute >= {params.add(start, 'timestamptz')} AND minute < {params.add(end, 'timestamptz')})"
        for start, end in minute_ranges
    )
    sql = f"""
        WITH counts AS (
            SELECT {bucketing.bucket_of(shifted("event_time", shift, params))} AS bucket, count(*) AS n
            FROM events
            WHERE project_id = {project} {event_filter} AND NOT is_bot AND ({raw_conditions})
            GROUP BY 1
            UNION ALL
            -- Summed per minute (hour) first: the bucket (a time zone conversion) is then computed once per
            -- minute, not once per event name and minute.
            SELECT {bucketing.bucket_of(shifted("minute", shift, params))} AS bucket, sum(n) AS n
            FROM (
                SELECT minute, sum(count) AS n FROM event_counts
                WHERE project_id = {project} {event_filter} AND NOT is_bot AND ({minute_conditions})
                GROUP BY minute
            ) AS minutes
            GROUP BY 1
            UNION ALL
            SELECT {bucketing.bucket_of(shifted("hour", shift, params))} AS bucket, sum(n) AS n
            FROM (
                SELECT hour, sum(count) AS n FROM event_counts_hourly
                WHERE project_id = {project} {event_filter} AND NOT is_bot
                  AND hour >= {params.add(hours_from, 'timestamptz')} AND hour < {params.add(hours_to, 'timestamptz')}
                GROUP BY hour
            ) AS hours
            GROUP BY 1
        ),
        buckets AS ({bucketing.series_sql(buckets)})
        SELECT buckets.bucket, coalesce(sum(counts.n), 0)::float8 AS value
        FROM buckets LEFT JOIN counts ON counts.bucket = buckets.bucket
        GROUP BY buckets.bucket
        ORDER BY buckets.bucket
    """
    return await connection.fetch(sql, *params.values)


async def _fetch_raw(
    connection: asyncpg.Connection, query: _Query, spec: SeriesSpec, buckets: BucketRange
) -> list[asyncpg.Record]:
    """One series from raw events, as rows (is_compare, rank, breakdown_value, is_other, bucket, value)."""
    params = Params()
    sources = Sources()
    bucketing = Bucketing(query.interval, query.timezone, params)
    project = params.add(query.project_id, "uuid")
    date_from = params.add(query.date_from, "timestamptz")
    date_to = params.add(query.date_to, "timestamptz")
    filters = (*query.filters, *spec.filters)

    time_range = f"(e.event_time >= {date_from} AND e.event_time < {date_to})"
    if query.compare:
        previous_from = params.add(query.date_from - query.length, "timestamptz")
        time_range = f"({time_range} OR (e.event_time >= {previous_from} AND e.event_time < {date_from}))"
        is_compare = f"(e.event_time < {date_from})"
        previous = shifted("e.event_time", query.length, params)
        bucket_time = f"(CASE WHEN {is_compare} THEN {previous} ELSE e.event_time END)"
    else:
        is_compare, bucket_time = "false", "e.event_time"

    joins = ""
    person = "NULL::text"
    traits = needs_person(filters, query.breakdown)
    if spec.math is Math.UNIQUE_PERSONS or traits:
        joins = person_joins(project, traits=traits)
        person = PERSON_SQL
    value = "NULL::float8"
    if spec.math.needs_property:
        value = property_number(PropertyRef(spec.property_name or ""), params, sources)
    breakdown_value = "NULL::text"
    if query.breakdown is not None:
        breakdown_value = property_text(query.breakdown, params, sources)
    event_filter = "" if spec.event is None else f"AND e.event = {params.add(spec.event, 'text')}"

    base = f"""
        SELECT {is_compare} AS is_compare, {bucketing.bucket_of(bucket_time)} AS bucket,
               {person} AS person, {value} AS v, {breakdown_value} AS bd
        FROM events e {joins}
        WHERE e.project_id = {project} AND NOT e.is_bot {event_filter} AND {time_range}
          AND {filters_sql(filters, params, sources)}
    """
    kept = "WHERE v IS NOT NULL" if spec.math.needs_property else ""
    if query.breakdown is None:
        grouping = """
            groups AS (SELECT 1::int8 AS rank, NULL::text AS value, false AS is_other),
            tagged AS (SELECT ev.*, 1::int8 AS rank FROM ev)
        """
    else:
        grouping = breakdown_groups_sql(
            "ev", "count(*)", params.add(query.breakdown_limit, "int8"),
            params.add(query.breakdown_limit + 1, "int8"),
        )
    sql = f"""
        WITH ev AS (SELECT * FROM ({base}) AS base {kept}),
        {grouping},
        agg AS ({_aggregate_sql(spec.math)}),
        {series_grid_sql(query.compare, bucketing.series_sql(buckets))}
    """
    return await connection.fetch(sql, *params.values)
