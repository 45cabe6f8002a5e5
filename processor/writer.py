"""Storing rows in PostgreSQL: exactly once per (project, message_id), rollup in the same transaction.

Rows are COPYed into a per-connection temporary table, then one statement
records the new message ids (the de-duplication index), inserts only those
events, and adds them to the per-minute `event_counts` rollup. Keys are taken
in sorted order so concurrent processors do not deadlock each other; if
PostgreSQL still picks a victim, the whole transaction is retried.
"""

import asyncio
import logging
from datetime import datetime

import asyncpg

from processor.transform import STAGING_COLUMNS

logger = logging.getLogger(__name__)

_COLUMNS = ", ".join(STAGING_COLUMNS)
_SELECTED = ", ".join(f"s.{column}" for column in STAGING_COLUMNS)

CREATE_STAGING = f"""
CREATE TEMPORARY TABLE IF NOT EXISTS staging_events ON COMMIT DELETE ROWS AS
SELECT {_COLUMNS} FROM events WITH NO DATA
"""

STORE_STAGED = f"""
WITH fresh AS (
    INSERT INTO event_message_ids (project_id, message_id)
    SELECT DISTINCT project_id, message_id FROM staging_events ORDER BY project_id, message_id
    ON CONFLICT DO NOTHING
    RETURNING project_id, message_id
), stored AS (
    INSERT INTO events ({_COLUMNS})
    SELECT DISTINCT ON (s.project_id, s.message_id) {_SELECTED}
    FROM staging_events s JOIN fresh f ON f.project_id = s.project_id AND f.message_id = s.message_id
    ORDER BY s.project_id, s.message_id
    RETURNING project_id, event, event_time
), counted AS (
    INSERT INTO event_counts (project_id, event, minute, count)
    SELECT project_id, event, date_trunc('minute', event_time), count(*)
    FROM stored GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (project_id, event, minute) DO UPDATE SET count = event_counts.count + EXCLUDED.count
    RETURNING 1
)
SELECT count(*) FROM stored
"""

_RETRYABLE_CONFLICTS = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)


async def prepare_connection(connection: asyncpg.Connection) -> None:
    """Pool `init` hook: the staging table lives as long as the connection."""
    await connection.execute(CREATE_STAGING)


class EventWriter:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._months: set[tuple[int, int]] = set()

    async def _ensure_partitions(self, connection: asyncpg.Connection, rows: list[tuple]) -> None:
        months = {(row[1].year, row[1].month) for row in rows} - self._months
        for year, month in sorted(months):
            await connection.execute("SELECT ensure_events_partition($1::date)", datetime(year, month, 1).date())
            self._months.add((year, month))

    async def write(self, rows: list[tuple]) -> int:
        """Store rows; returns how many were new. Safe to call again with the same rows."""
        if not rows:
            return 0
        for attempt in range(10):
            try:
                async with self._pool.acquire() as connection:
                    await self._ensure_partitions(connection, rows)
                    async with connection.transaction():
                        await connection.copy_records_to_table("staging_events", records=rows, columns=STAGING_COLUMNS)
                        return await connection.fetchval(STORE_STAGED)
            except _RETRYABLE_CONFLICTS as error:
                logger.info("write conflict (%s), retrying", type(error).__name__)
                await asyncio.sleep(0.01 * (attempt + 1))
        raise RuntimeError("could not store the batch after 10 conflicting attempts")
