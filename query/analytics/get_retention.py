"""Retention: of the persons who did a start event in a period, how many came back in each later period.

Periods are DAY, WEEK (ISO, starting Monday) or MONTH in the project's timezone,
the same calendar buckets as trends (see `intervals.py`).

Cohorts: one per period the date range [from, to) touches, from the period
holding `from` to the period holding the last instant before `to` (the same
buckets trends draws for that range). A cohort is always a whole period: its
start events are counted from the period's start to its end even where the
range begins or ends inside it.

- RECURRING: the cohort of period P0 is every person with at least one start
  event in P0, so one person may belong to several cohorts.
- FIRST_TIME: the cohort of P0 is every person whose first-ever start event
  (over all time, not just the range) falls in P0. A person who first did it
  before the range is in no cohort of the range.

Retention at k (k = 0..periods-1): the cohort's persons with at least one
return event in period P0+k. k = 0 is the cohort's own period and counts a
return event anywhere in it, before or after the start event (as PostHog does),
so with start event = return event it is the whole cohort. Later periods may
lie after `to`: they are still counted, up to now; a period that has not begun
yet is left out, so a recent cohort has fewer values (and a cohort whose own
period lies in the future is left out entirely).

Bounds: periods 1..90 days, 1..52 weeks or 1..24 months; at most MAX_COHORTS
cohorts; anything else is BAD_USER_INPUT.

Both events take optional property filters (`filters.py`), applied to the start
and to the return events respectively. Persons are the events' (`reading.PERSON_SQL`)
and bot events are excluded, as everywhere in analytics. All counting is one SQL
statement under `reading.STATEMENT_TIMEOUT`. Since periods are whole local days,
without filters it reads the processor's `person_event_days` rollup (one row per
person, event and local day) instead of the events themselves; FIRST_TIME
retention of one event (start = return) then needs a single pass over that
event's days, no join of cohorts with returns.
"""

import enum
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from query.analytics._params import Params
from query.analytics.filters import PropertyFilter, Sources, filters_sql, needs_person, validate_filters
from query.analytics.intervals import Interval, get_bucket_range
from query.analytics.reading import PERSON_SQL, fetch_read_only, person_joins, validate_date_range
from query.errors import BadUserInputError


