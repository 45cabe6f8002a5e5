"""Trends queries."""

import strawberry

from query.access import load_project
from query.analytics.get_trends import SeriesSpec, get_trends
from query.context import QueryContext
from query.permissions import CanReadAnalytics, IsAuthenticated
from query.trends.types import DateRangeInput, Interval, SeriesInput, TrendSeries


@strawberry.type
class TrendsQuery:
    @strawberry.field(
        description="Per series, one value for every bucket of the date range, zero-filled.",
        permission_classes=[IsAuthenticated, CanReadAnalytics],
    )
    async def trends(
        self,
        info: strawberry.Info[QueryContext, None],
        project_id: strawberry.ID,
        series: list[SeriesInput],
        interval: Interval,
        date_range: DateRangeInput,
    ) -> list[TrendSeries]:
        project = await load_project(info.context, project_id)
        specs = [SeriesSpec(event=item.event, math=item.math, property_name=item.property) for item in series]
        async with info.context.pool.acquire() as connection:
            results = await get_trends(
                connection,
                project_id=project.id,
                timezone=project.timezone,
                series=specs,
                interval=interval,
                date_from=date_range.from_,
                date_to=date_range.to,
            )
        return [TrendSeries.from_result(result) for result in results]
