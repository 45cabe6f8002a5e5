"""Persons, sessions and daily active persons for the events a write newly stored, in the writer's transaction.

Bot events are left out: analytics exclude them, so they make no persons and
no sessions. Projects are handled in sorted order so that concurrent writers
take their locks in the same order.
"""

import time
from collections import defaultdict
from dataclasses import dataclass

import asyncpg

from processor.active_persons import merge_active_persons, record_active_persons
from processor.facts import EventFacts, facts_of, is_bot_row, row_key
from processor.identity import reassign_events, resolve_persons
from processor.sessions import follow_merges, record_sessions

TraitMappings = dict[str, list[tuple[str, str]]]

# LATERAL with LIMIT is planned as one primary-key lookup per event whatever the statistics say (a young
# table has none, and a plain join was then planned as a scan of the project's ids per event).
_NOTE_PERSONS = """
UPDATE fresh_events f SET person_id = m.person_id
FROM staging_events s
CROSS JOIN LATERAL (
    SELECT m.person_id FROM person_distinct_ids m
    WHERE m.project_id = s.project_id AND m.distinct_id = s.distinct_id LIMIT 1
) m
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
            fresh: dict[str, TraitMappings] = {project: defaultdict(list) for project in stale}
            rows = await connection.fetch(
                "SELECT project_id::text, event, property, trait FROM trait_mappings"
                " WHERE project_id = ANY($1::uuid[]) ORDER BY project_id, event, property",
                stale,
            )
            for row in rows:
                fresh[row["project_id"]][row["event"]].append((row["property"], row["trait"]))
            for project, mappings in fresh.items():
                self._entries[project] = (now, dict(mappings))
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
        mappings = await self._mappings.for_projects(connection, projects)
        keyed = derived = False
        for project in projects:
            facts = by_project[project]
            resolution = await resolve_persons(connection, project, facts, mappings[project])
            await follow_merges(connection, project, resolution.merges)
            if resolution.merges:
                await merge_active_persons(connection, project, resolution.merges)
                await reassign_events(connection, project, resolution.merges)
            stats.persons_created += resolution.created
            stats.merges += len(resolution.merges)
            keyed = keyed or any(fact.session_id for fact in facts)
            derived = derived or not all(fact.session_id for fact in facts)
        # Every person of the batch is resolved (and locked): each fresh event's person, looked up once for
        # sessions, the rollups and the stored event; then sessions for all projects at once.
        await connection.execute(_NOTE_PERSONS)
        await record_sessions(connection, keyed=keyed, derived=derived)
        await record_active_persons(connection)
        return stats
