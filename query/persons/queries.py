"""Persons queries: the project's persons (paged, searchable), one person, and the project's trait mappings.

Pages are cut by keyset on (created_at, id), newest first, never OFFSET; the cursor is
opaque to clients: base64 of the last person's created_at and id. Merged persons are
not listed; asking for one by id answers with the person it was merged into.
"""

import base64
import binascii
import json
from datetime import datetime
from uuid import UUID

import strawberry

from query.access import load_project, parse_id
from query.context import QueryContext
from query.errors import BadUserInputError, NotFoundError
from query.events.types import PageInfo
from query.permissions import CanReadAnalytics, IsAuthenticated
from query.persons.types import Person, PersonConnection, PersonEdge, TraitMapping
from storage import persons

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_SEARCH_LENGTH = 200
"""Longest search text: longer is no longer a search, and each character costs a regex branch."""


def encode_cursor(created_at: datetime, person_id: UUID) -> str:
    payload = json.dumps([created_at.isoformat(), str(person_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        created_text, id_text = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        created_at = datetime.fromisoformat(created_text)
        person_id = UUID(id_text)
    except (binascii.Error, ValueError, TypeError, UnicodeError, AttributeError):
        raise BadUserInputError("malformed cursor") from None
    if created_at.tzinfo is None:
        raise BadUserInputError("malformed cursor")
    return created_at, person_id


def search_text(search: str | None) -> str | None:
    """The persons search as given (GraphQL and the CSV export): trimmed, bounded, None for every person."""
    if search is None:
        return None
    text = search.strip()
    if len(text) > MAX_SEARCH_LENGTH:
        raise BadUserInputError(f"search must be at most {MAX_SEARCH_LENGTH} characters")
    if "\x00" in text:
        raise BadUserInputError("search may not contain NUL characters")
    # An empty search asks for nothing in particular: every person.
    return text or None


@strawberry.type
class PersonsQuery:
    @strawberry.field(
        description="The project's persons, newest first; `search` keeps those with a distinct id or a trait "
        "value containing it (ignoring case). Persons merged into others are not listed.",
        permission_classes=[IsAuthenticated, CanReadAnalytics],
    )
    async def persons(
        self,
        info: strawberry.Info[QueryContext, None],
        project_id: strawberry.ID,
        search: str | None = None,
        first: int | None = DEFAULT_PAGE_SIZE,
        after: str | None = None,
    ) -> PersonConnection:
        project = await load_project(info.context, project_id)
        # An explicit null means "the default", as if the argument were left out.
        count = DEFAULT_PAGE_SIZE if first is None else first
        if not 1 <= count <= MAX_PAGE_SIZE:
            raise BadUserInputError(f"first must be between 1 and {MAX_PAGE_SIZE}, got {count}")
        keyset = None if after is None else decode_cursor(after)
        async with info.context.pool.acquire() as connection:
            page = await persons.list_persons(connection, project.id, first=count, after=keyset,
                                              search=search_text(search))
        edges = [PersonEdge(cursor=encode_cursor(row.created_at, row.id), node=Person.from_row(row, project.id))
                 for row in page.persons]
        return PersonConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=edges[-1].cursor if edges else None),
        )

    @strawberry.field(
        description="One person of the project; the id of a person merged into another answers with that other.",
        permission_classes=[IsAuthenticated, CanReadAnalytics],
    )
    async def person(self, info: strawberry.Info[QueryContext, None], project_id: strawberry.ID,
                     id: strawberry.ID) -> Person:
        project = await load_project(info.context, project_id)
        person_id = parse_id(id, "id")
        async with info.context.pool.acquire() as connection:
            row = await persons.find_person(connection, project.id, person_id)
        if row is None:
            raise NotFoundError(f"no person {id}")
        return Person.from_row(row, project.id)

    @strawberry.field(
        name="traitMappings",
        description="The project's trait mappings (event property -> person trait), by event and property.",
        permission_classes=[IsAuthenticated, CanReadAnalytics],
    )
    async def trait_mappings(self, info: strawberry.Info[QueryContext, None],
                             project_id: strawberry.ID) -> list[TraitMapping]:
        project = await load_project(info.context, project_id)
        async with info.context.pool.acquire() as connection:
            rows = await persons.list_trait_mappings(connection, project.id)
        return [TraitMapping.from_row(row) for row in rows]
