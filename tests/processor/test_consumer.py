"""The consume → transform → write → ack loop against real JetStream and PostgreSQL."""

import asyncio
import contextlib
import time
import uuid

import pytest
from nats.errors import TimeoutError as NatsTimeoutError

from messaging.names import (
    HEADER_DEAD_LETTER_DELIVERIES,
    HEADER_DEAD_LETTER_REASON,
    HEADER_ORIGINAL_SUBJECT,
    Names,
)
from messaging.streams import connect
from processor.consumer import EventConsumer
from processor.service import start_processor
from processor.transform import decode, rows_from_batch
from processor.writer import EventWriter
from tests.payloads import auth, batch_of, ingest_stub
from tests.polling import eventually, stored_count
from tests.processor.support import (
    envelope,
    events_by_hour,
    events_by_minute,
    publish,
    rollup,
    rollup_by_hour,
    rollup_by_minute,
    track_events,
)
from trackmint.v1 import batch_pb2


async def pending_acks(js, settings) -> int:
    names = Names(settings.nats_namespace)
    info = await js.consumer_info(names.events_stream, names.processor_consumer)
    return info.num_ack_pending + info.num_pending


async def test_same_batch_published_twice_is_stored_once(processor, jetstream, settings, db):
    project_id = uuid.uuid4()
    payload = envelope(project_id, track_events(25)).SerializeToString()
    names = Names(settings.nats_namespace)

    await publish(jetstream, names, project_id, payload)
    await publish(jetstream, names, project_id, payload)  # another Nats-Msg-Id: JetStream keeps both

    stats = processor.consumer.stats
    await eventually(lambda: asyncio.sleep(0, stats.messages), lambda seen: seen >= 2)
    assert stats.messages == 2
    assert (stats.events_stored, stats.duplicates) == (25, 25)
    assert await stored_count(db, project_id) == 25
    assert await rollup(db, project_id) == {"signup": 25}


async def test_processor_killed_between_commit_and_ack_stores_everything_exactly_once(
    settings, jetstream, writer_pool, db
):
    quick = settings.model_copy(update={"processor_ack_wait_seconds": 2})
    names = Names(quick.nats_namespace)
    project_id = uuid.uuid4()
    for i in range(6):
        await publish(jetstream, names, project_id, envelope(project_id, track_events(20, prefix=f"b{i}-"))
                      .SerializeToString())

    # A replica fetches, commits its rows, and dies before acking.
    doomed = await connect(quick.nats_url, name="doomed-processor")
    try:
        consumer = EventConsumer(doomed.jetstream(), EventWriter(writer_pool), quick)
        subscription = await doomed.jetstream().pull_subscribe(
            names.events_subjects, durable=names.processor_consumer, stream=names.events_stream,
            config=consumer.consumer_config(),
        )
        fetched = await subscription.fetch(4, timeout=5)
        rows = [row for msg in fetched for row in rows_from_batch(decode(msg.data))]
        assert await EventWriter(writer_pool).write(rows) == len(rows) == 80
    finally:
        await doomed.close()  # no ack ever leaves

    service = await start_processor(quick)
    try:
        await eventually(lambda: stored_count(db, project_id), lambda count: count >= 120)
        stats = service.consumer.stats
        # The redelivered messages arrive only after ack_wait; wait until they are absorbed too.
        await eventually(lambda: pending_acks(jetstream, quick), lambda pending: pending == 0, within=15)
        await eventually(lambda: asyncio.sleep(0, stats.messages), lambda seen: seen >= 6, within=5)
    finally:
        await service.stop(grace=5)

    assert await stored_count(db, project_id) == 120
    assert await rollup(db, project_id) == {"signup": 120}
    assert await rollup_by_minute(db, project_id) == await events_by_minute(db, project_id)
    assert await rollup_by_hour(db, project_id) == await events_by_hour(db, project_id)
    assert (stats.messages, stats.events_stored, stats.duplicates) == (6, 40, 80)


async def test_two_replicas_share_the_work_and_store_every_event_once(ingest_server, settings, project, db):
    small_fetches = settings.model_copy(update={"processor_fetch_messages": 4})
    replicas = [await start_processor(small_fetches), await start_processor(small_fetches)]
    batches, per_batch = 100, 30
    try:
        channel, stub = ingest_stub(ingest_server.port)
        async with channel:
            for start in range(0, batches, 20):
                acks = await asyncio.gather(*(
                    stub.Send(batch_of(track_events(per_batch, name=f"e{seq % 3}", prefix=f"s{seq}-"), sequence=seq),
                              metadata=auth(project.write_key))
                    for seq in range(start, start + 20)
                ))
                assert all(ack.accepted == per_batch for ack in acks)
        total = batches * per_batch
        await eventually(lambda: stored_count(db, project.project_id), lambda count: count >= total, within=30)
    finally:
        for replica in replicas:
            await replica.stop(grace=5)

    assert await stored_count(db, project.project_id) == total
    assert sum((await rollup(db, project.project_id)).values()) == total
    stats = [replica.consumer.stats for replica in replicas]
    assert all(s.batches > 0 and s.events_stored > 0 for s in stats), stats
    assert sum(s.events_stored for s in stats) == total
    assert sum(s.messages for s in stats) >= batches


def _undecodable(project_id) -> bytes:
    return b"\xff\xfe garbage, not an IngestedBatch"


def _foreign_project(project_id) -> bytes:
    return envelope("not-a-project-uuid", track_events(2)).SerializeToString()


