"""Generated session rows and an independent, plain-Python sessions summary and top lists over them.

Sessions are written straight into `sessions` (building them from events is the
processor's job, tested in tests/processor/test_sessions.py). The reference walks
the same rows with zoneinfo; it knows nothing of the SQL. Inputs arrive as the
GraphQL dicts the tests send.
"""

import random
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from tests.query.event_data import GeneratedEvent
from tests.query.reference import Persons, _matches, _text, bucket_start, bucket_starts

DIMENSIONS = (
    "entry_page", "exit_page", "referrer_domain", "referrer_channel", "utm_source", "utm_medium", "utm_campaign",
    "utm_term", "utm_content", "device_type", "browser", "os", "country", "region", "city",
)
"""The session dimensions, as attribute names (the GraphQL enum names upper-cased)."""


@dataclass(frozen=True)
class GeneratedSession:
    id: UUID
    person_id: UUID
    started_at: datetime
    ended_at: datetime
    event_count: int
    pageview_count: int
    entry_page: str | None = None
    exit_page: str | None = None
    referrer_domain: str | None = None
    referrer_channel: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_term: str | None = None
    utm_content: str | None = None
    device_type: str | None = None
    browser: str | None = None
    os: str | None = None
    country: str | None = None
    region: str | None = None
    city: str | None = None

    @property
    def duration(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()

    @property
    def is_bounce(self) -> bool:
        return self.event_count == 1


async def insert_sessions(
    connection: asyncpg.Connection, project_id: UUID, sessions: Sequence[GeneratedSession]
) -> None:
    columns = [item.name for item in fields(GeneratedSession)]
    await connection.copy_records_to_table(
        "sessions",
        columns=["project_id", *columns],
        records=[(project_id, *(getattr(session, column) for column in columns)) for session in sessions],
    )


PAGES = ("/", "/pricing", "/docs/ünïcode", "/blog/日本語", "/signup", "/a/🚀", "")
VALUES = {
    "referrer_domain": ("google.com", "news.ycombinator.com", "bücher.de"),
    "referrer_channel": ("search", "social", "direct", "referral"),
    "utm_source": ("newsletter", "twitter", "ünï"),
    "utm_medium": ("email", "cpc"),
    "utm_campaign": ("spring", "launch 🚀"),
    "utm_term": ("analytics",),
    "utm_content": ("banner", "link"),
    "device_type": ("desktop", "mobile", "tablet"),
    "browser": ("Chrome", "Firefox", "Safari", "Edge"),
    "os": ("Windows", "macOS", "iOS", "Android", "Linux"),
    "country": ("DE", "US", "FR", "JP", "CI"),
    "region": ("Berlin", "New York", "Île-de-France"),
    "city": ("Berlin", "Brooklyn", "Paris", "東京"),
}


def random_sessions(
    rng: random.Random, center: datetime, zone: ZoneInfo, count: int, edges: Sequence[datetime]
) -> list[GeneratedSession]:
    """Sessions around `center`; some start exactly on `edges` (range ends) and on local midnights and hours."""
    persons = [UUID(int=rng.getrandbits(128)) for _ in range(max(1, count // 4))]
    local_midnight = datetime.combine(center.astimezone(zone).date(), datetime.min.time(), tzinfo=zone)
    sessions = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.08:
            started = rng.choice(edges)
        elif roll < 0.14:
            day = local_midnight.date() + timedelta(days=rng.randint(-5, 5))
            started = datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC)
        elif roll < 0.2:
            started = (center + timedelta(hours=rng.randint(-72, 72))).replace(minute=0, second=0, microsecond=0)
        elif roll < 0.9:
            started = center + timedelta(seconds=rng.uniform(-4 * 86400, 4 * 86400))
        else:
            started = center + timedelta(seconds=rng.uniform(-40 * 86400, 40 * 86400))
        started = started.astimezone(UTC)
        events = 1 if rng.random() < 0.35 else rng.randint(2, 40)
        pageviews = rng.randint(0, events) if rng.random() < 0.85 else 0
        duration = timedelta(0) if events == 1 else timedelta(microseconds=rng.randint(0, 3 * 3600 * 1_000_000))
        if rng.random() < 0.05 and events > 1:
            duration = timedelta(0)  # several events in the same instant: no bounce, yet no duration
        attributes = {
            name: (rng.choice(options) if rng.random() < 0.8 else None) for name, options in VALUES.items()
        }
        sessions.append(
            GeneratedSession(
                id=UUID(int=rng.getrandbits(128)),
                person_id=rng.choice(persons),
                started_at=started,
                ended_at=started + duration,
                event_count=events,
                pageview_count=pageviews,
                entry_page=rng.choice(PAGES) if pageviews else None,
                exit_page=rng.choice(PAGES) if pageviews else None,
                **attributes,
            )
        )
    return sessions


# --- The summary --------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    position = 0.5 * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def session_stats(sessions: Sequence[GeneratedSession]) -> dict:
    """As the GraphQL SessionStats; averages None without sessions."""
    if not sessions:
        return {
            "sessions": 0, "persons": 0, "avgDurationSeconds": None, "medianDurationSeconds": None,
            "bounceRate": None, "pageviewsPerSession": None, "eventsPerSession": None,
        }
    durations = [session.duration for session in sessions]
    return {
        "sessions": len(sessions),
        "persons": len({session.person_id for session in sessions}),
        "avgDurationSeconds": statistics.fmean(durations),
        "medianDurationSeconds": _median(durations),
        "bounceRate": sum(session.is_bounce for session in sessions) / len(sessions),
        "pageviewsPerSession": statistics.fmean(session.pageview_count for session in sessions),
        "eventsPerSession": statistics.fmean(session.event_count for session in sessions),
    }


def _session_matches(condition: dict, session: GeneratedSession) -> bool:
    value = getattr(session, condition["dimension"].lower())
    operator, values = condition["operator"], condition.get("values") or []
    if operator == "IS_SET":
        return value is not None
    if operator == "IS_NOT_SET":
        return value is None
    if operator in ("NEQ", "NOT_CONTAINS"):
        positive = {"NEQ": "EQ", "NOT_CONTAINS": "CONTAINS"}[operator]
        return not _session_matches({**condition, "operator": positive}, session)
    if value is None:
        return False
    if operator == "EQ":
        return value == values[0]
    if operator == "CONTAINS":
        return values[0] in value
    if operator == "IN":
        return value in values
    raise AssertionError(operator)


def _ranked(counts: Counter, limit: int) -> list:
    """The top `limit` keys by count, ties in code-point order, None after every text."""
    return sorted(counts, key=lambda value: (-counts[value], value is None, value or ""))[:limit]


def expected_summary(
    sessions: Iterable[GeneratedSession],
    *,
    date_from: datetime,
    date_to: datetime,
    zone: ZoneInfo,
    filters: Sequence[dict] = (),
    breakdown: str | None = None,
    breakdown_limit: int = 10,
    interval: str | None = None,
    pages_limit: int = 10,
) -> dict:
    """As the GraphQL SessionsSummary, bucket starts as UTC instants."""
    chosen = [
        session
        for session in sessions
        if date_from <= session.started_at < date_to and all(_session_matches(c, session) for c in filters)
    ]
    summary: dict = {"totals": session_stats(chosen), "breakdown": [], "series": []}
    if breakdown is not None:
        attribute = breakdown.lower()
        top = _ranked(Counter(getattr(session, attribute) for session in chosen), breakdown_limit)
        for value in top:
            group = [session for session in chosen if getattr(session, attribute) == value]
            summary["breakdown"].append({"value": value, "isOther": False, "stats": session_stats(group)})
        rest = [session for session in chosen if getattr(session, attribute) not in top]
        if rest:
            summary["breakdown"].append({"value": None, "isOther": True, "stats": session_stats(rest)})
    if interval is not None:
        for start in bucket_starts(date_from, date_to, interval, zone):
            group = [session for session in chosen if bucket_start(session.started_at, interval, zone) == start]
            summary["series"].append({"bucket": start, "stats": session_stats(group)})
    for key, attribute in (("entryPages", "entry_page"), ("exitPages", "exit_page")):
        counts = Counter(getattr(s, attribute) for s in chosen if getattr(s, attribute) is not None)
        summary[key] = [
            {"page": page, "stats": session_stats([s for s in chosen if getattr(s, attribute) == page])}
            for page in _ranked(counts, pages_limit)
        ]
    return summary


# --- Top lists ----------------------------------------------------------------------------------

TOP_COLUMNS = {
    "PAGE": "page_path",
    "REFERRER_DOMAIN": "referrer_domain",
    "COUNTRY": "country",
    "BROWSER": "browser",
    "DEVICE_TYPE": "device_type",
    "OS": "os",
    "UTM_SOURCE": "utm_source",
}

_TYPED_PROPERTIES = {"$browser": "browser", "$pathname": "page_path", "$country": "country"}


def _top_value(item: GeneratedEvent, dimension: str, key: str | None) -> str | None:
    if dimension != "EVENT_PROPERTY":
        return getattr(item, TOP_COLUMNS[dimension])
    assert key is not None
    value = getattr(item, _TYPED_PROPERTIES[key]) if key in _TYPED_PROPERTIES else item.properties.get(key)
    return None if value is None else _text(value)


def expected_top_values(
    events: Iterable[GeneratedEvent],
    persons: Persons,
    *,
    date_from: datetime,
    date_to: datetime,
    dimension: str,
    event: str | None = None,
    key: str | None = None,
    filters: Sequence[dict] = (),
    limit: int = 10,
) -> dict:
    """As the GraphQL TopValues."""
    if dimension == "PAGE":
        event = "$pageview"
    rows = [
        (_top_value(item, dimension, key), persons.person_key(item.distinct_id))
        for item in events
        if not item.is_bot
        and date_from <= item.event_time < date_to
        and (event is None or item.event == event)
        and all(_matches(condition, item, persons.traits(item.distinct_id)) for condition in filters)
    ]

    def counts(selected: list) -> dict:
        return {"events": len(selected), "persons": len({person for _, person in selected if person is not None})}

    events_of = Counter(value for value, _ in rows if value is not None)
    return {
        "values": [
            {"value": value, **counts([row for row in rows if row[0] == value])}
            for value in _ranked(events_of, limit)
        ],
        "withoutValue": counts([row for row in rows if row[0] is None]),
        "total": counts(rows),
    }
