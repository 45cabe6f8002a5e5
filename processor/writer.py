"""Storing rows in PostgreSQL: exactly once per (project, message_id), rollup, persons and sessions in the
same transaction.

Rows are COPYed into a per-connection temporary table, then one statement
records the new message ids (the de-duplication index); the events they carry
update persons and sessions (processor/people.py), and are then inserted with
their person and added to the per-minute and per-hour rollups. Keys are taken
in sorted order so concurrent processors do not deadlock each other; if
PostgreSQL still picks a victim, the whole transaction is retried.
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from processor.active_persons import CREATE_FRESH_DAYS
from processor.event_definitions import record_event_properties
from processor.identity import IdentityRace
from processor.people import PeopleRecorder, PeopleStats
from processor.transform import EVENT_TIME_INDEX, STAGING_COLUMNS, TIME_COLUMNS

logger = logging.getLogger(__name__)

_COLUMNS = ", ".join(STAGING_COLUMNS)
_SELECTED = ", ".join(
    f"'epoch'::timestamptz + s.{column} * interval '1 microsecond'" if column in TIME_COLUMNS else f"s.{column}"
    for column in STAGING_COLUMNS
)
_MICROS_PER_DAY = 86_400_000_000
_STAGING_TYPES = {"project_id": "uuid", "type": "smallint", "properties": "jsonb", "traits": "jsonb",
                  "context": "jsonb", "message_id": 'text COLLATE "C"', "is_bot": "boolean",
                  "distinct_id": 'text COLLATE "C"', "ip": "inet",
                  **dict.fromkeys(TIME_COLUMNS, "bigint")}



def staging_table_ddl(name: str, *, on_commit: str = "PRESERVE ROWS") -> str:
    """A temporary table with the columns of `events`, times as integer microseconds (converted exactly in SQL)."""
    columns = ", ".join(f"{column} {_STAGING_TYPES.get(column, 'text')}" for column in STAGING_COLUMNS)
    return f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} ({columns}) ON COMMIT {on_commit}"


CREATE_STAGING = staging_table_ddl("staging_events", on_commit="DELETE ROWS")
# Which staged rows this transaction newly stored: what persons and sessions are updated for.
CREATE_FRESH = (
    'CREATE TEMPORARY TABLE IF NOT EXISTS fresh_events (project_id uuid, message_id text COLLATE "C",'
    " person_id uuid) ON COMMIT DELETE ROWS"
)

# The staged rows whose message id is new: recorded in the de-duplication index and in `fresh_events`,
# which persons, sessions and the events themselves are then written for.
RECORD_FRESH = """
WITH fresh AS (
    INSERT INTO event_message_ids (project_id, message_id)
    SELECT project_id, message_id FROM staging_events ORDER BY project_id, message_id
    ON CONFLICT DO NOTHING
    RETURNING project_id, message_id
)
INSERT INTO fresh_events (project_id, message_id) SELECT project_id, message_id FROM fresh
RETURNING project_id::text, message_id
"""

# After identity: each fresh event with its person (none for bots, see PeopleRecorder), and the minute,
# hour and hour-per-value rollups. The writer's session is in UTC, so date_trunc cuts UTC hours. Answers each stored
# event's key and person, which the processor announces once committed.
STORE_FRESH = f"""
WITH stored AS (
    INSERT INTO events ({_COLUMNS}, person_id)
    SELECT {_SELECTED}, f.person_id
    FROM staging_events s
    JOIN fresh_events f ON f.project_id = s.project_id AND f.message_id = s.message_id
    RETURNING project_id, message_id, person_id, event, event_time, is_bot, browser, os, device_type, country,
              referrer_channel, referrer_domain, utm_source, utm_medium, utm_campaign
), by_minute AS (
    INSERT INTO event_counts (project_id, event, minute, is_bot, count)
    SELECT project_id, event, date_trunc('minute', event_time), is_bot, count(*)
    FROM stored GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (project_id, event, minute, is_bot) DO UPDATE SET count = event_counts.count + EXCLUDED.count
), by_hour AS (
    INSERT INTO event_counts_hourly (project_id, event, hour, is_bot, count)
    SELECT project_id, event, date_trunc('hour', event_time), is_bot, count(*)
    FROM stored GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (project_id, event, hour, is_bot) DO UPDATE SET count = event_counts_hourly.count + EXCLUDED.count
), by_value AS (
    INSERT INTO event_values_hourly (project_id, event, dimension, hour, value_key, value, count)
    SELECT s.project_id, s.event, d.dimension, date_trunc('hour', s.event_time), rollup_value_key(d.value), d.value,
           count(*)
    FROM stored s
    CROSS JOIN LATERAL event_value_dimensions(s.browser, s.os, s.device_type, s.country, s.referrer_channel,
                                              s.referrer_domain, s.utm_source, s.utm_medium, s.utm_campaign) AS d
    WHERE NOT s.is_bot
    GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (project_id, event, dimension, hour, value_key)
    DO UPDATE SET count = event_values_hourly.count + EXCLUDED.count
)
SELECT project_id::text, message_id, person_id::text FROM stored
"""

_RETRYABLE_CONFLICTS = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError, IdentityRace)


# Session settings for writers: a batch's staging rows and sorts fit in memory.
WRITER_SESSION_SETTINGS = {"timezone": "UTC", "work_mem": "64MB", "temp_buffers": "128MB"}


def unique_rows(rows: list[tuple]) -> list[tuple]:
    """The first row of each (project_id, message_id): the staged rows must be unique for the statement."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for row in rows:
        key = (row[0], row[2])
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return unique


