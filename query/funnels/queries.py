"""Funnel queries."""

from datetime import timedelta

import strawberry

from query.access import load_project
from query.analytics.filters import PropertyRef
from query.analytics.get_funnel import (
    DEFAULT_DROPOFFS_PAGE,
    DEFAULT_WINDOW,
    FunnelSpec,
    get_funnel,
    get_funnel_dropoffs,
)
from query.analytics.get_trends import DEFAULT_BREAKDOWN_LIMIT
from query.context import QueryContext
from query.funnels.types import Funnel, FunnelDropoff, FunnelDropoffPage, FunnelMode, FunnelStepInput
from query.permissions import CanReadAnalytics, IsAuthenticated
from query.trends.types import BreakdownInput, DateRangeInput, PropertyFilterInput


def _spec(
    project_id: object,
    steps: list[FunnelStepInput],
    date_range: DateRangeInput,
    window_seconds: int,
    mode: object,
    filters: list[PropertyFilterInput] | None,
    breakdown: BreakdownInput | None,
    breakdown_limit: int,
) -> FunnelSpec:
    return FunnelSpec(
        project_id=project_id,  # type: ignore[arg-type]
        steps=tuple(step.to_spec() for step in steps),
        date_from=date_range.from_,
        date_to=date_range.to,
        window=timedelta(seconds=window_seconds),
        mode=mode,  # type: ignore[arg-type]
        filters=tuple(item.to_filter() for item in filters or []),
        breakdown=None if breakdown is None else PropertyRef(breakdown.key, breakdown.type),
        breakdown_limit=breakdown_limit,
    )


_DEFAULT_WINDOW_SECONDS = int(DEFAULT_WINDOW.total_seconds())


@strawberry.type
class FunnelsQuery:
    @strawberry.field(
        description=(
            "Persons through 2 to 10 ordered steps: step 1 inside the date range [from, to), each later step"
            " strictly after the previous one and at most windowSeconds after step 1 (the end is included)."
            " A person counts once, at the furthest step of any attempt."
        ),
        permission_classes=[IsAuthenticated, CanReadAnalytics],
    )
    async def funnel(
        self,
        info: strawberry.Info[QueryContext, None],
        project_id: strawberry.ID,
        steps: list[FunnelStepInput],
        date_range: DateRangeInput,
        window_seconds: int = _DEFAULT_WINDOW_SECONDS,
        mode: FunnelMode = FunnelMode.ORDERED,  # type: ignore[assignment]
        filters: list[PropertyFilterInput] | None = None,
        breakdown: BreakdownInput | None = None,
        breakdown_limit: int = DEFAULT_BREAKDOWN_LIMIT,
    ) -> Funnel:
        project = await load_project(info.context, project_id)
        spec = _spec(project.id, steps, date_range, window_seconds, mode, filters, breakdown, breakdown_limit)
        async with info.context.pool.acquire() as connection:
            result = await get_funnel(connection, spec)
        return Funnel.from_result(result)

    @strawberry.field(
        description="The persons whose furthest step is step - 1 (they reached it but not `step`), by person key.",
        permission_classes=[IsAuthenticated, CanReadAnalytics],
    )
    async def funnel_dropoffs(
        self,
        info: strawberry.Info[QueryContext, None],
        project_id: strawberry.ID,
        steps: list[FunnelStepInput],
        date_range: DateRangeInput,
        step: int,
        window_seconds: int = _DEFAULT_WINDOW_SECONDS,
        mode: FunnelMode = FunnelMode.ORDERED,  # type: ignore[assignment]
        filters: list[PropertyFilterInput] | None = None,
        first: int = DEFAULT_DROPOFFS_PAGE,
        after: str | None = None,
    ) -> FunnelDropoffPage:
        project = await load_project(info.context, project_id)
        spec = _spec(project.id, steps, date_range, window_seconds, mode, filters, None, DEFAULT_BREAKDOWN_LIMIT)
        async with info.context.pool.acquire() as connection:
            page = await get_funnel_dropoffs(connection, spec, step=step, first=first, after=after)
        return FunnelDropoffPage(
            persons=[
                FunnelDropoff(person_id=item.person_id, distinct_ids=item.distinct_ids, cursor=item.cursor)
                for item in page.persons
            ],
            has_next_page=page.has_next_page,
            end_cursor=page.end_cursor,
        )
