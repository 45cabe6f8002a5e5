"""Real-time query."""

from typing import Annotated

import strawberry

from query.access import load_project
from query.analytics.get_realtime import get_realtime
from query.context import QueryContext
from query.permissions import CanReadAnalytics, IsAuthenticated
from query.realtime.types import Realtime


@strawberry.type
class RealtimeQuery:
    @strawberry.field(
        description=(
            "Persons active in the last 5 minutes and events per minute over the last 30 (bots excluded), as of the"
            " database clock."
        ),
        permission_classes=[IsAuthenticated, CanReadAnalytics],
    )
    async def realtime(
        self,
        info: strawberry.Info[QueryContext, None],
        project_id: Annotated[strawberry.ID, strawberry.argument(description="The project.")],
    ) -> Realtime:
        project = await load_project(info.context, project_id)
        async with info.context.pool.acquire() as connection:
            result = await get_realtime(connection, project_id=project.id)
        return Realtime.from_result(result)
