"""Persons, distinct ids and sessions written with SQL the way the processor writes them, and the GraphQL we send."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

BASE_TIME = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def insert_person(
    db: asyncpg.Connection,
    project_id: UUID,
    distinct_ids: list[str],
    traits: dict[str, Any] | None = None,
    *,
    created_at: datetime = BASE_TIME,
    first_seen: datetime | None = None,
    last_seen: datetime | None = None,
    is_identified: bool = False,
    person_id: UUID | None = None,
) -> UUID:
    """A surviving person owning `distinct_ids`."""
    person_id = person_id or uuid.uuid4()
    await db.execute(
        "INSERT INTO persons (id, project_id, traits, is_identified, first_seen, last_seen, created_at)"
        " VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7)",
        person_id, project_id, json.dumps(traits or {}), is_identified, first_seen or created_at,
        last_seen or created_at, created_at,
    )
    await db.executemany(
        "INSERT INTO person_distinct_ids (project_id, distinct_id, person_id) VALUES ($1, $2, $3)",
        [(project_id, distinct_id, person_id) for distinct_id in distinct_ids],
    )
    return person_id


async def merge_person(db: asyncpg.Connection, project_id: UUID, merged: UUID, into: UUID) -> None:
    """Merge `merged` into `into` as processor/identity.py and processor/sessions.py do: its distinct ids and
    sessions move to `into`, and it (with the persons merged into it before) points at `into`."""
    async with db.transaction():
        await db.execute("UPDATE person_distinct_ids SET person_id = $3 WHERE project_id = $1 AND person_id = $2",
                         project_id, merged, into)
        await db.execute("UPDATE persons SET merged_into = $2 WHERE id = $1 OR merged_into = $1", merged, into)
        await db.execute("UPDATE sessions SET person_id = $3 WHERE project_id = $1 AND person_id = $2",
                         project_id, merged, into)


async def insert_session(
    db: asyncpg.Connection,
    project_id: UUID,
    person_id: UUID,
    started_at: datetime,
    *,
    seconds: float = 0,
    event_count: int = 1,
    pageview_count: int = 1,
    **columns: Any,
) -> UUID:
    """A session of the person; extra keyword arguments fill more columns (entry_page=..., country=...)."""
    session_id = uuid.uuid4()
    names = ["id", "project_id", "person_id", "started_at", "ended_at", "event_count", "pageview_count", *columns]
    values = [session_id, project_id, person_id, started_at, started_at + timedelta(seconds=seconds), event_count,
              pageview_count, *columns.values()]
    placeholders = ", ".join(f"${index}" for index in range(1, len(values) + 1))
    await db.execute(f"INSERT INTO sessions ({', '.join(names)}) VALUES ({placeholders})", *values)
    return session_id


PERSONS = """
query Persons($projectId: ID!, $search: String, $first: Int, $after: String) {
  persons(projectId: $projectId, search: $search, first: $first, after: $after) {
    edges { cursor node { id distinctIds traits firstSeen lastSeen isIdentified createdAt } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

PERSON = """
query Person($projectId: ID!, $id: ID!, $sessions: Int) {
  person(projectId: $projectId, id: $id) {
    id distinctIds traits firstSeen lastSeen isIdentified
    sessions(first: $sessions) {
      id sessionKey startedAt endedAt durationSeconds eventCount pageviewCount isBounce entryPage exitPage entryUrl
      referrer referrerDomain referrerChannel utmSource utmMedium utmCampaign utmTerm utmContent
      deviceType browser os country region city
    }
  }
}
"""

TRAIT_MAPPINGS = """
query TraitMappings($projectId: ID!) {
  traitMappings(projectId: $projectId) { event property trait createdAt }
}
"""

SET_TRAIT_MAPPING = """
mutation Set($projectId: ID!, $event: String!, $property: String!, $trait: String!) {
  setTraitMapping(projectId: $projectId, event: $event, property: $property, trait: $trait) { event property trait }
}
"""

DELETE_TRAIT_MAPPING = """
mutation Delete($projectId: ID!, $event: String!, $property: String!) {
  deleteTraitMapping(projectId: $projectId, event: $event, property: $property)
}
"""
