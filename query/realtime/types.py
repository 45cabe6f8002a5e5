"""GraphQL types of the real-time query."""

from datetime import datetime

import strawberry

from query.analytics import get_realtime


@strawberry.type(description="Events of one UTC minute.")
class MinuteEvents:
    minute: datetime = strawberry.field(description="Start of the minute.")
    events: int = strawberry.field(description="Non-bot events timed in that minute.")


@strawberry.type(description="What is happening right now in a project.")
class Realtime:
    now: datetime = strawberry.field(description="The database clock the answer was computed at.")
    active_persons: int = strawberry.field(
        description="Distinct persons with a non-bot event in (now - 5 minutes, now]; future-timed events do not count."
    )
    events_per_minute: list[MinuteEvents] = strawberry.field(
        description="30 minutes, oldest first, the last one the current (partial) minute; zero-filled."
    )
    total_events: int = strawberry.field(description="Sum of eventsPerMinute: non-bot events of those 30 minutes.")

    @classmethod
    def from_result(cls, result: get_realtime.Realtime) -> "Realtime":
        return cls(
            now=result.now,
            active_persons=result.active_persons,
            events_per_minute=[
                MinuteEvents(minute=item.minute, events=item.events) for item in result.events_per_minute
            ],
            total_events=result.total_events,
        )
