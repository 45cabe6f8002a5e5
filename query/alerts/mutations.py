"""Alerting mutations: rules and channels (ADMIN and DEVELOPER), testing a channel, marking notices read.

Failures are QueryErrors: BAD_USER_INPUT (a bad rule, series, detector, email or URL; a channel the project
may not use), NOT_FOUND (an id that is missing or another organization's), FORBIDDEN (a VIEWER, by the
permission classes; except marking notices read, which every reader may). A webhook channel's signing
secret is returned by `createAlertChannel` and `updateAlertChannel(rotateSecret: true)` only.
"""

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import httpx
import strawberry

from alerting.channels import ChannelTarget, Senders
from alerting.engine import public_url
from alerting.errors import DeliveryError
from alerting.evaluation import last_complete_bucket, read_values
from alerting.notices import Notice
from alerting.rules import Rule, detector_to_json, series_to_json
from alerting.signing import new_nonce, webhook_secret
from query.access import load_project, parse_id
from query.alerts.types import (
    AlertChannel,
    AlertChannelKind,
    AlertRule,
    AlertRuleInput,
    ChannelTestResult,
    SavedAlertChannel,
    clean_name,
    rule_from_input,
)
from query.context import QueryContext
from query.errors import BadUserInputError, NotFoundError
from query.permissions import CanManageAlerts, CanReadAnalytics, IsAuthenticated
from storage import alerts

logger = logging.getLogger(__name__)

MAX_RECIPIENTS = 50
# No brackets in the domain: Python's email package crashes (AttributeError) on an unclosed domain literal.
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>\[\]]+\.[^@\s,;<>\[\]]+$")


def _caller_org(info: strawberry.Info[QueryContext, None]) -> UUID:
    caller = info.context.user
    assert caller is not None  # the permission classes
    return caller.organization_id


async def _check_rule(connection: asyncpg.Connection, rule: Rule, organization_id: UUID, timezone: str) -> None:
    """Channels the project may use, and a series the trends engine accepts (read over one bucket)."""
    usable = {row.id for row in await alerts.list_channels(connection, organization_id, rule.project_id)}
    unknown = [str(item) for item in rule.channel_ids if item not in usable]
    if unknown:
        raise BadUserInputError(f"channelIds: no channel {', '.join(unknown)} for this project")
    bucket = last_complete_bucket(datetime.now(UTC), rule.interval, timezone, timedelta(0))
    await read_values(connection, rule.project_id, timezone, rule.series, rule.interval, bucket,
                      bucket + rule.interval.step)


def _channel_settings(kind: AlertChannelKind, emails: list[str] | None, url: str | None) -> dict[str, object]:
    if kind is AlertChannelKind.EMAIL:
        recipients = [address.strip() for address in emails or [] if address.strip()]
        if not recipients or len(recipients) > MAX_RECIPIENTS:
            raise BadUserInputError(f"an email channel needs 1 to {MAX_RECIPIENTS} recipients")
        bad = [address for address in recipients if not _EMAIL.match(address)]
        if bad:
            raise BadUserInputError(f"not an email address: {', '.join(bad)}")
        return {"to": recipients}
    if not url or not url.startswith(("https://", "http://")) or len(url) > 2000 or not _has_host(url):
        raise BadUserInputError("a Slack or webhook channel needs an http(s) URL")
    return {"url": url}


def _has_host(url: str) -> bool:
    # Parsed as the sender will post it: a URL httpx refuses would fail every delivery (and crash testChannel).
    try:
        return bool(httpx.URL(url).host)
    except httpx.InvalidURL:
        return False


async def _delete(info: strawberry.Info[QueryContext, None], id: strawberry.ID,
                  delete: Callable[[asyncpg.Connection, UUID, UUID], Awaitable[bool]], what: str) -> bool:
    async with info.context.pool.acquire() as connection:
        if not await delete(connection, parse_id(id, "id"), _caller_org(info)):
            raise NotFoundError(f"no {what} {id}")
    return True


