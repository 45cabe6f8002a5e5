"""Sessions, kept current as events are stored, exact whatever order the events arrive in.

An event with an SDK session id belongs to that session. Otherwise it belongs
to its person's derived session: a new one starts after more than 30 minutes
without events of that person (a gap of exactly 30 minutes continues it).

Sessions are stored as aggregates: start, end, counts, entry and exit page with
their times, and the first event's attributes. Merging two aggregates is
associative, so a late event is absorbed exactly: it joins every derived
session it comes within 30 minutes of, fusing them when it fills a gap.

The work is set-based SQL over the batch's newly stored events (the writer's
temporary tables `staging_events` and `fresh_events`, which carries each
event's person once identity resolved it), so its cost per event is
PostgreSQL's, not a Python loop's. Derived sessions change only under their person's row lock
(taken by identity) and SDK sessions under their own row lock, so concurrent
writers cannot interleave.
"""

from uuid import UUID

import asyncpg

INACTIVITY_US = 30 * 60 * 1_000_000
"""A gap longer than this between two events of a person starts a new derived session."""

ATTRIBUTES = (
    ("entry_url", "page_url"), ("referrer", "page_referrer"), ("referrer_domain", "referrer_domain"),
    ("referrer_channel", "referrer_channel"), ("utm_source", "utm_source"), ("utm_medium", "utm_medium"),
    ("utm_campaign", "utm_campaign"), ("utm_term", "utm_term"), ("utm_content", "utm_content"),
    ("device_type", "device_type"), ("browser", "browser"), ("os", "os"), ("country", "country"),
    ("region", "region"), ("city", "city"),
)
"""(session column, event column): what a session takes from its first event."""

_SESSION_ATTRIBUTES = ", ".join(column for column, _ in ATTRIBUTES)
_EVENT_ATTRIBUTES = ", ".join(f"s.{source} AS {column}" for column, source in ATTRIBUTES)


def _at(micros: str) -> str:
    return f"'epoch'::timestamptz + {micros} * interval '1 microsecond'"


def _micros(timestamp: str) -> str:
    return f"(extract(epoch FROM {timestamp}) * 1000000)::bigint"


# The batch's newly stored, non-bot events with their person; `keyed` picks SDK-session events or the others.
_NEW_EVENTS = f"""
    SELECT s.project_id, f.person_id, s.session_id AS session_key, s.event_time AS t, s.type IN (2, 3) AS pageview,
           CASE WHEN s.type = 3 THEN nullif(s.name, '')
                ELSE coalesce(nullif(s.page_path, ''), nullif(s.name, ''), nullif(s.page_url, '')) END AS page,
           {_EVENT_ATTRIBUTES}, ARRAY[{", ".join(f"s.{source}" for _, source in ATTRIBUTES)}] AS attributes
    FROM staging_events s
    JOIN fresh_events f ON f.project_id = s.project_id AND f.message_id = s.message_id
    WHERE f.person_id IS NOT NULL AND s.session_id IS {{keyed}}
"""

# Per island: aggregates without ORDER BY (an ordered aggregate sorts once per group, and per column);
# what depends on order comes from window functions over the island, one sort per ordering. The rows
# sorted are narrow: a session's first-event attributes change only when a new event becomes its first
# (the earliest stored session of an island keeps its own), so only new events carry them, as one array.
_ISLAND = "PARTITION BY project_id, person_id, island"
_NEVER = "9223372036854775807"


def _keyed(time: str, page: str, *, new_bit: str, stored_bit: str) -> str:
    """Text whose byte order is (time, tie bit, page): min/max of it carry the page of the extreme time."""
    return (f"(lpad({time}::text, 20, '0') || CASE WHEN is_new THEN {new_bit} ELSE {stored_bit} END"
            f" || coalesce({page}, '')) COLLATE \"C\"")
_WHOLE = "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING"


