"""GraphQL types of persons: a Relay-style connection of persons, a person's sessions, and trait mappings."""

from datetime import datetime
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from query.context import QueryContext
from query.errors import BadUserInputError
from query.events.types import PageInfo
from storage import person_erasure, persons

DEFAULT_SESSIONS = 20
MAX_SESSIONS = 200


@strawberry.type(name="PersonSession", description="A visit of the person: events without 30 minutes of "
                 "inactivity between them, or the events carrying one SDK session id.")
class PersonSession:
    id: strawberry.ID
    session_key: str | None = strawberry.field(description="The SDK's session id, when the events carried one.")
    started_at: datetime
    ended_at: datetime
    duration_seconds: float = strawberry.field(description="Last event time minus first event time.")
    event_count: int
    pageview_count: int
    is_bounce: bool = strawberry.field(description="The session has exactly one event.")
    entry_page: str | None
    exit_page: str | None
    entry_url: str | None
    referrer: str | None
    referrer_domain: str | None
    referrer_channel: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    utm_term: str | None
    utm_content: str | None
    device_type: str | None
    browser: str | None
    os: str | None
    country: str | None
    region: str | None
    city: str | None

    @classmethod
    def from_row(cls, row: persons.SessionRow) -> "PersonSession":
        fields = {name: getattr(row, name) for name in row.__dataclass_fields__ if name != "id"}
        return cls(id=strawberry.ID(str(row.id)), **fields)


@strawberry.type(description="One human: the distinct ids (user and anonymous ids) known to be them, "
                 "and their merged identify traits.")
class Person:
    id: strawberry.ID
    distinct_ids: list[str]
    traits: JSON
    is_identified: bool = strawberry.field(description="A user id belongs to the person (not only anonymous ids).")
    first_seen: datetime
    last_seen: datetime
    created_at: datetime
    project_id: strawberry.Private[UUID]

    @classmethod
    def from_row(cls, row: persons.PersonRow, project_id: UUID) -> "Person":
        return cls(id=strawberry.ID(str(row.id)), distinct_ids=row.distinct_ids, traits=row.traits,
                   is_identified=row.is_identified, first_seen=row.first_seen, last_seen=row.last_seen,
                   created_at=row.created_at, project_id=project_id)

    @strawberry.field(description=f"The person's latest sessions, newest first (at most {MAX_SESSIONS}).")
    async def sessions(self, info: strawberry.Info[QueryContext, None],
                       first: int | None = DEFAULT_SESSIONS) -> list[PersonSession]:
        count = DEFAULT_SESSIONS if first is None else first
        if not 1 <= count <= MAX_SESSIONS:
            raise BadUserInputError(f"first must be between 1 and {MAX_SESSIONS}, got {count}")
        async with info.context.pool.acquire() as connection:
            rows = await persons.list_person_sessions(connection, self.project_id, UUID(self.id), first=count)
        return [PersonSession.from_row(row) for row in rows]


@strawberry.type
class PersonEdge:
    cursor: str
    node: Person


@strawberry.type
class PersonConnection:
    edges: list[PersonEdge]
    page_info: PageInfo


@strawberry.type(description="An event property that becomes a person trait: when `event` arrives, the value at "
                 "`property` (a dotted path into its properties) is set as the person's `trait`.")
class TraitMapping:
    event: str
    property: str
    trait: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: persons.TraitMapping) -> "TraitMapping":
        return cls(event=row.event, property=row.property, trait=row.trait, created_at=row.created_at)


@strawberry.type(description="What erasing a person deleted. The person's id no longer resolves; a record of the "
                 "erasure (who, when, these counts; no personal data) is kept.")
class PersonErasure:
    person_id: strawberry.ID = strawberry.field(description="The erased person (the survivor of any merges).")
    erased_at: datetime
    persons: int = strawberry.field(description="Persons deleted: the person and every person merged into it.")
    distinct_ids: int = strawberry.field(description="Distinct ids (user and anonymous ids) deleted.")
    events: int = strawberry.field(description="Events deleted.")
    sessions: int

    @classmethod
    def from_erasure(cls, erasure: person_erasure.Erasure) -> "PersonErasure":
        return cls(person_id=strawberry.ID(str(erasure.person_id)), erased_at=erasure.erased_at,
                   persons=erasure.persons, distinct_ids=erasure.distinct_ids, events=erasure.events,
                   sessions=erasure.sessions)
