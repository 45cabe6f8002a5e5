"""The destinations service against real PostgreSQL, NATS JetStream and a real HTTP target."""

import asyncio
import time

import asyncpg
import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from config import Settings
from messaging.names import Names
from processor.service import start_processor
from storage.projects import CreatedProject
from tests.destinations.conftest import Target, add_destination, person_events, refused_url, wait_for
from tests.payloads import track_event
from tests.polling import wait_for_stored
from webhooks.signing import DELIVERY_HEADER, SIGNATURE_HEADER, verify


def assert_once_in_order(received: list[dict], sent: list) -> None:
    """Every sent event exactly once, and each person's events in the order they were sent."""
    ids = [event["messageId"] for event in received]
    assert sorted(ids) == sorted(event.message_id for event in sent)
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    by_person: dict[str, list[int]] = {}
    for event in received:
        by_person.setdefault(event["distinctId"], []).append(event["properties"]["n"])
    for person, numbers in by_person.items():
        assert numbers == sorted(numbers), f"{person}'s events out of order: {numbers}"


async def test_a_delivery_is_signed_and_carries_the_stored_event_shape(
    db: asyncpg.Connection, dest_settings: Settings, project: CreatedProject, target: Target, publish, start_replica
):
    created = await add_destination(db, dest_settings, project.project_id, f"{target.url}/hook")
    await start_replica()
    sent = [track_event("Order Completed", user_id="ada", properties={"total": 99.5, "n": 0})]
    await publish(project.project_id, sent)
    await wait_for(lambda: target.accepted("/hook"))
    [post] = target.accepted("/hook")
    signature = post.headers[SIGNATURE_HEADER.lower()]
    assert verify(created.secret, signature, post.body, int(time.time()))
    assert not verify(created.secret, signature, post.body.replace(b"99.5", b"9.5"), int(time.time()))
    assert not verify(created.secret.replace("whsec_", "whsec_0"), signature, post.body, int(time.time()))
    body = post.json
    assert post.headers[DELIVERY_HEADER.lower()] == body["deliveryId"]
    assert body["destinationId"] == str(created.id) and body["projectId"] == str(project.project_id)
    [event] = body["events"]
    assert event["messageId"] == sent[0].message_id
    assert event["type"] == "track" and event["event"] == "Order Completed"
    assert event["distinctId"] == "ada" and event["userId"] == "ada" and event["anonymousId"] is None
    assert event["properties"] == {"total": 99.5, "n": 0}
    assert event["timestamp"].endswith("Z") and event["receivedAt"].endswith("Z")
    assert post.headers["content-type"] == "application/json"


async def test_a_target_failing_three_times_then_recovering_gets_each_event_once_in_order(
    db: asyncpg.Connection, dest_settings: Settings, project: CreatedProject, target: Target, publish, start_replica
):
    created = await add_destination(db, dest_settings, project.project_id, f"{target.url}/hook")
    target.fail_next["/hook"] = 3
    await start_replica()
    sent = person_events(persons=4, per_person=15)
    for start in range(0, len(sent), 6):  # many stream messages, as from many SDK requests
        await publish(project.project_id, sent[start:start + 6])
    await wait_for(lambda: len(target.events("/hook")) >= len(sent), within=20)
    await asyncio.sleep(0.5)  # nothing more may come
    assert len(target.refused("/hook")) == 3
    assert_once_in_order(target.events("/hook"), sent)
    # the three refusals were retries of the first batch, with its delivery id
    first_delivery = target.accepted("/hook")[0].json["deliveryId"]
    assert {post.json["deliveryId"] for post in target.refused("/hook")} == {first_delivery}
    status = await db.fetchrow("SELECT * FROM destination_status WHERE destination_id = $1", created.id)
    assert status["consecutive_failures"] == 0 and status["delivered_events"] == len(sent)
    assert "HTTP 503" in status["last_error"]
    failures = await db.fetch("SELECT attempt, status_code FROM destination_failures WHERE destination_id = $1"
                              " ORDER BY id", created.id)
    assert [(row["attempt"], row["status_code"]) for row in failures] == [(1, 503), (2, 503), (3, 503)]
    assert await db.fetchval("SELECT count(*) FROM destination_dead_letters WHERE destination_id = $1",
                             created.id) == 0


