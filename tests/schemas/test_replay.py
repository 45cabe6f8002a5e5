"""The dead-letter record and its replay: rejected events browsable in GraphQL, replayed once their schema is fixed."""

import asyncio
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from ingest.replay import ReplayRequestError, parse_request
from ingest.server import start_ingest
from messaging.names import HEADER_DEAD_LETTER_REASON, Names
from processor.rejections import rows_from_message, store_rejected
from tests.payloads import auth, batch_of, ingest_stub, track_event
from tests.polling import eventually, wait_for_stored
from tests.processor.support import envelope
from tests.query.graphql_client import error_codes, execute
from tests.query.servers import start_server, stop_server
from tests.schemas.graphql import PRICE_SCHEMA, REJECTED, REPLAY, define, rejected_nodes

GEO_DB = Path(__file__).resolve().parents[1] / "data" / "geo" / "GeoLite2-City-Test.mmdb"
BAD_PRICE = {"price": "12.50", "currency": "EUR"}
FIXED_SCHEMA = {**PRICE_SCHEMA, "properties": {**PRICE_SCHEMA["properties"], "price": {"type": ["number", "string"]}}}


async def _send(port, write_key, events, *, sent_at_ns=None):
    channel, stub = ingest_stub(port)
    async with channel:
        return await stub.Send(batch_of(events, sent_at_ns=sent_at_ns), metadata=auth(write_key))


async def _replay(client, project_id, **arguments):
    return await execute(client, REPLAY, projectId=str(project_id), **arguments)


async def _copies(db, project_id, message_id) -> int:
    return await db.fetchval("SELECT count(*) FROM events WHERE project_id = $1 AND message_id = $2",
                             project_id, message_id)


async def test_fixed_schema_replay_stores_the_event_exactly_once_and_marks_the_row(
    ingest_server, processor, project, client, db
):
    await define(client, project.project_id, "purchase", PRICE_SCHEMA, "REJECT")
    happened_ns = time.time_ns() - 3_600_000_000_000
    bad = track_event("purchase", properties=BAD_PRICE, timestamp_ns=happened_ns)
    # The client's clock is 10 s behind: ingest moves the event 10 s later, once, replay or not.
    ack = await _send(ingest_server.port, project.write_key, [bad], sent_at_ns=time.time_ns() - 10_000_000_000)
    assert ack.accepted == 0
    nodes = await eventually(lambda: rejected_nodes(client, project.project_id), lambda nodes: len(nodes) == 1)
    row_id = nodes[0]["id"]

    still_bad = await _replay(client, project.project_id, ids=[row_id])
    assert still_bad["data"]["replayRejectedEvents"] == {"replayed": 1, "accepted": 0, "stillRejected": 1,
                                                        "skipped": 0}
    [node] = await rejected_nodes(client, project.project_id)
    assert node["replayResult"] == "SCHEMA_VIOLATION" and node["replayedAt"] is not None

    await define(client, project.project_id, "purchase", FIXED_SCHEMA, "REJECT")
    await asyncio.sleep(0.3)  # the schema cache TTL of these tests
    fixed = await _replay(client, project.project_id, ids=[row_id])
    assert fixed["data"]["replayRejectedEvents"] == {"replayed": 1, "accepted": 1, "stillRejected": 0, "skipped": 0}
    await wait_for_stored(db, project.project_id, 1)

    again = await _replay(client, project.project_id, ids=[row_id])
    assert again["data"]["replayRejectedEvents"] == {"replayed": 0, "accepted": 0, "stillRejected": 0, "skipped": 1}
    by_name = await _replay(client, project.project_id, event="purchase")
    assert by_name["data"]["replayRejectedEvents"]["replayed"] == 0

    [node] = await rejected_nodes(client, project.project_id)
    assert node["replayResult"] == "ACCEPTED" and node["replayedAt"] is not None
    stored = await db.fetchrow("SELECT event_time, received_at FROM events WHERE project_id = $1",
                               project.project_id)
    rejected = await db.fetchrow("SELECT received_at FROM rejected_events WHERE id = $1", int(row_id))
    assert stored["received_at"] == rejected["received_at"]
    corrected_seconds = (stored["event_time"].timestamp() - happened_ns / 1e9)
    assert 9 < corrected_seconds < 12  # the 10 s skew, corrected exactly once
    await asyncio.sleep(0.5)
    assert await _copies(db, project.project_id, bad.message_id) == 1


