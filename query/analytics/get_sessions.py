"""Sessions summary: how many sessions started in a date range, how long they lasted and how they ended.

A session is a row of `sessions` (built by the processor, see `processor/sessions.py`);
it belongs to the range [from, to) when its `started_at` does, however long it lasts
afterwards. Bots never have sessions. Each group of sessions is described by the same
`SessionStats`:

- sessions: how many; persons: distinct `person_id` (merges already moved sessions to
  the surviving person);
- avg / median duration: `duration_seconds` (last event minus first event, so a
  one-event session lasts 0 s), the median by `percentile_cont(0.5)`;
- bounce rate: the fraction of sessions with exactly one event (`is_bounce`);
- pageviews and events per session: the mean of `pageview_count` and `event_count`.

The averages, median and rate are None for a group without sessions.

The summary holds the totals; optionally a breakdown by one session dimension
(the top N values by sessions, ties broken by value in code-point order, sessions
without the dimension forming their own value, null, and the rest summed into one
`Other` row, as trends breakdowns do); optionally a series of buckets of
`started_at` in the project's timezone (`intervals.py`, as trends), every bucket of
the range present; and the top entry and exit pages (sessions without a page view
have no entry or exit page and are left out of those two lists).

Filters are predicates on session dimensions (`SessionFilter`), with the text
semantics of `filters.py`: NEQ, NOT_CONTAINS and IS_NOT_SET match sessions without the
dimension. Values are bound parameters; the only names written into SQL are the
dimension columns, a fixed enum.

Everything after the bucket range is one SQL statement (one snapshot) under
`reading.STATEMENT_TIMEOUT`. A caller that needs neither distinct persons nor medians says so
(`distribution=False`); unfiltered summaries are then added up from hourly sums
(`sessions_rollup.py`), exact all the same.
"""

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from query.analytics._params import Params
from query.analytics.filters import MAX_FILTERS, MAX_IN_VALUES, Operator
from query.analytics.intervals import Bucketing, BucketRange, Interval, get_bucket_range
from query.analytics.reading import MAX_RANGE, read_only, validate_date_range
from query.analytics.sessions_rollup import fetch_from_rollup, rollup_can_answer
from query.errors import BadUserInputError

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
"""Most breakdown values, and most entry or exit pages, one answer lists."""

MAX_VALUE_LENGTH = 2000
"""Longest filter value accepted (a page path or URL can be long; nothing stored is longer in practice)."""


class SessionDimension(enum.Enum):
    """A text attribute of a session; the value is its column in `sessions`."""

    ENTRY_PAGE = "entry_page"
    EXIT_PAGE = "exit_page"
    REFERRER_DOMAIN = "referrer_domain"
    REFERRER_CHANNEL = "referrer_channel"
    UTM_SOURCE = "utm_source"
    UTM_MEDIUM = "utm_medium"
    UTM_CAMPAIGN = "utm_campaign"
    UTM_TERM = "utm_term"
    UTM_CONTENT = "utm_content"
    DEVICE_TYPE = "device_type"
    BROWSER = "browser"
    OS = "os"
    COUNTRY = "country"
    REGION = "region"
    CITY = "city"


_COLUMNS = {dimension: dimension.value for dimension in SessionDimension}
"""The whitelist of column names written into SQL."""

_VALUE_COUNT = {
    Operator.EQ: (1, 1),
    Operator.NEQ: (1, 1),
    Operator.CONTAINS: (1, 1),
    Operator.NOT_CONTAINS: (1, 1),
    Operator.IN: (1, MAX_IN_VALUES),
    Operator.IS_SET: (0, 0),
    Operator.IS_NOT_SET: (0, 0),
}
"""Operators that apply to session dimensions (all text), with how many values each takes."""


class SummaryPart(enum.Enum):
    """A part of the summary; the value names it in the SQL's rows."""

    TOTALS = "total"
    BREAKDOWN = "breakdown"
    SERIES = "series"
    ENTRY_PAGES = "entry"
    EXIT_PAGES = "exit"


