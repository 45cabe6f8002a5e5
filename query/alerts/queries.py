"""Alerting queries: rules, channels, in-app events, state history, deliveries, and backtests.

Reading alerts is analytics: every role may. Channels show masked URLs only.
"""

from datetime import datetime

import strawberry

from alerting.evaluation import backtest
from query.access import load_project, parse_id
from query.alerts.types import (
    AlertBacktest,
    AlertChannel,
    AlertDelivery,
    AlertEvent,
    AlertRule,
    AlertRuleInput,
    AlertState,
    AlertStateChange,
    BacktestPoint,
    rule_from_input,
)
from query.context import QueryContext
from query.errors import BadUserInputError, NotFoundError
from query.permissions import CanReadAnalytics, IsAuthenticated
from query.trends.types import DateRangeInput
from storage import alerts

MAX_LIST = 500


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIST:
        raise BadUserInputError(f"limit must be between 1 and {MAX_LIST}")
    return limit


def _id(value: object) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(str(value))


@strawberry.type
class AlertsQuery:
    @strawberry.field(name="alertRules", description="The project's alert rules with their current state.",
                      permission_classes=[IsAuthenticated, CanReadAnalytics])
    async def alert_rules(self, info: strawberry.Info[QueryContext, None],
                          project_id: strawberry.ID) -> list[AlertRule]:
        project = await load_project(info.context, project_id)
        async with info.context.pool.acquire() as connection:
            return [AlertRule.from_row(row) for row in await alerts.list_rules(connection, project.id)]

    @strawberry.field(name="alertRule", permission_classes=[IsAuthenticated, CanReadAnalytics])
    async def alert_rule(self, info: strawberry.Info[QueryContext, None], id: strawberry.ID) -> AlertRule:
        caller = info.context.user
        assert caller is not None  # IsAuthenticated
        async with info.context.pool.acquire() as connection:
            row = await alerts.find_rule(connection, parse_id(id, "id"), caller.organization_id)
        if row is None:
            raise NotFoundError(f"no alert rule {id}")
        return AlertRule.from_row(row)

    @strawberry.field(name="alertChannels", description="The organization's notification channels; with a project, "
                      "those its rules may use (organization-wide ones and its own).",
                      permission_classes=[IsAuthenticated, CanReadAnalytics])
    async def alert_channels(self, info: strawberry.Info[QueryContext, None],
                             project_id: strawberry.ID | None = None) -> list[AlertChannel]:
        caller = info.context.user
        assert caller is not None
        project = None if project_id is None else await load_project(info.context, project_id)
        async with info.context.pool.acquire() as connection:
            rows = await alerts.list_channels(connection, caller.organization_id,
                                              None if project is None else project.id)
        return [AlertChannel.from_row(row) for row in rows]

    @strawberry.field(name="alertEvents", description="The project's in-app alert notices, newest first.",
                      permission_classes=[IsAuthenticated, CanReadAnalytics])
    async def alert_events(self, info: strawberry.Info[QueryContext, None], project_id: strawberry.ID,
                           unread_only: bool = False, limit: int = 50,
                           before: datetime | None = None) -> list[AlertEvent]:
        project = await load_project(info.context, project_id)
        async with info.context.pool.acquire() as connection:
            rows = await alerts.list_events(connection, project.id, unread_only=unread_only, limit=_limit(limit),
                                            before=before)
        return [AlertEvent.from_row(row) for row in rows]

    @strawberry.field(name="unreadAlertCount", description="In-app notices not yet marked read: the unread badge.",
                      permission_classes=[IsAuthenticated, CanReadAnalytics])
    async def unread_alert_count(self, info: strawberry.Info[QueryContext, None], project_id: strawberry.ID) -> int:
        project = await load_project(info.context, project_id)
        async with info.context.pool.acquire() as connection:
            return await alerts.count_unread(connection, project.id)

    @strawberry.field(name="alertHistory", description="Every evaluation that changed a rule's state, newest first.",
                      permission_classes=[IsAuthenticated, CanReadAnalytics])
    async def alert_history(self, info: strawberry.Info[QueryContext, None], project_id: strawberry.ID,
                            rule_id: strawberry.ID | None = None, limit: int = 100) -> list[AlertStateChange]:
        project = await load_project(info.context, project_id)
        rule = None if rule_id is None else parse_id(rule_id, "ruleId")
        async with info.context.pool.acquire() as connection:
            rows = await alerts.list_state_changes(connection, project.id, rule, _limit(limit))
        return [
            AlertStateChange(
                rule_id=strawberry.ID(str(row["rule_id"])), rule_name=row["rule_name"],
                incident_id=_id(row["incident_id"]), from_state=AlertState(row["from_state"]),
                to_state=AlertState(row["to_state"]), at=row["at"], bucket=row["bucket"], value=row["value"],
                expected=row["expected"], lower=row["lower_bound"], upper=row["upper_bound"], reason=row["reason"],
            )
            for row in rows
        ]

    @strawberry.field(name="alertDeliveries", description="Notices sent, pending or failed per channel, newest "
                      "first; `failedOnly`: those with an error.",
                      permission_classes=[IsAuthenticated, CanReadAnalytics])
    async def alert_deliveries(self, info: strawberry.Info[QueryContext, None], project_id: strawberry.ID,
                               failed_only: bool = False, limit: int = 100) -> list[AlertDelivery]:
        project = await load_project(info.context, project_id)
        async with info.context.pool.acquire() as connection:
            rows = await alerts.list_deliveries(connection, project.id, failed_only=failed_only, limit=_limit(limit))
        return [
            AlertDelivery(
                id=strawberry.ID(str(row["id"])), event_id=strawberry.ID(str(row["event_id"])),
                event_kind=row["event_kind"], rule_name=row["rule_name"], channel_id=_id(row["channel_id"]),
                channel_name=row["channel_name"], channel_kind=row["channel_kind"], status=row["status"],
                attempts=row["attempts"], last_error=row["last_error"], created_at=row["created_at"],
                sent_at=row["sent_at"], next_attempt_at=row["next_attempt_at"],
            )
            for row in rows
        ]

    @strawberry.field(name="backtestAlert", description="Run a rule's detector over past data: every bucket of the "
                      "range judged from the data before it, for tuning before saving.",
                      permission_classes=[IsAuthenticated, CanReadAnalytics])
    async def backtest_alert(self, info: strawberry.Info[QueryContext, None], project_id: strawberry.ID,
                             rule: AlertRuleInput, date_range: DateRangeInput) -> AlertBacktest:
        project = await load_project(info.context, project_id)
        candidate = rule_from_input(rule, project.id)
        async with info.context.pool.acquire() as connection:
            judged = await backtest(connection, candidate, project.timezone, date_range.from_, date_range.to)
        points = [BacktestPoint.from_judged(item) for item in judged]
        fired_at = [point.bucket for index, point in enumerate(points)
                    if point.firing and (index == 0 or not points[index - 1].firing)]
        return AlertBacktest(points=points, fired_at=fired_at)
