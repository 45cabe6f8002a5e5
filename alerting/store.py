"""The alerting leader's SQL: due rules, recording an evaluation (with its notices), and the delivery outbox.

A state change, its history row, its in-app event and its deliveries are one
transaction, committed only if the rule's state still has the version the
evaluation read: a replica that lost leadership without noticing yet cannot
open an incident twice. Deliveries are claimed with `FOR UPDATE SKIP LOCKED`;
a claim older than `stale` belonged to a leader that died mid-send and is
taken again.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
import orjson

from alerting.channels import ChannelTarget
from alerting.evaluation import Judged
from alerting.notices import Notice, format_number
from alerting.rules import Rule, RuleInterval, detector_from_json, series_from_json
from alerting.state import Change, RuleState, State, Step


@dataclass(frozen=True)
class DueRule:
    rule: Rule
    timezone: str
    organization_id: UUID | None
    state: RuleState
    version: int


def _json(value: object) -> object:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def rule_from_row(row: asyncpg.Record) -> Rule:
    return Rule(
        id=row["id"], project_id=row["project_id"], name=row["name"],
        series=series_from_json(_json(row["series"])),  # type: ignore[arg-type]
        interval=RuleInterval(row["interval"]),
        detector=detector_from_json(_json(row["detector"])),  # type: ignore[arg-type]
        evaluate_every_seconds=row["evaluate_every_seconds"], cooldown_seconds=row["cooldown_seconds"],
        channel_ids=tuple(row["channel_ids"]), enabled=row["enabled"],
    )


async def due_rules(connection: asyncpg.Connection, now: datetime, limit: int = 500) -> list[DueRule]:
    """Enabled rules whose next evaluation is due, oldest due first (a missing state row is created)."""
    await connection.execute(
        "INSERT INTO alert_rule_states (rule_id, project_id, next_evaluation_at)"
        " SELECT r.id, r.project_id, $1 FROM alert_rules r"
        " WHERE NOT EXISTS (SELECT 1 FROM alert_rule_states s WHERE s.rule_id = r.id)"
        " ON CONFLICT DO NOTHING", now,
    )
    rows = await connection.fetch(
        """
        SELECT r.*, p.timezone, p.organization_id, s.state, s.incident_id, s.clear_since, s.version
        FROM alert_rules r
        JOIN alert_rule_states s ON s.rule_id = r.id
        JOIN projects p ON p.id = r.project_id
        WHERE r.enabled AND s.next_evaluation_at <= $1
        ORDER BY s.next_evaluation_at
        LIMIT $2
        """, now, limit,
    )
    due = []
    for row in rows:
        state = RuleState(State(row["state"]), row["incident_id"], row["clear_since"])
        due.append(DueRule(rule_from_row(row), row["timezone"], row["organization_id"], state, row["version"]))
    return due


def describe(rule: Rule, change: Change, judged: Judged) -> str:
    verdict = judged.verdict
    label = rule.series.label
    per = rule.interval.value
    if change is Change.RESOLVED:
        return f"{label} is back to normal: {format_number(verdict.value)} per {per}"
    side = {"above": "above", "below": "below"}.get(verdict.reason, "outside")
    return f"{label} is {side} the expected range: {format_number(verdict.value)} per {per}"


async def record_evaluation(
    connection: asyncpg.Connection, due: DueRule, step: Step | None, judged: Judged | None, now: datetime,
    error: str | None = None,
) -> bool:
    """Store the outcome of one evaluation; False if another replica changed the rule's state meanwhile."""
    rule = due.rule
    next_at = now + timedelta(seconds=rule.evaluate_every_seconds)
    new_state = step.state if step is not None else due.state
    async with connection.transaction():
        updated = await connection.fetchval(
            """
            UPDATE alert_rule_states
            SET state = $3, incident_id = $4, clear_since = $5, version = version + 1,
                changed_at = CASE WHEN state <> $3 THEN $6 ELSE changed_at END,
                last_evaluated_at = $6, next_evaluation_at = $7, last_value = coalesce($8, last_value),
                last_error = $9
            WHERE rule_id = $1 AND version = $2
            RETURNING true
            """,
            rule.id, due.version, new_state.state.value, new_state.incident_id, new_state.clear_since, now, next_at,
            None if judged is None else judged.verdict.value, error,
        )
        if not updated:
            return False
        if step is None or step.change is None or judged is None:
            return True
        verdict = judged.verdict
        await connection.execute(
            "INSERT INTO alert_state_changes (rule_id, project_id, incident_id, from_state, to_state, at, bucket,"
            " value, expected, lower_bound, upper_bound, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
            " $11, $12)",
            rule.id, rule.project_id, new_state.incident_id, due.state.state.value, new_state.state.value, now,
            judged.bucket, verdict.value, verdict.expected, verdict.lower, verdict.upper, verdict.reason,
        )
        event_id = await connection.fetchval(
            "INSERT INTO alert_events (project_id, rule_id, incident_id, kind, rule_name, message, bucket, value,"
            " expected, lower_bound, upper_bound, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
            " $11, $12) RETURNING id",
            rule.project_id, rule.id, new_state.incident_id, step.change.value, rule.name,
            describe(rule, step.change, judged), judged.bucket, verdict.value, verdict.expected, verdict.lower,
            verdict.upper, now,
        )
        await connection.execute(
            """
            INSERT INTO alert_deliveries (project_id, event_id, channel_id, channel_kind, next_attempt_at)
            SELECT $1::uuid, $2::uuid, NULL::uuid, 'in_app', $4::timestamptz
            UNION ALL
            SELECT $1::uuid, $2::uuid, c.id, c.kind, $4::timestamptz FROM alert_channels c
            JOIN projects p ON p.id = $1
            WHERE c.id = ANY($3::uuid[]) AND c.organization_id = p.organization_id
              AND (c.project_id IS NULL OR c.project_id = $1)
            """,
            rule.project_id, event_id, list(rule.channel_ids), now,
        )
    return True