async def test_replay_of_the_same_event_published_twice_is_stored_once(ingest_server, processor, project, client, db):
    """Two replays racing past the row marks still store one event: the processor keys on message_id."""
    await define(client, project.project_id, "purchase", PRICE_SCHEMA, "REJECT")
    bad = track_event("purchase", properties=BAD_PRICE)
    await _send(ingest_server.port, project.write_key, [bad])
    await eventually(lambda: rejected_nodes(client, project.project_id), lambda nodes: len(nodes) == 1)
    await define(client, project.project_id, "purchase", FIXED_SCHEMA, "WARN")
    await asyncio.sleep(0.3)
    # Simulate a lost mark: un-mark the row after the first replay and replay again.
    first = await _replay(client, project.project_id, event="purchase")
    assert first["data"]["replayRejectedEvents"]["accepted"] == 1
    await db.execute("UPDATE rejected_events SET replay_result = NULL, replayed_at = NULL WHERE project_id = $1",
                     project.project_id)
    second = await _replay(client, project.project_id, event="purchase")
    assert second["data"]["replayRejectedEvents"]["accepted"] == 1
    await wait_for_stored(db, project.project_id, 1)
    await asyncio.sleep(0.5)
    assert await _copies(db, project.project_id, bad.message_id) == 1


async def test_replay_without_a_running_ingest_is_unavailable(project, client):
    body = await _replay(client, project.project_id, ids=["1"])
    assert error_codes(body) == ["UNAVAILABLE"]
    assert "no ingest replica is running" in body["errors"][0]["message"]


