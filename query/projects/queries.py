"""Projects queries: the caller's organization's projects, and a project's write keys."""

import strawberry

from query.access import load_project
from query.context import QueryContext
from query.permissions import CanManageKeys, IsAuthenticated
from query.projects.types import ApiKey, Project
from storage.api_keys import list_api_keys
from storage.projects import list_projects


@strawberry.type
class ProjectsQuery:
    @strawberry.field(description="The projects of the caller's organization, oldest first.",
                      permission_classes=[IsAuthenticated])
    async def projects(self, info: strawberry.Info[QueryContext, None]) -> list[Project]:
        caller = info.context.user
        assert caller is not None  # IsAuthenticated
        return [Project.from_row(row) for row in await list_projects(info.context.pool, caller.organization_id)]

    @strawberry.field(name="apiKeys", description="The project's write keys (never their secrets), oldest first.",
                      permission_classes=[CanManageKeys])
    async def api_keys(self, info: strawberry.Info[QueryContext, None], project_id: strawberry.ID) -> list[ApiKey]:
        project = await load_project(info.context, project_id)
        return [ApiKey.from_row(row) for row in await list_api_keys(info.context.pool, project.id)]
