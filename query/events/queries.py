"""Event log queries."""

from typing import Annotated

import strawberry

from query.access import load_project
from query.analytics.list_events import DEFAULT_PAGE_SIZE, list_events
from query.context import QueryContext
from query.events.types import EventConnection
from query.permissions import CanReadAnalytics, IsAuthenticated


@strawberry.type
class EventsQuery:
    @strawberry.field(
        description="The project's events, newest first (bots excluded unless includeBots).",
        permission_classes=[IsAuthenticated, CanReadAnalytics],
    )
    async def events(
        self,
        info: strawberry.Info[QueryContext, None],
        project_id: strawberry.ID,
        first: int | None = DEFAULT_PAGE_SIZE,
        after: str | None = None,
        include_bots: Annotated[bool, strawberry.argument(
            description="Also list events from bot user agents (hidden by default, like analytics)."
        )] = False,
    ) -> EventConnection:
        project = await load_project(info.context, project_id)
        async with info.context.pool.acquire() as connection:
            page = await list_events(
                connection,
                project_id=project.id,
                # An explicit null means "the default", as if the argument were left out.
                first=DEFAULT_PAGE_SIZE if first is None else first,
                after=after,
                include_bots=include_bots,
            )
        return EventConnection.from_page(page)
