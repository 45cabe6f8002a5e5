"""The event stream never stops a busy install, and never drops an event the processors have not stored.

It drops its oldest (stored) messages when full; ingest refuses new batches, saying the processors are behind,
while unstored events fill most of it, and takes them again once the processors catch up."""

import asyncio

import grpc

from messaging.names import Names
from processor.service import start_processor
from tests.ingest.support import stored_message_ids
from tests.payloads import auth, batch_of, ingest_stub, track_event

SMALL_STREAM = 1024 * 1024
"""The smallest stream the settings allow: some 17 batches of 50 events of 1 KB fill it."""


def padded_batch(sequence: int, prefix: str) -> tuple[list[str], object]:
    events = [track_event("tick", user_id=f"{prefix}-{sequence}-{n}", properties={"pad": "x" * 1000})
              for n in range(50)]
    return [event.message_id for event in events], batch_of(events, sequence=sequence)


async def send(stub, batch, key: str) -> grpc.aio.AioRpcError | None:
    try:
        answer = await stub.Send(batch, metadata=auth(key), timeout=10)
    except grpc.aio.AioRpcError as error:
        return error
    assert answer.accepted == 50
    return None


async def stream_state(jetstream, settings) -> tuple[int, int]:
    info = await jetstream.stream_info(Names(settings.nats_namespace).events_stream)
    return info.state.messages, info.state.bytes


async def test_a_busy_install_sends_many_times_the_streams_size_and_every_event_is_stored_once(
    start_ingest_with, settings, project, db, jetstream
):
    small = settings.model_copy(update={"stream_max_bytes": SMALL_STREAM})
    await jetstream.delete_stream(Names(settings.nats_namespace).events_stream)  # declared small by ingest
    server = await start_ingest_with(small)
    processor = await start_processor(small)
    sent: list[str] = []
    waits = 0
    try:
        channel, stub = ingest_stub(server.port)
        async with channel:
            for sequence in range(1, 61):  # about 3.5 MB through a 1 MiB stream
                ids, batch = padded_batch(sequence, "busy")
                while (refusal := await send(stub, batch, project.write_key)) is not None:
                    # Only ever "the processors are behind", as an SDK would retry it.
                    assert refusal.code() == grpc.StatusCode.UNAVAILABLE, refusal.details()
                    assert "processors are behind" in refusal.details()
                    waits += 1
                    await asyncio.sleep(0.1)
                sent.extend(ids)
        for _ in range(200):
            if len(await stored_message_ids(db, project.project_id)) >= len(sent):
                break
            await asyncio.sleep(0.1)
    finally:
        await processor.stop(grace=5)
    stored = await stored_message_ids(db, project.project_id)
    assert sorted(stored) == sorted(sent)  # each once: nothing the stream dropped was unstored
    messages, size = await stream_state(jetstream, small)
    assert size <= SMALL_STREAM and messages < 60  # the oldest, stored, messages made room
    assert waits < 60  # a running processor keeps ingest open


async def test_unstored_events_filling_the_stream_are_refused_until_the_processors_catch_up(
    start_ingest_with, settings, project, db, jetstream
):
    small = settings.model_copy(update={"stream_max_bytes": SMALL_STREAM})
    await jetstream.delete_stream(Names(settings.nats_namespace).events_stream)
    server = await start_ingest_with(small)
    acked: list[str] = []
    channel, stub = ingest_stub(server.port)
    async with channel:
        refusal = None
        for sequence in range(1, 60):
            ids, batch = padded_batch(sequence, "stalled")
            refusal = await send(stub, batch, project.write_key)
            if refusal is not None:
                break
            acked.extend(ids)
            await asyncio.sleep(0.3)  # a steady sender: the guard measures between batches
        assert refusal is not None, "ingest took more than the stream holds with no processor"
        assert refusal.code() == grpc.StatusCode.UNAVAILABLE  # every sender retries it; nothing is lost
        assert "processors are behind" in refusal.details() and "nothing was acked" in refusal.details()
        # Nothing acked was dropped: the stream still holds every acked batch.
        messages, size = await stream_state(jetstream, small)
        assert messages == len(acked) // 50 and size <= SMALL_STREAM

        # The processors catch up: ingest takes batches again, without a restart.
        processor = await start_processor(small)
        try:
            for _ in range(100):
                if len(await stored_message_ids(db, project.project_id)) == len(acked):
                    break
                await asyncio.sleep(0.1)
            ids, batch = padded_batch(1000, "later")
            for _ in range(50):
                if (refusal := await send(stub, batch, project.write_key)) is None:
                    break
                await asyncio.sleep(0.1)
            assert refusal is None, refusal.details()
            acked.extend(ids)
            for _ in range(100):
                if len(await stored_message_ids(db, project.project_id)) == len(acked):
                    break
                await asyncio.sleep(0.1)
        finally:
            await processor.stop(grace=5)
    assert sorted(await stored_message_ids(db, project.project_id)) == sorted(acked)
    assert server.service.pipeline.stats.backlog_refused_batches >= 1
