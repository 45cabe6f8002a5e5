"""When a scheduled report runs and which range it covers, in the project's timezone.

Runs are at `hour`:00 local time (weekly: on `weekday`, 0 = Monday). Across daylight saving changes the
wall-clock hour is kept: an hour that does not exist that day (spring forward) runs at the first instant
after the gap, an hour that happens twice (fall back) runs at the first of the two, so every day has
exactly one run. A daily report covers the previous whole local day, a weekly one the seven whole local
days before the run's day: 23, 24 or 25 hours a day, as the calendar says.
"""

import enum
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


class Frequency(enum.Enum):
    DAILY = "daily"
    WEEKLY = "weekly"


def _local_start(day: date, hour: int, zone: ZoneInfo) -> datetime:
    """`hour`:00 of `day` in `zone` as a UTC instant. fold=0 (PEP 495) gives the first of a repeated hour, and for
    an hour in a spring-forward gap the offset before the gap, which is the first instant after it."""
    return datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)


def next_run_after(frequency: Frequency, weekday: int | None, hour: int, timezone: str, after: datetime) -> datetime:
    """The first run strictly after `after` (a UTC instant)."""
    zone = ZoneInfo(timezone)
    day = after.astimezone(zone).date()
    for offset in range(9):
        candidate_day = day + timedelta(days=offset)
        if frequency is Frequency.WEEKLY and candidate_day.weekday() != weekday:
            continue
        candidate = _local_start(candidate_day, hour, zone)
        if candidate > after:
            return candidate
    raise AssertionError("a run within nine days always exists")


def covered_range(frequency: Frequency, run_at: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The whole local days a run at `run_at` reports on: [start, end) as UTC instants."""
    zone = ZoneInfo(timezone)
    end_day = run_at.astimezone(zone).date()
    days = 1 if frequency is Frequency.DAILY else 7
    start = datetime.combine(end_day - timedelta(days=days), time(0), tzinfo=zone)
    end = datetime.combine(end_day, time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)