def _jsonb_refuses(project_id) -> bytes:
    events = track_events(3, prefix="poisoned")
    events[1].properties_json = '{"note": "\\u0000"}'  # PostgreSQL jsonb refuses a NUL escape
    return envelope(project_id, events).SerializeToString()


@pytest.mark.parametrize(
    ("poison", "reason"),
    [(_undecodable, "not an IngestedBatch"), (_foreign_project, "not a UUID"), (_jsonb_refuses, "PostgreSQL")],
    ids=["undecodable", "project not a uuid", "refused by postgres"],
)
async def test_poison_message_is_dead_lettered_with_reason_and_neighbours_are_stored(
    settings, jetstream, db, poison, reason
):
    max_deliveries = 2
    strict = settings.model_copy(update={"processor_max_deliveries": max_deliveries})
    names = Names(strict.nats_namespace)
    project_id = uuid.uuid4()
    dead_letters = await jetstream.subscribe(f"{names.dead_letter_subject_prefix}.>", stream=names.dead_letter_stream)
    poison_bytes = poison(project_id)
    await publish(jetstream, names, project_id, envelope(project_id, track_events(10, prefix="a")).SerializeToString())
    await publish(jetstream, names, project_id, poison_bytes)
    await publish(jetstream, names, project_id, envelope(project_id, track_events(10, prefix="b")).SerializeToString())

    service = await start_processor(strict)
    try:
        parked = await dead_letters.next_msg(timeout=15)
        # A message PostgreSQL refuses is split on its last delivery: its good events are stored too.
        expected_stored = 22 if poison is _jsonb_refuses else 20
        await eventually(lambda: stored_count(db, project_id), lambda count: count >= expected_stored)
        await eventually(lambda: pending_acks(jetstream, strict), lambda pending: pending == 0, within=5)
    finally:
        await service.stop(grace=5)

    if poison is _jsonb_refuses:
        original = batch_pb2.IngestedBatch.FromString(poison_bytes)
        parked_batch = batch_pb2.IngestedBatch.FromString(parked.data)
        assert list(parked_batch.events) == [original.events[1]]  # only the refused event is parked
        assert parked_batch.project_id == original.project_id
    else:
        assert parked.data == poison_bytes
    assert reason in parked.headers[HEADER_DEAD_LETTER_REASON]
    assert parked.headers[HEADER_DEAD_LETTER_DELIVERIES] == str(max_deliveries)
    assert parked.headers[HEADER_ORIGINAL_SUBJECT] == names.events_subject(str(project_id))
    assert await stored_count(db, project_id) == expected_stored
    assert service.consumer.stats.dead_letters == 1
    with pytest.raises(NatsTimeoutError):  # dead-lettered once, not again
        await dead_letters.next_msg(timeout=0.3)
    await dead_letters.unsubscribe()


async def _terminate_backends(db, until: float) -> int:
    """Kill every other session of the test database, again and again, like a flapping PostgreSQL."""
    killed = 0
    while time.monotonic() < until:
        killed += await db.fetchval(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        await asyncio.sleep(0.02)
    return killed


async def test_postgres_outage_is_retried_with_backoff_and_everything_stored_once(
    processor, settings, jetstream, db
):
    names = Names(settings.nats_namespace)
    project_id = uuid.uuid4()
    messages, per_message = 40, 25
    outage = asyncio.create_task(_terminate_backends(db, until=time.monotonic() + 3))
    try:
        for i in range(messages):
            payload = envelope(project_id, track_events(per_message, prefix=f"m{i}-")).SerializeToString()
            await publish(jetstream, names, project_id, payload)
            await asyncio.sleep(0.05)
        killed = await outage
    finally:
        outage.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await outage

    total = messages * per_message
    await eventually(
        lambda: stored_count(db, project_id), lambda count: count >= total or processor.task.done(), within=20
    )
    assert killed > 0
    assert not processor.task.done(), processor.task  # the loop survived the outage
    assert await stored_count(db, project_id) == total
    assert await rollup(db, project_id) == {"signup": total}
    assert await rollup_by_minute(db, project_id) == await events_by_minute(db, project_id)
    assert await rollup_by_hour(db, project_id) == await events_by_hour(db, project_id)
    assert processor.consumer.stats.database_retries > 0
    assert processor.consumer.stats.dead_letters == 0


async def test_idle_processor_survives_fetch_timeouts_and_still_stores_new_events(settings, db):
    # A very short fetch timeout makes idle fetches end in timeouts of every kind, as a busy loop does now and then.
    impatient = settings.model_copy(update={"processor_fetch_timeout_seconds": 0.001})
    project_id = uuid.uuid4()
    service = await start_processor(impatient)
    nc = await connect(impatient.nats_url, name="idle-test")
    try:
        await asyncio.sleep(1)
        alive_after_idling = not service.task.done()
        await publish(nc.jetstream(), Names(impatient.nats_namespace), project_id,
                      envelope(project_id, track_events(5)).SerializeToString())
        stored = await eventually(
            lambda: stored_count(db, project_id), lambda count: count >= 5 or service.task.done(), within=5
        )
    finally:
        await nc.close()
        service.consumer.stop()
        service.task.cancel()
        with contextlib.suppress(BaseException):
            await service.task
        await service.nc.close()
        await service.pool.close()

    assert alive_after_idling, f"the consume loop died while idle: {service.task!r}"
    assert stored == 5
