"""Reading back what the real pipeline stored, with a deadline (the processor is asynchronous)."""

import asyncio
import time
from uuid import UUID

import asyncpg


async def wait_for_stored(db: asyncpg.Connection, project_id: UUID, expected: int, within: float = 20) -> int:
    """The number of stored events of the project once it reaches ``expected`` (or the deadline passes)."""
    deadline = time.monotonic() + within
    while True:
        count = await db.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project_id)
        if count >= expected or time.monotonic() > deadline:
            return count
        await asyncio.sleep(0.05)


async def stored_events(db: asyncpg.Connection, project_id: UUID) -> dict[str, asyncpg.Record]:
    """Stored events of the project by message_id."""
    rows = await db.fetch("SELECT * FROM events WHERE project_id = $1", project_id)
    return {row["message_id"]: row for row in rows}
