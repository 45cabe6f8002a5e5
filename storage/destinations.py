"""Destinations (outbound webhooks): the statements the query service's resolvers use.

Every read and write is scoped to an organization through the destination's
project, so another tenant's id answers like a missing one. The destinations
service's own statements (status, failures, parking dead letters) are in
destinations/store.py.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

DEAD_LETTER_CLAIM_SECONDS = 300
"""A dead letter claimed by an API retry longer ago than this belonged to a request that died: claim it again."""


def _json(value: object) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


@dataclass(frozen=True)
class DestinationRow:
    id: UUID
    project_id: UUID
    name: str
    url: str
    filter: dict[str, Any]
    enabled: bool
    secret_nonce: bytes
    created_at: datetime
    updated_at: datetime
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    delivered_batches: int = 0
    delivered_events: int = 0
    dead_lettered_batches: int = 0
    pending: int | None = None
    dead_letters: int = 0

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> "DestinationRow":
        return cls(
            row["id"], row["project_id"], row["name"], row["url"], _json(row["filter"]), row["enabled"],
            row["secret_nonce"], row["created_at"], row["updated_at"], row["last_success_at"],
            row["last_failure_at"], row["last_error"], row["consecutive_failures"] or 0,
            row["delivered_batches"] or 0, row["delivered_events"] or 0, row["dead_lettered_batches"] or 0,
            row["pending"], row["dead_letters"] or 0,
        )


_SELECT = """
SELECT d.*, s.last_success_at, s.last_failure_at, s.last_error, s.consecutive_failures, s.delivered_batches,
       s.delivered_events, s.dead_lettered_batches, s.pending,
       (SELECT count(*) FROM destination_dead_letters l WHERE l.destination_id = d.id) AS dead_letters
FROM destinations d
JOIN projects p ON p.id = d.project_id
LEFT JOIN destination_status s ON s.destination_id = d.id
"""


async def list_destinations(connection: asyncpg.Connection, project_id: UUID) -> list[DestinationRow]:
    rows = await connection.fetch(_SELECT + " WHERE d.project_id = $1 ORDER BY d.created_at, d.id", project_id)
    return [DestinationRow.from_record(row) for row in rows]


async def find_destination(connection: asyncpg.Connection, destination_id: UUID,
                           organization_id: UUID) -> DestinationRow | None:
    row = await connection.fetchrow(_SELECT + " WHERE d.id = $1 AND p.organization_id = $2",
                                    destination_id, organization_id)
    return None if row is None else DestinationRow.from_record(row)


async def count_destinations(connection: asyncpg.Connection, project_id: UUID) -> int:
    return await connection.fetchval("SELECT count(*) FROM destinations WHERE project_id = $1", project_id)


async def insert_destination(connection: asyncpg.Connection, project_id: UUID, *, name: str, url: str,
                             filter: dict[str, Any], enabled: bool, secret_nonce: bytes,
                             created_by: UUID | None) -> UUID:
    return await connection.fetchval(
        "INSERT INTO destinations (project_id, name, url, filter, enabled, secret_nonce, created_by)"
        " VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7) RETURNING id",
        project_id, name, url, orjson.dumps(filter).decode(), enabled, secret_nonce, created_by,
    )


_UPDATABLE = {"name", "url", "filter", "enabled", "secret_nonce"}


async def update_destination(connection: asyncpg.Connection, destination_id: UUID, organization_id: UUID,
                             changes: dict[str, object]) -> bool:
    """Apply `changes` (columns of `_UPDATABLE`); False when the destination is missing or another tenant's."""
    unknown = set(changes) - _UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    values = [orjson.dumps(value).decode() if column == "filter" else value for column, value in changes.items()]
    # Column names come from `_UPDATABLE` only; values are bound.
    assignments = ", ".join(
        f"{column} = ${index}" + ("::jsonb" if column == "filter" else "")
        for index, column in enumerate(changes, start=3)
    )
    result = await connection.execute(
        f"UPDATE destinations d SET {assignments + ', ' if assignments else ''}updated_at = now()"
        " FROM projects p WHERE d.id = $1 AND p.id = d.project_id AND p.organization_id = $2",
        destination_id, organization_id, *values,
    )
    return result != "UPDATE 0"


async def delete_destination(connection: asyncpg.Connection, destination_id: UUID, organization_id: UUID) -> bool:
    result = await connection.execute(
        "DELETE FROM destinations d USING projects p"
        " WHERE d.id = $1 AND p.id = d.project_id AND p.organization_id = $2",
        destination_id, organization_id,
    )
    return result != "DELETE 0"


async def list_failures(connection: asyncpg.Connection, destination_id: UUID, limit: int) -> list[asyncpg.Record]:
    return await connection.fetch(
        "SELECT * FROM destination_failures WHERE destination_id = $1 ORDER BY id DESC LIMIT $2",
        destination_id, limit,
    )


async def list_dead_letters(connection: asyncpg.Connection, destination_id: UUID, *, limit: int,
                            after: int | None) -> list[asyncpg.Record]:
    """Oldest first (the order they were first sent), `limit` after the id `after`."""
    return await connection.fetch(
        "SELECT id, delivery_id, events, attempts, last_error, first_attempt_at, parked_at, retried_at"
        " FROM destination_dead_letters WHERE destination_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        destination_id, after or 0, limit,
    )


async def claim_dead_letters(connection: asyncpg.Connection, destination_id: UUID, ids: list[int] | None,
                             limit: int) -> list[asyncpg.Record]:
    """Claim up to `limit` dead letters (all, or those of `ids`) for a retry, oldest first."""
    claimed = await connection.fetch(
        f"""
        UPDATE destination_dead_letters SET retrying_since = now()
        WHERE id IN (
            SELECT id FROM destination_dead_letters
            WHERE destination_id = $1 AND ($2::bigint[] IS NULL OR id = ANY($2))
              AND (retrying_since IS NULL OR retrying_since < now() - interval '{DEAD_LETTER_CLAIM_SECONDS} seconds')
            ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
        RETURNING id, delivery_id, body, events, attempts
        """,
        destination_id, ids, limit,
    )
    # RETURNING follows no ORDER BY: restore the order they were first sent in.
    return sorted(claimed, key=lambda row: row["id"])


async def delivered_dead_letter(connection: asyncpg.Connection, dead_letter_id: int) -> None:
    await connection.execute("DELETE FROM destination_dead_letters WHERE id = $1", dead_letter_id)


async def failed_dead_letter(connection: asyncpg.Connection, dead_letter_id: int, error: str) -> None:
    await connection.execute(
        "UPDATE destination_dead_letters SET attempts = attempts + 1, last_error = $2, retried_at = now(),"
        " retrying_since = NULL WHERE id = $1",
        dead_letter_id, error,
    )


async def release_dead_letters(connection: asyncpg.Connection, ids: list[int]) -> None:
    if ids:
        await connection.execute(
            "UPDATE destination_dead_letters SET retrying_since = NULL WHERE id = ANY($1::bigint[])", ids,
        )
