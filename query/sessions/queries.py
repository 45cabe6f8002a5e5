"""Sessions summary query."""

from collections.abc import Iterable, Iterator

import strawberry
from strawberry.types.nodes import SelectedField, Selection

from query.access import load_project
from query.analytics.get_sessions import DEFAULT_LIMIT, SummaryPart, get_sessions
from query.context import QueryContext
from query.permissions import CanReadAnalytics, IsAuthenticated
from query.sessions.types import SessionDimension, SessionFilterInput, SessionsSummary
from query.trends.types import DateRangeInput, Interval


@strawberry.type
class SessionsQuery:
    @strawberry.field(
        description=(
            "Sessions whose start lies in the date range [from, to): totals, an optional breakdown by one session"
            " dimension (top breakdownLimit values plus Other), an optional series by interval in the project's"
            " timezone, and the top entry and exit pages. Bots have no sessions. The range may span at most"
            " two years; the limits are 1 to 100."
        ),
        permission_classes=[IsAuthenticated, CanReadAnalytics],
    )
    async def sessions_summary(
        self,
        info: strawberry.Info[QueryContext, None],
        project_id: strawberry.ID,
        date_range: DateRangeInput,
        filters: list[SessionFilterInput] | None = None,
        breakdown: SessionDimension | None = None,
        breakdown_limit: int = DEFAULT_LIMIT,
        interval: Interval | None = None,
        pages_limit: int = DEFAULT_LIMIT,
    ) -> SessionsSummary:
        project = await load_project(info.context, project_id)
        async with info.context.pool.acquire() as connection:
            result = await get_sessions(
                connection,
                project_id=project.id,
                timezone=project.timezone,
                date_from=date_range.from_,
                date_to=date_range.to,
                filters=[item.to_filter() for item in filters or []],
                breakdown=breakdown,
                breakdown_limit=breakdown_limit,
                interval=interval,
                pages_limit=pages_limit,
                distribution=_parts_wanting_distribution(info.selected_fields),
            )
        return SessionsSummary.from_result(result)


_DISTRIBUTION_FIELDS = frozenset({"persons", "medianDurationSeconds"})
"""Statistics the hourly rollup cannot sum: a part asking for either reads every session of the range."""

_PARTS = {
    "totals": SummaryPart.TOTALS,
    "breakdown": SummaryPart.BREAKDOWN,
    "series": SummaryPart.SERIES,
    "entryPages": SummaryPart.ENTRY_PAGES,
    "exitPages": SummaryPart.EXIT_PAGES,
}


def _parts_wanting_distribution(selected: Iterable[Selection]) -> frozenset[SummaryPart]:
    """The summary's parts whose selection asks for distinct persons or medians."""
    return frozenset(
        _PARTS[field.name]
        for summary in _fields(selected)
        for field in _fields(summary.selections)
        if field.name in _PARTS and _selects_any(field.selections, _DISTRIBUTION_FIELDS)
    )


def _fields(selections: Iterable[Selection]) -> Iterator[SelectedField]:
    """The fields of a selection, those inside fragments included."""
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        else:
            yield from _fields(selection.selections)


def _selects_any(selections: Iterable[Selection], names: frozenset[str]) -> bool:
    """Whether the selection (fragments included, at any depth) asks for a field of one of these names."""
    for selection in selections:
        if isinstance(selection, SelectedField) and selection.name in names:
            return True
        if _selects_any(selection.selections, names):
            return True
    return False
