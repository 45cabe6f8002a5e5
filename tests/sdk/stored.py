"""Reading back what the real pipeline stored."""

from uuid import UUID

import asyncpg


async def stored_events(db: asyncpg.Connection, project_id: UUID) -> dict[str, asyncpg.Record]:
    """Stored events of the project by message_id."""
    rows = await db.fetch("SELECT * FROM events WHERE project_id = $1", project_id)
    return {row["message_id"]: row for row in rows}
