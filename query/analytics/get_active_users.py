"""Active users: DAU, WAU, MAU and stickiness for every day of a date range.

Days are local calendar days in the project's timezone (23 or 25 hours around a
DST change), one per day the range [from, to) touches, from the day holding
`from` to the day holding the last instant before `to`, as trends' DAY buckets.
Each day is counted whole, even where the range begins or ends inside it.

For day D: DAU = distinct persons with at least one matching event on D; WAU =
distinct persons with one in the 7 days D-6..D; MAU = in the 30 days D-29..D
(the trailing windows reach before `from`); stickiness = DAU / MAU, 0 when MAU
is 0. Matching events: not bots, optionally of one event name and satisfying
property filters (`filters.py`). Persons as in trends' UNIQUE_PERSONS.

Without an event or filters, the answer comes from the daily-active-persons
rollup the processor keeps exact (processor/active_persons.py): DAU per day and
the day-by-day changes of WAU and MAU, summed up to each day, a few rows per day
whatever the traffic. With an event, the distinct (person, local day) pairs of
the window come from the `person_event_days` rollup, or with filters from the
raw events, and are turned into the same day-by-day changes in SQL.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from query.analytics._params import Params
from query.analytics.filters import PropertyFilter, Sources, filters_sql, needs_person, validate_filters
from query.analytics.intervals import Interval, get_bucket_range
from query.analytics.reading import PERSON_SQL, fetch_read_only, person_joins, validate_date_range
from query.errors import BadUserInputError

MAX_DAYS = 400
"""Most days one active-users query may span."""

MONTH_DAYS = 30
"""The trailing window of MAU (WAU's 7 days and MAU's 30 are in `active_person_changes`, migration 0010)."""


@dataclass(frozen=True)
class ActiveUsersDay:
    # Local midnight starting the day, in the project's timezone.
    day: datetime
    dau: int
    wau: int
    mau: int
    stickiness: float


async def get_active_users(
    connection: asyncpg.Connection,
    *,
    project_id: UUID,
    timezone: str,
    date_from: datetime,
    date_to: datetime,
    event: str | None = None,
    filters: Sequence[PropertyFilter] = (),
) -> list[ActiveUsersDay]:
    validate_filters(tuple(filters))
    validate_date_range(date_from, date_to)
    if event is not None and not event:
        raise BadUserInputError("event must not be empty; leave it out for every event")
    days = await get_bucket_range(connection, Interval.DAY, timezone, date_from, date_to)
    if days.count > MAX_DAYS:
        raise BadUserInputError(f"the date range spans {days.count} days; at most {MAX_DAYS} are allowed")

    if event is None and not filters:
        params = Params()
        changes = ("SELECT day, dau, wau_change, mau_change FROM active_person_counts"
                   f" WHERE project_id = {params.add(project_id, 'uuid')}")
        sql = "WITH " + _series_sql(changes, params, timezone, days.first.date(), days.last.date())
        rows = await fetch_read_only(connection, sql, params.values, "the date range")
    else:
        rows = await _from_events(connection, project_id, timezone, days.first.date(), days.last.date(), event,
                                  tuple(filters))
    zone = ZoneInfo(timezone)
    return [
        ActiveUsersDay(
            day=row["day"].astimezone(zone),
            dau=row["dau"],
            wau=row["wau"],
            mau=row["mau"],
            stickiness=row["stickiness"],
        )
        for row in rows
    ]


def _series_sql(changes: str, params: Params, timezone: str, first_day: date, last_day: date) -> str:
    """CTEs and the final SELECT: every day from the first with `changes` (a SELECT of day, dau, wau_change,
    mau_change, at most one row per day) to the last asked for, with the running sums of the changes; then
    only the days asked for."""
    tz = params.add(timezone, "text")
    first = params.add(first_day, "date")
    last = params.add(last_day, "date")
    return f"""
        changes AS ({changes}),
        days AS (
            SELECT d.day, coalesce(c.dau, 0) AS dau,
                   sum(coalesce(c.wau_change, 0)) OVER running AS wau,
                   sum(coalesce(c.mau_change, 0)) OVER running AS mau
            FROM (
                SELECT day FROM changes WHERE day <= {last}
                UNION
                SELECT generate_series({first}::timestamp, {last}::timestamp, '1 day')::date
            ) d
            LEFT JOIN changes c ON c.day = d.day
            WINDOW running AS (ORDER BY d.day)
        )
        SELECT day::timestamp AT TIME ZONE {tz} AS day, dau::int8 AS dau, wau::int8 AS wau, mau::int8 AS mau,
               coalesce(dau::float8 / nullif(mau, 0), 0) AS stickiness
        FROM days WHERE day >= {first}
        ORDER BY day
    """


async def _from_events(
    connection: asyncpg.Connection, project_id: UUID, timezone: str, first_day: date, last_day: date,
    event: str | None, filters: tuple[PropertyFilter, ...],
) -> list[asyncpg.Record]:
    params = Params()
    project = params.add(project_id, "uuid")
    first = params.add(first_day, "date")
    last = params.add(last_day, "date")
    window_start = f"({first} - {params.add(MONTH_DAYS - 1, 'int4')})"
    if event is not None and not filters:
        # One event, no filters: its (person, local day) pairs are the processor's rollup.
        activity = f"""
            SELECT person_id AS person, day FROM person_event_days
            WHERE project_id = {project} AND event = {params.add(event, 'text')}
              AND day >= {window_start} AND day <= {last}
        """
    else:
        event_filter = "" if event is None else f"AND e.event = {params.add(event, 'text')}"
        tz = params.add(timezone, "text")
        activity = f"""
            SELECT DISTINCT {PERSON_SQL} AS person, (e.event_time AT TIME ZONE {tz})::date AS day
            FROM events e {person_joins(project, traits=needs_person(filters))}
            WHERE e.project_id = {project} AND NOT e.is_bot AND e.distinct_id IS NOT NULL {event_filter}
              AND e.event_time >= ({window_start}::timestamp AT TIME ZONE {tz})
              AND e.event_time < (({last} + 1)::timestamp AT TIME ZONE {tz})
              AND {filters_sql(filters, params, Sources())}
        """
    # Each (person, day) of the window adds what `active_person_changes` says (as the rollup does); a
    # person's previous day before the window is unknown, which changes nothing on the days asked for.
    sql = f"""
        WITH activity AS ({activity}),
        marked AS (SELECT day, lag(day) OVER (PARTITION BY person ORDER BY day) AS previous FROM activity),
        -- active_person_changes, written out: one narrow aggregate per change beats five rows per pair.
        starts AS (
            SELECT day, greatest(day, previous + 7) AS week_start, greatest(day, previous + 30) AS month_start
            FROM marked
        ),
        change_rows AS (
            SELECT day, count(*) AS dau, 0 AS wau_change, 0 AS mau_change FROM starts GROUP BY day
            UNION ALL SELECT week_start, 0, count(*), 0 FROM starts GROUP BY week_start
            UNION ALL SELECT day + 7, 0, -count(*), 0 FROM starts GROUP BY day
            UNION ALL SELECT month_start, 0, 0, count(*) FROM starts GROUP BY month_start
            UNION ALL SELECT day + 30, 0, 0, -count(*) FROM starts GROUP BY day
        ),""" + _series_sql(
        "SELECT day, sum(dau) AS dau, sum(wau_change) AS wau_change, sum(mau_change) AS mau_change"
        " FROM change_rows GROUP BY day",
        params, timezone, first_day, last_day,
    )
    return await fetch_read_only(connection, sql, params.values, "the date range or the filters")
