"""Generated events, written the way the processor writes them: log rows plus the rollups."""

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

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
    distinct_id: str | None = None
    is_bot: bool = False
    browser: str | None = None
    page_path: str | None = None
    # More enriched columns, for top lists; None where a test does not care.
    referrer_domain: str | None = None
    country: str | None = None
    device_type: str | None = None
    os: str | None = None
    utm_source: str | None = None

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
            "distinct_id",
            "is_bot",
            "browser",
            "page_path",
            "referrer_domain",
            "country",
            "device_type",
            "os",
            "utm_source",
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
                event.distinct_id,
                event.is_bot,
                event.browser,
                event.page_path,
                event.referrer_domain,
                event.country,
                event.device_type,
                event.os,
                event.utm_source,
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
    await connection.execute(
        """
        INSERT INTO event_counts_hourly (project_id, event, hour, is_bot, count)
        SELECT project_id, event, date_trunc('hour', event_time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', is_bot, count(*)
        FROM events WHERE project_id = $1
        GROUP BY 1, 2, 3, 4
        ON CONFLICT (project_id, event, hour, is_bot) DO UPDATE SET count = EXCLUDED.count
        """,
        project_id,
    )
    await connection.execute(
        """
        INSERT INTO event_values_hourly (project_id, event, dimension, hour, value_key, value, count)
        SELECT e.project_id, e.event, d.dimension, date_bin('1 hour', e.event_time, '2000-01-01 00:00+00'),
               rollup_value_key(d.value), d.value, count(*)
        FROM events e
        CROSS JOIN LATERAL event_value_dimensions(e.browser, e.os, e.device_type, e.country, e.referrer_channel,
                                                  e.referrer_domain, e.utm_source, e.utm_medium, e.utm_campaign) AS d
        WHERE e.project_id = $1 AND NOT e.is_bot
        GROUP BY 1, 2, 3, 4, 5, 6
        ON CONFLICT (project_id, event, dimension, hour, value_key) DO UPDATE SET count = EXCLUDED.count
        """,
        project_id,
    )
    await attribute_events(connection, project_id)


async def attribute_events(connection: asyncpg.Connection, project_id: UUID) -> None:
    """Each non-bot event's person and the daily-active-persons rollup, as the processor would have left them."""
    await connection.execute(
        "UPDATE events e SET person_id = m.person_id FROM person_distinct_ids m"
        " WHERE e.project_id = $1 AND m.project_id = $1 AND m.distinct_id = e.distinct_id AND NOT e.is_bot"
        " AND e.person_id IS DISTINCT FROM m.person_id",
        project_id,
    )
    await connection.execute("SELECT rebuild_active_persons($1)", project_id)


@dataclass(frozen=True)
class GeneratedPerson:
    id: UUID
    traits: dict
    distinct_ids: tuple[str, ...]


async def insert_persons(connection: asyncpg.Connection, project_id: UUID, persons: Sequence[GeneratedPerson]) -> None:
    """Persons and the mapping of their distinct ids, as identity leaves them after merges."""
    seen = datetime(2024, 1, 1, tzinfo=UTC)
    await connection.executemany(
        "INSERT INTO persons (id, project_id, traits, first_seen, last_seen) VALUES ($1, $2, $3::jsonb, $4, $4)",
        [(person.id, project_id, json.dumps(person.traits), seen) for person in persons],
    )
    await connection.executemany(
        "INSERT INTO person_distinct_ids (project_id, distinct_id, person_id) VALUES ($1, $2, $3)",
        [(project_id, distinct_id, person.id) for person in persons for distinct_id in person.distinct_ids],
    )
    await attribute_events(connection, project_id)


PLANS = ("free", "pro", "Pro", "énterprise 🚀", "日本語")
BROWSERS = ("Chrome", "Firefox", "Safari", None)
COUNTRIES = ("DE", "US", "FR", "JP", "BR", "IN", "GB", "ES", "IT", "NL", "SE", "PL", None)
UTM_SOURCES = ("newsletter", "twitter", "ünïcode 🚀", "")
PATHS = ("/", "/pricing", "/docs/ünïcode", "/blog")


