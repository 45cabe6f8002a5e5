"""Identity: distinct ids resolve to persons exactly, whatever the arrival order or the number of writers."""

import asyncio
import random
from datetime import UTC, datetime

from processor.writer import EventWriter
from tests.payloads import event_of
from tests.processor.people import (
    assert_session_rollup_matches,
    at,
    live_persons,
    new_project,
    person_of,
    sessions_of,
    traits_of,
    write,
)


async def test_anonymous_browsing_then_identify_then_purchase_is_one_person(writer_pool, db):
    project = await new_project(db)
    writer = EventWriter(writer_pool)
    await write(writer, project, [
        event_of("page", at_ns=at(0), anonymous_id="anon-1", page_path="/pricing"),
        event_of("page", at_ns=at(2), anonymous_id="anon-1", page_path="/signup"),
    ])
    await write(writer, project, [
        event_of("identify", at_ns=at(3), anonymous_id="anon-1", user_id="user-1",
                 traits={"email": "  Ann@Example.COM ", "firstName": "Ann"}),
    ])
    await write(writer, project, [event_of("track", at_ns=at(9), name="purchase", user_id="user-1")])

    persons = await live_persons(db, project)
    assert list(persons.values()) == [{"anon-1", "user-1"}]
    (person_id,) = persons
    assert await traits_of(db, person_id) == {"email": "ann@example.com", "firstName": "Ann"}
    seen = await db.fetchrow("SELECT first_seen, last_seen, is_identified FROM persons WHERE id = $1", person_id)
    assert seen["first_seen"] == datetime.fromtimestamp(at(0) / 1e9, UTC)
    assert seen["last_seen"] == datetime.fromtimestamp(at(9) / 1e9, UTC)
    assert seen["is_identified"]
    (session,) = await sessions_of(db, project)
    assert (session["person_id"], session["event_count"], session["pageview_count"]) == (person_id, 4, 2)


async def test_identify_arriving_before_the_anonymous_events_still_makes_one_person(writer_pool, db):
    project = await new_project(db)
    writer = EventWriter(writer_pool)
    await write(writer, project, [event_of("track", at_ns=at(9), name="purchase", user_id="user-1")])
    await write(writer, project, [event_of("identify", at_ns=at(3), anonymous_id="anon-1", user_id="user-1")])
    await write(writer, project, [event_of("page", at_ns=at(0), anonymous_id="anon-1", page_path="/")])

    assert list((await live_persons(db, project)).values()) == [{"anon-1", "user-1"}]


async def test_identify_merges_an_anonymous_person_into_the_users_person_with_its_sessions(writer_pool, db):
    project = await new_project(db)
    writer = EventWriter(writer_pool)
    await write(writer, project, [
        event_of("track", at_ns=at(0), name="login", user_id="user-1"),
        event_of("page", at_ns=at(1), anonymous_id="anon-9", page_path="/a"),
        event_of("page", at_ns=at(4), anonymous_id="anon-9", page_path="/b"),
    ])
    anonymous_person = await person_of(db, project, "anon-9")
    user_person = await person_of(db, project, "user-1")
    assert anonymous_person != user_person
    assert len(await sessions_of(db, project)) == 2

    await write(writer, project, [event_of("identify", at_ns=at(5), anonymous_id="anon-9", user_id="user-1")])

    assert list((await live_persons(db, project)).values()) == [{"anon-9", "user-1"}]
    assert await person_of(db, project, "anon-9") == user_person
    assert await db.fetchval("SELECT merged_into FROM persons WHERE id = $1", anonymous_person) == user_person
    # The two sessions were 1 minute apart: under one person they are one session.
    (session,) = await sessions_of(db, project)
    assert (session["person_id"], session["event_count"], session["entry_page"], session["exit_page"]) == (
        user_person, 4, "/a", "/b")
    await assert_session_rollup_matches(db, project)


async def test_identify_does_not_merge_two_identified_persons_but_alias_does(writer_pool, db):
    project = await new_project(db)
    writer = EventWriter(writer_pool)
    await write(writer, project, [event_of("identify", at_ns=at(0), anonymous_id="shared-laptop", user_id="alice")])
    # Someone else signs in on the same computer.
    await write(writer, project, [event_of("identify", at_ns=at(5), anonymous_id="shared-laptop", user_id="bob")])

    persons = sorted((await live_persons(db, project)).values(), key=len)
    assert persons == [{"bob"}, {"alice", "shared-laptop"}]

    await write(writer, project, [event_of("alias", at_ns=at(6), previous_id="bob", user_id="alice")])
    assert list((await live_persons(db, project)).values()) == [{"alice", "bob", "shared-laptop"}]


