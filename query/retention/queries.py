"""Retention and active-users queries."""

import strawberry

from query.access import load_project
from query.analytics.get_active_users import get_active_users
from query.analytics.get_retention import EventSpec, get_retention
from query.context import QueryContext
from query.permissions import CanReadAnalytics, IsAuthenticated
from query.retention.types import ActiveUsersDay, RetentionCohort, RetentionMode, RetentionPeriod
from query.trends.types import DateRangeInput, PropertyFilterInput


@strawberry.type
class RetentionQuery:
    @strawberry.field(
        description=(
            "One cohort per period the date range touches: the persons whose start event falls in it (see"
            " RetentionMode), and for k = 0..periods-1 how many of them did the return event in the k-th period"
            " after it. k = 0 counts a return event anywhere in the cohort's own period. Later periods may lie"
            " after the range's end; periods that have not begun yet are left out."
        ),
        permission_classes=[IsAuthenticated, CanReadAnalytics],
    )
    async def retention(
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
    ) -> list[RetentionCohort]:
        project = await load_project(info.context, project_id)
        async with info.context.pool.acquire() as connection:
            results = await get_retention(
                connection,
                project_id=project.id,
                timezone=project.timezone,
                start=EventSpec(start_event, tuple(item.to_filter() for item in start_filters or [])),
                returning=EventSpec(return_event, tuple(item.to_filter() for item in return_filters or [])),
                period=period,
                periods=periods,
                date_from=date_range.from_,
                date_to=date_range.to,
                mode=mode,
            )
        return [RetentionCohort.from_result(result) for result in results]


@strawberry.type
class ActiveUsersQuery:
    @strawberry.field(
        description=(
            "For every local day the date range touches: DAU, WAU and MAU (distinct persons active that day and in"
            " the trailing 7 and 30 days ending it) and stickiness DAU/MAU. Bots are excluded."
        ),
        permission_classes=[IsAuthenticated, CanReadAnalytics],
    )
    async def active_users(
        self,
        info: strawberry.Info[QueryContext, None],
        project_id: strawberry.ID,
        date_range: DateRangeInput,
        event: str | None = None,
        filters: list[PropertyFilterInput] | None = None,
    ) -> list[ActiveUsersDay]:
        project = await load_project(info.context, project_id)
        async with info.context.pool.acquire() as connection:
            results = await get_active_users(
                connection,
                project_id=project.id,
                timezone=project.timezone,
                date_from=date_range.from_,
                date_to=date_range.to,
                event=event,
                filters=[item.to_filter() for item in filters or []],
            )
        return [ActiveUsersDay.from_result(result) for result in results]
