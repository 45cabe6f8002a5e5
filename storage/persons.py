"""Reading persons (with their distinct ids and sessions) and managing a project's trait mappings.

The processor writes persons, person_distinct_ids and sessions (processor/identity.py,
processor/sessions.py); this module only reads them. A merge re-points the merged person's
distinct ids and sessions to the survivor in the same transaction, so reads look them up
by the surviving person alone; the merged person keeps its row with `merged_into` set, and
its id still resolves (through chains, should one exist) to the surviving person.

Trait mappings (`trait_mappings`) turn an event's property into a person trait; they
are written here (by the query API) and read by the processor through
`trait_mappings_for_projects`.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

MAX_MERGE_DEPTH = 64
"""Longest chain of merges followed; a longer (or cyclic) chain is treated as unresolvable."""

MAX_TRAIT_MAPPINGS = 200
"""Trait mappings per project: each costs a lookup on every matching event."""


class TraitMappingLimitError(ValueError):
    """The project already has MAX_TRAIT_MAPPINGS trait mappings."""


@dataclass(frozen=True)
class PersonRow:
    id: UUID
    distinct_ids: list[str]
    traits: dict[str, Any]
    is_identified: bool
    first_seen: datetime
    last_seen: datetime
    created_at: datetime


@dataclass(frozen=True)
class PersonPage:
    persons: list[PersonRow]
    has_next_page: bool


@dataclass(frozen=True)
class SessionRow:
    id: UUID
    session_key: str | None
    started_at: datetime
    ended_at: datetime
    duration_seconds: float
    event_count: int
    pageview_count: int
    is_bounce: bool
    entry_page: str | None
    exit_page: str | None
    entry_url: str | None
    referrer: str | None
    referrer_domain: str | None
    referrer_channel: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    utm_term: str | None
    utm_content: str | None
    device_type: str | None
    browser: str | None
    os: str | None
    country: str | None
    region: str | None
    city: str | None


@dataclass(frozen=True)
class TraitMapping:
    event: str
    property: str
    trait: str
    created_at: datetime


@dataclass(frozen=True)
class SearchMatch:
    """How SQL tests "contains the search text, ignoring case": `text {operator} pattern`."""

    operator: str
    pattern: str
    # The whole traits document as text contains the pattern too: a cheap necessary test.
    prefilter_traits_text: bool


def search_match(term: str) -> SearchMatch:
    """The cheapest correct case-insensitive substring test for `term`, in any database locale.

    ASCII text uses ILIKE, which folds ASCII case under the C and usual locales. Beyond ASCII,
    `ILIKE` and `lower()` fold nothing under the C locale (distinct ids are `COLLATE "C"`,
    and the embedded server runs without ICU), so a regular expression spells every
    letter out with its case variants: "José" becomes `(?:J|j)(?:O|o)(?:S|s)(?:É|é)`.
    """
    # jsonb's text form escapes quotes, backslashes and control characters; text with
    # none of them appears there exactly as in the value.
    verbatim_in_json = not any(char in '"\\' or ord(char) < 0x20 for char in term)
    if term.isascii():
        like = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return SearchMatch("ILIKE", f"%{like}%", verbatim_in_json)
    parts = []
    for char in term:
        variants = {char, char.lower(), char.upper(), char.casefold()}
        if len(variants) > 1:
            parts.append("(?:" + "|".join(sorted(_escape(variant) for variant in variants)) + ")")
        else:
            parts.append(_escape(char))
    return SearchMatch("~", "".join(parts), verbatim_in_json)


def _escape(text: str) -> str:
    # In PostgreSQL's advanced regular expressions a backslash before a non-alphanumeric
    # character means that character; before a letter it would start an escape like \d.
    return "".join(char if char.isalnum() else "\\" + char for char in text)


_PERSON_COLUMNS = "p.id, p.traits::text AS traits, p.is_identified, p.first_seen, p.last_seen, p.created_at"


def _search_sql(match: SearchMatch) -> str:
    """The WHERE condition of a search whose pattern is `$5`."""
    prefilter = f"p.traits::text {match.operator} $5 AND" if match.prefilter_traits_text else ""
    return f"""
        AND (p.id IN (SELECT person_id FROM person_distinct_ids
                      WHERE project_id = $1 AND distinct_id {match.operator} $5)
             OR ({prefilter} EXISTS (SELECT 1 FROM jsonb_each(p.traits) AS t(key, value)
                                     WHERE jsonb_typeof(t.value) <> 'object'
                                       AND (t.value #>> '{{}}') {match.operator} $5)))
    """


async def list_persons(
    connection: asyncpg.Connection, project_id: UUID, *, first: int,
    after: tuple[datetime, UUID] | None = None, search: str | None = None,
) -> PersonPage:
    """The project's surviving persons, newest created first, `first` at a time after the keyset `after`.

    `search` keeps persons one of whose distinct ids, or a top-level trait value (as text,
    nested objects excepted), contains it, ignoring case.
    """
    after_created, after_id = after or (None, None)
    # One row more than asked tells whether another page follows.
    args: list[object] = [project_id, first + 1, after_created, after_id]
    filter_sql = ""
    if search:
        match = search_match(search)
        args.append(match.pattern)
        filter_sql = _search_sql(match)
    rows = await connection.fetch(
        f"""
        SELECT {_PERSON_COLUMNS}
        FROM persons p
        WHERE p.project_id = $1 AND p.merged_into IS NULL
          AND ($3::timestamptz IS NULL OR (p.created_at, p.id) < ($3::timestamptz, $4::uuid))
          {filter_sql}
        ORDER BY p.created_at DESC, p.id DESC
        LIMIT $2
        """,
        *args,
    )
    page = rows[:first]
    distinct_ids = await distinct_ids_of(connection, project_id, [row["id"] for row in page])
    return PersonPage(persons=[_person(row, distinct_ids[row["id"]]) for row in page], has_next_page=len(rows) > first)


async def resolve_person_id(connection: asyncpg.Connection, project_id: UUID, person_id: UUID) -> UUID | None:
    """The surviving person `person_id` was merged into (itself when not merged); None when unknown."""
    return await connection.fetchval(
        f"""
        WITH RECURSIVE chain(id, merged_into, depth) AS (
            SELECT id, merged_into, 0 FROM persons WHERE project_id = $1 AND id = $2
            UNION ALL
            SELECT p.id, p.merged_into, c.depth + 1 FROM chain c
            JOIN persons p ON p.id = c.merged_into AND p.project_id = $1
            WHERE c.depth < {MAX_MERGE_DEPTH}
        )
        SELECT id FROM chain WHERE merged_into IS NULL LIMIT 1
        """,
        project_id, person_id,
    )


async def find_person(connection: asyncpg.Connection, project_id: UUID, person_id: UUID) -> PersonRow | None:
    """The person `person_id` names, or the surviving person when it was merged; None when unknown."""
    surviving = await resolve_person_id(connection, project_id, person_id)
    if surviving is None:
        return None
    row = await connection.fetchrow(
        f"SELECT {_PERSON_COLUMNS} FROM persons p WHERE p.project_id = $1 AND p.id = $2", project_id, surviving
    )
    if row is None:  # deleted meanwhile
        return None
    distinct_ids = await distinct_ids_of(connection, project_id, [surviving])
    return _person(row, distinct_ids[surviving])


async def distinct_ids_of(
    connection: asyncpg.Connection, project_id: UUID, person_ids: list[UUID]
) -> dict[UUID, list[str]]:
    """Each person's distinct ids, sorted; every asked id is a key."""
    result: dict[UUID, list[str]] = {person_id: [] for person_id in person_ids}
    if not person_ids:
        return result
    rows = await connection.fetch(
        "SELECT person_id, distinct_id FROM person_distinct_ids WHERE project_id = $1 AND person_id = ANY($2::uuid[])"
        " ORDER BY person_id, distinct_id",
        project_id, person_ids,
    )
    for row in rows:
        result[row["person_id"]].append(row["distinct_id"])
    return result


_SESSION_COLUMNS = """
    s.id, s.session_key, s.started_at, s.ended_at, s.duration_seconds, s.event_count, s.pageview_count,
    s.is_bounce, s.entry_page, s.exit_page, s.entry_url, s.referrer, s.referrer_domain, s.referrer_channel,
    s.utm_source, s.utm_medium, s.utm_campaign, s.utm_term, s.utm_content, s.device_type, s.browser, s.os,
    s.country, s.region, s.city
"""


async def list_person_sessions(
    connection: asyncpg.Connection, project_id: UUID, person_id: UUID, *, first: int,
    before: tuple[datetime, UUID] | None = None,
) -> list[SessionRow]:
    """The person's latest `first` sessions, newest first; with `before` (started_at, id), those older than it."""
    before_at, before_id = before if before is not None else (None, None)
    rows = await connection.fetch(
        f"""
        SELECT {_SESSION_COLUMNS} FROM sessions s
        WHERE s.project_id = $1 AND s.person_id = $2
          AND ($4::timestamptz IS NULL OR (s.started_at, s.id) < ($4::timestamptz, $5::uuid))
        ORDER BY s.started_at DESC, s.id DESC
        LIMIT $3
        """,
        project_id, person_id, first, before_at, before_id,
    )
    return [SessionRow(**dict(row)) for row in rows]


def _person(row: asyncpg.Record, distinct_ids: list[str]) -> PersonRow:
    return PersonRow(
        id=row["id"],
        distinct_ids=distinct_ids,
        traits=json.loads(row["traits"]),
        is_identified=row["is_identified"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        created_at=row["created_at"],
    )


async def set_trait_mapping(
    connection: asyncpg.Connection, project_id: UUID, event: str, property: str, trait: str
) -> TraitMapping:
    """Map `event`'s property (a dotted path) to `trait`, replacing the trait of an existing mapping.

    Raises TraitMappingLimitError when that would make more than MAX_TRAIT_MAPPINGS.
    """
    async with connection.transaction():
        # The project row lock serialises concurrent additions, so the limit holds.
        await connection.execute("SELECT 1 FROM projects WHERE id = $1 FOR UPDATE", project_id)
        row = await connection.fetchrow(
            f"""
            INSERT INTO trait_mappings (project_id, event, property, trait)
            SELECT $1, $2, $3, $4
            WHERE EXISTS (SELECT 1 FROM trait_mappings WHERE project_id = $1 AND event = $2 AND property = $3)
               OR (SELECT count(*) FROM trait_mappings WHERE project_id = $1) < {MAX_TRAIT_MAPPINGS}
            ON CONFLICT (project_id, event, property) DO UPDATE SET trait = excluded.trait
            RETURNING event, property, trait, created_at
            """,
            project_id, event, property, trait,
        )
    if row is None:
        raise TraitMappingLimitError(f"a project may have at most {MAX_TRAIT_MAPPINGS} trait mappings")
    return TraitMapping(**dict(row))


async def delete_trait_mapping(connection: asyncpg.Connection, project_id: UUID, event: str, property: str) -> bool:
    """Remove the mapping of `event`'s `property`; False when there was none."""
    deleted = await connection.fetchval(
        "DELETE FROM trait_mappings WHERE project_id = $1 AND event = $2 AND property = $3 RETURNING true",
        project_id, event, property,
    )
    return bool(deleted)


async def list_trait_mappings(connection: asyncpg.Connection, project_id: UUID) -> list[TraitMapping]:
    """The project's trait mappings by event, then property."""
    rows = await connection.fetch(
        "SELECT event, property, trait, created_at FROM trait_mappings WHERE project_id = $1 ORDER BY event, property",
        project_id,
    )
    return [TraitMapping(**dict(row)) for row in rows]


async def trait_mappings_for_projects(
    connection: asyncpg.Connection, project_ids: Iterable[UUID]
) -> dict[UUID, dict[str, list[tuple[str, str]]]]:
    """project id -> event name -> [(property path, trait)] ordered by property, for `processor.traits.mapped_traits`.

    Projects without mappings are absent.
    """
    rows = await connection.fetch(
        "SELECT project_id, event, property, trait FROM trait_mappings WHERE project_id = ANY($1::uuid[])"
        " ORDER BY project_id, event, property",
        list(set(project_ids)),
    )
    result: dict[UUID, dict[str, list[tuple[str, str]]]] = {}
    for row in rows:
        result.setdefault(row["project_id"], {}).setdefault(row["event"], []).append((row["property"], row["trait"]))
    return result
