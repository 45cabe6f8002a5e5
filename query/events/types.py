"""GraphQL types of the event log: a Relay-style connection of events."""

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from query.analytics import list_events

EventType = strawberry.enum(
    list_events.EventType, name="EventType", description="The Segment call that produced the event."
)


@strawberry.type
class Event:
    message_id: str
    type: EventType
    event: str = strawberry.field(description="Canonical name: the track name, or $pageview, $identify, ...")
    name: str = strawberry.field(description="Page or screen name, empty for other types.")
    anonymous_id: str | None
    user_id: str | None
    session_id: str | None
    timestamp: datetime = strawberry.field(description="When it happened, corrected for client clock skew.")
    received_at: datetime
    properties: JSON
    context: JSON | None


@strawberry.type
class EventEdge:
    cursor: str
    node: Event


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class EventConnection:
    edges: list[EventEdge]
    page_info: PageInfo

    @classmethod
    def from_page(cls, page: list_events.EventPage) -> "EventConnection":
        return cls(
            edges=[EventEdge(cursor=row.cursor, node=_event(row)) for row in page.events],
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        )


def _event(row: list_events.EventRow) -> Event:
    return Event(
        message_id=row.message_id,
        type=row.type,
        event=row.event,
        name=row.name,
        anonymous_id=row.anonymous_id,
        user_id=row.user_id,
        session_id=row.session_id,
        timestamp=row.event_time,
        received_at=row.received_at,
        properties=row.properties,
        context=row.context,
    )
