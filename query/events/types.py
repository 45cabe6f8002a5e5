"""GraphQL types of the event log: a Relay-style connection of events."""

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from query.analytics import list_events

EventType = strawberry.enum(
    list_events.EventType, name="EventType", description="The Segment call that produced the event."
)


@strawberry.type(description="What ingest derived from the event's context; null: not known.")
class EventEnrichment:
    browser: str | None
    browser_version: str | None
    os: str | None
    os_version: str | None
    device_type: str | None = strawberry.field(description="desktop, mobile, tablet, bot or other.")
    country: str | None = strawberry.field(description="ISO 3166-1 alpha-2, from the IP address.")
    region: str | None = strawberry.field(description="ISO 3166-2 subdivision code, without the country.")
    city: str | None
    referrer_domain: str | None
    referrer_channel: str | None = strawberry.field(description="direct, search, social, email, paid or referral.")
    is_bot: bool = strawberry.field(description="A crawler or automation user agent; excluded from analytics.")


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
    distinct_id: str | None = strawberry.field(
        description="The id the event is attributed to: user_id when known, else anonymous_id."
    )
    traits: JSON | None = strawberry.field(description="Traits of identify and group events.")
    group_id: str | None
    previous_id: str | None
    enrichment: EventEnrichment
    schema_violation: str | None = strawberry.field(
        description="Set when the event broke its event schema in WARN mode: the failing path and rule."
    )


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
        distinct_id=row.distinct_id,
        traits=row.traits,
        group_id=row.group_id,
        previous_id=row.previous_id,
        enrichment=EventEnrichment(**(row.enrichment or {})),
        schema_violation=row.schema_violation,
    )