def random_persons(rng: random.Random, count: int) -> list[GeneratedPerson]:
    """Persons with one to three distinct ids each, and traits of mixed types (some missing)."""
    persons = []
    for index in range(count):
        traits: dict = {"name": f"Persön {index} ✓"}
        if rng.random() < 0.8:
            traits["plan"] = rng.choice(PLANS)
        if rng.random() < 0.7:
            traits["age"] = rng.randint(16, 80)
        elif rng.random() < 0.5:
            traits["age"] = "unknown"
        ids = tuple(f"user-{index}-{n}" for n in range(rng.randint(1, 3)))
        persons.append(GeneratedPerson(id=UUID(int=rng.getrandbits(128)), traits=traits, distinct_ids=ids))
    return persons


def _random_amount(rng: random.Random) -> object:
    roll = rng.random()
    if roll < 0.45:
        return rng.randint(-5, 500)
    if roll < 0.7:
        return round(rng.uniform(0, 1000), 2)
    if roll < 0.8:
        return str(rng.randint(1, 99))  # a number in a string: not a number for maths
    if roll < 0.85:
        return None
    return True if roll < 0.9 else "lots"


def random_rich_events(
    rng: random.Random, center: datetime, count: int, persons: Sequence[GeneratedPerson], zone: ZoneInfo
) -> list[GeneratedEvent]:
    """Events with properties of mixed types, distinct ids of persons (and unmapped ones), bots and browsers.

    Some fall exactly on local midnights, hours and minutes, where buckets and ranges begin.
    """
    distinct_ids = [distinct_id for person in persons for distinct_id in person.distinct_ids]
    unmapped = [f"anon-{n}" for n in range(15)]
    local_midnight = datetime.combine(center.astimezone(zone).date(), datetime.min.time(), tzinfo=zone)
    events = []
    for index in range(count):
        roll = rng.random()
        if roll < 0.1:
            event_time = center + timedelta(seconds=rng.uniform(-180, 180))
        elif roll < 0.8:
            event_time = center + timedelta(seconds=rng.uniform(-3 * 86400, 3 * 86400))
        elif roll < 0.9:
            event_time = center + timedelta(seconds=rng.uniform(-40 * 86400, 40 * 86400))
        elif roll < 0.95:
            day = local_midnight.date() + timedelta(days=rng.randint(-4, 4))
            event_time = datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC)
        else:
            event_time = (center + timedelta(minutes=rng.randint(-3 * 1440, 3 * 1440))).replace(second=0, microsecond=0)
        name = rng.choices(EVENT_NAMES, weights=(3, 4, 6, 1, 3))[0]
        properties: dict = {}
        if rng.random() < 0.85:
            properties["amount"] = _random_amount(rng)
        if rng.random() < 0.75:
            properties["plan"] = rng.choice(PLANS) if rng.random() < 0.9 else 5
        if rng.random() < 0.9:
            properties["tag"] = f"t{min(rng.randint(0, 25), rng.randint(0, 25)):02d}"
        is_bot = rng.random() < 0.07
        if is_bot:
            distinct_id = f"bot-{rng.randint(0, 5)}"
        elif rng.random() < 0.8:
            distinct_id = rng.choice(distinct_ids)
        else:
            distinct_id = rng.choice(unmapped)
        events.append(
            GeneratedEvent(
                event_time=event_time.astimezone(UTC),
                message_id=f"rich{index:06d}",
                event=name,
                properties=properties,
                distinct_id=distinct_id,
                is_bot=is_bot,
                browser=rng.choice(BROWSERS),
                page_path=rng.choice(PATHS) if name == "$pageview" else None,
                country=rng.choice(COUNTRIES),
                utm_source=rng.choice(UTM_SOURCES) if rng.random() < 0.3 else None,
            )
        )
    return events
