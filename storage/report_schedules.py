"""Report schedules: the statements of the query service's resolvers and of the alerting leader's sender.

Reads and writes from the API are scoped to an organization through the schedule's project, so another
tenant's id answers like a missing one. `claim_due` is the leader's: it moves each due schedule's
`next_run_at` on in the transaction that reads it, so one due run is claimed once.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

MAX_ERROR = 1000
"""Longest failure text kept on a schedule."""

_SELECT = """
    SELECT s.*, p.organization_id, p.name AS project_name, p.timezone
    FROM report_schedules s JOIN projects p ON p.id = s.project_id
"""


@dataclass(frozen=True)
class ScheduleRow:
    id: UUID
    project_id: UUID
    organization_id: UUID
    project_name: str
    timezone: str
    name: str
    report: dict[str, Any]
    frequency: str
    weekday: int | None
    hour: int
    recipient_ids: list[UUID]
    channel_id: UUID | None
    enabled: bool
    next_run_at: datetime
    last_run_at: datetime | None
    last_status: str | None
    last_error: str | None
    created_at: datetime

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> "ScheduleRow":
        report = row["report"]
        return cls(
            row["id"], row["project_id"], row["organization_id"], row["project_name"], row["timezone"], row["name"],
            orjson.loads(report) if isinstance(report, str | bytes) else report, row["frequency"], row["weekday"],
            row["hour"], list(row["recipient_ids"]), row["channel_id"], row["enabled"], row["next_run_at"],
            row["last_run_at"], row["last_status"], row["last_error"], row["created_at"],
        )


@dataclass(frozen=True)
class ScheduleFields:
    name: str
    report: dict[str, Any]
    frequency: str
    weekday: int | None
    hour: int
    recipient_ids: list[UUID]
    channel_id: UUID
    enabled: bool
    next_run_at: datetime


async def list_schedules(connection: asyncpg.Connection, project_id: UUID) -> list[ScheduleRow]:
    rows = await connection.fetch(f"{_SELECT} WHERE s.project_id = $1 ORDER BY s.created_at, s.id", project_id)
    return [ScheduleRow.from_record(row) for row in rows]


async def find_schedule(connection: asyncpg.Connection | asyncpg.Pool, schedule_id: UUID,
                        organization_id: UUID) -> ScheduleRow | None:
    row = await connection.fetchrow(f"{_SELECT} WHERE s.id = $1 AND p.organization_id = $2", schedule_id,
                                    organization_id)
    return None if row is None else ScheduleRow.from_record(row)


async def insert_schedule(connection: asyncpg.Connection, project_id: UUID, fields: ScheduleFields,
                          created_by: UUID | None) -> UUID:
    return await connection.fetchval(
        "INSERT INTO report_schedules (project_id, name, report, frequency, weekday, hour, recipient_ids, channel_id,"
        " enabled, next_run_at, created_by) VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9, $10, $11)"
        " RETURNING id",
        project_id, fields.name, orjson.dumps(fields.report).decode(), fields.frequency, fields.weekday, fields.hour,
        fields.recipient_ids, fields.channel_id, fields.enabled, fields.next_run_at, created_by,
    )


async def update_schedule(connection: asyncpg.Connection, schedule_id: UUID, organization_id: UUID,
                          fields: ScheduleFields) -> bool:
    status = await connection.execute(
        "UPDATE report_schedules s SET name = $3, report = $4::jsonb, frequency = $5, weekday = $6, hour = $7,"
        " recipient_ids = $8, channel_id = $9, enabled = $10, next_run_at = $11, updated_at = now()"
        " FROM projects p WHERE s.id = $1 AND p.id = s.project_id AND p.organization_id = $2",
        schedule_id, organization_id, fields.name, orjson.dumps(fields.report).decode(), fields.frequency,
        fields.weekday, fields.hour, fields.recipient_ids, fields.channel_id, fields.enabled, fields.next_run_at,
    )
    return status != "UPDATE 0"


async def delete_schedule(connection: asyncpg.Connection, schedule_id: UUID, organization_id: UUID) -> bool:
    status = await connection.execute(
        "DELETE FROM report_schedules s USING projects p"
        " WHERE s.id = $1 AND p.id = s.project_id AND p.organization_id = $2",
        schedule_id, organization_id,
    )
    return status != "DELETE 0"


async def claim_due(connection: asyncpg.Connection, now: datetime, next_run: Callable[[ScheduleRow], datetime],
                    limit: int = 50) -> list[ScheduleRow]:
    """Due enabled schedules, each moved on to `next_run(schedule)` and marked `sending`, in one transaction:
    a schedule another transaction holds is skipped, one it already moved on is no longer due."""
    claimed = []
    async with connection.transaction():
        rows = await connection.fetch(
            f"{_SELECT} WHERE s.enabled AND s.next_run_at <= $1 ORDER BY s.next_run_at LIMIT $2"
            " FOR UPDATE OF s SKIP LOCKED", now, limit,
        )
        for row in rows:
            schedule = ScheduleRow.from_record(row)
            await connection.execute(
                "UPDATE report_schedules SET next_run_at = $2, last_run_at = $3, last_status = 'sending',"
                " last_error = NULL WHERE id = $1",
                schedule.id, next_run(schedule), now,
            )
            claimed.append(schedule)
    return claimed


async def record_run(connection: asyncpg.Connection | asyncpg.Pool, schedule_id: UUID, at: datetime,
                     error: str | None) -> None:
    """What one send did: `sent`, or `failed` with its reason."""
    await connection.execute(
        "UPDATE report_schedules SET last_run_at = $2, last_status = $3, last_error = $4 WHERE id = $1",
        schedule_id, at, "sent" if error is None else "failed", None if error is None else error[:MAX_ERROR],
    )


async def member_emails(connection: asyncpg.Connection | asyncpg.Pool, organization_id: UUID,
                        user_ids: list[UUID]) -> dict[UUID, str]:
    """The email of each of `user_ids` that is (still) a member of the organization."""
    rows = await connection.fetch(
        "SELECT id, email FROM users WHERE organization_id = $1 AND id = ANY($2::uuid[])", organization_id, user_ids,
    )
    return {row["id"]: row["email"] for row in rows}
