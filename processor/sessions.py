"""Sessions, kept current as events are stored, exact whatever order the events arrive in.

An event with an SDK session id belongs to that session. Otherwise it belongs
to its person's derived session: a new one starts after more than 30 minutes
without events of that person (a gap of exactly 30 minutes continues it).

Both kinds are stored as aggregates (start, end, counts, entry/exit page with
their times, first event's attributes with its time). Merging two aggregates is
associative, so a late event is absorbed exactly: it joins every derived
session it comes within 30 minutes of, fusing them when it fills a gap. Derived
sessions are changed only under the person's row lock (taken by identity), and
SDK sessions under their own row lock, so concurrent writers cannot interleave.
"""

import uuid
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from processor.facts import EventFacts
from processor.identity import micros_of

INACTIVITY_US = 30 * 60 * 1_000_000
"""A gap longer than this between two events of a person starts a new derived session."""

ATTRIBUTE_COLUMNS = (
    "entry_url", "referrer", "referrer_domain", "referrer_channel", "utm_source", "utm_medium", "utm_campaign",
    "utm_term", "utm_content", "device_type", "browser", "os", "country", "region", "city",
)
"""Session columns filled from facts.SESSION_ATTRIBUTES of the first event, in that order."""

_COLUMNS = ("id", "session_key", "person_id", "started_at", "ended_at", "event_count", "pageview_count",
            "entry_page", "entry_at", "exit_page", "exit_at", *ATTRIBUTE_COLUMNS)
_TYPES = {"id": "uuid", "person_id": "uuid", "event_count": "int", "pageview_count": "int",
          **dict.fromkeys(("started_at", "ended_at", "entry_at", "exit_at"), "bigint")}
_TIMES = frozenset({"started_at", "ended_at", "entry_at", "exit_at"})


@dataclass
class SessionAggregate:
    id: UUID | None
    key: str | None
    person_id: UUID
    start: int
    end: int
    events: int
    pageviews: int
    entry_at: int | None
    entry_page: str | None
    exit_at: int | None
    exit_page: str | None
    attributes: tuple
    stored: bool = False

    @classmethod
    def of_event(cls, fact: EventFacts, person_id: UUID) -> "SessionAggregate":
        page_at = fact.time_us if fact.is_pageview else None
        page = fact.page if fact.is_pageview else None
        return cls(None, fact.session_id, person_id, fact.time_us, fact.time_us, 1, int(fact.is_pageview),
                   page_at, page, page_at, page, fact.attributes)

    @classmethod
    def of_row(cls, row: asyncpg.Record) -> "SessionAggregate":
        return cls(
            row["id"], row["session_key"], row["person_id"], micros_of(row["started_at"]), micros_of(row["ended_at"]),
            row["event_count"], row["pageview_count"], micros_of(row["entry_at"]), row["entry_page"],
            micros_of(row["exit_at"]), row["exit_page"], tuple(row[column] for column in ATTRIBUTE_COLUMNS),
            stored=True,
        )

    def absorb(self, other: "SessionAggregate") -> None:
        if other.start < self.start:
            self.start, self.attributes = other.start, other.attributes
        self.end = max(self.end, other.end)
        self.events += other.events
        self.pageviews += other.pageviews
        if other.entry_at is not None and (self.entry_at is None or other.entry_at < self.entry_at):
            self.entry_at, self.entry_page = other.entry_at, other.entry_page
        if other.exit_at is not None and (self.exit_at is None or other.exit_at > self.exit_at):
            self.exit_at, self.exit_page = other.exit_at, other.exit_page

    def values(self) -> tuple:
        return (self.id, self.key, self.person_id, self.start, self.end, self.events, self.pageviews,
                self.entry_page, self.entry_at, self.exit_page, self.exit_at, *self.attributes)


def _upsert_sql(conflict: str) -> str:
    arrays = ", ".join(f"${i}::{_TYPES.get(column, 'text')}[]" for i, column in enumerate(_COLUMNS, start=2))
    selected = ", ".join(
        f"'epoch'::timestamptz + t.{column} * interval '1 microsecond'" if column in _TIMES else f"t.{column}"
        for column in _COLUMNS
    )
    order = "t.session_key" if "session_key" in conflict else "t.id"
    return (
        f"INSERT INTO sessions (project_id, {', '.join(_COLUMNS)})"
        f" SELECT $1, {selected} FROM unnest({arrays}) AS t({', '.join(_COLUMNS)}) ORDER BY {order}"
        f" ON CONFLICT {conflict}"
    )


_UPDATED = ", ".join(f"{column} = EXCLUDED.{column}" for column in _COLUMNS if column not in ("id", "session_key"))
_UPSERT_BY_ID = _upsert_sql(f"(id) DO UPDATE SET {_UPDATED}")
_INSERT_NEW_KEYS = _upsert_sql("(project_id, session_key) DO NOTHING RETURNING session_key")


def _arrays(sessions: list[SessionAggregate]) -> list[list]:
    return [list(column) for column in zip(*(session.values() for session in sessions), strict=True)]


async def _upsert(connection: asyncpg.Connection, project: UUID, sessions: list[SessionAggregate]) -> None:
    if sessions:
        await connection.execute(_UPSERT_BY_ID, project, *_arrays(sessions))


