"""Paths: the most common sequences of events after (NEXT) or before (PREVIOUS) a start event.

Definitions (the reference in tests/query/reference_journeys.py follows them word for word):

- Events: the project's non-bot events with a distinct id whose time lies in
  the range [from, to); nothing outside the range is looked at, so a path
  reaching the range's edge ends there. Persons as in trends' UNIQUE_PERSONS
  (`reading.PERSON_SQL`: through `person_distinct_ids`; an unmapped distinct
  id is its own person).
- A person's stream: their events ordered by (event_time, message_id), the
  message id (byte order) breaking ties in time. For PREVIOUS the stream is
  read backwards, and everything below applies to the reversed stream.
- Sessions: the stream is cut wherever two consecutive events are more than
  30 minutes apart (exactly 30 minutes continues), as derived sessions are.
  SDK session ids play no part: a path follows the person's activity.
- Anchor: the person's first event named `start_event` in the stream (NEXT:
  their first occurrence in the range; PREVIOUS: their last one).
- Steps: the events after the anchor in the stream, within the anchor's
  session, with consecutive repeats collapsed: an event named like the event
  just before it in the stream (the anchor included) is not a new step. The
  first `depth` (1..5) steps make the person's path: [start_event, step 1,
  ..., step k]. For PREVIOUS, step 1 is the nearest event before the anchor,
  step 2 the one before that, and so on.
- A path with fewer than `depth` steps (k < depth) has `ended` set: the
  session (or the range) ended first.

Output: `persons` with an anchor; the top `limit` (1..MAX_LIMIT) distinct
paths by persons, ties by the steps in byte order, a shorter path before its
extensions; and the Sankey edges: for step i = 1..depth, (from = step i-1,
to = step i) counted in persons, where `to` is None for a path that ended
before step i (only at i = k + 1). At most MAX_EDGES_PER_STEP edges per step,
the most persons first, ties by (from, to) in byte order, None first.

One SQL statement, window functions over the persons who have the start event.
"""

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from query.analytics._params import Params
from query.analytics.reading import PERSON_SQL, fetch_read_only, validate_date_range
from query.errors import BadUserInputError

MAX_DEPTH = 5
MAX_LIMIT = 100
MAX_EDGES_PER_STEP = 50
"""Most Sankey edges per step; the ones with the most persons."""

INACTIVITY = timedelta(minutes=30)
"""A gap longer than this between two consecutive events of a person ends the path."""

MAX_EVENT_NAME = 200


class PathDirection(enum.Enum):
    NEXT = "next"
    PREVIOUS = "previous"


@dataclass(frozen=True)
class Path:
    # start_event first, then steps 1..k.
    steps: list[str]
    persons: int
    ended: bool


@dataclass(frozen=True)
class PathEdge:
    step: int
    source: str
    # None: the path ended before this step.
    target: str | None
    persons: int


@dataclass(frozen=True)
class Paths:
    persons: int
    paths: list[Path]
    edges: list[PathEdge]


