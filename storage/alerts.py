"""Alert rules, channels, events and deliveries: the statements the query service's alert resolvers use.

Every read and write is scoped to an organization: a rule through its
project, a channel through its own organization_id, so another tenant's id
answers like a missing one. The alerting leader's own statements are in
alerting/store.py.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson


def _json(value: object) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


@dataclass(frozen=True)
class ChannelRow:
    id: UUID
    organization_id: UUID
    project_id: UUID | None
    kind: str
    name: str
    settings: dict[str, Any]
    secret_nonce: bytes | None
    created_at: datetime

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> "ChannelRow":
        return cls(row["id"], row["organization_id"], row["project_id"], row["kind"], row["name"],
                   _json(row["settings"]) or {}, row["secret_nonce"], row["created_at"])


@dataclass(frozen=True)
class RuleRow:
    id: UUID
    project_id: UUID
    name: str
    enabled: bool
    series: dict[str, Any]
    interval: str
    detector: dict[str, Any]
    evaluate_every_seconds: int
    cooldown_seconds: int
    channel_ids: list[UUID]
    created_at: datetime
    updated_at: datetime
    state: str
    last_evaluated_at: datetime | None
    last_value: float | None
    last_error: str | None

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> "RuleRow":
        return cls(row["id"], row["project_id"], row["name"], row["enabled"], _json(row["series"]), row["interval"],
                   _json(row["detector"]), row["evaluate_every_seconds"], row["cooldown_seconds"],
                   list(row["channel_ids"]), row["created_at"], row["updated_at"], row["state"] or "ok",
                   row["last_evaluated_at"], row["last_value"], row["last_error"])


_RULE_SELECT = """
    SELECT r.*, s.state, s.last_evaluated_at, s.last_value, s.last_error
    FROM alert_rules r
    JOIN projects p ON p.id = r.project_id
    LEFT JOIN alert_rule_states s ON s.rule_id = r.id