class RetentionPeriod(enum.Enum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class RetentionMode(enum.Enum):
    FIRST_TIME = "first_time"
    RECURRING = "recurring"


MAX_PERIODS = {RetentionPeriod.DAY: 90, RetentionPeriod.WEEK: 52, RetentionPeriod.MONTH: 24}
"""Most retention columns (k = 0..periods-1) per period size."""

MAX_COHORTS = 400
"""Most cohorts (periods of the date range) one query may ask for."""

@dataclass(frozen=True)
class EventSpec:
    event: str
    filters: tuple[PropertyFilter, ...] = ()


@dataclass(frozen=True)
class RetentionValue:
    # k: periods after the cohort's period.
    period: int
    # Start of period P0+k, in the project's timezone.
    period_start: datetime
    count: int
    # count / cohort size; 0 for an empty cohort.
    fraction: float


@dataclass(frozen=True)
class RetentionCohort:
    # Start of the cohort's period, in the project's timezone.
    cohort_start: datetime
    size: int
    values: list[RetentionValue]


async def get_retention(
    connection: asyncpg.Connection,
    *,
    project_id: UUID,
    timezone: str,
    start: EventSpec,
    returning: EventSpec,
    period: RetentionPeriod,
    periods: int,
    date_from: datetime,
    date_to: datetime,
    mode: RetentionMode = RetentionMode.RECURRING,
) -> list[RetentionCohort]:
    limit = MAX_PERIODS[period]
    if not 1 <= periods <= limit:
        raise BadUserInputError(f"periods must be between 1 and {limit} for {period.name}, got {periods}")
    for name, spec in (("startEvent", start), ("returnEvent", returning)):
        if not spec.event:
            raise BadUserInputError(f"{name} must not be empty")
    validate_filters(start.filters, "startFilters")
    validate_filters(returning.filters, "returnFilters")
    validate_date_range(date_from, date_to)
    buckets = await get_bucket_range(connection, Interval(period.value), timezone, date_from, date_to)
    if buckets.count > MAX_COHORTS:
        raise BadUserInputError(
            f"the date range spans {buckets.count} {period.value} cohorts; at most {MAX_COHORTS} are allowed"
        )

    params = Params()
    project = params.add(project_id, "uuid")
    tz = params.add(timezone, "text")
    unit = params.add(period.value, "text")
    step = f"({params.add(f'1 {period.value}', 'text')}::interval)"
    first = params.add(buckets.first, "timestamp")
    last = params.add(buckets.last, "timestamp")
    count = params.add(periods, "int4")
    # Instants bounding every event that can matter: cohorts from `first` to the end of `last`,
    # returns up to the end of period last + periods - 1.
    cohorts_end = f"(({last} + {step}) AT TIME ZONE {tz})"
    returns_end = f"(({last} + {step} * {count}) AT TIME ZONE {tz})"
    start_instant = f"({first} AT TIME ZONE {tz})"

    def local_period(column: str) -> str:
        return f"date_trunc({unit}, {column} AT TIME ZONE {tz})"

    start_event = params.add(start.event, "text")
    offset = _OFFSETS[period]
    rollup = not start.filters and not returning.filters
    if rollup and mode is RetentionMode.FIRST_TIME and start.event == returning.event:
        # One pass over the event's days; with two events, joining a rare start event's few cohorts to the
        # returns reads less.
        tallies = _first_time_from_person_event_days(project, start_event, unit, first, last, step, count,
                                                     offset.format(period="r.local_period", cohort="r.cohort"))
    else:
        return_event = params.add(returning.event, "text")
        if rollup:
            starts, returns = _paired_from_person_event_days(mode, project, start_event, return_event, unit, first,
                                                             last, step, count)
        else:
            starts, returns = _from_events(mode, params, project, tz, start, returning, start_event, return_event,
                                           local_period, start_instant, cohorts_end, returns_end)
        tallies = _PAIRED_TALLIES.format(starts=starts, returns=returns,
                                         offset=offset.format(period="r.local_period", cohort="c.cohort"))
    sql = _RETENTION.format(tallies=tallies, step=step, first=first, last=last, count=count, tz=tz)
    rows = await fetch_read_only(connection, sql, params.values, "the date range or the filters")
    return _cohorts(rows, ZoneInfo(timezone))


def _first_time_from_person_event_days(
    project: str, event: str, unit: str, first: str, last: str, step: str, count: str, offset: str,
) -> str:
    """`sizes` and `retained` of FIRST_TIME cohorts whose start and return event are one event, from the rollup.

    Periods are whole local days, so the rollup's days say it all. One pass over the event's days: one row
    per person and period they did it in; a person's cohort is their earliest such period (no lower bound
    on the days read: the first-ever event may lie long before the range), and each of their periods is a
    return to it, so no join of starts with returns is needed.
    """
    returns_end = f"(({last} + {step} * {count})::date)"
    return f"""
        periods AS (
            SELECT DISTINCT person_id AS person, date_trunc({unit}, day::timestamp) AS local_period
            FROM person_event_days
            WHERE project_id = {project} AND event = {event} AND day < {returns_end}
        ),
        placed AS (
            SELECT local_period, min(local_period) OVER (PARTITION BY person) AS cohort FROM periods
        ),
        tallied AS MATERIALIZED (
            -- The cohort's own period appears once per person: it counts the cohort.
            SELECT r.cohort, {offset} AS k, count(*) AS n
            FROM placed r
            WHERE r.cohort >= {first} AND r.cohort <= {last}
            GROUP BY 1, 2
        ),
        sizes AS (SELECT cohort, n AS size FROM tallied WHERE k = 0),
        retained AS (SELECT cohort, k, n FROM tallied)
    """


def _paired_from_person_event_days(
    mode: RetentionMode, project: str, start_event: str, return_event: str, unit: str, first: str, last: str,
    step: str, count: str,
) -> tuple[str, str]:
    """(cohorts, returns) from the daily rollup."""
    cohorts_end = f"(({last} + {step})::date)"
    returns_end = f"(({last} + {step} * {count})::date)"
    if mode is RetentionMode.RECURRING:
        starts = f"""
            SELECT DISTINCT person_id AS person, date_trunc({unit}, day::timestamp) AS cohort
            FROM person_event_days
            WHERE project_id = {project} AND event = {start_event}
              AND day >= {first}::date AND day < {cohorts_end}
        """
    else:
        # No lower bound: the first-ever start event may lie long before the range.
        starts = f"""
            SELECT person_id AS person, date_trunc({unit}, min(day)::timestamp) AS cohort
            FROM person_event_days
            WHERE project_id = {project} AND event = {start_event} AND day < {cohorts_end}
            GROUP BY person_id
            HAVING min(day) >= {first}::date
        """
    returns = f"""
        SELECT DISTINCT person_id AS person, date_trunc({unit}, day::timestamp) AS local_period
        FROM person_event_days
        WHERE project_id = {project} AND event = {return_event} AND day >= {first}::date AND day < {returns_end}
    """
    return starts, returns


def _from_events(
    mode: RetentionMode, params: Params, project: str, tz: str, start: EventSpec, returning: EventSpec,
    start_event: str, return_event: str, local_period, start_instant: str, cohorts_end: str, returns_end: str,
) -> tuple[str, str]:
    """(cohorts, returns) from raw events, where filters on their properties apply."""
    start_where = f"""
        e.project_id = {project} AND NOT e.is_bot AND e.event = {start_event} AND e.distinct_id IS NOT NULL
          AND e.event_time < {cohorts_end} AND {filters_sql(start.filters, params, Sources())}
    """
    if mode is RetentionMode.RECURRING:
        starts = f"""
            SELECT DISTINCT {PERSON_SQL} AS person, {local_period("e.event_time")} AS cohort
            FROM events e {person_joins(project, traits=needs_person(start.filters))}
            WHERE {start_where} AND e.event_time >= {start_instant}
        """
    else:
        # No lower bound: the first-ever start event may lie long before the range.
        starts = f"""
            SELECT person, {local_period("first_time")} AS cohort
            FROM (
                SELECT {PERSON_SQL} AS person, min(e.event_time) AS first_time
                FROM events e {person_joins(project, traits=needs_person(start.filters))}
                WHERE {start_where}
                GROUP BY 1
            ) AS firsts
            WHERE first_time >= {start_instant}
        """
    returns = f"""
        SELECT DISTINCT {PERSON_SQL} AS person, {local_period("e.event_time")} AS local_period
        FROM events e {person_joins(project, traits=needs_person(returning.filters))}
        WHERE e.project_id = {project} AND NOT e.is_bot AND e.event = {return_event} AND e.distinct_id IS NOT NULL
          AND e.event_time >= {start_instant} AND e.event_time < {returns_end}
          AND {filters_sql(returning.filters, params, Sources())}
    """
    return starts, returns


# How many periods after its cohort's a return's period is ({period}, {cohort}: the two columns).
_OFFSETS = {
    RetentionPeriod.MONTH: (
        "((extract(year FROM {period}) - extract(year FROM {cohort})) * 12"
        " + extract(month FROM {period}) - extract(month FROM {cohort}))::int"
    ),
    RetentionPeriod.WEEK: "(({period}::date - {cohort}::date) / 7)",
    RetentionPeriod.DAY: "({period}::date - {cohort}::date)",
}

# `sizes` (cohort, size) and `retained` (cohort, k, n) from (person, cohort) and (person, local_period) pairs.
_PAIRED_TALLIES = """
    cohorts AS ({starts}),
    returns AS ({returns}),
    sizes AS (SELECT cohort, count(*) AS size FROM cohorts GROUP BY cohort),
    retained AS (
        -- (person, period) pairs are distinct on both sides: a plain count counts persons.
        SELECT c.cohort, {offset} AS k, count(*) AS n
        FROM cohorts c JOIN returns r ON r.person = c.person AND r.local_period >= c.cohort
        GROUP BY 1, 2
    )
"""

_RETENTION = """
    WITH {tallies},
    grid AS (
        SELECT cohort, k, cohort + {step} * k AS local_period
        FROM generate_series({first}, {last}, {step}) AS cohort
        CROSS JOIN generate_series(0, {count} - 1) AS k
    )
    SELECT grid.cohort AT TIME ZONE {tz} AS cohort_start, grid.k,
           grid.local_period AT TIME ZONE {tz} AS period_start,
           coalesce(sizes.size, 0) AS size, coalesce(retained.n, 0) AS n
    FROM grid
    LEFT JOIN sizes ON sizes.cohort = grid.cohort
    LEFT JOIN retained ON retained.cohort = grid.cohort AND retained.k = grid.k
    WHERE grid.local_period AT TIME ZONE {tz} <= now()
    ORDER BY grid.cohort, grid.k
"""


def _cohorts(rows: list[asyncpg.Record], zone: ZoneInfo) -> list[RetentionCohort]:
    cohorts: list[RetentionCohort] = []
    for row in rows:
        cohort_start = row["cohort_start"].astimezone(zone)
        if not cohorts or cohorts[-1].cohort_start != cohort_start:
            cohorts.append(RetentionCohort(cohort_start=cohort_start, size=row["size"], values=[]))
        size = row["size"]
        cohorts[-1].values.append(
            RetentionValue(
                period=row["k"],
                period_start=row["period_start"].astimezone(zone),
                count=row["n"],
                fraction=row["n"] / size if size else 0.0,
            )
        )
    return cohorts