async def test_a_target_down_for_good_ends_in_dead_letters_without_holding_up_storage(
    db: asyncpg.Connection, dest_settings: Settings, project: CreatedProject, target: Target, publish, start_replica
):
    down = await add_destination(db, dest_settings, project.project_id, refused_url())
    failing = await add_destination(db, dest_settings, project.project_id, f"{target.url}/down")
    healthy = await add_destination(db, dest_settings, project.project_id, f"{target.url}/ok")
    target.mode["/down"] = "down"
    processor = await start_processor(dest_settings)
    try:
        await start_replica()
        sent = person_events(persons=3, per_person=4)
        for start in range(0, len(sent), 3):
            await publish(project.project_id, sent[start:start + 3])
        # storage and a healthy destination are not held back by the dead ones
        assert await wait_for_stored(db, project.project_id, len(sent), within=10) == len(sent)
        await wait_for(lambda: len(target.events("/ok")) == len(sent))
        assert_once_in_order(target.events("/ok"), sent)
    finally:
        await processor.stop(grace=5)

    async def parked(destination_id) -> int:
        return await db.fetchval("SELECT coalesce(sum(events), 0) FROM destination_dead_letters"
                                 " WHERE destination_id = $1", destination_id)

    for dead in (down, failing):
        await wait_for(lambda dead=dead: parked(dead.id), within=30)
        await wait_for(lambda dead=dead: _equals(parked(dead.id), len(sent)), within=30)
        letters = await db.fetch("SELECT attempts, last_error FROM destination_dead_letters"
                                 " WHERE destination_id = $1 ORDER BY id", dead.id)
        assert all(letter["attempts"] == dest_settings.destinations_max_attempts for letter in letters)
    assert "ConnectError" in letters[0]["last_error"] or "HTTP 503" in letters[0]["last_error"]
    assert len(target.refused("/down")) == dest_settings.destinations_max_attempts * len(letters)
    assert await db.fetchval("SELECT count(*) FROM destination_dead_letters WHERE destination_id = $1",
                             healthy.id) == 0


async def _equals(value, expected) -> bool:
    return (await value) == expected


async def test_only_events_matching_the_names_and_property_predicates_are_delivered(
    db: asyncpg.Connection, dest_settings: Settings, project: CreatedProject, target: Target, publish, start_replica
):
    await add_destination(db, dest_settings, project.project_id, f"{target.url}/hook", filter={
        "events": ["purchase", "refund"],
        "properties": [{"key": "plan", "operator": "in", "value": ["pro", "team"]},
                       {"key": "total", "operator": "gt", "value": 10},
                       {"key": "coupon", "operator": "is_not_set", "value": None}],
    })
    await start_replica()
    wanted = [track_event("purchase", properties={"plan": "pro", "total": 20}),
              track_event("refund", properties={"plan": "team", "total": 11.5})]
    unwanted = [track_event("signup", properties={"plan": "pro", "total": 20}),
                track_event("purchase", properties={"plan": "free", "total": 20}),
                track_event("purchase", properties={"plan": "pro", "total": 10}),
                track_event("purchase", properties={"plan": "pro", "total": "20"}),
                track_event("purchase", properties={"plan": "pro", "total": 20, "coupon": "X"})]
    await publish(project.project_id, unwanted[:2] + wanted[:1] + unwanted[2:] + wanted[1:])
    marker = track_event("refund", properties={"plan": "pro", "total": 99})
    await publish(project.project_id, [marker])
    await wait_for(lambda: any(e["messageId"] == marker.message_id for e in target.events("/hook")))
    assert [e["messageId"] for e in target.events("/hook")] == [e.message_id for e in [*wanted, marker]]


async def test_a_deleted_destination_stops_and_its_consumer_is_removed(
    db: asyncpg.Connection, dest_settings: Settings, project: CreatedProject, target: Target, publish,
    start_replica, jetstream: JetStreamContext
):
    created = await add_destination(db, dest_settings, project.project_id, f"{target.url}/hook")
    names = Names(dest_settings.nats_namespace)
    await start_replica()
    await publish(project.project_id, [track_event("first")])
    await wait_for(lambda: len(target.events("/hook")) == 1)
    await jetstream.consumer_info(names.events_stream, names.destination_consumer(str(created.id)))
    await db.execute("DELETE FROM destinations WHERE id = $1", created.id)

    async def consumer_gone() -> bool:
        try:
            await jetstream.consumer_info(names.events_stream, names.destination_consumer(str(created.id)))
        except NotFoundError:
            return True
        return False

    await wait_for(consumer_gone)
    await publish(project.project_id, [track_event("second")])
    await asyncio.sleep(1.0)
    assert [event["event"] for event in target.events("/hook")] == ["first"]


async def test_a_disabled_destination_pauses_and_resumes_where_it_stopped(
    db: asyncpg.Connection, dest_settings: Settings, project: CreatedProject, target: Target, publish, start_replica
):
    created = await add_destination(db, dest_settings, project.project_id, f"{target.url}/hook")
    await start_replica()
    sent = person_events(persons=2, per_person=3)
    await publish(project.project_id, sent[:2])
    await wait_for(lambda: len(target.events("/hook")) == 2)
    await db.execute("UPDATE destinations SET enabled = false WHERE id = $1", created.id)
    await asyncio.sleep(0.5)
    await publish(project.project_id, sent[2:])
    await asyncio.sleep(1.0)
    assert len(target.events("/hook")) == 2
    await db.execute("UPDATE destinations SET enabled = true WHERE id = $1", created.id)
    await wait_for(lambda: len(target.events("/hook")) == len(sent))
    assert_once_in_order(target.events("/hook"), sent)