def _sweep(sessions: list[SessionAggregate]) -> list[list[SessionAggregate]]:
    """Group one person's sessions whose gaps are at most the inactivity limit, in time order."""
    groups: list[list[SessionAggregate]] = []
    end = None
    for session in sorted(sessions, key=lambda session: (session.start, session.end)):
        if groups and session.start - end <= INACTIVITY_US:
            groups[-1].append(session)
            end = max(end, session.end)
        else:
            groups.append([session])
            end = session.end
    return groups


def _fuse(group: list[SessionAggregate]) -> tuple[SessionAggregate, list[UUID]]:
    """One aggregate for the group, keeping the id of its earliest stored session; the ids it replaces."""
    stored = sorted((session for session in group if session.stored), key=lambda session: session.start)
    survivor = stored[0] if stored else group[0]
    if survivor.id is None:
        survivor.id = uuid.uuid4()
    for session in group:
        if session is not survivor:
            survivor.absorb(session)
    return survivor, [session.id for session in stored if session is not survivor]


async def _record_derived(connection: asyncpg.Connection, project: UUID, items: list[tuple[EventFacts, UUID]]) -> None:
    new_by_person: dict[UUID, list[SessionAggregate]] = {}
    for fact, person_id in items:
        new_by_person.setdefault(person_id, []).append(SessionAggregate.of_event(fact, person_id))
    persons = sorted(new_by_person)
    rows = await connection.fetch(
        "SELECT s.* FROM sessions s"
        " JOIN unnest($2::uuid[], $3::bigint[], $4::bigint[]) AS w(person_id, low, high) ON s.person_id = w.person_id"
        " WHERE s.project_id = $1 AND s.session_key IS NULL"
        " AND s.ended_at >= 'epoch'::timestamptz + w.low * interval '1 microsecond'"
        " AND s.started_at <= 'epoch'::timestamptz + w.high * interval '1 microsecond'",
        project, persons,
        [min(s.start for s in new_by_person[p]) - INACTIVITY_US for p in persons],
        [max(s.end for s in new_by_person[p]) + INACTIVITY_US for p in persons],
    )
    existing: dict[UUID, list[SessionAggregate]] = {}
    for row in rows:
        existing.setdefault(row["person_id"], []).append(SessionAggregate.of_row(row))
    changed, replaced = [], []
    for person_id in persons:
        for group in _sweep(existing.get(person_id, []) + new_by_person[person_id]):
            if all(session.stored for session in group):
                continue
            survivor, gone = _fuse(group)
            changed.append(survivor)
            replaced.extend(gone)
    if replaced:
        await connection.execute("DELETE FROM sessions WHERE id = ANY($1::uuid[])", replaced)
    await _upsert(connection, project, changed)


async def _record_keyed(connection: asyncpg.Connection, project: UUID, items: list[tuple[EventFacts, UUID]]) -> None:
    partial: dict[str, SessionAggregate] = {}
    for fact, person_id in sorted(items, key=lambda item: item[0].time_us):
        session = SessionAggregate.of_event(fact, person_id)
        if fact.session_id in partial:
            partial[fact.session_id].absorb(session)
        else:
            session.id = uuid.uuid4()
            partial[fact.session_id] = session
    # New keys are inserted as they are; the others exist (or were just created by another writer,
    # whose commit the insert waited for), and are merged under their row lock.
    inserted = await connection.fetch(_INSERT_NEW_KEYS, project, *_arrays(list(partial.values())))
    remaining = sorted(set(partial) - {row["session_key"] for row in inserted})
    if not remaining:
        return
    rows = await connection.fetch(
        "SELECT * FROM sessions WHERE project_id = $1 AND session_key = ANY($2::text[]) ORDER BY session_key"
        " FOR UPDATE",
        project, remaining,
    )
    merged = []
    for row in rows:
        session = SessionAggregate.of_row(row)
        session.absorb(partial[row["session_key"]])
        merged.append(session)
    await _upsert(connection, project, merged)


async def record_sessions(
    connection: asyncpg.Connection, project_id: str, items: list[tuple[EventFacts, UUID]]
) -> None:
    """Add newly stored events (each with its person) to their sessions."""
    project = UUID(project_id)
    keyed = [item for item in items if item[0].session_id]
    derived = [item for item in items if not item[0].session_id]
    if keyed:
        await _record_keyed(connection, project, keyed)
    if derived:
        await _record_derived(connection, project, derived)


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
    if not winners:
        return
    rows = await connection.fetch(
        "SELECT * FROM sessions WHERE project_id = $1 AND person_id = ANY($2::uuid[]) AND session_key IS NULL",
        project, sorted(winners),
    )
    by_person: dict[UUID, list[SessionAggregate]] = {}
    for row in rows:
        by_person.setdefault(row["person_id"], []).append(SessionAggregate.of_row(row))
    changed, replaced = [], []
    for sessions in by_person.values():
        for group in _sweep(sessions):
            if len(group) > 1:
                survivor, gone = _fuse(group)
                changed.append(survivor)
                replaced.extend(gone)
    if replaced:
        await connection.execute("DELETE FROM sessions WHERE id = ANY($1::uuid[])", replaced)
    await _upsert(connection, project, changed)
