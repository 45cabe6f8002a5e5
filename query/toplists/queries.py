"""Top lists query."""

import strawberry

from query.access import load_project
from query.analytics.get_top_values import DEFAULT_LIMIT, get_top_values
from query.context import QueryContext
from query.permissions import CanReadAnalytics, IsAuthenticated
from query.toplists.types import TopDimension, TopValues
from query.trends.types import DateRangeInput, PropertyFilterInput


@strawberry.type
class TopListsQuery:
    @strawberry.field(
        description=(
            "The top `limit` (1 to 100) values of one dimension over the events of the date range [from, to),"
            " each with its events and distinct persons; bots excluded. `event` restricts the events (required"
            " for EVENT_PROPERTY; PAGE always counts $pageview). The range may span at most two years."
        ),
        permission_classes=[IsAuthenticated, CanReadAnalytics],
    )
    async def top_values(
        self,
        info: strawberry.Info[QueryContext, None],
        project_id: strawberry.ID,
        date_range: DateRangeInput,
        dimension: TopDimension,
        event: str | None = None,
        property: str | None = None,
        filters: list[PropertyFilterInput] | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> TopValues:
        project = await load_project(info.context, project_id)
        async with info.context.pool.acquire() as connection:
            result = await get_top_values(
                connection,
                project_id=project.id,
                date_from=date_range.from_,
                date_to=date_range.to,
                dimension=dimension,
                event=event,
                property_key=property,
                filters=[item.to_filter() for item in filters or []],
                limit=limit,
            )
        return TopValues.from_result(result)
