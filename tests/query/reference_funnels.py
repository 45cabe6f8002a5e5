"""An independent, plain-Python computation of funnels, from the definitions in query/analytics/get_funnel.py.

It walks each person's events one attempt at a time, the slow obvious way. Steps,
filters and breakdowns arrive as the GraphQL input dicts.
"""

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tests.query.event_data import GeneratedEvent
from tests.query.reference import _MISSING, Persons, _lookup, _matches, _text


@dataclass(frozen=True)
class Outcome:
    """One person's best attempt."""

    person: object
    reached: int
    times: tuple[datetime, ...]
    breakdown_value: str | None


def _attempt(
    mine: list[GeneratedEvent], t1: datetime, matches: list, mode: str, window: timedelta
) -> tuple[datetime, ...]:
    times = [t1]
    for k in range(1, len(matches)):
        later = [item for item in mine if item.event_time > times[-1] and item.event_time <= t1 + window]
        if mode == "ORDERED":
            found = [item.event_time for item in later if matches[k](item)]
            if not found:
                break
            times.append(min(found))
        else:
            if not later:
                break
            first = min(item.event_time for item in later)
            if not any(matches[k](item) for item in later if item.event_time == first):
                break
            times.append(first)
    return tuple(times)


def best_attempts(
    events: Iterable[GeneratedEvent],
    persons: Persons,
    *,
    steps: list[dict],
    date_from: datetime,
    date_to: datetime,
    window: timedelta,
    mode: str = "ORDERED",
    filters: list[dict] = (),  # type: ignore[assignment]
    breakdown: dict | None = None,
) -> list[Outcome]:
    by_person: dict[object, list[GeneratedEvent]] = defaultdict(list)
    for item in events:
        if not item.is_bot and item.distinct_id is not None:
            by_person[persons.person_key(item.distinct_id)].append(item)

    def matcher(step: dict):
        def matches(item: GeneratedEvent) -> bool:
            traits = persons.traits(item.distinct_id)
            conditions = [*step.get("filters", []), *filters]
            return item.event == step["event"] and all(_matches(c, item, traits) for c in conditions)

        return matches

    matches = [matcher(step) for step in steps]
    outcomes = []
    for person, mine in by_person.items():
        candidates = []
        for item in mine:
            if not (date_from <= item.event_time < date_to and matches[0](item)):
                continue
            value = None
            if breakdown is not None:
                found = _lookup(
                    item, persons.traits(item.distinct_id), breakdown["key"], breakdown.get("type", "EVENT")
                )
                value = None if found is _MISSING else _text(found)
            times = _attempt(mine, item.event_time, matches, mode, window)
            candidates.append(Outcome(person, len(times), times, value))
        if candidates:
            outcomes.append(
                min(
                    candidates,
                    key=lambda o: (-o.reached, o.times[0], o.breakdown_value is None, o.breakdown_value or ""),
                )
            )
    return outcomes


def funnel_steps(outcomes: list[Outcome], steps: list[dict]) -> list[dict]:
    """The GraphQL `steps` answer for these persons."""
    answer = []
    counts = [sum(1 for o in outcomes if o.reached >= k) for k in range(1, len(steps) + 1)]
    for k, step in enumerate(steps, start=1):
        persons = counts[k - 1]
        previous = counts[k - 2] if k > 1 else persons
        seconds = [(o.times[k - 1] - o.times[k - 2]).total_seconds() for o in outcomes if k > 1 and o.reached >= k]
        answer.append(
            {
                "event": step["event"],
                "persons": persons,
                "conversionFromStart": persons / counts[0] if counts[0] else 0.0,
                "conversionFromPrevious": persons / previous if previous else 0.0,
                "medianSecondsFromPrevious": statistics.median(seconds) if seconds else None,
                "averageSecondsFromPrevious": statistics.fmean(seconds) if seconds else None,
            }
        )
    return answer


def expected_funnel(
    events: Iterable[GeneratedEvent],
    persons: Persons,
    *,
    steps: list[dict],
    breakdown: dict | None = None,
    breakdown_limit: int = 10,
    **options: object,
) -> dict:
    """The GraphQL `funnel` answer: {"steps", "breakdownGroups"}."""
    outcomes = best_attempts(events, persons, steps=steps, breakdown=breakdown, **options)  # type: ignore[arg-type]
    groups = []
    if breakdown is not None:
        volume: dict[str | None, int] = defaultdict(int)
        for outcome in outcomes:
            volume[outcome.breakdown_value] += 1
        ordered = sorted(volume, key=lambda value: (-volume[value], value is None, value or ""))
        top = ordered[:breakdown_limit]
        for value in top:
            chosen = [o for o in outcomes if o.breakdown_value == value]
            groups.append({"breakdownValue": value, "isOther": False, "steps": funnel_steps(chosen, steps)})
        rest = [o for o in outcomes if o.breakdown_value not in top]
        if rest:
            groups.append({"breakdownValue": None, "isOther": True, "steps": funnel_steps(rest, steps)})
    return {"steps": funnel_steps(outcomes, steps), "breakdownGroups": groups}


def expected_dropoffs(outcomes: list[Outcome], step: int) -> list[object]:
    """Person keys whose furthest step is step - 1, in code-point order of the SQL key ('p:uuid' / 'd:id')."""
    keys = []
    for outcome in outcomes:
        if outcome.reached == step - 1:
            kind, value = outcome.person  # type: ignore[misc]
            keys.append(("p:" if kind == "person" else "d:") + value)
    return sorted(keys)