@dataclass(frozen=True)
class SessionFilter:
    dimension: SessionDimension
    operator: Operator
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class SessionStats:
    sessions: int
    # None when the caller said it does not want them (`distribution=False`).
    persons: int | None
    avg_duration_seconds: float | None
    median_duration_seconds: float | None
    # Fraction 0..1 of sessions with exactly one event.
    bounce_rate: float | None
    pageviews_per_session: float | None
    events_per_session: float | None


@dataclass(frozen=True)
class SessionGroup:
    # The dimension's value; None for sessions without it, and for `Other`.
    value: str | None
    is_other: bool
    stats: SessionStats


@dataclass(frozen=True)
class SessionBucket:
    # Start of the bucket, in the project's timezone.
    bucket: datetime
    stats: SessionStats


@dataclass(frozen=True)
class SessionPage:
    page: str
    stats: SessionStats


@dataclass(frozen=True)
class SessionsSummary:
    totals: SessionStats
    # Empty without a breakdown.
    breakdown: list[SessionGroup]
    # Empty without an interval.
    series: list[SessionBucket]
    entry_pages: list[SessionPage]
    exit_pages: list[SessionPage]


async def get_sessions(
    connection: asyncpg.Connection,
    *,
    project_id: UUID,
    timezone: str,
    date_from: datetime,
    date_to: datetime,
    filters: Sequence[SessionFilter] = (),
    breakdown: SessionDimension | None = None,
    breakdown_limit: int = DEFAULT_LIMIT,
    interval: Interval | None = None,
    pages_limit: int = DEFAULT_LIMIT,
    distribution: Collection[SummaryPart] = frozenset(SummaryPart),
) -> SessionsSummary:
    """The summary; `distribution` names the parts that want distinct persons and medians (elsewhere they come
    back None). Unfiltered parts without them are added up from the hourly rollup instead of every session."""
    _validate(date_from, date_to, filters, breakdown, breakdown_limit, pages_limit)
    breakdown_column = None if breakdown is None else _COLUMNS[breakdown]
    # One snapshot for both sources, so the parts agree with each other.
    async with read_only(connection, "the date range or the filters", isolation="repeatable_read"):
        buckets = None
        if interval is not None:
            buckets = await get_bucket_range(connection, interval, timezone, date_from, date_to)
        options = dict(
            project_id=project_id, timezone=timezone, date_from=date_from, date_to=date_to,
            breakdown_limit=breakdown_limit, interval=interval, buckets=buckets, pages_limit=pages_limit,
        )
        raw_parts = frozenset(SummaryPart)
        if rollup_can_answer(
            filtered=bool(filters), breakdown_column=breakdown_column, interval=interval, timezone=timezone,
            buckets=buckets,
        ):
            raw_parts = frozenset(distribution)
        rows: list[asyncpg.Record] = []
        if raw_parts != frozenset(SummaryPart):
            summed = await fetch_from_rollup(connection, breakdown_column=breakdown_column, **options)
            rows += [row for row in summed if SummaryPart(row["part"]) not in raw_parts]
        if raw_parts:
            rows += await _fetch_from_sessions(
                connection, filters=filters, breakdown=breakdown, parts=raw_parts, **options
            )
    return _summary(rows, ZoneInfo(timezone))


