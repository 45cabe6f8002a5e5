"""Sessions: the 30-minute rule, SDK session ids, and exact results whatever order events arrive in."""

import asyncio
import random
from datetime import UTC, datetime

import pytest

from processor.writer import EventWriter
from tests.payloads import event_of
from tests.processor.people import (
    MINUTE_NS,
    assert_session_rollup_matches,
    assert_value_rollup_matches,
    at,
    new_project,
    person_of,
    sessions_of,
    write,
)


def _moment(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1000 / 1e6, UTC)


async def test_more_than_30_minutes_of_inactivity_starts_a_new_session_and_exactly_30_does_not(writer_pool, db):
    project = await new_project(db)
    await write(EventWriter(writer_pool), project, [
        event_of("page", at_ns=at(0), anonymous_id="a", page_path="/one"),
        event_of("page", at_ns=at(30), anonymous_id="a", page_path="/two"),      # gap of exactly 30 minutes
        event_of("track", at_ns=at(60) + 1000, anonymous_id="a", name="late"),  # 30 minutes and 1 µs
    ])

    first, second = await sessions_of(db, project)
    assert (first["event_count"], first["pageview_count"], first["entry_page"], first["exit_page"]) == (
        2, 2, "/one", "/two")
    assert first["duration_seconds"] == 30 * 60 and not first["is_bounce"]
    assert (second["event_count"], second["pageview_count"], second["is_bounce"]) == (1, 0, True)
    assert second["entry_page"] is None and second["duration_seconds"] == 0


async def test_a_late_event_filling_the_gap_fuses_two_sessions(writer_pool, db):
    project = await new_project(db)
    writer = EventWriter(writer_pool)
    await write(writer, project, [event_of("page", at_ns=at(45), anonymous_id="a", page_path="/exit")])
    await write(writer, project, [event_of("page", at_ns=at(0), anonymous_id="a", page_path="/entry",
                                           referrer="https://www.google.com/", country="FR", browser="Firefox")])
    assert len(await sessions_of(db, project)) == 2

    await write(writer, project, [event_of("track", at_ns=at(20), anonymous_id="a", name="middle")])

    (session,) = await sessions_of(db, project)
    assert (session["started_at"], session["ended_at"]) == (_moment(at(0)), _moment(at(45)))
    assert (session["event_count"], session["pageview_count"]) == (3, 2)
    assert (session["entry_page"], session["exit_page"]) == ("/entry", "/exit")
    # Attributes come from the first event, although it arrived after another one.
    assert (session["referrer"], session["country"], session["browser"]) == (
        "https://www.google.com/", "FR", "Firefox")
    assert session["entry_url"] == "https://shop.example/entry"
    await assert_session_rollup_matches(db, project)


async def test_an_sdk_session_id_wins_over_the_inactivity_rule(writer_pool, db):
    project = await new_project(db)
    writer = EventWriter(writer_pool)
    await write(writer, project, [
        event_of("page", at_ns=at(90), anonymous_id="a", session_id="tab-1", page_path="/last"),
    ])
    await write(writer, project, [
        event_of("page", at_ns=at(0), anonymous_id="a", session_id="tab-1", page_path="/first", country="JP"),
        event_of("track", at_ns=at(50), anonymous_id="a", session_id="tab-1", name="click"),
        event_of("page", at_ns=at(1), anonymous_id="a", session_id="tab-2", page_path="/other"),
    ])

    sessions = {row["session_key"]: row for row in await sessions_of(db, project)}
    assert set(sessions) == {"tab-1", "tab-2"}
    one = sessions["tab-1"]
    assert (one["event_count"], one["pageview_count"], one["entry_page"], one["exit_page"], one["country"]) == (
        3, 2, "/first", "/last", "JP")
    assert one["duration_seconds"] == 90 * 60
    await assert_session_rollup_matches(db, project)