async def test_a_late_identify_never_overwrites_a_newer_trait_value(writer_pool, db):
    project = await new_project(db)
    writer = EventWriter(writer_pool)
    await write(writer, project, [
        event_of("identify", at_ns=at(10), user_id="u", traits={"plan": "pro", "consent": {"email": "yes"}}),
    ])
    await write(writer, project, [
        event_of("identify", at_ns=at(1), user_id="u", traits={"plan": "free", "company": "Acme",
                                                               "consent": {"email": False, "sms": "granted"}}),
    ])

    traits = await traits_of(db, await person_of(db, project, "u"))
    assert traits == {"plan": "pro", "company": "Acme", "consent": {"email": True, "sms": True}}


async def test_mapped_event_properties_create_and_update_the_person(writer_pool, db):
    project = await new_project(db)
    await db.executemany(
        "INSERT INTO trait_mappings (project_id, event, property, trait) VALUES ($1, $2, $3, $4)",
        [(project, "form_submit", "fields.email", "email"), (project, "form_submit", "fields.phone", "phone"),
         (project, "order_placed", "customer.first_name", "firstName")],
    )
    writer = EventWriter(writer_pool)
    await write(writer, project, [
        event_of("track", at_ns=at(0), name="form_submit", anonymous_id="visitor", country="DE",
                 properties={"fields": {"email": "Visitor@Example.org", "phone": "030 1234567", "note": "hi"}}),
        event_of("track", at_ns=at(1), name="order_placed", anonymous_id="visitor",
                 properties={"customer": {"first_name": " Zoë "}}),
    ])

    traits = await traits_of(db, await person_of(db, project, "visitor"))
    assert traits == {"email": "visitor@example.org", "phone": "+49301234567", "firstName": "Zoë"}


async def test_redelivered_events_change_neither_persons_nor_sessions(writer_pool, db):
    project = await new_project(db)
    writer = EventWriter(writer_pool)
    events = [event_of("page", at_ns=at(i), anonymous_id="a", page_path=f"/{i}") for i in range(3)]
    events.append(event_of("identify", at_ns=at(3), anonymous_id="a", user_id="u", traits={"n": 1}))
    await write(writer, project, events)
    before = (await live_persons(db, project), [dict(r) for r in await sessions_of(db, project)])

    assert await write(writer, project, list(reversed(events))) == 0

    assert (await live_persons(db, project), [dict(r) for r in await sessions_of(db, project)]) == before


async def test_bot_events_make_no_persons_and_no_sessions(writer_pool, db):
    project = await new_project(db)
    await write(EventWriter(writer_pool), project, [
        event_of("page", at_ns=at(0), anonymous_id="crawler", page_path="/", is_bot=True),
    ])

    assert await live_persons(db, project) == {}
    assert await sessions_of(db, project) == []
    assert await db.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project) == 1


async def test_concurrent_identifies_on_two_writers_make_one_person(writer_pool, second_writer_pool, db):
    rng = random.Random(7)
    for round_number in range(8):
        project = await new_project(db)
        writers = [EventWriter(writer_pool), EventWriter(second_writer_pool)]
        # Several devices of one new user identify at the same moment, through two processor replicas.
        batches = [
            [event_of("page", at_ns=at(device), anonymous_id=f"device-{device}", page_path="/"),
             event_of("identify", at_ns=at(device + 0.5), anonymous_id=f"device-{device}", user_id="same-user")]
            for device in range(6)
        ]
        rng.shuffle(batches)
        await asyncio.gather(*(write(writers[i % 2], project, batch) for i, batch in enumerate(batches)))

        persons = await live_persons(db, project)
        assert list(persons.values()) == [{"same-user", *(f"device-{d}" for d in range(6))}], round_number
        (person_id,) = persons
        assert await db.fetchval("SELECT count(*) FROM persons WHERE project_id = $1 AND merged_into IS NULL",
                                 project) == 1
        # Every event is in a session of that person: 12 events, one session (gaps under 30 minutes).
        (session,) = await sessions_of(db, project)
        assert (session["person_id"], session["event_count"]) == (person_id, 12)
        await assert_session_rollup_matches(db, project)
