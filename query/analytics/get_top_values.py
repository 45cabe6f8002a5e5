"""Top lists: the most frequent values of one dimension of the events in a date range.

Dimensions are enriched event columns (country, browser, ...), the page path of
`$pageview` events, or any event property of one named event, read as text
(`->>`: strings as they are, numbers and booleans as their JSON text, objects and
arrays as their JSON). A typed property name such as `$browser` names its column,
as in filters.

For every value: the events having it and their distinct persons (an event's
distinct id resolved through `person_distinct_ids`, an unmapped distinct id being
its own person, exactly as trends' UNIQUE_PERSONS). Values are ranked by events,
then by value in code-point order; the top `limit` are listed. Events without a
value (the column is NULL, or the property is missing or JSON null) are not a
value: they are counted apart in `without_value`. The empty string is a value.
`total` counts every matching event, listed or not, with or without a value.

Bot events are always excluded. Optional property filters (`filters.py`) apply to
the events, with the persons' traits for PERSON filters. One SQL statement under
`reading.STATEMENT_TIMEOUT`.
"""

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from query.analytics._params import Params
from query.analytics.filters import (
    PropertyFilter,
    PropertyRef,
    Sources,
    filters_sql,
    needs_person,
    property_text,
    validate_filters,
    validate_key,
)
from query.analytics.reading import MAX_RANGE, PERSON_SQL, fetch_read_only, person_joins, validate_date_range
from query.errors import BadUserInputError

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
"""Most values one top list holds."""

MAX_EVENT_LENGTH = 200
"""Longest event name accepted (as event definitions allow)."""

PAGEVIEW = "$pageview"


class TopDimension(enum.Enum):
    PAGE = "page"
    REFERRER_DOMAIN = "referrer_domain"
    COUNTRY = "country"
    BROWSER = "browser"
    DEVICE_TYPE = "device_type"
    OS = "os"
    UTM_SOURCE = "utm_source"
    EVENT_PROPERTY = "event_property"


_COLUMNS = {
    TopDimension.PAGE: "page_path",
    TopDimension.REFERRER_DOMAIN: "referrer_domain",
    TopDimension.COUNTRY: "country",
    TopDimension.BROWSER: "browser",
    TopDimension.DEVICE_TYPE: "device_type",
    TopDimension.OS: "os",
    TopDimension.UTM_SOURCE: "utm_source",
}
"""Columns of `events` serving the fixed dimensions: the whitelist of names written into SQL."""


@dataclass(frozen=True)
class Counts:
    events: int
    persons: int


@dataclass(frozen=True)
class TopValue:
    value: str
    events: int
    persons: int


@dataclass(frozen=True)
class TopValues:
    values: list[TopValue]
    without_value: Counts
    total: Counts


async def get_top_values(
    connection: asyncpg.Connection,
    *,
    project_id: UUID,
    date_from: datetime,
    date_to: datetime,
    dimension: TopDimension,
    event: str | None = None,
    property_key: str | None = None,
    filters: Sequence[PropertyFilter] = (),
    limit: int = DEFAULT_LIMIT,
) -> TopValues:
    _validate(date_from, date_to, dimension, event, property_key, filters, limit)
    params = Params()
    sources = Sources()
    project = params.add(project_id, "uuid")
    if dimension is TopDimension.EVENT_PROPERTY:
        value = property_text(PropertyRef(property_key or ""), params, sources)
    else:
        value = f"e.{_COLUMNS[dimension]}"
    if dimension is TopDimension.PAGE:
        event = PAGEVIEW
    event_filter = "" if event is None else f"AND e.event = {params.add(event, 'text')}"
    traits = needs_person(tuple(filters))
    sql = f"""
        WITH ev AS (
            SELECT {value} AS v, {PERSON_SQL} AS person
            FROM events e {person_joins(project, traits=traits)}
            WHERE e.project_id = {project} AND NOT e.is_bot {event_filter}
              AND e.event_time >= {params.add(date_from, 'timestamptz')}
              AND e.event_time < {params.add(date_to, 'timestamptz')}
              AND {filters_sql(tuple(filters), params, sources)}
        ),
        -- Distinct (value, person) pairs first, hashed: counting distinct persons per value then needs no sort.
        pairs AS (SELECT v, person, count(*) AS events FROM ev GROUP BY v, person),
        top AS (
            SELECT v, sum(events)::int8 AS events, count(*) AS persons
            FROM pairs WHERE v IS NOT NULL
            GROUP BY v
            ORDER BY events DESC, v COLLATE "C"
            LIMIT {params.add(limit, 'int8')}
        )
        SELECT * FROM (
            SELECT false AS is_summary, v AS value, events, persons, NULL::int8 AS without_events,
                   NULL::int8 AS without_persons
            FROM top
            UNION ALL
            SELECT true, NULL, coalesce(sum(events), 0)::int8,
                   (SELECT count(*) FROM (SELECT DISTINCT person FROM pairs) AS persons),
                   coalesce(sum(events) FILTER (WHERE v IS NULL), 0)::int8, count(*) FILTER (WHERE v IS NULL)
            FROM pairs
        ) AS answer
        ORDER BY is_summary, events DESC, value COLLATE "C"
    """
    rows = await fetch_read_only(connection, sql, params.values, "the date range or the filters")
    summary = rows[-1]
    return TopValues(
        values=[TopValue(value=row["value"], events=row["events"], persons=row["persons"]) for row in rows[:-1]],
        without_value=Counts(events=summary["without_events"], persons=summary["without_persons"]),
        total=Counts(events=summary["events"], persons=summary["persons"]),
    )


def _validate(
    date_from: datetime,
    date_to: datetime,
    dimension: TopDimension,
    event: str | None,
    property_key: str | None,
    filters: Sequence[PropertyFilter],
    limit: int,
) -> None:
    validate_date_range(date_from, date_to, MAX_RANGE)
    if not isinstance(dimension, TopDimension):
        raise BadUserInputError(f"unknown dimension {dimension!r}")
    if not 1 <= limit <= MAX_LIMIT:
        raise BadUserInputError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    if event is not None and not 1 <= len(event) <= MAX_EVENT_LENGTH:
        raise BadUserInputError(f"event must be 1 to {MAX_EVENT_LENGTH} characters")
    if dimension is TopDimension.EVENT_PROPERTY:
        if event is None:
            raise BadUserInputError("dimension EVENT_PROPERTY needs an event")
        if property_key is None:
            raise BadUserInputError("dimension EVENT_PROPERTY needs a property")
        validate_key(property_key)
    elif property_key is not None:
        raise BadUserInputError(f"dimension {dimension.name} takes no property; use EVENT_PROPERTY")
    if dimension is TopDimension.PAGE and event not in (None, PAGEVIEW):
        raise BadUserInputError(f"dimension PAGE counts {PAGEVIEW} events and takes no other event")
    validate_filters(tuple(filters))