def _fuse_sql(new_events: str, windows: str, keep: str) -> str:
    """Fuse each person's derived sessions in the windows, plus new events, into islands of activity.

    Items (stored sessions and new single-event aggregates) are ordered by start; an item more than
    INACTIVITY_US after the furthest end before it starts an island. Each island kept (`keep`, a
    HAVING condition) is written into its earliest stored session (or a new one); the other stored
    sessions of the island are deleted.

    The common case needs no ordering: a person with one new event and at most one stored session
    in its window (which the event necessarily joins) is fused by one hashed GROUP BY
    (`simple_fused`), the page of the earliest/latest page view picked as the min/max of
    "zero-padded time, tie bit, page" (ties go to the stored session, as in the ordered path).
    """
    return f"""
WITH new AS ({new_events}),
windows AS ({windows}),
items AS (
    SELECT x.id, x.project_id, x.person_id, {_micros('x.started_at')} AS first_t, {_micros('x.ended_at')} AS last_t,
           x.event_count AS events, x.pageview_count AS pageviews,
           x.entry_page, {_micros('x.entry_at')} AS entry_t, x.exit_page, {_micros('x.exit_at')} AS exit_t,
           NULL::text[] AS attributes, false AS is_new
    FROM windows w
    -- As above: a lookup in the person's sessions, never a scan of the project's (person ids are unique).
    CROSS JOIN LATERAL (
        SELECT * FROM sessions x
        WHERE x.person_id = w.person_id AND x.session_key IS NULL
          AND (w.low IS NULL OR x.ended_at >= {_at('w.low')}) AND (w.high IS NULL OR x.started_at <= {_at('w.high')})
        OFFSET 0
    ) x
    UNION ALL
    SELECT NULL::uuid, project_id, person_id, t, t, 1, pageview::int,
           CASE WHEN pageview THEN page END, CASE WHEN pageview THEN t END,
           CASE WHEN pageview THEN page END, CASE WHEN pageview THEN t END,
           attributes, true
    FROM new
),
shaped AS (
    SELECT *, count(*) FILTER (WHERE is_new) OVER person = 1 AND count(*) FILTER (WHERE NOT is_new) OVER person <= 1
              AS simple
    FROM items
    WINDOW person AS (PARTITION BY project_id, person_id)
),
simple_fused AS (
    SELECT project_id, person_id, (array_agg(id) FILTER (WHERE id IS NOT NULL))[1] AS survivor,
           NULL::uuid[] AS stored_ids,
           min(first_t) AS first_t, max(last_t) AS last_t, sum(events) AS events, sum(pageviews) AS pageviews,
           nullif(substr(min({_keyed('entry_t', 'entry_page', new_bit="'1'", stored_bit="'0'")}), 22), '')
               AS entry_page,
           min(entry_t) AS entry_t,
           nullif(substr(max({_keyed('exit_t', 'exit_page', new_bit="'0'", stored_bit="'1'")}), 22), '')
               AS exit_page,
           max(exit_t) AS exit_t,
           CASE WHEN min(first_t) FILTER (WHERE is_new) < coalesce(min(first_t) FILTER (WHERE NOT is_new), {_NEVER})
                THEN max(attributes) END AS first_attributes
    FROM shaped
    WHERE simple
    GROUP BY project_id, person_id
),
reaching AS (
    SELECT *, max(last_t) OVER (PARTITION BY project_id, person_id ORDER BY first_t, last_t, is_new
                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
    FROM shaped
    WHERE NOT simple
),
islands AS (
    SELECT *, sum(CASE WHEN reach IS NULL OR first_t - reach > {INACTIVITY_US} THEN 1 ELSE 0 END)
              OVER (PARTITION BY project_id, person_id ORDER BY first_t, last_t, is_new ROWS UNBOUNDED PRECEDING)
              AS island
    FROM reaching
),
ranked AS (
    SELECT *,
           first_value(attributes) OVER ({_ISLAND} ORDER BY first_t, is_new {_WHOLE}) AS first_attributes,
           first_value(id) OVER ({_ISLAND} ORDER BY id IS NULL, first_t {_WHOLE}) AS survivor,
           first_value(entry_page) OVER ({_ISLAND} ORDER BY entry_t NULLS LAST, is_new {_WHOLE}) AS island_entry,
           first_value(exit_page) OVER ({_ISLAND} ORDER BY exit_t DESC NULLS LAST, is_new {_WHOLE}) AS island_exit
    FROM islands
),
ordered_fused AS (
    SELECT project_id, person_id, (array_agg(survivor))[1] AS survivor,
           array_agg(id) FILTER (WHERE id IS NOT NULL) AS stored_ids,
           min(first_t) AS first_t, max(last_t) AS last_t, sum(events) AS events, sum(pageviews) AS pageviews,
           (array_agg(island_entry))[1] AS entry_page, min(entry_t) AS entry_t,
           (array_agg(island_exit))[1] AS exit_page, max(exit_t) AS exit_t,
           max(first_attributes) AS first_attributes
    FROM ranked
    GROUP BY project_id, person_id, island
    HAVING {keep}
),
fused AS (
    SELECT * FROM simple_fused
    UNION ALL
    SELECT * FROM ordered_fused
),
gone AS (
    DELETE FROM sessions x USING fused, unnest(fused.stored_ids) AS stored (id)
    WHERE x.id = stored.id AND stored.id <> fused.survivor
    RETURNING x.id
),
updated AS (
    UPDATE sessions x SET
        person_id = f.person_id, started_at = {_at('f.first_t')}, ended_at = {_at('f.last_t')},
        event_count = f.events, pageview_count = f.pageviews, entry_page = f.entry_page,
        entry_at = {_at('f.entry_t')}, exit_page = f.exit_page, exit_at = {_at('f.exit_t')},
        {", ".join(f"{column} = CASE WHEN f.first_attributes IS NULL THEN x.{column}"
                   f" ELSE f.first_attributes[{index}] END" for index, (column, _) in enumerate(ATTRIBUTES, start=1))}
    FROM fused f
    WHERE x.id = f.survivor
    RETURNING 1
),
inserted AS (
    INSERT INTO sessions (id, project_id, session_key, person_id, started_at, ended_at, event_count,
                          pageview_count, entry_page, entry_at, exit_page, exit_at, {_SESSION_ATTRIBUTES})
    SELECT gen_random_uuid(), f.project_id, NULL, f.person_id, {_at('f.first_t')}, {_at('f.last_t')},
           f.events, f.pageviews, f.entry_page, {_at('f.entry_t')}, f.exit_page, {_at('f.exit_t')},
           {", ".join(f"f.first_attributes[{index}]" for index in range(1, len(ATTRIBUTES) + 1))}
    FROM fused f
    WHERE f.survivor IS NULL
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone) AS deleted, (SELECT count(*) FROM updated) + (SELECT count(*) FROM inserted)
"""


