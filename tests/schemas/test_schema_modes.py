"""Schema modes end to end: GraphQL defines the schema, real gRPC ingest checks events, the processor stores them."""

import asyncio

from tests.payloads import auth, batch_of, event_of, ingest_stub, track_event
from tests.polling import eventually, wait_for_stored
from tests.schemas.graphql import PRICE_SCHEMA, define, rejected_nodes
from trackmint.v1 import batch_pb2

Code = batch_pb2.RejectionCode

GOOD = {"price": 12.5, "currency": "EUR", "sku": "A-1", "quantity": 2, "coupon": False}
BAD_PRICE = {"price": "12.50", "currency": "EUR"}


async def _send(port: int, write_key: str, events, sequence: int = 1) -> batch_pb2.BatchAck:
    channel, stub = ingest_stub(port)
    async with channel:
        return await stub.Send(batch_of(events, sequence=sequence), metadata=auth(write_key))


async def _stored(db, project_id) -> dict[str, str | None]:
    rows = await db.fetch("SELECT message_id, schema_violation FROM events WHERE project_id = $1", project_id)
    return {row["message_id"]: row["schema_violation"] for row in rows}


async def test_reject_answers_per_event_with_path_and_rule_and_stores_the_good_neighbour(
    ingest_server, processor, project, client, db
):
    assert "errors" not in await define(client, project.project_id, "purchase", PRICE_SCHEMA, "REJECT")
    good = track_event("purchase", properties=GOOD)
    bad = track_event("purchase", properties=BAD_PRICE)
    unrelated = track_event("signup", properties={"price": "not checked"})

    ack = await _send(ingest_server.port, project.write_key, [good, bad, unrelated])

    assert ack.accepted == 2
    assert [(r.index, Code.Name(r.code), r.message_id, r.reason) for r in ack.rejections] == [
        (1, "REJECTION_CODE_SCHEMA_VIOLATION", bad.message_id,
         "properties.price: must be number (schema rule type)"),
    ]
    await wait_for_stored(db, project.project_id, 2)
    assert set(await _stored(db, project.project_id)) == {good.message_id, unrelated.message_id}

    nodes = await eventually(lambda: rejected_nodes(client, project.project_id), lambda nodes: len(nodes) == 1)
    assert len(nodes) == 1
    node = nodes[0]
    assert (node["messageId"], node["event"], node["code"]) == (bad.message_id, "purchase", "SCHEMA_VIOLATION")
    assert node["reason"] == "properties.price: must be number (schema rule type)"
    assert node["payload"]["properties"] == BAD_PRICE
    assert node["replayedAt"] is None


async def test_reject_names_a_missing_required_property(ingest_server, project, client):
    await define(client, project.project_id, "purchase", PRICE_SCHEMA, "REJECT")
    ack = await _send(ingest_server.port, project.write_key, [track_event("purchase", properties={"price": 1})])
    assert ack.accepted == 0
    assert ack.rejections[0].reason == "properties: must contain ['currency'] properties (schema rule required)"


async def test_warn_stores_the_event_with_its_violation(ingest_server, processor, project, client, db):
    await define(client, project.project_id, "purchase", PRICE_SCHEMA, "WARN")
    good = track_event("purchase", properties=GOOD)
    bad = track_event("purchase", properties={**GOOD, "quantity": 0})

    ack = await _send(ingest_server.port, project.write_key, [good, bad])

    assert (ack.accepted, list(ack.rejections)) == (2, [])
    await wait_for_stored(db, project.project_id, 2)
    assert await _stored(db, project.project_id) == {
        good.message_id: None,
        bad.message_id: "properties.quantity: must be bigger than or equal to 1 (schema rule minimum)",
    }


