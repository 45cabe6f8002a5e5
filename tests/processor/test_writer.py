"""Idempotent writes as a property: whatever path a duplicate takes, each message_id is stored and counted once."""

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta

from processor.transform import EVENT_TIME_INDEX, STAGING_COLUMNS, rows_from_batch
from processor.writer import EventWriter
from tests.payloads import track_event
from tests.polling import stored_count
from tests.processor.support import (
    distinct_stored_count,
    envelope,
    events_by_hour,
    events_by_minute,
    rollup,
    rollup_by_hour,
    rollup_by_minute,
)

NS = 1_000_000_000


def rows_for(project_id, count: int, names=("signup", "purchase", "view"), *, spread_minutes: int = 5) -> list:
    """Rows for `count` events over a few minutes and event names, made by the real transform."""
    now = datetime.now(UTC) - timedelta(minutes=spread_minutes + 1)
    events = []
    for i in range(count):
        at = now + timedelta(seconds=(i * 7) % (spread_minutes * 60))
        events.append(track_event(names[i % len(names)], user_id=f"u{i}", timestamp_ns=int(at.timestamp() * NS)))
    return rows_from_batch(envelope(project_id, events))


async def assert_rollup_matches_events(db, project_id) -> None:
    assert await rollup_by_minute(db, project_id) == await events_by_minute(db, project_id)
    assert await rollup_by_hour(db, project_id) == await events_by_hour(db, project_id)


async def test_writing_the_same_rows_twice_stores_and_counts_them_once(writer_pool, db):
    project_id = uuid.uuid4()
    rows = rows_for(project_id, 60)
    writer = EventWriter(writer_pool)

    first = await writer.write(rows)
    second = await writer.write(rows)

    assert (first, second) == (60, 0)
    assert await stored_count(db, project_id) == 60
    assert await rollup(db, project_id) == {"signup": 20, "purchase": 20, "view": 20}
    await assert_rollup_matches_events(db, project_id)


async def test_a_different_writer_replaying_the_batch_stores_nothing_new(writer_pool, second_writer_pool, db):
    project_id = uuid.uuid4()
    rows = rows_for(project_id, 30)

    assert await EventWriter(writer_pool).write(rows) == 30
    assert await EventWriter(second_writer_pool).write(list(reversed(rows))) == 0
    assert await stored_count(db, project_id) == 30
    assert sum((await rollup(db, project_id)).values()) == 30


async def test_duplicates_inside_one_batch_are_stored_once(writer_pool, db):
    project_id = uuid.uuid4()
    rows = rows_for(project_id, 20)
    # Same message ids again, one of them with different content: still the same event.
    changed = list(rows[0])
    changed[STAGING_COLUMNS.index("event")] = "something else"
    batch = rows + rows[:10] + [tuple(changed)]
    random.Random(7).shuffle(batch)

    stored = await EventWriter(writer_pool).write(batch)

    assert stored == 20
    assert await stored_count(db, project_id) == 20
    assert await distinct_stored_count(db, project_id) == 20
    assert sum((await rollup(db, project_id)).values()) == 20
    await assert_rollup_matches_events(db, project_id)


async def test_concurrent_writers_with_overlapping_batches_store_each_message_once(
    writer_pool, second_writer_pool, db
):
    project_id = uuid.uuid4()
    rows = rows_for(project_id, 600)
    rng = random.Random(11)
    writers = [EventWriter(writer_pool), EventWriter(second_writer_pool), EventWriter(writer_pool)]
    batches = []
    for start in range(0, 600, 100):
        overlapping = rows[max(start - 50, 0):start + 150]  # every row lands in two or three batches
        rng.shuffle(overlapping)
        batches.append(overlapping)

    results = await asyncio.gather(*(
        writers[i % len(writers)].write(batch) for i, batch in enumerate(batches + list(reversed(batches)))
    ))

    assert sum(results) == 600
    assert await stored_count(db, project_id) == 600
    assert sum((await rollup(db, project_id)).values()) == 600
    await assert_rollup_matches_events(db, project_id)


