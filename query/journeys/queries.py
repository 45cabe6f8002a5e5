"""Person journey and paths queries."""

from typing import Annotated

import strawberry

from query.access import load_project, parse_id
from query.analytics.get_journey import DEFAULT_SESSIONS, MAX_EVENTS_PER_SESSION, MAX_SESSIONS, get_person_journey
from query.analytics.get_paths import MAX_DEPTH, MAX_LIMIT, get_paths
from query.context import QueryContext
from query.journeys.types import PathDirection, Paths, PersonJourney
from query.permissions import CanReadAnalytics, IsAuthenticated
from query.trends.types import DateRangeInput


@strawberry.type
class JourneysQuery:
    @strawberry.field(
        description=(
            "One person's sessions, newest first, each with its events (bots excluded) in time order. The id of a"
            " person merged into another answers with the surviving person's journey (see `merged`); an id the"
            " project does not know is NOT_FOUND."
        ),
        permission_classes=[IsAuthenticated, CanReadAnalytics],
    )
    async def person_journey(
        self,
        info: strawberry.Info[QueryContext, None],
        project_id: Annotated[strawberry.ID, strawberry.argument(description="The project.")],
        person_id: Annotated[
            strawberry.ID, strawberry.argument(description="A person of the project (a merged one resolves).")
        ],
        limit: Annotated[
            int, strawberry.argument(description=f"Sessions per page, 1..{MAX_SESSIONS}.")
        ] = DEFAULT_SESSIONS,
        before: Annotated[
            str | None,
            strawberry.argument(description="A session's cursor (or `nextCursor`): the sessions older than it."),
        ] = None,
        events_per_session: Annotated[
            int,
            strawberry.argument(
                description=f"Most events per session, 1..{MAX_EVENTS_PER_SESSION}; `moreEvents` counts the rest."
            ),
        ] = MAX_EVENTS_PER_SESSION,
    ) -> PersonJourney:
        project = await load_project(info.context, project_id)
        person = parse_id(person_id, "personId")
        async with info.context.pool.acquire() as connection:
            result = await get_person_journey(
                connection,
                project_id=project.id,
                person_id=person,
                limit=limit,
                before=before,
                events_per_session=events_per_session,
            )
        return PersonJourney.from_result(result)

    @strawberry.field(
        description=(
            "The most common paths after (NEXT) or before (PREVIOUS) a start event, and their Sankey edges. Per"
            " person: their first (NEXT) or last (PREVIOUS) start event in the range, then up to `depth` steps in"
            " the same session (a gap over 30 minutes ends it), consecutive repeats of an event collapsed into one"
            " step, ties in time broken by message id. Only events in the range are read; bots are excluded."
        ),
        permission_classes=[IsAuthenticated, CanReadAnalytics],
    )
    async def paths(
        self,
        info: strawberry.Info[QueryContext, None],
        project_id: Annotated[strawberry.ID, strawberry.argument(description="The project.")],
        date_range: Annotated[
            DateRangeInput, strawberry.argument(description="Only events in [from, to) are read, the anchor's too.")
        ],
        start_event: Annotated[str, strawberry.argument(description="The event name paths start (or end) at.")],
        direction: Annotated[
            PathDirection, strawberry.argument(description="NEXT: steps after the start event; PREVIOUS: before.")
        ] = PathDirection.NEXT,  # type: ignore[assignment]
        depth: Annotated[
            int, strawberry.argument(description=f"Steps after (or before) the start event, 1..{MAX_DEPTH}.")
        ] = 3,
        limit: Annotated[int, strawberry.argument(description=f"Most paths returned, 1..{MAX_LIMIT}.")] = 20,
    ) -> Paths:
        project = await load_project(info.context, project_id)
        async with info.context.pool.acquire() as connection:
            result = await get_paths(
                connection,
                project_id=project.id,
                date_from=date_range.from_,
                date_to=date_range.to,
                start_event=start_event,
                direction=direction,
                depth=depth,
                limit=limit,
            )
        return Paths.from_result(result)