@dataclass(frozen=True)
class ClaimedDelivery:
    id: UUID
    attempts: int
    target: ChannelTarget | None
    notice: Notice


async def claim_deliveries(connection: asyncpg.Connection, now: datetime, stale: timedelta, public_url: str,
                           limit: int = 50) -> list[ClaimedDelivery]:
    rows = await connection.fetch(
        """
        WITH claimed AS (
            UPDATE alert_deliveries SET status = 'sending', claimed_at = $1, attempts = attempts + 1
            WHERE id IN (
                SELECT id FROM alert_deliveries
                WHERE (status = 'pending' AND next_attempt_at <= $1) OR (status = 'sending' AND claimed_at < $2)
                ORDER BY next_attempt_at
                LIMIT $3
                FOR UPDATE SKIP LOCKED
            )
            RETURNING id, event_id, channel_id, attempts
        )
        SELECT claimed.id AS delivery_id, claimed.attempts, claimed.channel_id, c.kind AS channel_kind,
               c.name AS channel_name, c.settings AS channel_settings, c.secret_nonce,
               e.*, p.name AS project_name
        FROM claimed
        JOIN alert_events e ON e.id = claimed.event_id
        JOIN projects p ON p.id = e.project_id
        LEFT JOIN alert_channels c ON c.id = claimed.channel_id
        """,
        now, now - stale, limit,
    )
    claimed = []
    for row in rows:
        target = None
        if row["channel_id"] is not None:
            target = ChannelTarget(row["channel_id"], row["channel_kind"], row["channel_name"],
                                   _json(row["channel_settings"]) or {}, row["secret_nonce"])  # type: ignore[arg-type]
        claimed.append(ClaimedDelivery(row["delivery_id"], row["attempts"], target, Notice.from_row(row, public_url)))
    return claimed


async def finish_delivery(
    connection: asyncpg.Connection, delivery: ClaimedDelivery, now: datetime, error: str | None,
    duration_ms: float, max_attempts: int, retry_base: timedelta,
) -> str:
    """Record the attempt; the delivery is then sent, pending again (after a backoff) or failed. Returns it."""
    if error is None:
        status, next_at = "sent", now
    elif delivery.attempts >= max_attempts:
        status, next_at = "failed", now
    else:
        status, next_at = "pending", now + retry_base * (2 ** (delivery.attempts - 1))
    async with connection.transaction():
        await connection.execute(
            "UPDATE alert_deliveries SET status = $2, next_attempt_at = $3, last_error = $4,"
            " sent_at = CASE WHEN $2 = 'sent' THEN $5 ELSE sent_at END WHERE id = $1",
            delivery.id, status, next_at, error, now,
        )
        await connection.execute(
            "INSERT INTO alert_delivery_attempts (delivery_id, project_id, attempted_at, ok, error, duration_ms)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            delivery.id, delivery.notice.project_id, now, error is None, error, duration_ms,
        )
    return status
