"""Live funnels: the funnel query, pushed again when events of its steps are stored."""

from collections.abc import AsyncGenerator

import strawberry

from query.analytics.get_funnel import DEFAULT_WINDOW
from query.analytics.get_trends import DEFAULT_BREAKDOWN_LIMIT
from query.context import QueryContext
from query.funnels.queries import FunnelsQuery
from query.funnels.types import Funnel, FunnelMode, FunnelStepInput
from query.live.results import live_results
from query.permissions import CanReadAnalytics, IsAuthenticated
from query.trends.types import BreakdownInput, DateRangeInput, PropertyFilterInput


@strawberry.type
class FunnelsSubscription:
    @strawberry.subscription(
        description=(
            "The `funnel` query (same arguments, same result), at once and again when events of its steps are"
            " stored: at most once a second, and only when the result changed."
        ),
        permission_classes=[IsAuthenticated, CanReadAnalytics],
    )
    async def live_funnel(
        self,
        info: strawberry.Info[QueryContext, None],
        project_id: strawberry.ID,
        steps: list[FunnelStepInput],
        date_range: DateRangeInput,
        window_seconds: int = int(DEFAULT_WINDOW.total_seconds()),
        mode: FunnelMode = FunnelMode.ORDERED,  # type: ignore[assignment]
        filters: list[PropertyFilterInput] | None = None,
        breakdown: BreakdownInput | None = None,
        breakdown_limit: int = DEFAULT_BREAKDOWN_LIMIT,
    ) -> AsyncGenerator[Funnel, None]:
        async def run() -> Funnel:
            return await FunnelsQuery.funnel(
                self, info, project_id, steps, date_range, window_seconds, mode, filters, breakdown, breakdown_limit
            )

        async for result in live_results(info, project_id, run, event_names=[step.event for step in steps]):
            yield result