async def test_off_checks_nothing(ingest_server, processor, project, client, db):
    await define(client, project.project_id, "purchase", PRICE_SCHEMA, "OFF")
    bad = track_event("purchase", properties=BAD_PRICE)

    ack = await _send(ingest_server.port, project.write_key, [bad])

    assert (ack.accepted, list(ack.rejections)) == (1, [])
    await wait_for_stored(db, project.project_id, 1)
    assert await _stored(db, project.project_id) == {bad.message_id: None}


async def test_page_events_match_the_pageview_schema(ingest_server, project, client):
    schema = {"type": "object", "properties": {"plan": {"type": "string"}}}
    await define(client, project.project_id, "$pageview", schema, "REJECT")
    page = event_of("page", at_ns=0, name="Pricing", user_id="u1", properties={"plan": 3})
    page.ClearField("timestamp")  # "now"
    named_like_the_page = track_event("Pricing", properties={"plan": 3})

    ack = await _send(ingest_server.port, project.write_key, [page, named_like_the_page])

    assert ack.accepted == 1
    assert [(r.index, r.reason) for r in ack.rejections] == [(0, "properties.plan: must be string (schema rule type)")]


async def test_a_schema_change_reaches_ingest_within_the_cache_ttl(ingest_server, project, client, settings):
    await define(client, project.project_id, "purchase", PRICE_SCHEMA, "REJECT")
    first = await _send(ingest_server.port, project.write_key, [track_event("purchase", properties=BAD_PRICE)])
    assert first.accepted == 0

    await define(client, project.project_id, "purchase", PRICE_SCHEMA, "OFF")
    await asyncio.sleep(settings.schema_cache_ttl_seconds + 0.1)
    second = await _send(ingest_server.port, project.write_key, [track_event("purchase", properties=BAD_PRICE)])
    assert (second.accepted, list(second.rejections)) == (1, [])


async def test_validation_rejections_are_recorded_as_rejected_events(ingest_server, processor, project, client):
    anonymous = track_event("signup")
    anonymous.user_id = ""

    ack = await _send(ingest_server.port, project.write_key, [anonymous])

    assert ack.accepted == 0
    nodes = await eventually(lambda: rejected_nodes(client, project.project_id), lambda nodes: len(nodes) == 1)
    assert [(n["messageId"], n["code"], n["reason"]) for n in nodes] == [
        (anonymous.message_id, "MISSING_IDENTITY", "user_id or anonymous_id is required")
    ]


async def test_a_dead_letter_stream_failure_never_fails_the_ack_of_good_events(
    ingest_server, project, client, jetstream, settings
):
    from messaging.names import Names
    from tests.ingest.support import stream_message_count

    await define(client, project.project_id, "purchase", PRICE_SCHEMA, "REJECT")
    await jetstream.delete_stream(Names(settings.nats_namespace).dead_letter_stream)
    good = track_event("purchase", properties=GOOD)
    bad = track_event("purchase", properties=BAD_PRICE)

    ack = await _send(ingest_server.port, project.write_key, [good, bad])

    assert ack.accepted == 1 and [r.index for r in ack.rejections] == [1]
    assert await stream_message_count(jetstream, settings) == 1
    rejections = ingest_server.service.pipeline.rejections.stats
    assert (rejections.failed_events, rejections.published_events) == (1, 0)


async def test_different_events_refused_for_a_missing_message_id_are_each_recorded(
    ingest_server, processor, project, client
):
    # Their dead-letter records must not collapse into one in JetStream's duplicate window.
    first, second = track_event("signup"), track_event("purchase")
    first.message_id = second.message_id = ""

    for event in (first, second):
        ack = await _send(ingest_server.port, project.write_key, [event])
        assert ack.accepted == 0 and [r.code for r in ack.rejections] == [batch_pb2.REJECTION_CODE_MISSING_MESSAGE_ID]

    nodes = await eventually(lambda: rejected_nodes(client, project.project_id), lambda nodes: len(nodes) == 2)
    assert sorted(node["code"] for node in nodes) == ["MISSING_MESSAGE_ID", "MISSING_MESSAGE_ID"]