async def _fetch_from_sessions(
    connection: asyncpg.Connection,
    *,
    project_id: UUID,
    timezone: str,
    date_from: datetime,
    date_to: datetime,
    filters: Sequence[SessionFilter],
    breakdown: SessionDimension | None,
    breakdown_limit: int,
    interval: Interval | None,
    buckets: BucketRange | None,
    pages_limit: int,
    parts: Collection[SummaryPart],
) -> list[asyncpg.Record]:
    """Every statistic of these parts, persons and medians included, from the sessions themselves."""
    params = Params()
    project = params.add(project_id, "uuid")
    start = params.add(date_from, "timestamptz")
    end = params.add(date_to, "timestamptz")
    selects = []
    if SummaryPart.TOTALS in parts:
        selects.append(f"SELECT 'total' AS part, 0::int8 AS rank, NULL::text AS value, false AS is_other,"
                       f" NULL::timestamptz AS bucket, {_STATS} FROM chosen x")
    # Only the columns the parts read: the rows are sorted for every median and grouping.
    wanted = {"id", "person_id", "duration_seconds", "is_bounce", "pageview_count", "event_count", "started_at",
              "entry_page", "exit_page"}
    if breakdown is not None:
        wanted.add(_COLUMNS[breakdown])
    ctes = [
        f"""chosen AS (
            SELECT {", ".join(f"x.{column}" for column in sorted(wanted))} FROM sessions x
            WHERE x.project_id = {project} AND x.started_at >= {start} AND x.started_at < {end}
              AND {_filters_sql(filters, params)}
        )"""
    ]
    if breakdown is not None and SummaryPart.BREAKDOWN in parts:
        column = _COLUMNS[breakdown]
        other_rank = params.add(breakdown_limit + 1, "int8")
        # `key` makes NULL (sessions without the dimension) a joinable value.
        ctes.append(
            f"""top AS (
                SELECT {column} AS value, coalesce('v' || {column}, 'n') AS key,
                       row_number() OVER (ORDER BY count(*) DESC, {column} COLLATE "C" NULLS LAST) AS rank
                FROM chosen GROUP BY {column}
                ORDER BY rank
                LIMIT {params.add(breakdown_limit, 'int8')}
            )"""
        )
        selects.append(
            f"SELECT 'breakdown' AS part, coalesce(top.rank, {other_rank}) AS rank, top.value AS value,"
            f" top.rank IS NULL AS is_other, NULL::timestamptz AS bucket, {_STATS}"
            f" FROM chosen x LEFT JOIN top ON top.key = coalesce('v' || x.{column}, 'n')"
            f" GROUP BY 2, 3, 4"
        )
    for part, column in ((SummaryPart.ENTRY_PAGES, "entry_page"), (SummaryPart.EXIT_PAGES, "exit_page")):
        if part in parts:
            selects.append(
                f"(SELECT '{part.value}' AS part,"
                f" row_number() OVER (ORDER BY count(*) DESC, x.{column} COLLATE \"C\") AS rank, x.{column} AS value,"
                f" false AS is_other, NULL::timestamptz AS bucket, {_STATS}"
                f" FROM chosen x WHERE x.{column} IS NOT NULL GROUP BY x.{column}"
                f" ORDER BY 2 LIMIT {params.add(pages_limit, 'int8')})"
            )
    if interval is not None and SummaryPart.SERIES in parts:
        assert buckets is not None
        bucketing = Bucketing(interval, timezone, params)
        ctes.append(f"buckets AS ({bucketing.series_sql(buckets)})")
        selects.append(
            f"SELECT 'series' AS part, 0::int8 AS rank, NULL::text AS value, false AS is_other,"
            f" buckets.bucket AS bucket, {_STATS}"
            f" FROM buckets LEFT JOIN chosen x ON {bucketing.bucket_of('x.started_at')} = buckets.bucket"
            f" GROUP BY buckets.bucket"
        )
    if not selects:  # only parts the question does not have (a breakdown or series it did not ask for)
        return []
    sql = f"WITH {', '.join(ctes)} " + " UNION ALL ".join(selects) + " ORDER BY part, rank, bucket"
    return await connection.fetch(sql, *params.values)


# Over rows `x` of `chosen`, which may be all NULL (a bucket without sessions, from a LEFT JOIN):
# count(x.id) counts real sessions only, and the other aggregates ignore NULLs.
_STATS = """
    count(x.id) AS sessions,
    count(DISTINCT x.person_id) AS persons,
    avg(x.duration_seconds) AS avg_duration,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY x.duration_seconds) AS median_duration,
    avg(x.is_bounce::int::float8) AS bounce_rate,
    avg(x.pageview_count::float8) AS pageviews_per_session,
    avg(x.event_count::float8) AS events_per_session
"""


