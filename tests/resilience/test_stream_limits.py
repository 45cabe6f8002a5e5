"""Drill: the processors stop and unstored events fill the JetStream stream to its limit. Ingest refuses new
batches (UNAVAILABLE, "processors are behind") before the stream could drop an unstored event, acks nothing that
is not in the stream, and the SDK's refused events are delivered once a processor is back.

The events stream drops its oldest messages when full (discard OLD, messaging/streams.py), so stored events
make room for new ones; ingest/backlog.py keeps unstored ones from ever being the oldest dropped. No operator
action is needed: starting the processor again is enough.
"""

import asyncio
import json
import time

import grpc
import nats

from config import Settings
from messaging.names import Names
from storage.projects import CreatedProject
from tests.payloads import auth, batch_of, ingest_stub, track_event
from tests.resilience.conftest import (
    DrillFigures,
    ServiceFactory,
    compare,
    count_stored,
    stream_message_ids,
    wait_until_stored,
)
from trackmint_sdk import Client

SMALL_STREAM_BYTES = 1024 * 1024
"""The smallest stream the settings allow: a few dozen batches fill it."""
BATCH_EVENTS = 50
PAD = "x" * 1000
"""About 1 KB per event, so each batch is one ~60 KB JetStream message."""
SDK_EVENTS = 2_000


async def first_stream_sequence(settings: Settings) -> int:
    nc = await nats.connect(settings.nats_url, connect_timeout=2)
    try:
        return (await nc.jetstream().stream_info(Names(settings.nats_namespace).events_stream)).state.first_seq
    finally:
        await nc.close()


async def test_full_stream_refuses_acks_nothing_unstored_and_delivers_once_there_is_room(
    services: ServiceFactory, settings: Settings, project: CreatedProject, db, report
):
    started = time.monotonic()
    ingest = services("ingest", stream_max_bytes=SMALL_STREAM_BYTES).wait_serving()
    channel, stub = ingest_stub(ingest.ingest_port)
    acked: list[str] = []
    refused: list[list] = []
    refusals: set[tuple[str, str]] = set()
    try:
        # Fill the stream with unary Sends, so each batch's fate is known exactly.
        sequence = 0
        while len(refused) < 5:
            sequence += 1
            assert sequence < 200, "the stream never filled"
            events = [track_event("tick", user_id=f"user-{n}", properties={"pad": PAD}) for n in range(BATCH_EVENTS)]
            try:
                answer = await stub.Send(batch_of(events, sequence), metadata=auth(project.write_key), timeout=10)
            except grpc.aio.AioRpcError as error:
                refused.append(events)
                refusals.add((error.code().name, error.details()))
                continue
            assert answer.accepted == BATCH_EVENTS and not answer.rejections
            acked.extend(event.message_id for event in events)
    finally:
        await channel.close()
    in_stream = await stream_message_ids(settings)

    # An SDK sending now is refused too: it keeps its events and retries; nothing is dropped.
    client = Client(project.write_key, ingest.endpoint, flush_interval=0.05, initial_retry_delay=0.1,
                    max_retry_delay=1.0)
    try:
        sent_by_sdk = {client.track("later", user_id=f"user-{n % 50}", properties={"n": n})
                       for n in range(SDK_EVENTS)}
        await asyncio.sleep(2)
        while_full = client.stats
        # With no processor running, the stream dropped nothing: its first message is still the first one.
        first_sequence = await first_stream_sequence(settings)
        # A processor comes back and stores the backlog: ingest takes batches again by itself.
        processor = services("processor", stream_max_bytes=SMALL_STREAM_BYTES)
        await wait_until_stored(db, project.project_id, len(acked), within=60)
        # What an SDK would do with the refused batches: send them again.
        resender = Client(project.write_key, ingest.endpoint, flush_interval=0.05, initial_retry_delay=0.1,
                          max_retry_delay=1.0)
        try:
            for events in refused:
                for event in events:
                    resender.track("tick", user_id=event.user_id, message_id=event.message_id,
                                   properties=json.loads(event.properties_json))
            assert await asyncio.to_thread(resender.flush, 30), resender.stats
            resent = resender.stats
        finally:
            await asyncio.to_thread(resender.close)
        assert await asyncio.to_thread(client.flush, 30), client.stats
        stats = client.stats
    finally:
        await asyncio.to_thread(client.close)
    sent = set(acked) | {event.message_id for events in refused for event in events} | sent_by_sdk
    await wait_until_stored(db, project.project_id, len(sent), within=60)
    await asyncio.sleep(1)  # a late duplicate would show up now
    ledger = await compare(db, project.project_id, sent)
    report(DrillFigures(
        "stream_limit", sent=len(sent), acked=len(acked) + resent.acked + stats.acked, stored=ledger.stored,
        duplicates=ledger.duplicates, lost=ledger.lost, seconds=round(time.monotonic() - started, 1),
        notes={"acked_before_full": len(acked), "refused_batches": len(refused),
               "sdk_acked_while_full": while_full.acked, "refusals": sorted(refusals)},
    ))
    # Refused with a status every sender retries, and a reason that says why.
    assert refused and acked
    for code, details in refusals:
        assert code == "UNAVAILABLE", (code, details)
        assert "processors are behind" in details and "nothing was acked" in details, details
    # Nothing acked that the stream does not hold; nothing refused that it does.
    assert set(acked) <= set(in_stream)
    assert not set(in_stream) - set(acked)
    # While stalled the SDK is held back (at most what still fits under the limit gets through), drops nothing,
    # and nothing unstored left the stream.
    assert while_full.acked < SDK_EVENTS and while_full.dropped == 0 and while_full.in_flight + while_full.queued > 0
    assert first_sequence == 1
    assert stats.acked == SDK_EVENTS and stats.dropped == 0
    assert resent.acked == len(refused) * BATCH_EVENTS and resent.dropped == 0
    assert ledger.lost == 0 and ledger.duplicates == 0 and ledger.unexpected == 0
    assert ledger.rollup == ledger.rows == await count_stored(db, project.project_id)
    assert processor.running, processor.log_tail()
