"""Trends queries."""

import strawberry

from query.access import load_project
from query.analytics.filters import PropertyRef
from query.analytics.get_trends import DEFAULT_BREAKDOWN_LIMIT, get_trends
from query.context import QueryContext
from query.permissions import CanReadAnalytics, IsAuthenticated
from query.trends.types import (
    BreakdownInput,
    DateRangeInput,
    Interval,
    PropertyFilterInput,
    SeriesInput,
    TrendSeries,
)


@strawberry.type
class TrendsQuery:
    @strawberry.field(
        description=(
            "Per series, one value for every bucket of the date range, zero-filled. With a breakdown, each series"
            " is split into its top `breakdownLimit` values by event count over the range, plus Other; with"
            " compare, every series is followed by the previous period's."
        ),
        permission_classes=[IsAuthenticated, CanReadAnalytics],
    )
    async def trends(
        self,
        info: strawberry.Info[QueryContext, None],
        project_id: strawberry.ID,
        series: list[SeriesInput],
        interval: Interval,
        date_range: DateRangeInput,
        filters: list[PropertyFilterInput] | None = None,
        breakdown: BreakdownInput | None = None,
        breakdown_limit: int = DEFAULT_BREAKDOWN_LIMIT,
        compare: bool = False,
    ) -> list[TrendSeries]:
        project = await load_project(info.context, project_id)
        async with info.context.pool.acquire() as connection:
            results = await get_trends(
                connection,
                project_id=project.id,
                timezone=project.timezone,
                series=[item.to_spec() for item in series],
                interval=interval,
                date_from=date_range.from_,
                date_to=date_range.to,
                filters=[item.to_filter() for item in filters or []],
                breakdown=None if breakdown is None else PropertyRef(breakdown.key, breakdown.type),
                breakdown_limit=breakdown_limit,
                compare=compare,
            )
        return [TrendSeries.from_result(result) for result in results]
