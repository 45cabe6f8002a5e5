"""Plain-Python real-time numbers: active persons in (now - 5 min, now] and events per UTC minute."""

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from tests.query.event_data import GeneratedEvent
from tests.query.reference import Persons


def expected_realtime(
    events: Iterable[GeneratedEvent], persons: Persons, now: datetime
) -> tuple[int, list[tuple[datetime, int]]]:
    """(active persons, [(minute, events)] for the 30 minutes ending with the one holding `now`)."""
    events = [item for item in events if not item.is_bot]
    active = {
        persons.person_key(item.distinct_id)
        for item in events
        if item.distinct_id is not None and now - timedelta(minutes=5) < item.event_time <= now
    }
    current = now.astimezone(UTC).replace(second=0, microsecond=0)
    minutes = [current - timedelta(minutes=30 - 1 - k) for k in range(30)]
    counts = Counter(item.event_time.astimezone(UTC).replace(second=0, microsecond=0) for item in events)
    return len(active), [(minute, counts[minute]) for minute in minutes]
