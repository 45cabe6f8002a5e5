"""Live trends: the trends query, pushed again when events of its series are stored."""

from collections.abc import AsyncGenerator

import strawberry

from query.analytics.get_trends import DEFAULT_BREAKDOWN_LIMIT
from query.context import QueryContext
from query.live.results import live_results
from query.permissions import CanReadAnalytics, IsAuthenticated
from query.trends.queries import TrendsQuery
from query.trends.types import (
    BreakdownInput,
    DateRangeInput,
    Interval,
    PropertyFilterInput,
    SeriesInput,
    TrendSeries,
)


@strawberry.type
class TrendsSubscription:
    @strawberry.subscription(
        description=(
            "The `trends` query (same arguments, same result), at once and again when events of its series are"
            " stored: at most once a second, and only when the result changed."
        ),
        permission_classes=[IsAuthenticated, CanReadAnalytics],
    )
    async def live_trends(
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
    ) -> AsyncGenerator[list[TrendSeries], None]:
        async def run() -> list[TrendSeries]:
            return await TrendsQuery.trends(
                self, info, project_id, series, interval, date_range, filters, breakdown, breakdown_limit, compare
            )

        async for result in live_results(info, project_id, run, event_names=[item.event for item in series]):
            yield result
