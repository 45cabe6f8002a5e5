"""The destinations service's statements: what to run, and the delivery state it records after each batch."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

MAX_FAILURES_KEPT = 100
"""Failed attempts kept per destination (the newest); enough to see a pattern, bounded."""

MAX_ERROR_LENGTH = 1000


@dataclass(frozen=True)
class Destination:
    """A destination as its worker needs it; replaced (not mutated) when its row changes."""

    id: uuid.UUID
    project_id: uuid.UUID
    url: str
    filter: dict[str, Any]
    enabled: bool
    secret_nonce: bytes
    created_at: datetime


async def load_destinations(pool: asyncpg.Pool) -> dict[uuid.UUID, Destination]:
    rows = await pool.fetch(
        "SELECT id, project_id, url, filter, enabled, secret_nonce, created_at FROM destinations")
    return {
        row["id"]: Destination(row["id"], row["project_id"], row["url"], orjson.loads(row["filter"]),
                               row["enabled"], row["secret_nonce"], row["created_at"])
        for row in rows
    }


_STATUS_ROW = "INSERT INTO destination_status (destination_id) VALUES ($1) ON CONFLICT DO NOTHING"


async def record_success(pool: asyncpg.Pool, destination_id: uuid.UUID, events: int, pending: int | None) -> None:
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(_STATUS_ROW, destination_id)
        await connection.execute(
            "UPDATE destination_status SET last_success_at = now(), consecutive_failures = 0,"
            " delivered_batches = delivered_batches + 1, delivered_events = delivered_events + $2,"
            " pending = coalesce($3, pending), updated_at = now() WHERE destination_id = $1",
            destination_id, events, pending,
        )


async def record_pending(pool: asyncpg.Pool, destination_id: uuid.UUID, pending: int) -> None:
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(_STATUS_ROW, destination_id)
        await connection.execute(
            "UPDATE destination_status SET pending = $2, updated_at = now()"
            " WHERE destination_id = $1 AND pending IS DISTINCT FROM $2", destination_id, pending)


async def record_failure(pool: asyncpg.Pool, destination_id: uuid.UUID, delivery: uuid.UUID, attempt: int,
                         events: int, status_code: int | None, error: str) -> None:
    error = error[:MAX_ERROR_LENGTH]
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(_STATUS_ROW, destination_id)
        await connection.execute(
            "UPDATE destination_status SET last_failure_at = now(), last_error = $2,"
            " consecutive_failures = consecutive_failures + 1, updated_at = now() WHERE destination_id = $1",
            destination_id, error,
        )
        await connection.execute(
            "INSERT INTO destination_failures (destination_id, delivery_id, attempt, events, status_code, error)"
            " VALUES ($1, $2, $3, $4, $5, $6)", destination_id, delivery, attempt, events, status_code, error,
        )
        await connection.execute(
            "DELETE FROM destination_failures WHERE destination_id = $1 AND id < ("
            " SELECT id FROM destination_failures WHERE destination_id = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)",
            destination_id, MAX_FAILURES_KEPT - 1,
        )


async def park(pool: asyncpg.Pool, destination_id: uuid.UUID, delivery: uuid.UUID, body: bytes, events: int,
               attempts: int, last_error: str, first_attempt_at: datetime, keep: int) -> int:
    """Store a batch that failed every attempt; returns how many of the oldest were dropped to stay under `keep`."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(_STATUS_ROW, destination_id)
        # A batch redelivered after a crash between parking and acking is parked once.
        await connection.execute(
            "INSERT INTO destination_dead_letters (destination_id, delivery_id, body, events, attempts, last_error,"
            " first_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (delivery_id) DO NOTHING",
            destination_id, delivery, body, events, attempts, last_error[:MAX_ERROR_LENGTH], first_attempt_at,
        )
        await connection.execute(
            "UPDATE destination_status SET dead_lettered_batches = dead_lettered_batches + 1, updated_at = now()"
            " WHERE destination_id = $1", destination_id)
        dropped = await connection.execute(
            "DELETE FROM destination_dead_letters WHERE destination_id = $1 AND id < ("
            " SELECT id FROM destination_dead_letters WHERE destination_id = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)",
            destination_id, keep - 1,
        )
    return int(dropped.split()[-1])


async def mark_handed_back(pool: asyncpg.Pool, destination_id: uuid.UUID) -> None:
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(_STATUS_ROW, destination_id)
        await connection.execute(
            "UPDATE destination_status SET handed_back = true WHERE destination_id = $1", destination_id)


async def take_handed_back(pool: asyncpg.Pool, destination_id: uuid.UUID) -> bool:
    """Whether the previous worker stopped cleanly (its messages wait for redelivery already); clears the mark."""
    return bool(await pool.fetchval(
        "UPDATE destination_status SET handed_back = false WHERE destination_id = $1 AND handed_back RETURNING true",
        destination_id))
