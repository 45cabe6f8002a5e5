"""Each event's person and the daily-active-persons rollup: exact under any arrival order, concurrent writers,
merges and timezone changes."""

import asyncio
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from processor.writer import EventWriter
from storage.projects import update_project
from tests.payloads import event_of
from tests.processor.people import at, write

DAY_MINUTES = 24 * 60


async def counts_by_day(db: asyncpg.Connection, project_id) -> dict[date, tuple[int, int, int]]:
    """(DAU, WAU, MAU) for every day from the first counted one to 31 days after the last, from the rollup."""
    rows = await db.fetch(
        """
        SELECT d::date AS day, coalesce(c.dau, 0) AS dau,
               sum(coalesce(c.wau_change, 0)) OVER running AS wau, sum(coalesce(c.mau_change, 0)) OVER running AS mau
        FROM generate_series((SELECT min(day) FROM active_person_counts WHERE project_id = $1)::timestamp,
                             (SELECT max(day) FROM active_person_counts WHERE project_id = $1)::timestamp + '1 day',
                             '1 day') AS d
        LEFT JOIN active_person_counts c ON c.project_id = $1 AND c.day = d::date
        WINDOW running AS (ORDER BY d)
        """,
        project_id,
    )
    return {row["day"]: (row["dau"], int(row["wau"]), int(row["mau"])) for row in rows}


async def person_days(db: asyncpg.Connection, project_id) -> set[tuple]:
    return {tuple(row) for row in await db.fetch(
        "SELECT person_id, day FROM person_days WHERE project_id = $1", project_id)}


async def person_event_days(db: asyncpg.Connection, project_id) -> set[tuple]:
    return {tuple(row) for row in await db.fetch(
        "SELECT event, day, person_id FROM person_event_days WHERE project_id = $1", project_id)}


async def expected_counts(
    db: asyncpg.Connection, project_id, events: list[tuple[int, str]], zone: ZoneInfo
) -> dict[date, tuple[int, int, int]]:
    """Recomputed from the events (time in ns, distinct id) and the persons identity left."""
    mapping = {row["distinct_id"]: row["person_id"] for row in await db.fetch(
        "SELECT distinct_id, person_id FROM person_distinct_ids WHERE project_id = $1", project_id)}
    active: dict[date, set] = {}
    for moment, distinct_id in events:
        day = datetime.fromtimestamp(moment / 1e9, UTC).astimezone(zone).date()
        active.setdefault(day, set()).add(mapping[distinct_id])
    first, last = min(active), max(active) + timedelta(days=31)
    expected = {}
    day = first
    while day <= last:
        def persons(days: int, end: date = day) -> set:
            return set().union(*(active.get(end - timedelta(days=back), set()) for back in range(days)))
        expected[day] = (len(active.get(day, set())), len(persons(7)), len(persons(30)))
        day += timedelta(days=1)
    return expected


def journeys(rng: random.Random) -> tuple[list, list[tuple[int, str]]]:
    """Persons browsing anonymously over ~70 days, identifying (a merge), some aliasing two users (another)."""
    messages, activity = [], []
    for person in range(10):
        anonymous, user = f"anon-{person}", f"user-{person}"
        for _ in range(rng.randint(3, 25)):
            # Days apart by 0 to 40 (the 7- and 30-day windows' edges included), at any time of day.
            moment = at(rng.choice([0, 1, 6, 7, 8, 29, 30, 31, 40, 55, 69]) * DAY_MINUTES + rng.uniform(0, 1439))
            who = rng.choice([anonymous, user])
            kind = rng.choice(["page", "track"])
            messages.append(event_of(kind, at_ns=moment, name="tap", anonymous_id=who if who == anonymous else "",
                                     user_id=who if who == user else ""))
            activity.append((moment, who))
        moment = at(rng.randint(0, 69) * DAY_MINUTES + 720)
        messages.append(event_of("identify", at_ns=moment, anonymous_id=anonymous, user_id=user))
        activity.append((moment, user))
        if person % 3 == 2:  # this user was also known under the previous person's user id
            moment = at(rng.randint(0, 69) * DAY_MINUTES + 30)
            messages.append(event_of("alias", at_ns=moment, previous_id=f"user-{person - 1}", user_id=user))
            activity.append((moment, user))
    # A bot is active every day and counts for nobody.
    messages += [event_of("page", at_ns=at(day * DAY_MINUTES), anonymous_id="crawler", is_bot=True)
                 for day in range(0, 70, 3)]
    return messages, activity