async def test_a_restarted_service_resumes_without_loss_or_duplicates(
    db: asyncpg.Connection, dest_settings: Settings, project: CreatedProject, target: Target, publish
):
    from destinations.service import start_destinations

    # A stopped service hands its batch back: its successor goes on at once, not after the (long) ack wait.
    patient = dest_settings.model_copy(update={"destinations_ack_wait_seconds": 120})
    await add_destination(db, dest_settings, project.project_id, f"{target.url}/hook")
    first = await start_destinations(patient, name="first")
    sent = person_events(persons=3, per_person=6)
    await publish(project.project_id, sent[:6])
    await wait_for(lambda: len(target.events("/hook")) == 6)
    target.fail_next["/hook"] = 1_000  # the next batch is being retried when the service stops
    await publish(project.project_id, sent[6:12])
    await wait_for(lambda: target.refused("/hook"))
    await first.stop()
    await publish(project.project_id, sent[12:])
    target.fail_next.clear()
    second = await start_destinations(patient, name="second")
    try:
        await wait_for(lambda: len(target.events("/hook")) >= len(sent), within=20)
        await asyncio.sleep(0.5)
    finally:
        await second.stop()
    assert_once_in_order(target.events("/hook"), sent)


async def test_a_crashed_service_is_redelivered_in_order_by_its_successor(
    db: asyncpg.Connection, dest_settings: Settings, project: CreatedProject, target: Target, publish, start_replica
):
    await add_destination(db, dest_settings, project.project_id, f"{target.url}/hook")
    first = await start_replica("first")
    sent = person_events(persons=2, per_person=6)
    await publish(project.project_id, sent[:4])
    await wait_for(lambda: len(target.events("/hook")) == 4)
    target.mode["/hook"] = "hang"  # the crash happens while a POST is unanswered
    await publish(project.project_id, sent[4:8])
    await asyncio.sleep(0.3)
    await first.abort()
    await publish(project.project_id, sent[8:])
    target.mode.clear()
    await start_replica("second")
    await wait_for(lambda: len(target.events("/hook")) >= len(sent), within=20)
    await asyncio.sleep(0.5)
    assert_once_in_order(target.events("/hook"), sent)


async def test_two_replicas_deliver_each_batch_once(
    db: asyncpg.Connection, dest_settings: Settings, project: CreatedProject, target: Target, publish, start_replica
):
    await add_destination(db, dest_settings, project.project_id, f"{target.url}/hook")
    replicas = [await start_replica("a"), await start_replica("b")]
    await wait_for(lambda: any(replica.is_leader for replica in replicas))
    sent = person_events(persons=3, per_person=5)
    for start in range(0, len(sent), 5):
        await publish(project.project_id, sent[start:start + 5])
    await wait_for(lambda: len(target.events("/hook")) >= len(sent))
    await asyncio.sleep(0.5)
    assert_once_in_order(target.events("/hook"), sent)
    assert sum(replica.is_leader for replica in replicas) == 1


@pytest.mark.parametrize("garbage", [b"not a protobuf \xff\xff", b""])
async def test_an_undecodable_message_is_skipped_and_later_events_still_arrive(
    db: asyncpg.Connection, dest_settings: Settings, project: CreatedProject, target: Target, publish,
    start_replica, jetstream: JetStreamContext, garbage: bytes
):
    await add_destination(db, dest_settings, project.project_id, f"{target.url}/hook")
    await start_replica()
    await jetstream.publish(Names(dest_settings.nats_namespace).events_subject(str(project.project_id)), garbage)
    event = track_event("after")
    await publish(project.project_id, [event])
    await wait_for(lambda: target.events("/hook"))
    assert [e["messageId"] for e in target.events("/hook")] == [event.message_id]


async def test_batches_are_cut_at_the_configured_size_and_keep_the_order(
    db: asyncpg.Connection, dest_settings: Settings, project: CreatedProject, target: Target, publish
):
    from destinations.service import start_destinations

    await add_destination(db, dest_settings, project.project_id, f"{target.url}/hook")
    sent = person_events(persons=3, per_person=5)
    await publish(project.project_id, sent[:9])  # one stream message larger than a batch
    await publish(project.project_id, sent[9:])
    service = await start_destinations(dest_settings.model_copy(update={"destinations_batch_max_events": 4}))
    try:
        await wait_for(lambda: len(target.events("/hook")) >= len(sent))
    finally:
        await service.stop()
    assert max(len(post.json["events"]) for post in target.accepted("/hook")) == 4
    assert [event["messageId"] for event in target.events("/hook")] == [event.message_id for event in sent]
