"""Send and Stream over gRPC against the real server: acks, rejections, durability and what reaches PostgreSQL."""

import time

import grpc

from tests.ingest.support import stored_message_ids, stream_message_count
from tests.payloads import auth, batch_of, ingest_stub, track_event
from tests.polling import eventually
from trackmint.v1 import batch_pb2

Code = batch_pb2.RejectionCode


def _without_identity():
    event = track_event("bad")
    event.user_id = ""
    return event


def _with_invalid_json():
    event = track_event("bad")
    event.properties_json = "{oops"
    return event


async def test_send_acks_sequence_accepted_and_rejections_and_stores_only_good_events(
    ingest_server, processor, project, db, settings, jetstream
):
    good = [track_event("signup", user_id=f"u{i}") for i in range(3)]
    events = [good[0], _without_identity(), good[1], _with_invalid_json(), good[2]]
    channel, stub = ingest_stub(ingest_server.port)
    async with channel:
        ack = await stub.Send(batch_of(events, sequence=41), metadata=auth(project.write_key))

    assert ack.sequence == 41
    assert ack.accepted == 3
    assert [(r.index, Code.Name(r.code), r.message_id) for r in ack.rejections] == [
        (1, "REJECTION_CODE_MISSING_IDENTITY", events[1].message_id),
        (3, "REJECTION_CODE_INVALID_JSON", events[3].message_id),
    ]
    assert all(r.reason for r in ack.rejections)
    assert await stream_message_count(jetstream, settings) == 1  # acked means already in JetStream
    ids = await eventually(lambda: stored_message_ids(db, project.project_id), lambda ids: len(ids) >= 3)
    assert ids == sorted(event.message_id for event in good)


async def test_batch_with_only_bad_events_is_acked_and_publishes_nothing(ingest_server, project, settings, jetstream):
    channel, stub = ingest_stub(ingest_server.port)
    async with channel:
        ack = await stub.Send(batch_of([_without_identity(), _with_invalid_json()], sequence=2),
                              metadata=auth(project.write_key))

    assert (ack.sequence, ack.accepted, [r.index for r in ack.rejections]) == (2, 0, [0, 1])
    assert await stream_message_count(jetstream, settings) == 0


async def test_resent_batch_is_deduplicated_by_jetstream(ingest_server, project, settings, jetstream):
    events = [track_event("signup", user_id=f"u{i}") for i in range(4)]
    channel, stub = ingest_stub(ingest_server.port)
    async with channel:
        first = await stub.Send(batch_of(events, sequence=1), metadata=auth(project.write_key))
        again = await stub.Send(batch_of(events, sequence=2), metadata=auth(project.write_key))

    assert (first.accepted, again.accepted) == (4, 4)
    assert await stream_message_count(jetstream, settings) == 1


async def test_json_nested_thousands_deep_is_rejected_on_send_and_stream_and_its_neighbour_acked(
    ingest_server, project, settings, jetstream
):
    # Found by tests/fuzz: this escaped validation as RecursionError: UNKNOWN on Send, UNAVAILABLE on Stream.
    def deep_and_good():
        deep = track_event("deep")
        deep.properties_json = '{"a": ' + "[" * 3000 + "]" * 3000 + "}"
        return [deep, track_event("good")]

    channel, stub = ingest_stub(ingest_server.port)
    async with channel:
        sent = await stub.Send(batch_of(deep_and_good(), sequence=1), metadata=auth(project.write_key))
        call = stub.Stream(metadata=auth(project.write_key))
        await call.write(batch_of(deep_and_good(), sequence=2))
        await call.done_writing()
        streamed = [ack async for ack in call]

    for ack in (sent, *streamed):
        assert ack.accepted == 1
        assert [(r.index, Code.Name(r.code)) for r in ack.rejections] == [(0, "REJECTION_CODE_TOO_DEEP")]
    assert [ack.sequence for ack in streamed] == [2]
    assert await stream_message_count(jetstream, settings) == 2


