"""The live notice contract: what the processor publishes after a commit, bounded, and what the query reads."""

import uuid

import nats
import pytest

from messaging.live import (
    MAX_EVENTS_BYTES,
    MAX_OWN_PROPERTIES,
    MAX_VALUE_CHARS,
    NOTICE_COLUMNS,
    LiveEvent,
    MalformedNotice,
    bounded_properties,
    decode_notice,
    encode_notice,
)
from messaging.names import Names
from processor.live_notices import LivePublisher
from processor.transform import rows_from_batch
from processor.writer import StoredBatch
from query.analytics.filters import TYPED_COLUMNS
from tests.payloads import auth, batch_of, ingest_stub, track_event
from tests.processor.support import envelope


def _event(name: str = "signup", **properties) -> LiveEvent:
    return LiveEvent(message_id=str(uuid.uuid4()), event=name, distinct_id="u1", person_id=str(uuid.uuid4()),
                     timestamp_us=1_700_000_000_000_000, is_bot=False, properties=properties)


def test_a_notice_reads_back_as_it_was_written():
    events = [_event("signup", plan="pro", seats=3), _event("purchase", total=9.5, paid=True)]

    notice = decode_notice(encode_notice("p1", 1234.5, events))

    assert (notice.project_id, notice.committed_at, notice.omitted) == ("p1", 1234.5, 0)
    assert notice.events == tuple(events)
    assert notice.event_names == {"signup", "purchase"}


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"v": 2, "project_id": "p1", "committed_at": 0, "events": []}',
        b'{"v": 1, "project_id": "p1", "committed_at": 0, "events": 5}',
        b'{"v": 1, "project_id": "p1", "committed_at": 0, "events": [1]}',
        b'{"v": 1, "project_id": "p1", "committed_at": 0, "events": [{"event": "e"}]}',
    ],
    ids=["not-json", "other-version", "events-not-a-list", "event-not-an-object", "event-without-id"],
)
def test_bytes_that_are_not_a_notice_are_malformed_not_a_traceback(body):
    with pytest.raises(MalformedNotice):
        decode_notice(body)


def test_a_huge_batch_makes_a_bounded_notice_that_still_names_every_event():
    events = [_event(f"e{index % 5}", blob="x" * MAX_VALUE_CHARS) for index in range(2000)]

    encoded = encode_notice("p1", 0.0, events)
    notice = decode_notice(encoded)

    assert len(encoded) < MAX_EVENTS_BYTES + 1024
    assert notice.omitted > 0
    assert len(notice.events) + notice.omitted == 2000
    assert notice.event_names == {f"e{index}" for index in range(5)}


def test_only_a_bounded_subset_of_properties_is_carried():
    own = {f"k{index}": "v" * 1000 for index in range(40)} | {"nested": {"a": 1}, "list": [1]}

    carried = bounded_properties(own, {"$browser": "Firefox", "$country": None})

    assert len(carried) == MAX_OWN_PROPERTIES + 1
    assert all(len(value) <= MAX_VALUE_CHARS for value in carried.values())
    assert carried["$browser"] == "Firefox"
    assert "$country" not in carried and "nested" not in carried


def test_carried_enriched_properties_use_the_names_and_columns_of_the_filters():
    assert {name: TYPED_COLUMNS[name] for name in NOTICE_COLUMNS} == NOTICE_COLUMNS


async def test_the_processor_announces_a_committed_batch_once_per_project(
    ingest_server, processor, project, settings
):
    listener = await nats.connect(settings.nats_url)
    subscription = await listener.subscribe(Names(settings.nats_namespace).live_subject(str(project.project_id)))
    channel, stub = ingest_stub(ingest_server.port)
    events = [track_event("signup", user_id=f"u{index}", properties={"plan": "pro"}) for index in range(5)]
    async with channel:
        await stub.Send(batch_of(events), metadata=auth(project.write_key))
        message = await subscription.next_msg(timeout=20)
        # The same events again: stored already, so announced never again.
        await stub.Send(batch_of(events, sequence=2), metadata=auth(project.write_key))
        try:
            again = await subscription.next_msg(timeout=1.5)
        except nats.errors.TimeoutError:
            again = None
    await listener.close()

    notice = decode_notice(message.data)
    assert again is None
    assert notice.project_id == str(project.project_id)
    assert sorted(event.message_id for event in notice.events) == sorted(event.message_id for event in events)
    assert all(event.person_id and event.properties["plan"] == "pro" for event in notice.events)
    assert processor.live.stats.notices >= 1


async def test_a_publish_that_fails_is_counted_and_never_raised(settings):
    connection = await nats.connect(settings.nats_url)
    await connection.close()
    publisher = LivePublisher(connection, Names(settings.nats_namespace))
    publisher.start()
    publisher.offer(StoredBatch([], [], 0.0))  # nothing stored: nothing to announce, not even a failure
    publisher.offer(_stored_batch())
    await publisher.stop()

    assert (publisher.stats.notices, publisher.stats.failures) == (0, 1)


def _stored_batch() -> StoredBatch:
    rows = rows_from_batch(envelope(str(uuid.uuid4()), [track_event("signup")]))
    return StoredBatch(rows, [None], 0.0)