async def test_replay_needs_exactly_one_of_ids_and_event(project, client):
    assert error_codes(await _replay(client, project.project_id)) == ["BAD_USER_INPUT"]
    body = await _replay(client, project.project_id, ids=["1"], event="purchase")
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_rejected_events_page_newest_first_and_filter_by_code(ingest_server, processor, project, client):
    await define(client, project.project_id, "purchase", PRICE_SCHEMA, "REJECT")
    anonymous = track_event("signup")
    anonymous.user_id = ""
    bad = [track_event("purchase", properties=BAD_PRICE) for _ in range(2)]
    await _send(ingest_server.port, project.write_key, [anonymous, *bad])
    await eventually(lambda: rejected_nodes(client, project.project_id), lambda nodes: len(nodes) == 3)

    first_page = await execute(client, REJECTED, projectId=str(project.project_id), first=2)
    connection = first_page["data"]["rejectedEvents"]
    assert connection["pageInfo"]["hasNextPage"] is True
    rest = await execute(client, REJECTED, projectId=str(project.project_id), first=2,
                         after=connection["pageInfo"]["endCursor"])
    ids = [int(edge["node"]["id"]) for edge in connection["edges"] + rest["data"]["rejectedEvents"]["edges"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 3
    assert rest["data"]["rejectedEvents"]["pageInfo"]["hasNextPage"] is False

    schema_only = await rejected_nodes(client, project.project_id, code="SCHEMA_VIOLATION")
    assert sorted(node["messageId"] for node in schema_only) == sorted(event.message_id for event in bad)
    by_event = await rejected_nodes(client, project.project_id, event="signup")
    assert [node["messageId"] for node in by_event] == [anonymous.message_id]

    body = await execute(client, REJECTED, projectId=str(project.project_id), after="not-a-cursor")
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_processor_dead_letters_are_recorded_one_row_per_event(processor, project, client, jetstream, settings):
    names = Names(settings.nats_namespace)
    refused = [track_event("purchase", user_id=f"u{i}") for i in range(2)]
    await jetstream.publish(names.dead_letter_subject(str(project.project_id)),
                            envelope(project.project_id, refused).SerializeToString(),
                            headers={HEADER_DEAD_LETTER_REASON: "refused by PostgreSQL: value too long"})
    await jetstream.publish(names.dead_letter_subject(str(project.project_id)), b"\xff not a batch",
                            headers={HEADER_DEAD_LETTER_REASON: "message does not decode"})

    nodes = await eventually(lambda: rejected_nodes(client, project.project_id), lambda nodes: len(nodes) == 3)
    by_code = sorted((node["code"], node["messageId"], node["reason"]) for node in nodes)
    assert by_code == sorted([
        ("STORAGE_REFUSED", refused[0].message_id, "refused by PostgreSQL: value too long"),
        ("STORAGE_REFUSED", refused[1].message_id, "refused by PostgreSQL: value too long"),
        ("UNDECODABLE", "", "message does not decode"),
    ])
    assert [node["payload"] for node in nodes if node["code"] == "UNDECODABLE"] == [None]


async def test_a_redelivered_dead_letter_is_recorded_once(project, db, settings):
    names = Names(settings.nats_namespace)
    data = envelope(project.project_id, [track_event("purchase")]).SerializeToString()
    rows = rows_from_message(names, names.dead_letter_subject(str(project.project_id)), data,
                             {HEADER_DEAD_LETTER_REASON: "x"}, sequence=77, now=_now())
    await store_rejected(db, rows)
    await store_rejected(db, rows)
    assert await db.fetchval("SELECT count(*) FROM rejected_events WHERE project_id = $1", project.project_id) == 1


async def test_rejections_of_a_deleted_or_unknown_project_are_dropped_not_crashing(db, settings):
    names = Names(settings.nats_namespace)
    missing = uuid.uuid4()
    rows = rows_from_message(names, names.rejected_subject(str(missing)), b"\x00\x01garbage", None, 5, _now())
    await store_rejected(db, rows)  # the foreign key would refuse it; the statement leaves it out
    assert await db.fetchval("SELECT count(*) FROM rejected_events WHERE project_id = $1", missing) == 0
    assert rows_from_message(names, names.rejected_subject("not-a-uuid"), b"", None, 6, _now()) == []


def _now() -> datetime:
    return datetime.now(UTC)


async def test_an_event_refused_for_a_nul_character_is_still_recorded(ingest_server, processor, project, client):
    nul = track_event("signup", message_id="id-with-\x00-nul")
    ack = await _send(ingest_server.port, project.write_key, [nul])
    assert ack.accepted == 0 and ack.rejections[0].reason == "message_id must not contain NUL characters"
    nodes = await eventually(lambda: rejected_nodes(client, project.project_id), lambda nodes: len(nodes) == 1)
    assert [(node["messageId"], node["code"]) for node in nodes] == [("id-with--nul", "INVALID_JSON")]


async def test_replay_with_nats_unreachable_is_unavailable_and_queries_still_work(project, caller, settings):
    server, task, url = await start_server(settings.model_copy(update={"nats_url": "nats://127.0.0.1:9"}))
    try:
        async with httpx.AsyncClient(base_url=url, headers=caller.headers, timeout=30) as http:
            body = await _replay(http, project.project_id, event="purchase")
            assert error_codes(body) == ["UNAVAILABLE"]
            assert "cannot reach NATS" in body["errors"][0]["message"]
            assert (await rejected_nodes(http, project.project_id)) == []
    finally:
        await stop_server(server, task)


@pytest.mark.parametrize(("data", "problem"), [
    (b"{", "not JSON"),
    (b"[]", "JSON object"),
    (b'{"project_id": "x", "ids": [1]}', "UUID"),
    (b'{"project_id": "00000000-0000-0000-0000-000000000001", "ids": ["1"]}', "list of integers"),
    (b'{"project_id": "00000000-0000-0000-0000-000000000001", "ids": [' + b",".join([b"1"] * 1001) + b"]}",
     "at most 1000"),
    (b'{"project_id": "00000000-0000-0000-0000-000000000001"}', "ids or an event"),
])
def test_ingest_refuses_malformed_replay_requests(data, problem):
    with pytest.raises(ReplayRequestError, match=problem):
        parse_request(data)


async def test_a_replayed_event_keeps_its_first_geo_though_its_ip_was_not_kept(settings, processor, project, client,
                                                                                db):
    server = await start_ingest(settings.model_copy(update={"geoip_database_path": GEO_DB}))
    try:
        await define(client, project.project_id, "purchase", PRICE_SCHEMA, "REJECT")
        bad = track_event("purchase", properties=BAD_PRICE)
        bad.context.ip = "89.160.20.130"
        ack = await _send(server.port, project.write_key, [bad])
        assert ack.accepted == 0
        [node] = await eventually(lambda: rejected_nodes(client, project.project_id), lambda nodes: len(nodes) == 1)
        assert "89.160.20.130" not in str(node["payload"])  # the project did not opt in to keep IPs
        assert node["payload"]["enrichment"]["country"] == "SE"

        await define(client, project.project_id, "purchase", FIXED_SCHEMA, "REJECT")
        await asyncio.sleep(0.3)
        replayed = await _replay(client, project.project_id, ids=[node["id"]])
        assert replayed["data"]["replayRejectedEvents"]["accepted"] == 1
        await wait_for_stored(db, project.project_id, 1)
        row = await db.fetchrow("SELECT country, city, ip FROM events WHERE project_id = $1", project.project_id)
        assert (row["country"], row["city"], row["ip"]) == ("SE", "Linköping", None)
    finally:
        await server.stop(grace=1)