async def test_event_time_is_stored_corrected_for_client_clock_skew(ingest_server, processor, project, db):
    client_ahead_ns = 3600 * 1_000_000_000  # the client's clock is one hour fast
    before = time.time_ns()
    event = track_event("signup", timestamp_ns=before + client_ahead_ns - 30 * 1_000_000_000)
    channel, stub = ingest_stub(ingest_server.port)
    async with channel:
        ack = await stub.Send(batch_of([event], sent_at_ns=before + client_ahead_ns),
                              metadata=auth(project.write_key))
    after = time.time_ns()
    assert ack.accepted == 1

    await eventually(lambda: stored_message_ids(db, project.project_id), lambda ids: len(ids) == 1)
    stored = await db.fetchval(
        "SELECT (extract(epoch FROM event_time) * 1e6)::bigint FROM events WHERE message_id = $1", event.message_id
    )
    # timestamp + (received - sent) = received - 30 s, with received between `before` and `after`.
    assert (before - 30 * 1_000_000_000) // 1000 - 1 <= stored <= (after - 30 * 1_000_000_000) // 1000 + 1


async def test_stream_with_batches_in_flight_gets_one_ack_per_batch_matched_by_sequence(
    ingest_server, processor, project, db
):
    batches = {
        sequence: [track_event("step", user_id=f"s{sequence}-{i}") for i in range(sequence)]
        for sequence in range(1, 9)
    }
    batches[5][2].user_id = ""  # one bad event in batch 5
    channel, stub = ingest_stub(ingest_server.port)
    async with channel:
        call = stub.Stream(metadata=auth(project.write_key))
        for sequence, events in batches.items():
            await call.write(batch_of(events, sequence=sequence))
        await call.done_writing()
        acks = [ack async for ack in call]

    assert sorted(ack.sequence for ack in acks) == list(batches)
    by_sequence = {ack.sequence: ack for ack in acks}
    for sequence, events in batches.items():
        rejected = [r.index for r in by_sequence[sequence].rejections]
        assert rejected == ([2] if sequence == 5 else []), sequence
        assert by_sequence[sequence].accepted == len(events) - len(rejected), sequence
    expected = sorted(e.message_id for s, events in batches.items() for i, e in enumerate(events)
                      if (s, i) != (5, 2))
    ids = await eventually(lambda: stored_message_ids(db, project.project_id), lambda ids: len(ids) >= len(expected))
    assert ids == expected


async def test_stream_acks_each_batch_before_the_client_finishes_writing(ingest_server, project):
    channel, stub = ingest_stub(ingest_server.port)
    async with channel:
        call = stub.Stream(metadata=auth(project.write_key))
        for sequence in (10, 11, 12):
            await call.write(batch_of([track_event()], sequence=sequence))
            ack = await call.read()
            assert (ack.sequence, ack.accepted) == (sequence, 1)
        await call.done_writing()
        assert await call.read() is grpc.aio.EOF
        assert await call.code() == grpc.StatusCode.OK


async def test_every_accepted_event_is_stored_even_with_unusual_json(ingest_server, processor, project, db):
    # Each of these passes validation; PostgreSQL jsonb must then be able to store it.
    properties = [
        '{"emoji": "\\ud83d\\ude00"}',          # a correctly paired surrogate escape
        '{"path": "C:\\\\u0000"}',              # an escaped backslash, not a NUL
        '{"city": "Zürich", "n": 12345678901234567890}',
        '{"note": "a\\u0000b"}',                # a NUL escape, which jsonb refuses
    ]
    events = [track_event("unusual", properties=None) for _ in properties]
    for event, text in zip(events, properties, strict=True):
        event.properties_json = text
    channel, stub = ingest_stub(ingest_server.port)
    async with channel:
        ack = await stub.Send(batch_of(events), metadata=auth(project.write_key))

    rejected = {r.index for r in ack.rejections}
    accepted = sorted(e.message_id for i, e in enumerate(events) if i not in rejected)
    assert ack.accepted == len(accepted)
    ids = await eventually(lambda: stored_message_ids(db, project.project_id), lambda ids: ids == accepted, within=8)
    assert ids == accepted, "acked events were never stored"