"""


async def list_channels(connection: asyncpg.Connection, organization_id: UUID,
                        project_id: UUID | None) -> list[ChannelRow]:
    """The organization's channels usable by `project_id` (organization-wide ones and the project's own)."""
    rows = await connection.fetch(
        "SELECT * FROM alert_channels WHERE organization_id = $1"
        " AND ($2::uuid IS NULL OR project_id IS NULL OR project_id = $2) ORDER BY created_at, id",
        organization_id, project_id,
    )
    return [ChannelRow.from_record(row) for row in rows]


async def find_channel(connection: asyncpg.Connection, channel_id: UUID, organization_id: UUID) -> ChannelRow | None:
    row = await connection.fetchrow(
        "SELECT * FROM alert_channels WHERE id = $1 AND organization_id = $2", channel_id, organization_id
    )
    return None if row is None else ChannelRow.from_record(row)


async def insert_channel(connection: asyncpg.Connection, organization_id: UUID, project_id: UUID | None, kind: str,
                         name: str, settings: dict[str, Any], secret_nonce: bytes | None) -> ChannelRow:
    row = await connection.fetchrow(
        "INSERT INTO alert_channels (organization_id, project_id, kind, name, settings, secret_nonce)"
        " VALUES ($1, $2, $3, $4, $5::jsonb, $6) RETURNING *",
        organization_id, project_id, kind, name, orjson.dumps(settings).decode(), secret_nonce,
    )
    return ChannelRow.from_record(row)


async def update_channel(connection: asyncpg.Connection, channel_id: UUID, organization_id: UUID, *,
                         name: str | None = None, settings: dict[str, Any] | None = None,
                         secret_nonce: bytes | None = None) -> ChannelRow | None:
    row = await connection.fetchrow(
        "UPDATE alert_channels SET name = coalesce($3, name), settings = coalesce($4::jsonb, settings),"
        " secret_nonce = coalesce($5, secret_nonce), updated_at = now()"
        " WHERE id = $1 AND organization_id = $2 RETURNING *",
        channel_id, organization_id, name, None if settings is None else orjson.dumps(settings).decode(),
        secret_nonce,
    )
    return None if row is None else ChannelRow.from_record(row)


async def delete_channel(connection: asyncpg.Connection, channel_id: UUID, organization_id: UUID) -> bool:
    async with connection.transaction():
        deleted = await connection.fetchval(
            "DELETE FROM alert_channels WHERE id = $1 AND organization_id = $2 RETURNING true",
            channel_id, organization_id,
        )
        if deleted:
            await connection.execute(
                "UPDATE alert_rules SET channel_ids = array_remove(channel_ids, $1) WHERE $1 = ANY(channel_ids)",
                channel_id,
            )
    return bool(deleted)


async def list_rules(connection: asyncpg.Connection, project_id: UUID) -> list[RuleRow]:
    rows = await connection.fetch(_RULE_SELECT + " WHERE r.project_id = $1 ORDER BY r.created_at, r.id", project_id)
    return [RuleRow.from_record(row) for row in rows]


async def find_rule(connection: asyncpg.Connection, rule_id: UUID, organization_id: UUID) -> RuleRow | None:
    row = await connection.fetchrow(_RULE_SELECT + " WHERE r.id = $1 AND p.organization_id = $2",
                                    rule_id, organization_id)
    return None if row is None else RuleRow.from_record(row)


async def insert_rule(connection: asyncpg.Connection, project_id: UUID, *, name: str, series: dict[str, Any],
                      interval: str, detector: dict[str, Any], evaluate_every_seconds: int, cooldown_seconds: int,
                      channel_ids: list[UUID], enabled: bool = True, created_by: UUID | None = None) -> UUID:
    async with connection.transaction():
        rule_id = await connection.fetchval(
            "INSERT INTO alert_rules (project_id, name, enabled, series, interval, detector, evaluate_every_seconds,"
            " cooldown_seconds, channel_ids, created_by) VALUES ($1, $2, $3, $4::jsonb, $5, $6::jsonb, $7, $8, $9,"
            " $10) RETURNING id",
            project_id, name, enabled, orjson.dumps(series).decode(), interval, orjson.dumps(detector).decode(),
            evaluate_every_seconds, cooldown_seconds, channel_ids, created_by,
        )
        await connection.execute(
            # Due at once, whatever the evaluating replica's clock says.
            "INSERT INTO alert_rule_states (rule_id, project_id, next_evaluation_at) VALUES ($1, $2, '-infinity')",
            rule_id, project_id,
        )
    return rule_id


async def update_rule(connection: asyncpg.Connection, rule_id: UUID, organization_id: UUID,
                      changes: dict[str, Any]) -> bool:
    """Apply `changes` (column -> value; series and detector as dicts). A changed series, interval or detector
    starts over from OK, and the rule is evaluated at once."""
    columns = {"name", "enabled", "series", "interval", "detector", "evaluate_every_seconds", "cooldown_seconds",
               "channel_ids"}
    assert set(changes) <= columns
    assignments, values = [], [rule_id, organization_id]
    for column, value in changes.items():
        values.append(orjson.dumps(value).decode() if column in ("series", "detector") else value)
        cast = "::jsonb" if column in ("series", "detector") else ""
        assignments.append(f"{column} = ${len(values)}{cast}")
    async with connection.transaction():
        updated = await connection.fetchval(
            f"UPDATE alert_rules r SET {', '.join([*assignments, 'updated_at = now()'])} FROM projects p"
            " WHERE r.id = $1 AND p.id = r.project_id AND p.organization_id = $2 RETURNING true",
            *values,
        )
        if updated:
            restart = bool({"series", "interval", "detector"} & set(changes))
            await connection.execute(
                "UPDATE alert_rule_states SET next_evaluation_at = '-infinity', version = version + 1"
                + (", state = 'ok', incident_id = NULL, clear_since = NULL" if restart else "")
                + " WHERE rule_id = $1", rule_id,
            )
    return bool(updated)


async def delete_rule(connection: asyncpg.Connection, rule_id: UUID, organization_id: UUID) -> bool:
    return bool(await connection.fetchval(
        "DELETE FROM alert_rules r USING projects p WHERE r.id = $1 AND p.id = r.project_id"
        " AND p.organization_id = $2 RETURNING true", rule_id, organization_id,
    ))


async def list_events(connection: asyncpg.Connection, project_id: UUID, *, unread_only: bool = False,
                      limit: int = 50, before: datetime | None = None) -> list[asyncpg.Record]:
    return await connection.fetch(
        "SELECT * FROM alert_events WHERE project_id = $1 AND ($2 = false OR read_at IS NULL)"
        " AND ($3::timestamptz IS NULL OR created_at < $3) ORDER BY created_at DESC, id DESC LIMIT $4",
        project_id, unread_only, before, limit,
    )


async def count_unread(connection: asyncpg.Connection, project_id: UUID) -> int:
    return await connection.fetchval(
        "SELECT count(*) FROM alert_events WHERE project_id = $1 AND read_at IS NULL", project_id
    )


async def mark_read(connection: asyncpg.Connection, project_id: UUID, event_ids: list[UUID] | None) -> int:
    """Mark these events (None: every event) of the project read; returns how many were unread."""
    result = await connection.execute(
        "UPDATE alert_events SET read_at = now() WHERE project_id = $1 AND read_at IS NULL"
        " AND ($2::uuid[] IS NULL OR id = ANY($2::uuid[]))", project_id, event_ids,
    )
    return int(result.split()[-1])


async def list_state_changes(connection: asyncpg.Connection, project_id: UUID, rule_id: UUID | None,
                             limit: int = 100) -> list[asyncpg.Record]:
    return await connection.fetch(
        "SELECT c.*, r.name AS rule_name FROM alert_state_changes c JOIN alert_rules r ON r.id = c.rule_id"
        " WHERE c.project_id = $1 AND ($2::uuid IS NULL OR c.rule_id = $2) ORDER BY c.at DESC, c.id DESC LIMIT $3",
        project_id, rule_id, limit,
    )


async def list_deliveries(connection: asyncpg.Connection, project_id: UUID, *, failed_only: bool = False,
                          limit: int = 100) -> list[asyncpg.Record]:
    return await connection.fetch(
        "SELECT d.*, c.name AS channel_name, e.kind AS event_kind, e.rule_id, e.rule_name"
        " FROM alert_deliveries d JOIN alert_events e ON e.id = d.event_id"
        " LEFT JOIN alert_channels c ON c.id = d.channel_id"
        " WHERE d.project_id = $1 AND ($2 = false OR d.last_error IS NOT NULL)"
        " ORDER BY d.created_at DESC, d.id LIMIT $3",
        project_id, failed_only, limit,
    )


async def insert_test_event(connection: asyncpg.Connection, project_id: UUID, channel_name: str) -> UUID:
    return await connection.fetchval(
        "INSERT INTO alert_events (project_id, kind, rule_name, message, value, expected, lower_bound,"
        " upper_bound, read_at) VALUES ($1, 'test', $2, $3, 212, 50, 30, 70, now()) RETURNING id",
        project_id, f"Test of {channel_name}",
        "Signed Up is above the expected range: 212 per hour (a sample notice)",
    )


async def load_event(connection: asyncpg.Connection, event_id: UUID) -> asyncpg.Record:
    return await connection.fetchrow(
        "SELECT e.*, p.name AS project_name FROM alert_events e JOIN projects p ON p.id = e.project_id"
        " WHERE e.id = $1", event_id,
    )
