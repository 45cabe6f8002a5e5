"""Helpers for the ingest tests: polling with a deadline, and looking into JetStream and PostgreSQL."""


import asyncpg
from nats.js import JetStreamContext

from config import Settings
from messaging.names import Names


async def stream_message_count(js: JetStreamContext, settings: Settings) -> int:
    """Messages the test's EVENTS stream holds: what ingest has acked as durable."""
    info = await js.stream_info(Names(settings.nats_namespace).events_stream)
    return info.state.messages


async def stored_message_ids(db: asyncpg.Connection, project_id) -> list[str]:
    rows = await db.fetch("SELECT message_id FROM events WHERE project_id = $1 ORDER BY message_id", project_id)
    return [row["message_id"] for row in rows]
