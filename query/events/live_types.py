"""GraphQL types of the live event feed."""

from datetime import UTC, datetime

import strawberry
from strawberry.scalars import JSON

from messaging.live import LiveEvent as NoticeEvent
from query.live.feed import EventMatcher, FeedBatch


@strawberry.input(description="A property of the live feed's events that must equal a value.")
class LivePropertyEqualsInput:
    key: str = strawberry.field(
        description="An event property, or an enriched one: $current_url, $pathname, $title, $referring_domain,"
        " $browser, $os, $device_type, $country, $city, $utm_source. The feed carries at most 16 of an event's own"
        " scalar properties, so only those can match."
    )
    value: JSON = strawberry.field(
        description="A string matches the property's text form, a number numerically, a boolean as a boolean."
    )


@strawberry.input(description="Which newly stored events the live feed shows; every given condition must hold.")
class LiveEventFilterInput:
    events: list[str] | None = strawberry.field(default=None, description="Event names; null or empty: all.")
    properties: list[LivePropertyEqualsInput] | None = None
    include_bots: bool = False

    def to_matcher(self) -> EventMatcher:
        return EventMatcher(
            names=frozenset(self.events or ()),
            equals={item.key: item.value for item in self.properties or []},
            include_bots=self.include_bots,
        )


@strawberry.type(description="One newly stored event, as the processor announced it.")
class LiveEvent:
    message_id: str
    event: str = strawberry.field(description="Canonical name: the track name, or $pageview, $identify, ...")
    distinct_id: str | None
    person_id: str | None = strawberry.field(description="The event's person; null for bots.")
    timestamp: datetime = strawberry.field(description="When it happened, corrected for client clock skew.")
    is_bot: bool
    properties: JSON = strawberry.field(
        description="A bounded subset: up to 16 of the event's own scalar properties (strings cut at 200"
        " characters) and the enriched ones that are known ($current_url, $browser, $country, ...)."
    )
    committed_at: datetime = strawberry.field(description="When the processor committed the event's batch.")

    @classmethod
    def from_notice(cls, event: NoticeEvent, committed_at: float) -> "LiveEvent":
        return cls(
            message_id=event.message_id,
            event=event.event,
            distinct_id=event.distinct_id,
            person_id=event.person_id,
            timestamp=event.timestamp,
            is_bot=event.is_bot,
            properties=dict(event.properties),
            committed_at=datetime.fromtimestamp(committed_at, UTC),
        )


@strawberry.type(description="Events stored since the previous push, oldest first.")
class LiveEventBatch:
    events: list[LiveEvent]
    missed: int = strawberry.field(
        description="Events of the project this subscription did not receive since the previous push: dropped"
        " because the client read too slowly, or left out of an oversized batch. They may not all match the"
        " filter."
    )

    @classmethod
    def from_batch(cls, batch: FeedBatch) -> "LiveEventBatch":
        return cls(
            events=[LiveEvent.from_notice(event, committed_at) for event, committed_at in batch.events],
            missed=batch.missed,
        )
