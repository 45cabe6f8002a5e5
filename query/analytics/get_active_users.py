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
whatever the traffic. With an event or filters, one SQL statement over the raw
events: the local days joined to the distinct (person, local day) pairs of the
window.
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

WEEK_DAYS = 7
MONTH_DAYS = 30


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
        rows = await fetch_read_only(
            connection, ROLLUP_SQL, [project_id, timezone, days.first.date(), days.last.date()], "the date range"
        )
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


# Every day from the project's first counted one to the last asked for, with the running sums of
# the changes; then only the days asked for ($3..$4).
ROLLUP_SQL = """
WITH days AS (
    SELECT d.day, coalesce(c.dau, 0) AS dau,
           sum(coalesce(c.wau_change, 0)) OVER running AS wau,
           sum(coalesce(c.mau_change, 0)) OVER running AS mau
    FROM (
        SELECT day FROM active_person_counts WHERE project_id = $1 AND day <= $4
        UNION
        SELECT generate_series($3::date::timestamp, $4::date::timestamp, '1 day')::date
    ) d
    LEFT JOIN active_person_counts c ON c.project_id = $1 AND c.day = d.day
    WINDOW running AS (ORDER BY d.day)
)
SELECT day::timestamp AT TIME ZONE $2 AS day, dau, wau::bigint AS wau, mau::bigint AS mau,
       coalesce(dau::float8 / nullif(mau, 0), 0) AS stickiness
FROM days WHERE day >= $3::date
ORDER BY day
"""


async def _from_events(
    connection: asyncpg.Connection, project_id: UUID, timezone: str, first_day: date, last_day: date,
    event: str | None, filters: tuple[PropertyFilter, ...],
) -> list[asyncpg.Record]:
    params = Params()
    project = params.add(project_id, "uuid")
    tz = params.add(timezone, "text")
    first = params.add(first_day, "date")
    last = params.add(last_day, "date")
    week = params.add(WEEK_DAYS, "int4")
    month = params.add(MONTH_DAYS, "int4")
    event_filter = "" if event is None else f"AND e.event = {params.add(event, 'text')}"
    sql = f"""
        WITH activity AS (
            SELECT DISTINCT {PERSON_SQL} AS person, (e.event_time AT TIME ZONE {tz})::date AS day
            FROM events e {person_joins(project, traits=needs_person(filters))}
            WHERE e.project_id = {project} AND NOT e.is_bot AND e.distinct_id IS NOT NULL {event_filter}
              AND e.event_time >= (({first} - ({month} - 1))::timestamp AT TIME ZONE {tz})
              AND e.event_time < (({last} + 1)::timestamp AT TIME ZONE {tz})
              AND {filters_sql(filters, params, Sources())}
        ),
        days AS (SELECT d::date AS day FROM generate_series({first}::timestamp, {last}::timestamp, '1 day') AS d)
        SELECT days.day::timestamp AT TIME ZONE {tz} AS day,
               count(DISTINCT a.person) FILTER (WHERE a.day = days.day) AS dau,
               count(DISTINCT a.person) FILTER (WHERE a.day > days.day - {week}) AS wau,
               count(DISTINCT a.person) AS mau,
               coalesce(count(DISTINCT a.person) FILTER (WHERE a.day = days.day)::float8
                        / nullif(count(DISTINCT a.person), 0), 0) AS stickiness
        FROM days LEFT JOIN activity a ON a.day > days.day - {month} AND a.day <= days.day
        GROUP BY days.day
        ORDER BY days.day
    """
    return await fetch_read_only(connection, sql, params.values, "the date range or the filters")
