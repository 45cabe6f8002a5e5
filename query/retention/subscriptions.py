"""Live retention and active users: their queries, pushed again when events that count for them are stored."""

from collections.abc import AsyncGenerator

import strawberry

from query.context import QueryContext
from query.live.results import live_results
from query.permissions import CanReadAnalytics, IsAuthenticated
from query.retention.queries import ActiveUsersQuery, RetentionQuery
from query.retention.types import ActiveUsersDay, RetentionCohort, RetentionMode, RetentionPeriod
from query.trends.types import DateRangeInput, PropertyFilterInput


@strawberry.type
class RetentionSubscription:
    @strawberry.subscription(
        description=(
            "The `retention` query (same arguments, same result), at once and again when start or return events"
            " are stored: at most once a second, and only when the result changed."
        ),
        permission_classes=[IsAuthenticated, CanReadAnalytics],
    )
    async def live_retention(
        self,
        info: strawberry.Info[QueryContext, None],
        project_id: strawberry.ID,
        start_event: str,
        return_event: str,
        period: RetentionPeriod,
        periods: int,
        date_range: DateRangeInput,
        mode: RetentionMode = RetentionMode.RECURRING,  # type: ignore[assignment]
        start_filters: list[PropertyFilterInput] | None = None,
        return_filters: list[PropertyFilterInput] | None = None,
    ) -> AsyncGenerator[list[RetentionCohort], None]:
        async def run() -> list[RetentionCohort]:
            return await RetentionQuery.retention(
                self, info, project_id, start_event, return_event, period, periods, date_range, mode,
                start_filters, return_filters,
            )

        async for result in live_results(info, project_id, run, event_names=[start_event, return_event]):
            yield result


@strawberry.type
class ActiveUsersSubscription:
    @strawberry.subscription(
        description=(
            "The `activeUsers` query (same arguments, same result), at once and again when its events are stored:"
            " at most once a second, and only when the result changed."
        ),
        permission_classes=[IsAuthenticated, CanReadAnalytics],
    )
    async def live_active_users(
        self,
        info: strawberry.Info[QueryContext, None],
        project_id: strawberry.ID,
        date_range: DateRangeInput,
        event: str | None = None,
        filters: list[PropertyFilterInput] | None = None,
    ) -> AsyncGenerator[list[ActiveUsersDay], None]:
        async def run() -> list[ActiveUsersDay]:
            return await ActiveUsersQuery.active_users(self, info, project_id, date_range, event, filters)

        async for result in live_results(info, project_id, run, event_names=[event]):
            yield result