RECORD_DERIVED = _fuse_sql(
    _NEW_EVENTS.format(keyed="NULL"),
    f"SELECT project_id, person_id, min(t) - {INACTIVITY_US} AS low, max(t) + {INACTIVITY_US} AS high"
    " FROM new GROUP BY 1, 2",
    "bool_or(is_new)",
)
"""Add the batch's events without an SDK session id to their persons' derived sessions."""

FUSE_AFTER_MERGE = _fuse_sql(
    _NEW_EVENTS.format(keyed="NULL") + " AND false",
    "SELECT $1::uuid AS project_id, person_id, NULL::bigint AS low, NULL::bigint AS high"
    " FROM unnest($2::uuid[]) AS merged (person_id)",
    "count(*) > 1",
)
"""Fuse the derived sessions of persons that gained another person's sessions."""

_LATER_WINS = ", ".join(
    f"{column} = CASE WHEN EXCLUDED.started_at < sessions.started_at THEN EXCLUDED.{column}"
    f" ELSE sessions.{column} END"
    for column, _ in ATTRIBUTES
)

RECORD_KEYED = f"""
WITH new AS ({_NEW_EVENTS.format(keyed="NOT NULL")}),
partial AS (
    SELECT project_id, session_key, (array_agg(person_id ORDER BY t))[1] AS person_id,
           min(t) AS first_t, max(t) AS last_t, count(*) AS events, count(*) FILTER (WHERE pageview) AS pageviews,
           (array_agg(page ORDER BY t) FILTER (WHERE pageview))[1] AS entry_page,
           min(t) FILTER (WHERE pageview) AS entry_t,
           (array_agg(page ORDER BY t DESC) FILTER (WHERE pageview))[1] AS exit_page,
           max(t) FILTER (WHERE pageview) AS exit_t,
           {", ".join(f"(array_agg({column} ORDER BY t))[1] AS {column}" for column, _ in ATTRIBUTES)}
    FROM new
    GROUP BY project_id, session_key
)
INSERT INTO sessions (id, project_id, session_key, person_id, started_at, ended_at, event_count, pageview_count,
                      entry_page, entry_at, exit_page, exit_at, {_SESSION_ATTRIBUTES})
SELECT gen_random_uuid(), project_id, session_key, person_id, {_at('first_t')}, {_at('last_t')}, events, pageviews,
       entry_page, {_at('entry_t')}, exit_page, {_at('exit_t')}, {_SESSION_ATTRIBUTES}
FROM partial
ORDER BY project_id, session_key
ON CONFLICT (project_id, session_key) WHERE session_key IS NOT NULL DO UPDATE SET
    {_LATER_WINS},
    started_at = least(sessions.started_at, EXCLUDED.started_at),
    ended_at = greatest(sessions.ended_at, EXCLUDED.ended_at),
    event_count = sessions.event_count + EXCLUDED.event_count,
    pageview_count = sessions.pageview_count + EXCLUDED.pageview_count,
    entry_page = CASE WHEN EXCLUDED.entry_at < sessions.entry_at OR sessions.entry_at IS NULL
                      THEN coalesce(EXCLUDED.entry_page, sessions.entry_page) ELSE sessions.entry_page END,
    entry_at = least(sessions.entry_at, EXCLUDED.entry_at),
    exit_page = CASE WHEN EXCLUDED.exit_at > sessions.exit_at OR sessions.exit_at IS NULL
                     THEN coalesce(EXCLUDED.exit_page, sessions.exit_page) ELSE sessions.exit_page END,
    exit_at = greatest(sessions.exit_at, EXCLUDED.exit_at)
"""
"""Add the batch's events with an SDK session id to those sessions (created on first sight)."""


async def record_sessions(connection: asyncpg.Connection, *, keyed: bool, derived: bool) -> None:
    """Add the newly stored events (in `fresh_events`) to their sessions; persons must be resolved first."""
    if keyed:
        await connection.execute(RECORD_KEYED)
    if derived:
        await connection.execute(RECORD_DERIVED)


async def follow_merges(connection: asyncpg.Connection, project_id: str, merges: list[tuple[UUID, UUID]]) -> None:
    """Give merged persons' sessions to the surviving person, fusing derived sessions that now touch."""
    if not merges:
        return
    project = UUID(project_id)
    winners = set()
    for loser, winner in merges:
        moved = await connection.fetchval(
            "WITH moved AS (UPDATE sessions SET person_id = $3 WHERE project_id = $1 AND person_id = $2"
            " RETURNING session_key) SELECT count(*) FILTER (WHERE session_key IS NULL) FROM moved",
            project, loser, winner,
        )
        if moved:
            winners.add(winner)
    if winners:
        await connection.execute(FUSE_AFTER_MERGE, project, sorted(winners))
