"""GraphQL types of the person journey and paths queries."""

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from query.analytics import get_journey, get_paths
from query.events.types import EventType

PathDirection = strawberry.enum(
    get_paths.PathDirection,
    name="PathDirection",
    description=(
        "NEXT: what persons did after their first start event in the range. PREVIOUS: what they did before their"
        " last one (step 1 is the nearest event before it)."
    ),
)


@strawberry.type(description="One event of a journey session.")
class JourneyEvent:
    message_id: str = strawberry.field(description="The client's unique id of the event.")
    type: EventType = strawberry.field(description="The Segment call that produced the event.")
    event: str = strawberry.field(description="Canonical name: the track name, or $pageview, $identify, ...")
    name: str = strawberry.field(description="Page or screen name, empty for other types.")
    time: datetime = strawberry.field(description="When it happened, corrected for client clock skew.")
    distinct_id: str = strawberry.field(description="Which of the person's ids the event was attributed to.")
    page_path: str | None = strawberry.field(description="Path of the page the event happened on, if known.")
    page_url: str | None = strawberry.field(description="URL of the page the event happened on, if known.")
    properties: JSON = strawberry.field(description="The event's properties.")

    @classmethod
    def from_result(cls, result: get_journey.JourneyEvent) -> "JourneyEvent":
        return cls(
            message_id=result.message_id, type=result.type, event=result.event, name=result.name, time=result.time,
            distinct_id=result.distinct_id, page_path=result.page_path, page_url=result.page_url,
            properties=result.properties,
        )


@strawberry.type(
    description=(
        "A session of the person (SDK session id, or events without 30 minutes of inactivity between them) with"
        " its first events in time order. Attributes come from the session's first event."
    )
)
class JourneySession:
    id: strawberry.ID = strawberry.field(description="The session's id.")
    cursor: str = strawberry.field(description="Pass as `before` to get the sessions after this one.")
    session_key: str | None = strawberry.field(description="The SDK's session id, when the events carried one.")
    started_at: datetime = strawberry.field(description="Time of the session's first event.")
    ended_at: datetime = strawberry.field(description="Time of the session's last event.")
    duration_seconds: float = strawberry.field(description="Last event time minus first event time.")
    event_count: int = strawberry.field(description="Events in the session, as the processor counted them.")
    pageview_count: int = strawberry.field(description="Page and screen views in the session.")
    is_bounce: bool = strawberry.field(description="The session has exactly one event.")
    entry_page: str | None = strawberry.field(description="Path (or screen name) of the first page view.")
    exit_page: str | None = strawberry.field(description="Path (or screen name) of the last page view.")
    entry_url: str | None = strawberry.field(description="URL of the first event.")
    referrer: str | None = strawberry.field(description="Referrer of the first event.")
    referrer_domain: str | None = strawberry.field(description="Domain of the referrer.")
    referrer_channel: str | None = strawberry.field(description="direct, search, social, email, paid or referral.")
    utm_source: str | None = strawberry.field(description="utm_source of the first event.")
    utm_medium: str | None = strawberry.field(description="utm_medium of the first event.")
    utm_campaign: str | None = strawberry.field(description="utm_campaign of the first event.")
    utm_term: str | None = strawberry.field(description="utm_term of the first event.")
    utm_content: str | None = strawberry.field(description="utm_content of the first event.")
    device_type: str | None = strawberry.field(description="desktop, mobile, tablet or other.")
    browser: str | None = strawberry.field(description="Browser of the first event.")
    os: str | None = strawberry.field(description="Operating system of the first event.")
    country: str | None = strawberry.field(description="ISO 3166-1 alpha-2 country of the first event.")
    region: str | None = strawberry.field(description="ISO 3166-2 subdivision of the first event.")
    city: str | None = strawberry.field(description="City of the first event.")
    events: list[JourneyEvent] = strawberry.field(
        description="The session's first events (up to eventsPerSession), by time then message id."
    )
    more_events: int = strawberry.field(description="The session's events beyond the ones returned.")

    @classmethod
    def from_result(cls, result: get_journey.JourneySession) -> "JourneySession":
        return cls(
            id=strawberry.ID(str(result.id)),
            cursor=result.cursor,
            session_key=result.session_key,
            started_at=result.started_at,
            ended_at=result.ended_at,
            duration_seconds=result.duration_seconds,
            event_count=result.event_count,
            pageview_count=result.pageview_count,
            is_bounce=result.is_bounce,
            **result.attributes,
            events=[JourneyEvent.from_result(event) for event in result.events],
            more_events=result.more_events,
        )


@strawberry.type(description="One person's sessions, newest first, each with its events in time order.")
class PersonJourney:
    person_id: strawberry.ID = strawberry.field(
        description="The person shown: the one asked for, or the person it was merged into."
    )
    requested_person_id: strawberry.ID = strawberry.field(description="The person id that was asked for.")
    merged: bool = strawberry.field(description="The person asked for was merged into `personId`.")
    distinct_ids: list[str] = strawberry.field(description="The person's distinct ids (user and anonymous ids).")
    sessions: list[JourneySession] = strawberry.field(description="This page of sessions, newest first.")
    has_more: bool = strawberry.field(description="Older sessions follow; pass `nextCursor` as `before`.")
    next_cursor: str | None = strawberry.field(description="Cursor of the page's last session when more follow.")

    @classmethod
    def from_result(cls, result: get_journey.PersonJourney) -> "PersonJourney":
        return cls(
            person_id=strawberry.ID(str(result.person_id)),
            requested_person_id=strawberry.ID(str(result.requested_person_id)),
            merged=result.person_id != result.requested_person_id,
            distinct_ids=result.distinct_ids,
            sessions=[JourneySession.from_result(session) for session in result.sessions],
            has_more=result.has_more,
            next_cursor=result.next_cursor,
        )


@strawberry.type(description="One distinct path and how many persons took it.")
class PathSequence:
    steps: list[str] = strawberry.field(
        description="The start event, then steps 1..k (consecutive repeats collapsed); for PREVIOUS, step 1 is the"
        " nearest event before the start event."
    )
    persons: int = strawberry.field(description="Persons whose path this is.")
    ended: bool = strawberry.field(
        description="The session (or the date range) ended before `depth` steps: the path is shorter than depth + 1."
    )


@strawberry.type(description="A Sankey edge: persons going from their step i-1 to their step i.")
class PathEdge:
    step: int = strawberry.field(description="i, 1..depth: the step the edge leads to.")
    source: str = strawberry.field(name="from", description="Event name of step i-1 (step 0: the start event).")
    target: str | None = strawberry.field(
        name="to", description="Event name of step i; null when the path ended before step i."
    )
    persons: int = strawberry.field(description="Persons taking this edge.")


@strawberry.type(description="The most common paths after (or before) a start event, and the Sankey edges.")
class Paths:
    persons: int = strawberry.field(description="Persons with the start event in the range (each has one path).")
    paths: list[PathSequence] = strawberry.field(
        description="The most common paths, most persons first; ties by steps in byte order, shorter first."
    )
    edges: list[PathEdge] = strawberry.field(
        description=f"Per step, at most {get_paths.MAX_EDGES_PER_STEP} edges with the most persons, by step."
    )

    @classmethod
    def from_result(cls, result: get_paths.Paths) -> "Paths":
        return cls(
            persons=result.persons,
            paths=[PathSequence(steps=path.steps, persons=path.persons, ended=path.ended) for path in result.paths],
            edges=[
                PathEdge(step=edge.step, source=edge.source, target=edge.target, persons=edge.persons)
                for edge in result.edges
            ],
        )
