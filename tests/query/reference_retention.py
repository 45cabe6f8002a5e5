"""An independent, plain-Python computation of retention and active users, with zoneinfo.

It walks the generated events and the local calendar; it knows nothing of the SQL.
Every datetime it returns is in UTC, so comparisons are between instants.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.query.event_data import GeneratedEvent
from tests.query.reference import Persons, _matches


def _period_of(day: date, period: str) -> date:
    if period == "DAY":
        return day
    if period == "WEEK":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _add_periods(start: date, period: str, count: int) -> date:
    if period == "DAY":
        return start + timedelta(days=count)
    if period == "WEEK":
        return start + timedelta(days=7 * count)
    months = start.year * 12 + start.month - 1 + count
    return date(months // 12, months % 12 + 1, 1)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def _periods_between(first: date, last: date, period: str) -> list[date]:
    periods = []
    while first <= last:
        periods.append(first)
        first = _add_periods(first, period, 1)
    return periods


def _counted(events: Iterable[GeneratedEvent], persons: Persons, name: str | None, filters: list[dict]):
    """(person, event) of the non-bot events of `name` (None: any) that match every filter."""
    for item in events:
        if item.is_bot or item.distinct_id is None or (name is not None and item.event != name):
            continue
        traits = persons.traits(item.distinct_id)
        if all(_matches(condition, item, traits) for condition in filters):
            yield persons.person_key(item.distinct_id), item


def expected_retention(
    events: list[GeneratedEvent],
    persons: Persons,
    *,
    start_event: str,
    return_event: str,
    period: str,
    periods: int,
    mode: str,
    zone: ZoneInfo,
    date_from: datetime,
    date_to: datetime,
    start_filters: list[dict] = (),  # type: ignore[assignment]
    return_filters: list[dict] = (),  # type: ignore[assignment]
    now: datetime | None = None,
) -> list[dict]:
    """Cohorts as {"cohortStart", "size", "values": [(k, periodStart, count, fraction)]}, instants in UTC."""
    now = now or datetime.now(UTC)

    def local_period(instant: datetime) -> date:
        return _period_of(instant.astimezone(zone).date(), period)

    first = _period_of(date_from.astimezone(zone).date(), period)
    last = _period_of((date_to - timedelta(microseconds=1)).astimezone(zone).date(), period)
    cohort_periods = _periods_between(first, last, period)

    members: dict[date, set] = defaultdict(set)
    if mode == "RECURRING":
        for person, item in _counted(events, persons, start_event, list(start_filters)):
            members[local_period(item.event_time)].add(person)
    else:
        first_time: dict[object, datetime] = {}
        for person, item in _counted(events, persons, start_event, list(start_filters)):
            if person not in first_time or item.event_time < first_time[person]:
                first_time[person] = item.event_time
        for person, instant in first_time.items():
            members[local_period(instant)].add(person)
    returned: dict[date, set] = defaultdict(set)
    for person, item in _counted(events, persons, return_event, list(return_filters)):
        returned[local_period(item.event_time)].add(person)

    cohorts = []
    for cohort in cohort_periods:
        if _midnight(cohort, zone) > now:
            continue
        size = len(members[cohort])
        values = []
        for k in range(periods):
            local = _add_periods(cohort, period, k)
            start = _midnight(local, zone)
            if start > now:
                break
            count = len(members[cohort] & returned[local])
            values.append((k, start, count, count / size if size else 0.0))
        cohorts.append({"cohortStart": _midnight(cohort, zone), "size": size, "values": values})
    return cohorts


def expected_active_users(
    events: list[GeneratedEvent],
    persons: Persons,
    *,
    zone: ZoneInfo,
    date_from: datetime,
    date_to: datetime,
    event: str | None = None,
    filters: list[dict] = (),  # type: ignore[assignment]
) -> list[tuple[datetime, int, int, int, float]]:
    """Per local day: (midnight in UTC, dau, wau, mau, stickiness)."""
    active: dict[date, set] = defaultdict(set)
    for person, item in _counted(events, persons, event, list(filters)):
        active[item.event_time.astimezone(zone).date()].add(person)
    first = date_from.astimezone(zone).date()
    last = (date_to - timedelta(microseconds=1)).astimezone(zone).date()
    rows = []
    for day in _periods_between(first, last, "DAY"):

        def window(days: int, day: date = day) -> set:
            return set().union(*(active[day - timedelta(days=n)] for n in range(days)))

        dau, wau, mau = len(active[day]), len(window(7)), len(window(30))
        rows.append((_midnight(day, zone), dau, wau, mau, dau / mau if mau else 0.0))
    return rows
