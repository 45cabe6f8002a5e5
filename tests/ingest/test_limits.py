"""Whole-batch limits and garbage on the wire: clear gRPC statuses, nothing stored, the server stays healthy."""

import contextlib

import grpc
import pytest

from tests.ingest.support import stream_message_count
from tests.payloads import auth, batch_of, ingest_stub, track_event

MAX_BATCH_EVENTS = 5


@pytest.fixture
async def small_limits_server(start_ingest_with, settings):
    return await start_ingest_with(
        settings.model_copy(update={"max_batch_events": MAX_BATCH_EVENTS, "max_batch_bytes": 64 * 1024})
    )


async def test_batch_over_max_events_is_invalid_argument_naming_the_limit_and_sequence(
    small_limits_server, project, settings, jetstream
):
    channel, stub = ingest_stub(small_limits_server.port)
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Send(batch_of([track_event() for _ in range(MAX_BATCH_EVENTS + 1)], sequence=77),
                            metadata=auth(project.write_key))
        at_limit = await stub.Send(batch_of([track_event() for _ in range(MAX_BATCH_EVENTS)], sequence=78),
                                   metadata=auth(project.write_key))

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"limit is {MAX_BATCH_EVENTS}" in refused.value.details()
    assert f"{MAX_BATCH_EVENTS + 1} events" in refused.value.details()
    assert ("trackmint-batch-sequence", "77") in tuple(refused.value.trailing_metadata())
    assert at_limit.accepted == MAX_BATCH_EVENTS
    assert await stream_message_count(jetstream, settings) == 1  # only the batch at the limit


async def test_stream_batch_over_max_events_ends_the_stream_with_its_sequence(
    small_limits_server, project, settings, jetstream
):
    channel, stub = ingest_stub(small_limits_server.port)
    async with channel:
        call = stub.Stream(metadata=auth(project.write_key))
        await call.write(batch_of([track_event()], sequence=1))
        assert (await call.read()).sequence == 1
        await call.write(batch_of([track_event() for _ in range(MAX_BATCH_EVENTS + 1)], sequence=2))
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call.read()

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"limit is {MAX_BATCH_EVENTS}" in refused.value.details()
    assert ("trackmint-batch-sequence", "2") in tuple(refused.value.trailing_metadata())
    assert await stream_message_count(jetstream, settings) == 1


async def test_message_over_max_batch_bytes_is_resource_exhausted_and_server_stays_up(
    small_limits_server, project, settings, jetstream
):
    big = [track_event(properties={"blob": "x" * 20_000}) for _ in range(4)]  # ~80 KiB > 64 KiB
    channel, stub = ingest_stub(small_limits_server.port)
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Send(batch_of(big), metadata=auth(project.write_key))
        after = await stub.Send(batch_of([track_event()]), metadata=auth(project.write_key))

    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert after.accepted == 1
    assert await stream_message_count(jetstream, settings) == 1


GARBAGE = {"bad tag": b"\xff\xff\xff\xff", "truncated field": b"\x12\x05ab"}


@pytest.mark.parametrize("garbage", GARBAGE.values(), ids=GARBAGE.keys())
async def test_malformed_protobuf_on_send_is_invalid_argument_and_server_stays_healthy(
    ingest_server, project, settings, jetstream, garbage
):
    channel, stub = ingest_stub(ingest_server.port)
    async with channel:
        raw_send = channel.unary_unary("/trackmint.v1.Ingest/Send")  # no serializers: bytes in, bytes out
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await raw_send(garbage, metadata=auth(project.write_key), timeout=10)
        after = await stub.Send(batch_of([track_event()]), metadata=auth(project.write_key))

    assert after.accepted == 1
    assert await stream_message_count(jetstream, settings) == 1
    assert "EventBatch" in refused.value.details()
    # A request that is not an EventBatch is the client's error, not an UNKNOWN server failure.
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_malformed_protobuf_on_stream_ends_it_with_invalid_argument_not_ok(
    ingest_server, project, settings, jetstream
):
    channel, stub = ingest_stub(ingest_server.port)
    async with channel:
        raw_stream = channel.stream_stream("/trackmint.v1.Ingest/Stream")
        call = raw_stream(metadata=auth(project.write_key), timeout=10)
        await call.write(batch_of([track_event()], sequence=1).SerializeToString())
        first = await call.read()
        await call.write(GARBAGE["bad tag"])
        with contextlib.suppress(grpc.aio.AioRpcError):
            await call.read()  # EOF after OK, raises after an error status
        status = await call.code()
        after = await stub.Send(batch_of([track_event()]), metadata=auth(project.write_key))

    assert first != grpc.aio.EOF
    assert after.accepted == 1
    assert await stream_message_count(jetstream, settings) == 2
    # Ending with OK would tell the client its stream closed cleanly although a batch was never acked.
    assert status == grpc.StatusCode.INVALID_ARGUMENT