async def get_paths(
    connection: asyncpg.Connection,
    *,
    project_id: UUID,
    date_from: datetime,
    date_to: datetime,
    start_event: str,
    direction: PathDirection = PathDirection.NEXT,
    depth: int = 3,
    limit: int = 20,
) -> Paths:
    if not start_event:
        raise BadUserInputError("startEvent must not be empty")
    if len(start_event) > MAX_EVENT_NAME:
        raise BadUserInputError(f"startEvent must be at most {MAX_EVENT_NAME} characters")
    if not 1 <= depth <= MAX_DEPTH:
        raise BadUserInputError(f"depth must be between 1 and {MAX_DEPTH}, got {depth}")
    if not 1 <= limit <= MAX_LIMIT:
        raise BadUserInputError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    validate_date_range(date_from, date_to)

    params = Params()
    project = params.add(project_id, "uuid")
    start = params.add(start_event, "text")
    low = params.add(date_from, "timestamptz")
    high = params.add(date_to, "timestamptz")
    steps = params.add(depth, "int4")
    top = params.add(limit, "int4")
    edges_per_step = params.add(MAX_EDGES_PER_STEP, "int4")
    gap = params.add(INACTIVITY, "interval")
    if direction is PathDirection.NEXT:
        order, gap_sql, anchor_time, side = "e.t, e.m", "e.t - lag(e.t) OVER w", "min", ">="
    else:
        order, gap_sql, anchor_time, side = "e.t DESC, e.m DESC", "lag(e.t) OVER w - e.t", "max", "<="
    sort_steps = ", ".join(f"steps[{index}] COLLATE \"C\" NULLS FIRST" for index in range(2, MAX_DEPTH + 2))
    sql = f"""
        WITH anchored AS (
            -- Persons with the start event (from the index on event names), and when their anchor happens:
            -- events on the other side of it can never be steps, so they are not read into the windows.
            SELECT {PERSON_SQL} AS person, {anchor_time}(e.event_time) AS anchor_time
            FROM events e
            WHERE e.project_id = {project} AND e.event = {start} AND NOT e.is_bot AND e.distinct_id IS NOT NULL
              AND e.event_time >= {low} AND e.event_time < {high}
            GROUP BY 1
        ),
        raw AS MATERIALIZED (
            SELECT a.person, e.event COLLATE "C" AS name, e.event_time AS t, e.message_id AS m
            FROM events e JOIN anchored a ON a.person = {PERSON_SQL}
            WHERE e.project_id = {project} AND NOT e.is_bot AND e.distinct_id IS NOT NULL
              AND e.event_time >= {low} AND e.event_time < {high} AND e.event_time {side} a.anchor_time
        ),
        ordered AS (
            SELECT e.person, e.name, row_number() OVER w AS seq,
                   e.name IS NOT DISTINCT FROM lag(e.name) OVER w AS repeated,
                   coalesce({gap_sql} > {gap}, false) AS cut
            FROM raw e
            WINDOW w AS (PARTITION BY e.person ORDER BY {order})
        ),
        stream AS (
            SELECT person, name, seq, repeated,
                   sum(cut::int) OVER (PARTITION BY person ORDER BY seq ROWS UNBOUNDED PRECEDING) AS session
            FROM ordered
        ),
        anchors AS (
            SELECT DISTINCT ON (person) person, seq, session
            FROM stream WHERE name = {start}
            ORDER BY person, seq
        ),
        steps AS (
            SELECT s.person, s.name,
                   row_number() OVER (PARTITION BY s.person ORDER BY s.seq) - 1 AS step
            FROM stream s JOIN anchors a ON a.person = s.person AND s.session = a.session AND s.seq >= a.seq
            -- The anchor is never a repeat: it is the first event of its name in the stream.
            WHERE s.seq = a.seq OR NOT s.repeated
        ),
        kept AS (SELECT * FROM steps WHERE step <= {steps}),
        per_person AS (
            SELECT person, array_agg(name ORDER BY step) AS steps FROM kept GROUP BY person
        ),
        paths AS (
            SELECT steps, count(*) AS persons FROM per_person GROUP BY steps
        ),
        top_paths AS (
            SELECT steps, persons FROM paths
            ORDER BY persons DESC, {sort_steps}
            LIMIT {top}
        ),
        edges AS (
            SELECT step + 1 AS step, name AS source,
                   lead(name) OVER (PARTITION BY person ORDER BY step) AS target
            FROM kept
        ),
        edge_counts AS (
            SELECT step, source, target, count(*) AS persons,
                   row_number() OVER (PARTITION BY step ORDER BY count(*) DESC, source COLLATE "C",
                                      target COLLATE "C" NULLS FIRST) AS rank
            FROM edges WHERE step <= {steps}
            GROUP BY step, source, target
        )
        SELECT 'path' AS kind, steps, persons, NULL::int AS step, NULL::text AS source, NULL::text AS target,
               row_number() OVER (ORDER BY persons DESC, {sort_steps}) AS position
        FROM top_paths
        UNION ALL
        SELECT 'edge', NULL, persons, step, source, target, rank FROM edge_counts WHERE rank <= {edges_per_step}
        UNION ALL
        SELECT 'total', NULL, count(*), NULL, NULL, NULL, 0 FROM anchors
        ORDER BY kind, step, position
    """
    rows = await fetch_read_only(connection, sql, params.values, "the date range")
    total = 0
    paths: list[Path] = []
    edges: list[PathEdge] = []
    for row in rows:
        if row["kind"] == "total":
            total = row["persons"]
        elif row["kind"] == "path":
            paths.append(Path(steps=list(row["steps"]), persons=row["persons"], ended=len(row["steps"]) <= depth))
        else:
            edges.append(PathEdge(step=row["step"], source=row["source"], target=row["target"], persons=row["persons"]))
    return Paths(persons=total, paths=paths, edges=edges)