async def test_same_message_id_in_two_projects_is_stored_in_each(writer_pool, db):
    first, second = uuid.uuid4(), uuid.uuid4()
    rows = rows_for(first, 5)
    other = [(str(second), *row[1:]) for row in rows]

    assert await EventWriter(writer_pool).write(rows + other) == 10
    assert (await stored_count(db, first), await stored_count(db, second)) == (5, 5)


def _shifted(row: tuple, delta: timedelta) -> tuple:
    moved = list(row)
    moved[EVENT_TIME_INDEX] = row[EVENT_TIME_INDEX] + delta // timedelta(microseconds=1)
    return tuple(moved)


async def test_resent_event_with_slightly_different_corrected_time_is_stored_once(writer_pool, db):
    project_id = uuid.uuid4()
    # The resend's skew correction differs by the network delay; here it also crosses a minute boundary.
    at = datetime.now(UTC).replace(second=59, microsecond=998_000) - timedelta(minutes=3)
    event = track_event("signup", timestamp_ns=int(at.timestamp() * NS))
    (row,) = rows_from_batch(envelope(project_id, [event]))
    writer = EventWriter(writer_pool)

    assert await writer.write([row]) == 1
    assert await writer.write([_shifted(row, timedelta(milliseconds=4))]) == 0
    assert await writer.write([_shifted(row, timedelta(milliseconds=-3))]) == 0

    assert await stored_count(db, project_id) == 1
    assert await rollup(db, project_id) == {"signup": 1}
    await assert_rollup_matches_events(db, project_id)


async def test_resent_event_crossing_into_the_next_month_partition_is_stored_once(writer_pool, db):
    project_id = uuid.uuid4()
    this_month = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    at = this_month - timedelta(milliseconds=2)  # last instant of the previous month
    event = track_event("signup", timestamp_ns=int(at.timestamp() * NS))
    (row,) = rows_from_batch(envelope(project_id, [event]))
    writer = EventWriter(writer_pool)

    assert await writer.write([row]) == 1
    assert await writer.write([_shifted(row, timedelta(milliseconds=5))]) == 0
    assert await stored_count(db, project_id) == 1


async def _month_without_partition(db) -> datetime:
    today = datetime.now(UTC).replace(day=1, hour=12, minute=0, second=0, microsecond=0)
    for months_ago in range(14, 24):
        year, month = divmod(today.year * 12 + today.month - 1 - months_ago, 12)
        candidate = today.replace(year=year, month=month + 1)
        if await db.fetchval("SELECT to_regclass($1)", f"events_{candidate:%Y_%m}") is None:
            return candidate
    raise AssertionError("every month 14-23 months ago already has a partition")


async def test_row_in_a_month_without_partition_creates_it_and_is_stored(writer_pool, db):
    project_id = uuid.uuid4()
    month = await _month_without_partition(db)
    at = month.replace(day=15)
    events = [track_event("old", user_id=f"u{i}", timestamp_ns=int(at.timestamp() * NS)) for i in range(3)]
    rows = rows_from_batch(envelope(project_id, events))

    assert await EventWriter(writer_pool).write(rows) == 3

    partitions = await db.fetch(
        "SELECT DISTINCT tableoid::regclass::text AS partition FROM events WHERE project_id = $1", project_id
    )
    assert [row["partition"] for row in partitions] == [f"events_{month:%Y_%m}"]
    assert await rollup(db, project_id) == {"old": 3}


async def test_concurrent_writers_creating_the_same_new_partition_both_succeed(writer_pool, second_writer_pool, db):
    project_id = uuid.uuid4()
    month = await _month_without_partition(db)
    at = month.replace(day=3)
    events = [track_event("old", user_id=f"u{i}", timestamp_ns=int(at.timestamp() * NS)) for i in range(40)]
    rows = rows_from_batch(envelope(project_id, events))

    results = await asyncio.gather(
        EventWriter(writer_pool).write(rows[:30]), EventWriter(second_writer_pool).write(rows[10:])
    )

    assert sum(results) == 40
    assert await stored_count(db, project_id) == 40


async def test_writing_no_rows_stores_nothing(writer_pool):
    assert await EventWriter(writer_pool).write([]) == 0