def _validate(
    date_from: datetime,
    date_to: datetime,
    filters: Sequence[SessionFilter],
    breakdown: SessionDimension | None,
    breakdown_limit: int,
    pages_limit: int,
) -> None:
    validate_date_range(date_from, date_to, MAX_RANGE)
    if breakdown is not None and not isinstance(breakdown, SessionDimension):
        raise BadUserInputError(f"unknown session dimension {breakdown!r}")
    for name, limit in (("breakdownLimit", breakdown_limit), ("pagesLimit", pages_limit)):
        if not 1 <= limit <= MAX_LIMIT:
            raise BadUserInputError(f"{name} must be between 1 and {MAX_LIMIT}, got {limit}")
    if len(filters) > MAX_FILTERS:
        raise BadUserInputError(f"at most {MAX_FILTERS} filters, got {len(filters)}")
    for item in filters:
        if not isinstance(item.dimension, SessionDimension):
            raise BadUserInputError(f"unknown session dimension {item.dimension!r}")
        name = f"filter on {item.dimension.name}"
        if item.operator not in _VALUE_COUNT:
            raise BadUserInputError(f"{name}: operator {item.operator!r} does not apply to session dimensions (text)")
        low, high = _VALUE_COUNT[item.operator]
        if not low <= len(item.values) <= high:
            wanted = "no value" if high == 0 else "one value" if high == 1 else f"{low} to {high} values"
            raise BadUserInputError(f"{name}: {item.operator.name} takes {wanted}, got {len(item.values)}")
        for value in item.values:
            if not isinstance(value, str) or len(value) > MAX_VALUE_LENGTH:
                raise BadUserInputError(f"{name}: values must be strings of at most {MAX_VALUE_LENGTH} characters")
        if item.operator in (Operator.CONTAINS, Operator.NOT_CONTAINS) and not item.values[0]:
            raise BadUserInputError(f"{name}: {item.operator.name} needs a non-empty value")


def _filter_sql(item: SessionFilter, params: Params) -> str:
    """A boolean SQL expression over session `x`, never NULL."""
    column = f"x.{_COLUMNS[item.dimension]}"
    op = item.operator
    if op in (Operator.IS_SET, Operator.IS_NOT_SET):
        return f"({column} IS {'NOT ' if op is Operator.IS_SET else ''}NULL)"
    if op is Operator.IN:
        return f"coalesce({column} = ANY({params.add(list(item.values), 'text[]')}), false)"
    value = params.add(item.values[0], "text")
    if op in (Operator.CONTAINS, Operator.NOT_CONTAINS):
        found = f"coalesce(strpos({column}, {value}) > 0, false)"
        return found if op is Operator.CONTAINS else f"(NOT {found})"
    equal = f"coalesce({column} = {value}, false)"
    return equal if op is Operator.EQ else f"(NOT {equal})"


def _filters_sql(filters: Sequence[SessionFilter], params: Params) -> str:
    return " AND ".join(_filter_sql(item, params) for item in filters) if filters else "true"


def _stats(row: asyncpg.Record) -> SessionStats:
    return SessionStats(
        sessions=row["sessions"],
        persons=row["persons"],
        avg_duration_seconds=row["avg_duration"],
        median_duration_seconds=row["median_duration"],
        bounce_rate=row["bounce_rate"],
        pageviews_per_session=row["pageviews_per_session"],
        events_per_session=row["events_per_session"],
    )


def _summary(rows: list[asyncpg.Record], zone: ZoneInfo) -> SessionsSummary:
    totals: SessionStats | None = None
    breakdown: list[SessionGroup] = []
    series: list[SessionBucket] = []
    pages: dict[str, list[SessionPage]] = {"entry": [], "exit": []}
    for row in rows:
        part = row["part"]
        if part == "total":
            totals = _stats(row)
        elif part == "breakdown":
            breakdown.append(SessionGroup(value=row["value"], is_other=row["is_other"], stats=_stats(row)))
        elif part == "series":
            series.append(SessionBucket(bucket=row["bucket"].astimezone(zone), stats=_stats(row)))
        else:
            pages[part].append(SessionPage(page=row["value"], stats=_stats(row)))
    assert totals is not None  # an aggregate without GROUP BY always yields its row
    return SessionsSummary(
        totals=totals, breakdown=breakdown, series=series, entry_pages=pages["entry"], exit_pages=pages["exit"]
    )
