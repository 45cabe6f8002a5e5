"""Report schedule mutations (ADMIN and DEVELOPER): create, update, delete, and send one now.

Failures are QueryErrors: BAD_USER_INPUT naming the field (a bad report, hour, weekday; a recipient who is
not a member; a channel that is not an email channel this project may use), NOT_FOUND (a schedule or project
that is missing or another organization's), FORBIDDEN (a VIEWER, by the permission class), RATE_LIMITED
(`sendReportNow` again within SEND_NOW_INTERVAL). A send that fails
is no error of the request: `sendReportNow` answers the schedule with `lastStatus: FAILED` and `lastError`.
"""

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import httpx
import strawberry

from alerting.channels import Senders
from alerting.errors import DeliveryError
from alerting.reports import SEND_TIMEOUT, send_report
from query.access import load_project, parse_id
from query.context import QueryContext
from query.errors import BadUserInputError, NotFoundError, RateLimitedError
from query.permissions import CanManageReports, IsAuthenticated, require_user
from query.reports.types import ReportSchedule, ReportScheduleInput, schedule_fields
from storage import alerts
from storage.members import list_members
from storage.report_schedules import (
    ScheduleFields,
    ScheduleRow,
    delete_schedule,
    find_schedule,
    insert_schedule,
    record_run,
    update_schedule,
)

logger = logging.getLogger(__name__)

SEND_NOW_INTERVAL = timedelta(seconds=30)
"""Shortest time between two sends of one schedule on request."""


async def _check_references(connection: asyncpg.Connection, fields: ScheduleFields, organization_id: UUID,
                            project_id: UUID) -> None:
    members = {member.id for member in await list_members(connection, organization_id)}
    strangers = [str(user_id) for user_id in fields.recipient_ids if user_id not in members]
    if strangers:
        raise BadUserInputError(f"recipientIds: not members of the organization: {', '.join(strangers)}")
    channel = await alerts.find_channel(connection, fields.channel_id, organization_id)
    if channel is None or channel.project_id not in (None, project_id):
        raise BadUserInputError(f"channelId: no channel {fields.channel_id} for this project")
    if channel.kind != "email":
        raise BadUserInputError(f"channelId: {channel.name!r} is a {channel.kind} channel; reports need an email one")


async def _answer(connection: asyncpg.Connection, schedule_id: UUID, organization_id: UUID) -> ReportSchedule:
    row = await find_schedule(connection, schedule_id, organization_id)
    if row is None:
        raise NotFoundError(f"no report schedule {schedule_id}")
    members = {member.id: (member.email, member.name) for member in await list_members(connection, organization_id)}
    return ReportSchedule.from_row(row, members)


async def _load(info: strawberry.Info[QueryContext, None], schedule_id: strawberry.ID,
                argument: str = "id") -> ScheduleRow:
    caller = require_user(info.context)
    row = await find_schedule(info.context.pool, parse_id(schedule_id, argument), caller.organization_id)
    if row is None:
        raise NotFoundError(f"no report schedule {schedule_id}")
    return row


@strawberry.type
class ReportsMutation:
    @strawberry.mutation(name="createReportSchedule", description="A report emailed as a PDF, daily or weekly.",
                         permission_classes=[IsAuthenticated, CanManageReports])
    async def create_report_schedule(self, info: strawberry.Info[QueryContext, None], project_id: strawberry.ID,
                                     schedule: ReportScheduleInput) -> ReportSchedule:
        project = await load_project(info.context, project_id)
        caller = require_user(info.context)
        fields = schedule_fields(schedule, project.timezone)
        async with info.context.pool.acquire() as connection:
            await _check_references(connection, fields, caller.organization_id, project.id)
            schedule_id = await insert_schedule(connection, project.id, fields, caller.user_id)
            answer = await _answer(connection, schedule_id, caller.organization_id)
        logger.info("report schedule created", extra={"project_id": str(project.id),
                                                      "schedule_id": str(schedule_id)})
        return answer

    @strawberry.mutation(name="updateReportSchedule", description="Replace a schedule's definition; its next run"
                         " is computed again from now.", permission_classes=[IsAuthenticated, CanManageReports])
    async def update_report_schedule(self, info: strawberry.Info[QueryContext, None], id: strawberry.ID,
                                     schedule: ReportScheduleInput) -> ReportSchedule:
        row = await _load(info, id)
        fields = schedule_fields(schedule, row.timezone)
        async with info.context.pool.acquire() as connection:
            await _check_references(connection, fields, row.organization_id, row.project_id)
            if not await update_schedule(connection, row.id, row.organization_id, fields):
                raise NotFoundError(f"no report schedule {id}")
            return await _answer(connection, row.id, row.organization_id)

    @strawberry.mutation(name="deleteReportSchedule", description="Delete a schedule; true when it existed.",
                         permission_classes=[IsAuthenticated, CanManageReports])
    async def delete_report_schedule(self, info: strawberry.Info[QueryContext, None], id: strawberry.ID) -> bool:
        row = await _load(info, id)
        async with info.context.pool.acquire() as connection:
            if not await delete_schedule(connection, row.id, row.organization_id):
                raise NotFoundError(f"no report schedule {id}")
        return True

    @strawberry.mutation(name="sendReportNow", description="Build the schedule's report for the range a run now would"
                         " cover and email it at once; the outcome is the answer's lastStatus and lastError. The"
                         " regular schedule is unchanged.", permission_classes=[IsAuthenticated, CanManageReports])
    async def send_report_now(self, info: strawberry.Info[QueryContext, None],
                              schedule_id: strawberry.ID) -> ReportSchedule:
        row = await _load(info, schedule_id, "scheduleId")
        now = datetime.now(UTC)
        # Every click mails every recipient: a double click (or a script) must not flood their inboxes.
        if row.last_run_at is not None and now - row.last_run_at < SEND_NOW_INTERVAL:
            wait = SEND_NOW_INTERVAL - (now - row.last_run_at)
            raise RateLimitedError(f"this report was sent less than {SEND_NOW_INTERVAL.seconds} s ago",
                                   max(1, int(wait.total_seconds())))
        error = None
        async with httpx.AsyncClient(follow_redirects=False) as http:
            try:
                async with asyncio.timeout(SEND_TIMEOUT.total_seconds()):
                    await send_report(info.context.pool, Senders(info.context.settings, http), info.context.settings,
                                      row, now)
            except DeliveryError as failure:
                error = str(failure)
            except TimeoutError:
                error = f"timed out after {SEND_TIMEOUT.total_seconds():.0f} s"
        await record_run(info.context.pool, row.id, datetime.now(UTC), error)
        logger.info("report sent on request", extra={"schedule_id": str(row.id), "ok": error is None})
        async with info.context.pool.acquire() as connection:
            return await _answer(connection, row.id, row.organization_id)
