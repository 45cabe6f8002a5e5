"""Plain-Python journeys and paths: walks the generated events, knows nothing of SQL or of the sessions table.

Definitions as in query/analytics/get_journey.py and get_paths.py: a person's
events in (time, message id) order; SDK session ids group their events;
events without one split at gaps over 30 minutes; bots never count.
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tests.query.event_data import GeneratedEvent
from tests.query.reference import Persons

INACTIVITY = timedelta(minutes=30)


@dataclass(frozen=True)
class JourneyInput:
    """One generated event as the journey reference needs it."""

    message_id: str
    time: datetime
    event: str
    distinct_id: str
    session_id: str | None = None
    page_path: str | None = None
    is_pageview: bool = False
    country: str | None = None
    is_bot: bool = False


@dataclass(frozen=True)
class ExpectedSession:
    session_key: str | None
    started_at: datetime
    ended_at: datetime
    message_ids: tuple[str, ...]
    pageviews: int
    entry_page: str | None
    exit_page: str | None
    country: str | None


def _split(events: list[JourneyInput]) -> list[list[JourneyInput]]:
    groups: list[list[JourneyInput]] = []
    for item in events:
        if groups and item.time - groups[-1][-1].time <= INACTIVITY:
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


def expected_journey(events: Iterable[JourneyInput], distinct_ids: set[str]) -> list[ExpectedSession]:
    """The person's sessions, newest first (ties: by their events' message ids, descending)."""
    mine = sorted(
        (item for item in events if item.distinct_id in distinct_ids and not item.is_bot),
        key=lambda item: (item.time, item.message_id),
    )
    keyed: dict[str, list[JourneyInput]] = defaultdict(list)
    for item in mine:
        if item.session_id is not None:
            keyed[item.session_id].append(item)
    groups = [(key, group) for key, group in keyed.items()]
    groups += [(None, group) for group in _split([item for item in mine if item.session_id is None])]
    sessions = []
    for key, group in groups:
        pages = [item for item in group if item.is_pageview]
        sessions.append(
            ExpectedSession(
                session_key=key,
                started_at=group[0].time,
                ended_at=group[-1].time,
                message_ids=tuple(item.message_id for item in group),
                pageviews=len(pages),
                entry_page=pages[0].page_path if pages else None,
                exit_page=pages[-1].page_path if pages else None,
                country=group[0].country,
            )
        )
    return sorted(sessions, key=lambda session: (session.started_at, session.message_ids), reverse=True)


@dataclass(frozen=True)
class ExpectedPaths:
    persons: int
    # (steps, persons, ended), most persons first.
    paths: list[tuple[tuple[str, ...], int, bool]]
    # (step, from, to, persons), by step then most persons.
    edges: list[tuple[int, str, str | None, int]]


def _path_of(stream: Sequence[GeneratedEvent], start_event: str, depth: int) -> tuple[str, ...] | None:
    anchor = next((index for index, item in enumerate(stream) if item.event == start_event), None)
    if anchor is None:
        return None
    steps = [start_event]
    for index in range(anchor + 1, len(stream)):
        if abs(stream[index].event_time - stream[index - 1].event_time) > INACTIVITY:
            break
        if stream[index].event == stream[index - 1].event:
            continue
        if len(steps) == depth + 1:
            break
        steps.append(stream[index].event)
    return tuple(steps)


def _none_first(name: str | None) -> tuple[int, str]:
    return (0, "") if name is None else (1, name)


def expected_paths(
    events: Iterable[GeneratedEvent],
    persons: Persons,
    *,
    date_from: datetime,
    date_to: datetime,
    start_event: str,
    direction: str,
    depth: int,
    limit: int,
    edges_per_step: int = 50,
) -> ExpectedPaths:
    streams: dict[object, list[GeneratedEvent]] = defaultdict(list)
    for item in events:
        if not item.is_bot and item.distinct_id is not None and date_from <= item.event_time < date_to:
            streams[persons.person_key(item.distinct_id)].append(item)
    order: Callable[[GeneratedEvent], tuple] = lambda item: (item.event_time, item.message_id)  # noqa: E731
    per_person = []
    for stream in streams.values():
        stream.sort(key=order, reverse=direction == "PREVIOUS")
        path = _path_of(stream, start_event, depth)
        if path is not None:
            per_person.append(path)
    counts = Counter(per_person)
    # Tuples compare as the SQL does: element by element, a prefix before its extensions.
    ranked = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:limit]
    edge_counts: Counter = Counter()
    for path in per_person:
        for step in range(1, depth + 1):
            if step < len(path):
                edge_counts[(step, path[step - 1], path[step])] += 1
            else:
                edge_counts[(step, path[step - 1], None)] += 1
                break
    edges = []
    for step in range(1, depth + 1):
        at_step = [(key, count) for key, count in edge_counts.items() if key[0] == step]
        at_step.sort(key=lambda pair: (-pair[1], pair[0][1], _none_first(pair[0][2])))
        edges += [(step, source, target, count) for (_, source, target), count in at_step[:edges_per_step]]
    return ExpectedPaths(
        persons=len(per_person),
        paths=[(path, count, len(path) <= depth) for path, count in ranked],
        edges=edges,
    )
