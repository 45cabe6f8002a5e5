"""Event definitions: the observed properties recorded beside each stored batch, and `eventDefinitions`."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from processor.event_definitions import record_event_properties
from processor.transform import STAGING_COLUMNS, rows_from_batch
from processor.writer import WRITER_SESSION_SETTINGS, EventWriter, prepare_connection
from storage.database import create_pool
from tests.payloads import event_of
from tests.processor.support import envelope
from tests.query.graphql_client import error_codes, execute
from tests.query.tenant import create_organization
from tests.schemas.graphql import DEFINITIONS

BASE = datetime(2026, 3, 2, 10, 0, 17, tzinfo=UTC)


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000


@pytest.fixture
async def writer_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, size=2, init=prepare_connection, server_settings=WRITER_SESSION_SETTINGS)
    try:
        yield pool
    finally:
        await pool.close()


async def _record(pool: asyncpg.Pool, project_id, events) -> None:
    """What the writer does after storing a batch: staging_events filled, then the properties recorded."""
    rows = rows_from_batch(envelope(project_id, events))
    async with pool.acquire() as connection, connection.transaction():
        await connection.copy_records_to_table("staging_events", records=rows, columns=STAGING_COLUMNS)
        await record_event_properties(connection)


async def _properties(db, project_id) -> dict[tuple[str, str, str], tuple[datetime, datetime, int]]:
    rows = await db.fetch("SELECT event, property, type, first_seen, last_seen, xmin::text::bigint AS version"
                          " FROM event_properties WHERE project_id = $1", project_id)
    return {(r["event"], r["property"], r["type"]): (r["first_seen"], r["last_seen"], r["version"]) for r in rows}


def _purchase(at: datetime, **properties):
    return event_of("track", at_ns=_ns(at), name="purchase", user_id="u1", properties=properties)


async def test_observed_properties_are_recorded_with_their_types_and_times(writer_pool, project, db):
    await _record(writer_pool, project.project_id, [
        _purchase(BASE, price=10, currency="EUR", gift=True, meta={"a": 1}),
        _purchase(BASE + timedelta(minutes=3), price="10.00", tags=["x"], note=None),
        event_of("page", at_ns=_ns(BASE), user_id="u1", properties={"path": "/"}),
    ])

    found = await _properties(db, project.project_id)

    assert {key: value[:2] for key, value in found.items()} == {
        ("purchase", "price", "number"): (BASE, BASE),
        ("purchase", "price", "string"): (BASE + timedelta(minutes=3), BASE + timedelta(minutes=3)),
        ("purchase", "currency", "string"): (BASE, BASE),
        ("purchase", "gift", "boolean"): (BASE, BASE),
        ("purchase", "meta", "object"): (BASE, BASE),
        ("purchase", "tags", "array"): (BASE + timedelta(minutes=3), BASE + timedelta(minutes=3)),
        ("purchase", "note", "null"): (BASE + timedelta(minutes=3), BASE + timedelta(minutes=3)),
        ("$pageview", "path", "string"): (BASE, BASE),
    }


async def test_rows_are_rewritten_only_when_first_seen_moves_earlier_or_last_seen_a_minute_later(
    writer_pool, project, db
):
    await _record(writer_pool, project.project_id, [_purchase(BASE, price=1)])
    key = ("purchase", "price", "number")
    before = (await _properties(db, project.project_id))[key]

    await _record(writer_pool, project.project_id, [_purchase(BASE + timedelta(seconds=50), price=2)])
    assert (await _properties(db, project.project_id))[key] == before  # same row version: not rewritten

    await _record(writer_pool, project.project_id, [_purchase(BASE + timedelta(minutes=2), price=3)])
    first, last, version = (await _properties(db, project.project_id))[key]
    assert (first, last) == (BASE, BASE + timedelta(minutes=2)) and version != before[2]

    await _record(writer_pool, project.project_id, [_purchase(BASE - timedelta(seconds=5), price=4)])
    first, last, _ = (await _properties(db, project.project_id))[key]
    assert (first, last) == (BASE - timedelta(seconds=5), BASE + timedelta(minutes=2))


async def test_non_object_properties_and_overlong_keys_are_left_out(writer_pool, project, db):
    event = _purchase(BASE)
    event.properties_json = '{"' + "k" * 300 + '": 1, "ok": 1}'
    await _record(writer_pool, project.project_id, [event])
    assert set(await _properties(db, project.project_id)) == {("purchase", "ok", "number")}


async def test_event_definitions_list_names_volume_seen_and_property_types(writer_pool, project, db, client,
                                                                          settings):
    events = [
        _purchase(BASE, price=10),
        _purchase(BASE + timedelta(minutes=5), price=12, coupon="SPRING"),
        event_of("track", at_ns=_ns(BASE + timedelta(hours=1)), name="purchase", user_id="crawler",
                 properties={"price": 1}, is_bot=True),
        event_of("track", at_ns=_ns(BASE + timedelta(minutes=1)), name="signup", user_id="u2"),
    ]
    await EventWriter(writer_pool).write(rows_from_batch(envelope(project.project_id, events)))
    await _record(writer_pool, project.project_id, events)

    body = await execute(client, DEFINITIONS, projectId=str(project.project_id))

    assert "errors" not in body, body
    definitions = {item["event"]: item for item in body["data"]["eventDefinitions"]}
    assert [item["event"] for item in body["data"]["eventDefinitions"]] == ["purchase", "signup"]  # by volume
    purchase = definitions["purchase"]
    assert purchase["volume"] == 2  # the bot's purchase is not counted
    assert purchase["firstSeen"] == "2026-03-02T10:00:00+00:00"
    assert purchase["lastSeen"] == "2026-03-02T11:00:00+00:00"  # seen, if only by a bot
    assert [(p["name"], p["type"]) for p in purchase["properties"]] == [("coupon", "string"), ("price", "number")]
    assert definitions["signup"]["volume"] == 1 and definitions["signup"]["properties"] == []

    stranger = await create_organization(db, settings, "Elsewhere")
    client.headers["authorization"] = stranger.headers["authorization"]
    assert error_codes(await execute(client, DEFINITIONS, projectId=str(project.project_id))) == ["NOT_FOUND"]
