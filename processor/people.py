"""Persons, sessions and daily active persons for the events a write newly stored, in the writer's transaction.

Bot events are left out: analytics exclude them, so they make no persons and
no sessions. Projects are handled in sorted order so that concurrent writers
take their locks in the same order.
"""

import time
from collections import defaultdict
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from processor.active_persons import lock_active_persons, merge_active_persons, record_active_persons
from processor.facts import EventFacts, facts_of, is_bot_row, row_key
from processor.identity import reassign_events, resolve_persons
from processor.sessions import follow_merges, record_sessions
from storage.persons import trait_mappings_for_projects

TraitMappings = dict[str, list[tuple[str, str]]]

# Each fresh non-bot event's person, from identity's answer: read by sessions, the daily rollups and the
# stored event.
_NOTE_PERSONS = """
UPDATE fresh_events f SET person_id = m.person_id
FROM staging_events s
JOIN unnest($1::uuid[], $2::text[], $3::uuid[]) AS m (project_id, distinct_id, person_id)
  ON m.project_id = s.project_id AND m.distinct_id = s.distinct_id
WHERE s.project_id = f.project_id AND s.message_id = f.message_id AND NOT s.is_bot
"""


@dataclass
class PeopleStats:
    persons_created: int = 0
    merges: int = 0

    def add(self, other: "PeopleStats") -> None:
        self.persons_created += other.persons_created
        self.merges += other.merges


class TraitMappingCache:
    """Each project's trait mappings, re-read at most every `ttl` seconds (a change applies within that time)."""

    def __init__(self, ttl: float = 5.0) -> None:
        self._ttl = ttl
        self._entries: dict[str, tuple[float, TraitMappings]] = {}

    async def for_projects(self, connection: asyncpg.Connection, projects: list[str]) -> dict[str, TraitMappings]:
        now = time.monotonic()
        stale = [project for project in projects
                 if project not in self._entries or now - self._entries[project][0] > self._ttl]
        if stale:
            found = await trait_mappings_for_projects(connection, [UUID(project) for project in stale])
            for project in stale:
                self._entries[project] = (now, found.get(UUID(project), {}))
        return {project: self._entries[project][1] for project in projects}


class PeopleRecorder:
    def __init__(self, mappings: TraitMappingCache | None = None) -> None:
        self._mappings = mappings or TraitMappingCache()

    async def record(
        self, connection: asyncpg.Connection, rows: list[tuple], fresh: set[tuple[str, str]]
    ) -> PeopleStats:
        """Update persons and sessions for `rows` whose (project_id, message_id) is in `fresh`; what changed."""
        stats = PeopleStats()
        by_project: dict[str, list[EventFacts]] = defaultdict(list)
        for row in rows:
            if row_key(row) in fresh and not is_bot_row(row):
                fact = facts_of(row)
                by_project[fact.project_id].append(fact)
        if not by_project:
            return stats
        projects = sorted(by_project)
        # Before any rollup row is touched, merges included: a timezone change waits for this transaction.
        await lock_active_persons(connection)
        mappings = await self._mappings.for_projects(connection, projects)
        keyed = derived = False
        persons: list[tuple[str, str, UUID]] = []
        for project in projects:
            facts = by_project[project]
            resolution = await resolve_persons(connection, project, facts, mappings[project])
            persons.extend((project, distinct_id, person) for distinct_id, person in resolution.person_of.items())
            await follow_merges(connection, project, resolution.merges)
            if resolution.merges:
                await merge_active_persons(connection, project, resolution.merges)
                await reassign_events(connection, project, resolution.moved_ids)
            stats.persons_created += resolution.created
            stats.merges += len(resolution.merges)
            keyed = keyed or any(fact.session_id for fact in facts)
            derived = derived or not all(fact.session_id for fact in facts)
        # Every person of the batch is resolved (and locked): sessions for all projects at once.
        await connection.execute(_NOTE_PERSONS, *(list(column) for column in zip(*persons, strict=True)))
        await record_sessions(connection, keyed=keyed, derived=derived)
        await record_active_persons(connection)
        return stats