async def prepare_connection(connection: asyncpg.Connection) -> None:
    """Pool `init` hook: the staging tables live as long as the connection."""
    await connection.execute(CREATE_STAGING)
    await connection.execute(CREATE_FRESH)
    await connection.execute(CREATE_FRESH_DAYS)


@dataclass(frozen=True)
class StoredBatch:
    """What one write committed: the rows that were new (duplicates left out), their persons, and when."""

    # Staging rows (STAGING_COLUMNS order) of the newly stored events.
    rows: list[tuple]
    # The person of each row, as text; None for bots.
    person_ids: list[str | None]
    # Epoch seconds (wall clock) just after COMMIT returned.
    committed_at: float


class EventWriter:
    def __init__(self, pool: asyncpg.Pool, people: PeopleRecorder | None = None) -> None:
        self._pool = pool
        self._months: set[tuple[int, int]] = set()
        self.people = people or PeopleRecorder()
        self.people_stats = PeopleStats()

    async def _ensure_partitions(self, connection: asyncpg.Connection, rows: list[tuple]) -> None:
        days = {row[EVENT_TIME_INDEX] // _MICROS_PER_DAY for row in rows}
        months = {(moment.year, moment.month) for moment in
                  (datetime.fromtimestamp(day * 86_400, UTC) for day in days)} - self._months
        for year, month in sorted(months):
            await connection.execute("SELECT ensure_events_partition($1::date)", datetime(year, month, 1).date())
            self._months.add((year, month))

    async def write(self, rows: list[tuple]) -> int:
        """Store rows; returns how many were new. Safe to call again with the same rows."""
        return len((await self.store(rows)).rows)

    async def store(self, rows: list[tuple]) -> StoredBatch:
        """Store rows; returns the ones that were new, with their persons. Safe to call again with the same rows."""
        rows = unique_rows(rows)
        if not rows:
            return StoredBatch([], [], time.time())
        for attempt in range(10):
            try:
                async with self._pool.acquire() as connection:
                    await self._ensure_partitions(connection, rows)
                    async with connection.transaction():
                        await connection.copy_records_to_table("staging_events", records=rows, columns=STAGING_COLUMNS)
                        fresh = {(record[0], record[1]) for record in await connection.fetch(RECORD_FRESH)}
                        await record_event_properties(connection)
                        people = await self.people.record(connection, rows, fresh)
                        persons = {} if not fresh else {
                            (record[0], record[1]): record[2] for record in await connection.fetch(STORE_FRESH)
                        }
                    committed_at = time.time()
                self.people_stats.add(people)
                stored = [row for row in rows if (row[0], row[2]) in persons]
                return StoredBatch(stored, [persons[(row[0], row[2])] for row in stored], committed_at)
            except _RETRYABLE_CONFLICTS as error:
                logger.info("write conflict (%s), retrying", type(error).__name__)
                await asyncio.sleep(0.01 * (attempt + 1))
        raise RuntimeError("could not store the batch after 10 conflicting attempts")
