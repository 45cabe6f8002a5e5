"""Generated events, written the way the processor writes them: log rows plus the minute rollup."""

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

TYPE_OF_EVENT = {"$pageview": 2, "$screen": 3, "$identify": 4, "$groupidentify": 5, "$create_alias": 6}
"""Proto enum number of `events.type` for the canonical names that are not track calls."""

EVENT_NAMES = ("signup", "purchase", "$pageview", "$identify", "clicked button")


@dataclass(frozen=True)
class GeneratedEvent:
    event_time: datetime
    message_id: str
    event: str
    properties: dict = field(default_factory=dict)

    @property
    def type(self) -> int:
        return TYPE_OF_EVENT.get(self.event, 1)


def random_events(rng: random.Random, center: datetime, count: int) -> list[GeneratedEvent]:
    """Events around `center`: dense near it, spread over days, thin over months, some on exact minutes."""
    events = []
    for index in range(count):
        roll = rng.random()
        if roll < 0.10:
            offset = timedelta(seconds=rng.uniform(-180, 180))
        elif roll < 0.70:
            offset = timedelta(seconds=rng.uniform(-3 * 86400, 3 * 86400))
        elif roll < 0.95:
            offset = timedelta(seconds=rng.uniform(-60 * 86400, 60 * 86400))
        else:
            # Exactly on a minute boundary, where a half-open range must be exact.
            offset = timedelta(minutes=rng.randint(-3 * 1440, 3 * 1440))
        event_time = center + offset
        if roll >= 0.95:
            event_time = event_time.replace(second=0, microsecond=0)
        name = rng.choices(EVENT_NAMES, weights=(5, 2, 8, 1, 3))[0]
        events.append(GeneratedEvent(event_time=event_time, message_id=f"msg{index:06d}", event=name))
    return events


async def insert_events(connection: asyncpg.Connection, project_id: UUID, events: Sequence[GeneratedEvent]) -> None:
    months = {event.event_time.astimezone(UTC).date().replace(day=1) for event in events}
    for month in sorted(months):
        await connection.execute("SELECT ensure_events_partition($1::date)", month)
    received_at = datetime(2030, 1, 1, tzinfo=UTC)
    await connection.copy_records_to_table(
        "events",
        columns=[
            "project_id",
            "event_time",
            "message_id",
            "type",
            "event",
            "name",
            "anonymous_id",
            "properties",
            "received_at",
        ],
        records=[
            (
                project_id,
                event.event_time,
                event.message_id,
                event.type,
                event.event,
                "",
                f"anon-{event.message_id}",
                json.dumps(event.properties),
                received_at,
            )
            for event in events
        ],
    )
    # The rollup exactly as the processor keeps it: a count per project, event and minute.
    await connection.execute(
        """
        INSERT INTO event_counts (project_id, event, minute, is_bot, count)
        SELECT project_id, event, date_trunc('minute', event_time), is_bot, count(*)
        FROM events WHERE project_id = $1
        GROUP BY 1, 2, 3, 4
        ON CONFLICT (project_id, event, minute, is_bot) DO UPDATE SET count = EXCLUDED.count
        """,
        project_id,
    )
