"""Destination queries: the project's destinations with their delivery state, recent failures, dead letters.

Only roles that manage destinations (ADMIN, DEVELOPER) may read them: they are integration settings, not analytics.
"""

import strawberry

from query.access import load_project, parse_id
from query.context import QueryContext
from query.destinations.types import DeadLetter, DeadLetterPage, Destination, DestinationFailure
from query.errors import BadUserInputError, NotFoundError
from query.permissions import CanManageDestinations, IsAuthenticated
from storage import destinations

MAX_PAGE = 200
MAX_FAILURES = 100


def _caller_org(info: strawberry.Info[QueryContext, None]):
    caller = info.context.user
    assert caller is not None  # the permission classes
    return caller.organization_id


async def load_destination(info: strawberry.Info[QueryContext, None], id: str,
                           argument: str = "id") -> destinations.DestinationRow:
    """The destination `id` names, if its project is the caller's organization's; NOT_FOUND otherwise."""
    async with info.context.pool.acquire() as connection:
        row = await destinations.find_destination(connection, parse_id(id, argument), _caller_org(info))
    if row is None:
        raise NotFoundError(f"no destination {id}")
    return row


@strawberry.type
class DestinationsQuery:
    @strawberry.field(name="destinations", description="The project's destinations with their delivery state.",
                      permission_classes=[IsAuthenticated, CanManageDestinations])
    async def destinations(self, info: strawberry.Info[QueryContext, None],
                           project_id: strawberry.ID) -> list[Destination]:
        project = await load_project(info.context, project_id)
        async with info.context.pool.acquire() as connection:
            return [Destination.from_row(row) for row in await destinations.list_destinations(connection, project.id)]

    @strawberry.field(name="destination", permission_classes=[IsAuthenticated, CanManageDestinations])
    async def destination(self, info: strawberry.Info[QueryContext, None], id: strawberry.ID) -> Destination:
        return Destination.from_row(await load_destination(info, id))

    @strawberry.field(name="destinationFailures", description="Failed attempts, newest first (the last 100 kept).",
                      permission_classes=[IsAuthenticated, CanManageDestinations])
    async def destination_failures(self, info: strawberry.Info[QueryContext, None], destination_id: strawberry.ID,
                                   limit: int = 20) -> list[DestinationFailure]:
        if not 1 <= limit <= MAX_FAILURES:
            raise BadUserInputError(f"limit must be between 1 and {MAX_FAILURES}")
        row = await load_destination(info, destination_id, "destinationId")
        async with info.context.pool.acquire() as connection:
            failures = await destinations.list_failures(connection, row.id, limit)
        return [
            DestinationFailure(at=item["at"], delivery_id=strawberry.ID(str(item["delivery_id"])),
                               attempt=item["attempt"], events=item["events"], status_code=item["status_code"],
                               error=item["error"])
            for item in failures
        ]

    @strawberry.field(name="destinationDeadLetters", description="Parked batches, oldest first (the order they were "
                      "first sent); `after` is the previous page's `nextCursor`.",
                      permission_classes=[IsAuthenticated, CanManageDestinations])
    async def destination_dead_letters(self, info: strawberry.Info[QueryContext, None],
                                       destination_id: strawberry.ID, first: int = 50,
                                       after: strawberry.ID | None = None) -> DeadLetterPage:
        if not 1 <= first <= MAX_PAGE:
            raise BadUserInputError(f"first must be between 1 and {MAX_PAGE}")
        cursor = None
        if after is not None:
            if not str(after).isdigit() or len(str(after)) > 18:
                raise BadUserInputError(f"after {after!r} is not a cursor of this list")
            cursor = int(after)
        row = await load_destination(info, destination_id, "destinationId")
        async with info.context.pool.acquire() as connection:
            items = await destinations.list_dead_letters(connection, row.id, limit=first + 1, after=cursor)
        page = items[:first]
        return DeadLetterPage(
            items=[DeadLetter(id=strawberry.ID(str(item["id"])), delivery_id=strawberry.ID(str(item["delivery_id"])),
                              events=item["events"], attempts=item["attempts"], last_error=item["last_error"],
                              first_attempt_at=item["first_attempt_at"], parked_at=item["parked_at"],
                              retried_at=item["retried_at"]) for item in page],
            total=row.dead_letters,
            next_cursor=strawberry.ID(str(page[-1]["id"])) if len(items) > first else None,
        )
