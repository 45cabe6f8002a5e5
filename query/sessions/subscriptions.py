"""Live sessions summary: the sessions query, pushed again when events are stored (any event moves sessions)."""

from collections.abc import AsyncGenerator

import strawberry

from query.analytics.get_sessions import DEFAULT_LIMIT
from query.context import QueryContext
from query.live.results import live_results
from query.permissions import CanReadAnalytics, IsAuthenticated
from query.sessions.queries import SessionsQuery
from query.sessions.types import SessionDimension, SessionFilterInput, SessionsSummary
from query.trends.types import DateRangeInput, Interval


@strawberry.type
class SessionsSubscription:
    @strawberry.subscription(
        description=(
            "The `sessionsSummary` query (same arguments, same result), at once and again when events are stored:"
            " at most once a second, and only when the result changed."
        ),
        permission_classes=[IsAuthenticated, CanReadAnalytics],
    )
    async def live_sessions(
        self,
        info: strawberry.Info[QueryContext, None],
        project_id: strawberry.ID,
        date_range: DateRangeInput,
        filters: list[SessionFilterInput] | None = None,
        breakdown: SessionDimension | None = None,
        breakdown_limit: int = DEFAULT_LIMIT,
        interval: Interval | None = None,
        pages_limit: int = DEFAULT_LIMIT,
    ) -> AsyncGenerator[SessionsSummary, None]:
        async def run() -> SessionsSummary:
            return await SessionsQuery.sessions_summary(
                self, info, project_id, date_range, filters, breakdown, breakdown_limit, interval, pages_limit
            )

        async for result in live_results(info, project_id, run):
            yield result
