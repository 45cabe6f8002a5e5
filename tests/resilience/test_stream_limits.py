"""Drill: the JetStream stream reaches its byte limit. Ingest refuses what it cannot store (UNAVAILABLE with a
reason the sender can read), acks nothing that is not in the stream, and the SDK's refused events are delivered
once the stream has room again.

The events stream has LIMITS retention with discard NEW (messaging/streams.py): a message leaves the stream
only when it is older than `stream_max_age_seconds` (7 days), not when the processor has stored it. So a
drained processor frees no space (the drill shows it: the processor stores and acks everything, and the SDK is
still refused); what frees it here is the operator raising TRACKMINT_STREAM_MAX_BYTES and restarting ingest,
which updates the stream (ensure_streams). The processor is stopped while the stream fills.
"""

import asyncio
import json
import time

import grpc

from config import Settings
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
ROOMY_STREAM_BYTES = 64 * 1024 * 1024
BATCH_EVENTS = 50
PAD = "x" * 1000
"""About 1 KB per event, so each batch is one ~60 KB JetStream message."""
SDK_EVENTS = 2_000


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
    # The processor stores everything acked, and acks it: under LIMITS retention that frees no space.
    processor = services("processor", stream_max_bytes=SMALL_STREAM_BYTES)
    await wait_until_stored(db, project.project_id, len(acked), within=60)

    # An SDK sending now is refused too: it keeps its events and retries; nothing is dropped.
    client = Client(project.write_key, ingest.endpoint, flush_interval=0.05, initial_retry_delay=0.1,
                    max_retry_delay=1.0)
    try:
        sent_by_sdk = {client.track("later", user_id=f"user-{n % 50}", properties={"n": n})
                       for n in range(SDK_EVENTS)}
        await asyncio.sleep(2)
        while_full = client.stats
        # The operator gives the stream room: a larger limit, applied by restarting ingest (same port).
        ingest.stop()
        ingest.env["TRACKMINT_STREAM_MAX_BYTES"] = str(ROOMY_STREAM_BYTES)
        ingest.start().wait_serving()
        # What an SDK would do with the refused batches: send them again.
        resender = Client(project.write_key, ingest.endpoint, flush_interval=0.05)
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
    # Refused with a status every sender retries, and a reason that says the stream is full.
    assert refused and acked
    for code, details in refusals:
        assert code in ("UNAVAILABLE", "RESOURCE_EXHAUSTED"), (code, details)
        assert "full" in details and "nothing was acked" in details, details
    # Nothing acked that the stream does not hold; nothing refused that it does.
    assert set(acked) <= set(in_stream)
    assert not set(in_stream) - set(acked)
    assert while_full.acked == 0 and while_full.dropped == 0 and while_full.in_flight + while_full.queued > 0
    assert stats.acked == SDK_EVENTS and stats.dropped == 0
    assert resent.acked == len(refused) * BATCH_EVENTS and resent.dropped == 0
    assert ledger.lost == 0 and ledger.duplicates == 0 and ledger.unexpected == 0
    assert ledger.rollup == ledger.rows == await count_stored(db, project.project_id)
    assert processor.running, processor.log_tail()
