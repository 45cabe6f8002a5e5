"""GraphQL type of the live counters."""

from datetime import datetime

import strawberry


@strawberry.type(description="What is happening in a project right now, kept current.")
class LiveCounters:
    now: datetime = strawberry.field(description="The database clock the active persons were counted at.")
    active_persons: int = strawberry.field(
        description="Distinct persons with a non-bot event in the last 5 minutes (as the realtime query counts)."
    )
    events_per_second: float = strawberry.field(
        description="Non-bot events stored per second over the last windowSeconds; until the subscription has"
        " watched that long, the part before it is filled in at the previous minute's rate."
    )
    window_seconds: float
