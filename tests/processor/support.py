"""Helpers for the processor tests: envelopes as ingest publishes them, polling, and counting what is stored."""

import time
import uuid

import asyncpg
from nats.js import JetStreamContext

from messaging.names import HEADER_MSG_ID, Names
from tests.payloads import track_event
from trackmint.v1 import batch_pb2, event_pb2


def envelope(project_id, events: list[event_pb2.Event], received_at_ns: int | None = None) -> batch_pb2.IngestedBatch:
    """An `IngestedBatch` as ingest publishes it after validation."""
    batch = batch_pb2.IngestedBatch(project_id=str(project_id), events=events)
    batch.received_at.FromNanoseconds(received_at_ns if received_at_ns is not None else time.time_ns())
    return batch


def track_events(count: int, name: str = "signup", prefix: str = "u") -> list[event_pb2.Event]:
    return [track_event(name, user_id=f"{prefix}{i}") for i in range(count)]


async def publish(js: JetStreamContext, names: Names, project_id, payload: bytes, msg_id: str | None = None) -> None:
    """Publish on the project's events subject with a fresh Nats-Msg-Id unless one is given."""
    await js.publish(
        names.events_subject(str(project_id)), payload, headers={HEADER_MSG_ID: msg_id or str(uuid.uuid4())}
    )


async def distinct_stored_count(db: asyncpg.Connection, project_id) -> int:
    return await db.fetchval("SELECT count(DISTINCT message_id) FROM events WHERE project_id = $1", project_id)


async def rollup(db: asyncpg.Connection, project_id) -> dict[str, int]:
    rows = await db.fetch(
        "SELECT event, sum(count)::int AS total FROM event_counts WHERE project_id = $1 GROUP BY event", project_id
    )
    return {row["event"]: row["total"] for row in rows}


async def rollup_by_minute(db: asyncpg.Connection, project_id) -> dict[tuple, int]:
    rows = await db.fetch(
        "SELECT event, minute, sum(count)::int AS count FROM event_counts WHERE project_id = $1 GROUP BY 1, 2",
        project_id,
    )
    return {(row["event"], row["minute"]): row["count"] for row in rows}


async def events_by_minute(db: asyncpg.Connection, project_id) -> dict[tuple, int]:
    """The rollup recomputed from the stored events: what `event_counts` must equal."""
    rows = await db.fetch(
        "SELECT event, date_trunc('minute', event_time) AS minute, count(*)::int AS total FROM events"
        " WHERE project_id = $1 GROUP BY 1, 2",
        project_id,
    )
    return {(row["event"], row["minute"]): row["total"] for row in rows}


async def rollup_by_hour(db: asyncpg.Connection, project_id) -> dict[tuple, int]:
    rows = await db.fetch(
        "SELECT event, hour, sum(count)::int AS count FROM event_counts_hourly WHERE project_id = $1 GROUP BY 1, 2",
        project_id,
    )
    return {(row["event"], row["hour"]): row["count"] for row in rows}


async def events_by_hour(db: asyncpg.Connection, project_id) -> dict[tuple, int]:
    """The hourly rollup recomputed from the stored events (UTC hours)."""
    rows = await db.fetch(
        "SELECT event, date_trunc('hour', event_time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour,"
        " count(*)::int AS total FROM events WHERE project_id = $1 GROUP BY 1, 2",
        project_id,
    )
    return {(row["event"], row["hour"]): row["total"] for row in rows}