@strawberry.type
class AlertsMutation:
    @strawberry.mutation(name="createAlertRule", description="A new rule on a trends series; evaluated at once, "
                         "then every `evaluateEverySeconds`.", permission_classes=[IsAuthenticated, CanManageAlerts])
    async def create_alert_rule(self, info: strawberry.Info[QueryContext, None], project_id: strawberry.ID,
                                rule: AlertRuleInput) -> AlertRule:
        project = await load_project(info.context, project_id)
        organization_id = _caller_org(info)
        candidate = rule_from_input(rule, project.id)
        async with info.context.pool.acquire() as connection:
            await _check_rule(connection, candidate, organization_id, project.timezone)
            rule_id = await alerts.insert_rule(
                connection, project.id, name=candidate.name, series=series_to_json(candidate.series),
                interval=candidate.interval.value, detector=detector_to_json(candidate.detector),
                evaluate_every_seconds=candidate.evaluate_every_seconds, cooldown_seconds=candidate.cooldown_seconds,
                channel_ids=list(candidate.channel_ids), enabled=candidate.enabled,
                created_by=info.context.user.user_id if info.context.user else None,
            )
            row = await alerts.find_rule(connection, rule_id, organization_id)
        assert row is not None
        logger.info("alert rule created", extra={"project_id": str(project.id), "rule_id": str(rule_id)})
        return AlertRule.from_row(row)

    @strawberry.mutation(name="updateAlertRule", description="Replace a rule's definition. A changed series, "
                         "interval or detector starts over from OK.", permission_classes=[IsAuthenticated,
                                                                                          CanManageAlerts])
    async def update_alert_rule(self, info: strawberry.Info[QueryContext, None], id: strawberry.ID,
                                rule: AlertRuleInput) -> AlertRule:
        organization_id = _caller_org(info)
        rule_id = parse_id(id, "id")
        async with info.context.pool.acquire() as connection:
            existing = await alerts.find_rule(connection, rule_id, organization_id)
            if existing is None:
                raise NotFoundError(f"no alert rule {id}")
            project = await load_project(info.context, str(existing.project_id))
            candidate = rule_from_input(rule, project.id, rule_id)
            await _check_rule(connection, candidate, organization_id, project.timezone)
            changes: dict[str, object] = {
                "name": candidate.name, "enabled": candidate.enabled,
                "evaluate_every_seconds": candidate.evaluate_every_seconds,
                "cooldown_seconds": candidate.cooldown_seconds, "channel_ids": list(candidate.channel_ids),
            }
            # Only a real change of what is watched restarts the rule's state.
            for column, value in (("series", series_to_json(candidate.series)),
                                  ("interval", candidate.interval.value),
                                  ("detector", detector_to_json(candidate.detector))):
                if value != getattr(existing, column):
                    changes[column] = value
            if not await alerts.update_rule(connection, rule_id, organization_id, changes):
                raise NotFoundError(f"no alert rule {id}")
            row = await alerts.find_rule(connection, rule_id, organization_id)
        if row is None:
            raise NotFoundError(f"no alert rule {id}")
        return AlertRule.from_row(row)

    @strawberry.mutation(name="deleteAlertRule", description="Delete a rule with its state and history.",
                         permission_classes=[IsAuthenticated, CanManageAlerts])
    async def delete_alert_rule(self, info: strawberry.Info[QueryContext, None], id: strawberry.ID) -> bool:
        return await _delete(info, id, alerts.delete_rule, "alert rule")

    @strawberry.mutation(name="createAlertChannel", description="A notification channel of the organization, or of "
                         "one project. EMAIL takes `emails`; SLACK (incoming webhook) and WEBHOOK take `url`.",
                         permission_classes=[IsAuthenticated, CanManageAlerts])
    async def create_alert_channel(self, info: strawberry.Info[QueryContext, None], kind: AlertChannelKind,
                                   name: str, project_id: strawberry.ID | None = None,
                                   emails: list[str] | None = None, url: str | None = None) -> SavedAlertChannel:
        organization_id = _caller_org(info)
        project = None if project_id is None else await load_project(info.context, project_id)
        settings = _channel_settings(kind, emails, url)
        nonce = new_nonce() if kind is AlertChannelKind.WEBHOOK else None
        async with info.context.pool.acquire() as connection:
            row = await alerts.insert_channel(connection, organization_id, None if project is None else project.id,
                                              kind.value, clean_name(name), settings, nonce)
        logger.info("alert channel created", extra={"channel_id": str(row.id), "kind": row.kind})
        secret = None if nonce is None else webhook_secret(info.context.settings.secret_key, nonce)
        return SavedAlertChannel(channel=AlertChannel.from_row(row), webhook_secret=secret)

    @strawberry.mutation(name="updateAlertChannel", description="Change a channel's name, recipients or URL; "
                         "`rotateSecret` gives a webhook a new signing secret (returned once).",
                         permission_classes=[IsAuthenticated, CanManageAlerts])
    async def update_alert_channel(self, info: strawberry.Info[QueryContext, None], id: strawberry.ID,
                                   name: str | None = None, emails: list[str] | None = None, url: str | None = None,
                                   rotate_secret: bool = False) -> SavedAlertChannel:
        organization_id = _caller_org(info)
        channel_id = parse_id(id, "id")
        async with info.context.pool.acquire() as connection:
            existing = await alerts.find_channel(connection, channel_id, organization_id)
            if existing is None:
                raise NotFoundError(f"no alert channel {id}")
            kind = AlertChannelKind(existing.kind)
            settings = None
            if emails is not None or url is not None:
                settings = _channel_settings(kind, emails, url)
            if rotate_secret and kind is not AlertChannelKind.WEBHOOK:
                raise BadUserInputError("only webhook channels have a signing secret")
            nonce = new_nonce() if rotate_secret else None
            row = await alerts.update_channel(connection, channel_id, organization_id,
                                              name=None if name is None else clean_name(name), settings=settings,
                                              secret_nonce=nonce)
        if row is None:
            raise NotFoundError(f"no alert channel {id}")
        secret = None if nonce is None else webhook_secret(info.context.settings.secret_key, nonce)
        return SavedAlertChannel(channel=AlertChannel.from_row(row), webhook_secret=secret)

    @strawberry.mutation(name="deleteAlertChannel", description="Delete a channel; rules stop using it.",
                         permission_classes=[IsAuthenticated, CanManageAlerts])
    async def delete_alert_channel(self, info: strawberry.Info[QueryContext, None], id: strawberry.ID) -> bool:
        return await _delete(info, id, alerts.delete_channel, "alert channel")

    @strawberry.mutation(name="testChannel", description="Send a sample notice through the channel now and say "
                         "whether it arrived (the error if not); nothing is retried.",
                         permission_classes=[IsAuthenticated, CanManageAlerts])
    async def test_channel(self, info: strawberry.Info[QueryContext, None], id: strawberry.ID,
                           project_id: strawberry.ID) -> ChannelTestResult:
        project = await load_project(info.context, project_id)
        organization_id = _caller_org(info)
        settings = info.context.settings
        async with info.context.pool.acquire() as connection:
            channel = await alerts.find_channel(connection, parse_id(id, "id"), organization_id)
            if channel is None or channel.project_id not in (None, project.id):
                raise NotFoundError(f"no alert channel {id}")
            event_id = await alerts.insert_test_event(connection, project.id, channel.name)
            row = await alerts.load_event(connection, event_id)
        notice = Notice.from_row(row, public_url(settings))
        target = ChannelTarget(channel.id, channel.kind, channel.name, channel.settings, channel.secret_nonce)
        async with httpx.AsyncClient(follow_redirects=False) as http:
            try:
                await Senders(settings, http).send(target, notice, event_id)
            except DeliveryError as error:
                return ChannelTestResult(ok=False, error=str(error))
        return ChannelTestResult(ok=True, error=None)

    @strawberry.mutation(name="markAlertEventsRead", description="Mark in-app notices read (all of the project's "
                         "when `ids` is null); returns how many were unread.",
                         permission_classes=[IsAuthenticated, CanReadAnalytics])
    async def mark_alert_events_read(self, info: strawberry.Info[QueryContext, None], project_id: strawberry.ID,
                                     ids: list[strawberry.ID] | None = None) -> int:
        project = await load_project(info.context, project_id)
        event_ids = None if ids is None else [parse_id(item, "ids") for item in ids]
        async with info.context.pool.acquire() as connection:
            return await alerts.mark_read(connection, project.id, event_ids)