@pytest.mark.parametrize("seed", [5, 2027])
async def test_rollup_equals_a_recomputation_whatever_the_arrival_order_writers_and_merges(
    seed, writer_pool, second_writer_pool, db
):
    rng = random.Random(seed)
    zone = "America/New_York"  # DST changes inside the ~70 days of some seeds' dates
    project = await db.fetchval("INSERT INTO projects (name, timezone) VALUES ('dau', $1) RETURNING id", zone)
    messages, activity = journeys(rng)
    rng.shuffle(messages)
    batches = []
    while messages:
        size = rng.randint(1, 15)
        batches.append(messages[:size])
        messages = messages[size:]
    writers = [EventWriter(writer_pool), EventWriter(second_writer_pool)]
    for wave in range(0, len(batches), 4):
        await asyncio.gather(*(write(writers[i % 2], project, batch)
                               for i, batch in enumerate(batches[wave:wave + 4])))
    await write(writers[0], project, batches[0] + batches[-1])  # redelivered: changes nothing

    assert await counts_by_day(db, project) == await expected_counts(db, project, activity, ZoneInfo(zone))
    merges = await db.fetchval("SELECT count(*) FROM persons WHERE project_id = $1 AND merged_into IS NOT NULL",
                               project)
    assert merges >= 3  # identifies after anonymous browsing and the aliases merged persons
    # Every stored event carries its person as identity finally resolved it (merges rewrote the older ones).
    stale = await db.fetch(
        "SELECT e.distinct_id, e.person_id, m.person_id AS current FROM events e"
        " LEFT JOIN person_distinct_ids m ON m.project_id = e.project_id AND m.distinct_id = e.distinct_id"
        " WHERE e.project_id = $1 AND e.person_id IS DISTINCT FROM CASE WHEN e.is_bot THEN NULL ELSE m.person_id END",
        project,
    )
    assert stale == []
    # No merged person keeps days; a rebuild from the events finds exactly the same rows.
    kept = await person_days(db, project)
    live = {row["id"] for row in await db.fetch(
        "SELECT id FROM persons WHERE project_id = $1 AND merged_into IS NULL", project)}
    assert {person for person, _ in kept} <= live
    incremental = await counts_by_day(db, project)
    by_event = await person_event_days(db, project)
    assert {person for _, _, person in by_event} <= live
    assert {(person, day) for _, day, person in by_event} == kept
    await db.execute("SELECT rebuild_active_persons($1)", project)
    assert await person_days(db, project) == kept
    assert await person_event_days(db, project) == by_event
    assert await counts_by_day(db, project) == incremental


async def test_a_timezone_change_recounts_the_days_and_later_events_follow_it(writer_pool, db):
    organization = await db.fetchval("INSERT INTO organizations (name) VALUES ('dau-tz') RETURNING id")
    project = await db.fetchval(
        "INSERT INTO projects (name, organization_id) VALUES ('dau-tz', $1) RETURNING id", organization)
    writer = EventWriter(writer_pool)
    # 23:00 UTC: the same UTC day, but the next day in Asia/Kolkata (+05:30).
    late_evening = at(23 * 60 - (at(0) // 60_000_000_000) % DAY_MINUTES)
    first = [(late_evening, "u1"), (late_evening + 60_000_000_000, "u2")]
    await write(writer, project, [event_of("track", at_ns=moment, name="x", user_id=who) for moment, who in first])
    assert await counts_by_day(db, project) == await expected_counts(db, project, first, ZoneInfo("UTC"))

    await update_project(writer_pool, project, organization, timezone="Asia/Kolkata")
    kolkata = ZoneInfo("Asia/Kolkata")
    assert await counts_by_day(db, project) == await expected_counts(db, project, first, kolkata)

    later = [(late_evening + 3 * 86_400 * 10**9, "u3")]
    await write(writer, project, [event_of("track", at_ns=moment, name="x", user_id=who) for moment, who in later])
    assert await counts_by_day(db, project) == await expected_counts(db, project, first + later, kolkata)