def _reference_sessions(events: list[dict]) -> list[tuple]:
    """Derived sessions recomputed from all events: per person, sorted by time, split at gaps over 30 minutes."""
    by_person: dict[str, list[dict]] = {}
    for event in events:
        by_person.setdefault(event["person"], []).append(event)
    sessions = []
    for person, person_events in by_person.items():
        person_events.sort(key=lambda event: event["at"])
        groups: list[list[dict]] = []
        for event in person_events:
            if groups and event["at"] - groups[-1][-1]["at"] <= 30 * MINUTE_NS:
                groups[-1].append(event)
            else:
                groups.append([event])
        for group in groups:
            pages = [event for event in group if event["kind"] == "page"]
            sessions.append((
                person, _moment(group[0]["at"]), _moment(group[-1]["at"]), len(group), len(pages),
                pages[0]["path"] if pages else None, pages[-1]["path"] if pages else None, group[0]["country"],
            ))
    return sorted(sessions)


@pytest.mark.parametrize("seed", [2026, 7, 99])
async def test_sessions_equal_a_recomputation_whatever_the_arrival_order_and_writers(
    seed, writer_pool, second_writer_pool, db
):
    rng = random.Random(seed)
    project = await new_project(db)
    events = []
    for person in ("p1", "p2", "p3"):
        moment = 0.0
        for _ in range(40):
            # Mostly short gaps, sometimes long ones, sometimes exactly 30 minutes.
            moment += rng.choice([0.5, 2, 7, 29, 30, 31, 95])
            kind = rng.choice(["page", "page", "track"])
            events.append({"person": person, "at": at(moment), "kind": kind, "path": f"/{rng.randint(1, 5)}",
                           "country": rng.choice(["DE", "US", "BR"])})
    messages = [
        event_of(event["kind"], at_ns=event["at"], anonymous_id=event["person"], name="tap",
                 page_path=event["path"] if event["kind"] == "page" else "", country=event["country"])
        for event in events
    ]
    order = list(range(len(messages)))
    rng.shuffle(order)
    batches, start = [], 0
    while start < len(order):
        size = rng.randint(1, 12)
        batches.append([messages[i] for i in order[start:start + size]])
        start += size
    writers = [EventWriter(writer_pool), EventWriter(second_writer_pool)]
    for wave in range(0, len(batches), 4):
        await asyncio.gather(*(write(writers[i % 2], project, batch)
                               for i, batch in enumerate(batches[wave:wave + 4])))
    # Redelivery of a few batches changes nothing.
    await write(writers[0], project, batches[0] + batches[-1])

    persons = {await person_of(db, project, person): person for person in ("p1", "p2", "p3")}
    stored = sorted(
        (persons[row["person_id"]], row["started_at"], row["ended_at"], row["event_count"], row["pageview_count"],
         row["entry_page"], row["exit_page"], row["country"])
        for row in await sessions_of(db, project)
    )
    assert stored == _reference_sessions(events)
    await assert_session_rollup_matches(db, project)
    await assert_value_rollup_matches(db, project)


async def test_a_late_event_at_the_same_moment_as_a_sessions_first_keeps_the_stored_attributes(writer_pool, db):
    project = await new_project(db)
    writer = EventWriter(writer_pool)
    await write(writer, project, [event_of("page", at_ns=at(5), anonymous_id="a", page_path="/first", country="PT")])
    await write(writer, project, [event_of("page", at_ns=at(5), anonymous_id="a", page_path="/same-moment",
                                           country="ES")])
    await write(writer, project, [event_of("page", at_ns=at(2), anonymous_id="a", page_path="/earlier",
                                           country="FR")])

    (session,) = await sessions_of(db, project)
    # Ties go to what was stored first; a strictly earlier event takes over the entry and the attributes.
    assert (session["event_count"], session["pageview_count"]) == (3, 3)
    assert (session["entry_page"], session["exit_page"], session["country"]) == ("/earlier", "/first", "FR")
