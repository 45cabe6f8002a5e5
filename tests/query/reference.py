"""An independent, plain-Python computation of trends, with zoneinfo.

It knows nothing of SQL, rollups or date_bin: it walks the generated events and
the calendar. Every datetime it returns is in UTC, so comparisons are between
instants (same-tzinfo comparisons in Python ignore `fold`).
"""

import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
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


# --- Every math, filters, breakdown and compare -------------------------------------------------
#
# Filters and breakdowns arrive as the GraphQL input dicts ({"key", "operator", "value", "type"}),
# and are interpreted here from the documented semantics, without the query code.

_TYPED = {"$browser": "browser", "$pathname": "page_path", "$country": "country", "$utm_source": "utm_source"}
"""The typed event columns the generated events fill, by their property name."""

_MISSING = object()


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _lookup(item: GeneratedEvent, traits: dict, key: str, kind: str) -> object:
    """The property's value, or _MISSING when it is absent or JSON null."""
    if kind == "EVENT" and key in _TYPED:
        value = getattr(item, _TYPED[key])
    else:
        value = (traits if kind == "PERSON" else item.properties).get(key)
    return _MISSING if value is None else value


def _matches(condition: dict, item: GeneratedEvent, traits: dict) -> bool:
    value = _lookup(item, traits, condition["key"], condition.get("type", "EVENT"))
    operator, wanted = condition["operator"], condition.get("value")
    present = value is not _MISSING
    if operator in ("NEQ", "NOT_CONTAINS", "IS_NOT_SET"):
        positive = {"NEQ": "EQ", "NOT_CONTAINS": "CONTAINS", "IS_NOT_SET": "IS_SET"}[operator]
        return not _matches({**condition, "operator": positive}, item, traits)
    if operator == "IS_SET":
        return present
    if not present:
        return False
    if operator == "EQ":
        if isinstance(wanted, bool):
            return isinstance(value, bool) and value == wanted
        if isinstance(wanted, str):
            return _text(value) == wanted
        return _is_number(value) and float(value) == float(wanted)
    if operator == "CONTAINS":
        return wanted in _text(value)
    if operator == "GT":
        return _is_number(value) and float(value) > wanted
    if operator == "LT":
        return _is_number(value) and float(value) < wanted
    if operator == "IN":
        return _text(value) in {_text(option) for option in wanted}
    raise AssertionError(operator)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _aggregate(math_name: str, rows: list[tuple[object, float | None]]) -> float:
    """rows: (person key, numeric value) of the bucket's events; 0 for an empty bucket."""
    if not rows:
        return 0.0
    values = [value for _, value in rows]
    if math_name == "TOTAL":
        return float(len(rows))
    if math_name == "UNIQUE_PERSONS":
        return float(len({person for person, _ in rows if person is not None}))
    if math_name == "SUM":
        return math.fsum(values)
    if math_name == "AVG":
        return math.fsum(values) / len(values)
    if math_name == "MIN":
        return min(values)
    if math_name == "MAX":
        return max(values)
    return _percentile(values, 0.5 if math_name == "P50" else 0.9)


@dataclass(frozen=True)
class Persons:
    """Who each distinct id is, and each person's traits."""

    person_of: dict[str, str]
    traits_of: dict[str, dict]

    def person_key(self, distinct_id: str | None) -> object:
        if distinct_id is None:
            return None
        person = self.person_of.get(distinct_id)
        return ("person", person) if person is not None else ("distinct id", distinct_id)

    def traits(self, distinct_id: str | None) -> dict:
        person = self.person_of.get(distinct_id or "")
        return self.traits_of.get(person, {}) if person is not None else {}


def expected_trends(
    events: Iterable[GeneratedEvent],
    persons: Persons,
    *,
    series: dict,
    interval: str,
    zone: ZoneInfo,
    date_from: datetime,
    date_to: datetime,
    filters: list[dict] = (),  # type: ignore[assignment]
    breakdown: dict | None = None,
    breakdown_limit: int = 10,
    compare: bool = False,
) -> list[dict]:
    """One GraphQL series input's answer: a dict per line (breakdownValue, isOther, compare, points)."""
    length = date_to - date_from
    math_name = series["math"]
    conditions = [*filters, *series.get("filters", [])]
    starts = bucket_starts(date_from, date_to, interval, zone)

    # (is_compare, bucket, breakdown value, person key, numeric value) of every counted event.
    rows = []
    for item in events:
        if item.is_bot or (series.get("event") is not None and item.event != series["event"]):
            continue
        if date_from <= item.event_time < date_to:
            is_compare, moved = False, item.event_time
        elif compare and date_from - length <= item.event_time < date_from:
            is_compare, moved = True, item.event_time + length
        else:
            continue
        traits = persons.traits(item.distinct_id)
        if not all(_matches(condition, item, traits) for condition in conditions):
            continue
        value = None
        if series.get("property") is not None:
            raw = item.properties.get(series["property"])
            if not _is_number(raw):
                continue
            value = float(raw)
        group = None
        if breakdown is not None:
            found = _lookup(item, traits, breakdown["key"], breakdown.get("type", "EVENT"))
            group = None if found is _MISSING else _text(found)
        person = persons.person_key(item.distinct_id)
        rows.append((is_compare, bucket_start(moved, interval, zone), group, person, value))

    if breakdown is None:
        lines = [(None, False)]
        rank = {None: (None, False)}
    else:
        volume = Counter(group for is_compare, _, group, _, _ in rows if not is_compare)
        ordered = sorted(volume, key=lambda group: (-volume[group], group is None, group or ""))
        top = ordered[:breakdown_limit]
        rank = {group: (group, False) for group in top}
        lines = [(group, False) for group in top]
        if any(group not in rank for _, _, group, _, _ in rows):
            lines.append((None, True))

    answer = []
    for is_compare in (False, True) if compare else (False,):
        for line in lines:
            by_bucket: dict[datetime, list] = {start: [] for start in starts}
            for row_compare, bucket, group, person, value in rows:
                if row_compare == is_compare and rank.get(group, (None, True)) == line:
                    by_bucket[bucket].append((person, value))
            answer.append(
                {
                    "breakdownValue": line[0],
                    "isOther": line[1],
                    "compare": is_compare,
                    "points": [(start, _aggregate(math_name, by_bucket[start])) for start in starts],
                }
            )
    return answer
