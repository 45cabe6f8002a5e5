"""An independent, plain-Python computation of trends (TOTAL), with zoneinfo.

It knows nothing of SQL, rollups or date_bin: it walks the generated events and
the calendar. Every datetime it returns is in UTC, so comparisons are between
instants (same-tzinfo comparisons in Python ignore `fold`).
"""

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.query.event_data import GeneratedEvent

_ABSOLUTE = {"MINUTE": timedelta(minutes=1), "HOUR": timedelta(hours=1)}


def _local_period_start(day: date, interval: str) -> date:
    if interval == "DAY":
        return day
    if interval == "WEEK":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next_period(start: date, interval: str) -> date:
    if interval == "DAY":
        return start + timedelta(days=1)
    if interval == "WEEK":
        return start + timedelta(days=7)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def bucket_start(instant: datetime, interval: str, zone: ZoneInfo) -> datetime:
    if interval in _ABSOLUTE:
        step = _ABSOLUTE[interval]
        # Buckets follow the local wall clock as of the origin: local midnight, 1 January 2000.
        origin = datetime(2000, 1, 1, tzinfo=zone).astimezone(UTC)
        return origin + (instant - origin) // step * step
    local_day = instant.astimezone(zone).date()
    return _midnight(_local_period_start(local_day, interval), zone)


def bucket_starts(date_from: datetime, date_to: datetime, interval: str, zone: ZoneInfo) -> list[datetime]:
    last_instant = date_to - timedelta(microseconds=1)
    if interval in _ABSOLUTE:
        current, last = bucket_start(date_from, interval, zone), bucket_start(last_instant, interval, zone)
        starts = []
        while current <= last:
            starts.append(current)
            current += _ABSOLUTE[interval]
        return starts
    current_day = _local_period_start(date_from.astimezone(zone).date(), interval)
    last_day = _local_period_start(last_instant.astimezone(zone).date(), interval)
    starts = []
    while current_day <= last_day:
        starts.append(_midnight(current_day, zone))
        current_day = _next_period(current_day, interval)
    return starts


def expected_total(
    events: Iterable[GeneratedEvent],
    *,
    event: str | None,
    interval: str,
    zone: ZoneInfo,
    date_from: datetime,
    date_to: datetime,
) -> list[tuple[datetime, float]]:
    counts = Counter(
        bucket_start(item.event_time, interval, zone)
        for item in events
        if date_from <= item.event_time < date_to and (event is None or item.event == event)
    )
    return [(start, float(counts[start])) for start in bucket_starts(date_from, date_to, interval, zone)]
