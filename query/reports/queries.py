"""Report schedule queries: a project's schedules (every role; reading them is analytics) and the members a
manager may choose as recipients."""

import strawberry

from query.access import load_project
from query.context import QueryContext
from query.permissions import CanManageReports, CanReadAnalytics, IsAuthenticated, require_user
from query.reports.types import ReportRecipient, ReportSchedule
from storage.members import list_members
from storage.report_schedules import list_schedules


@strawberry.type
class ReportsQuery:
    @strawberry.field(name="reportSchedules", description="The project's scheduled email reports, oldest first.",
                      permission_classes=[IsAuthenticated, CanReadAnalytics])
    async def report_schedules(self, info: strawberry.Info[QueryContext, None],
                               project_id: strawberry.ID) -> list[ReportSchedule]:
        project = await load_project(info.context, project_id)
        caller = require_user(info.context)
        async with info.context.pool.acquire() as connection:
            rows = await list_schedules(connection, project.id)
            members = {member.id: (member.email, member.name)
                       for member in await list_members(connection, caller.organization_id)}
        return [ReportSchedule.from_row(row, members) for row in rows]

    @strawberry.field(name="reportRecipients", description="The organization's members, who may receive reports.",
                      permission_classes=[IsAuthenticated, CanManageReports])
    async def report_recipients(self, info: strawberry.Info[QueryContext, None]) -> list[ReportRecipient]:
        caller = require_user(info.context)
        members = await list_members(info.context.pool, caller.organization_id)
        return [ReportRecipient(id=strawberry.ID(str(member.id)), email=member.email, name=member.name)
                for member in members]
