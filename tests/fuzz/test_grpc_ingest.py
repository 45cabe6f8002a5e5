"""Fuzzing the gRPC ingest service with hostile batches and with bytes that are no EventBatch at all.

Properties, for every input:
- the call ends OK with a BatchAck accounting for every event (accepted + one rejection, with a code and a
  reason, per refused event), or with a clear status that is neither INTERNAL nor UNKNOWN and has a message;
- what the ack says is accepted is exactly what reached JetStream, every refused event is in the
  dead-letter stream, and the good event beside the hostile ones is accepted;
- the server still answers a normal Send afterwards.
"""

import secrets

import grpc
import pytest
from hypothesis import event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.fuzz.conftest import FUZZ
from tests.fuzz.jetstream import StreamWatch
from tests.fuzz.strategies import good_event, hostile_batches, hostile_events
from tests.payloads import auth, batch_of, ingest_stub
from trackmint.v1 import batch_pb2

SEND = "/trackmint.v1.Ingest/Send"
STREAM = "/trackmint.v1.Ingest/Stream"
_UNCLEAR = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)

# A failing example with a 100 KiB string is worth reporting whole.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")


@pytest.fixture
async def channel(ingest_server):
    async with grpc.aio.insecure_channel(f"127.0.0.1:{ingest_server.port}") as opened:
        yield opened


def assert_clear_refusal(error: grpc.aio.AioRpcError) -> None:
    event(f"refused: {error.code().name}")
    # UNAVAILABLE too: NATS and PostgreSQL are up, so it can only be a crash the Stream handler disguised as one.
    assert error.code() not in (*_UNCLEAR, grpc.StatusCode.UNAVAILABLE), f"{error.code()}: {error.details()}"
    assert error.details(), f"{error.code()} without a message"


def tag_message_ids(batch: batch_pb2.EventBatch) -> str:
    """Prefix every non-blank message id with a nonce, so JetStream's duplicate window never hides an example's
    events behind an earlier example's; blank ids stay blank (they must be refused)."""
    nonce = secrets.token_hex(4)
    for sent in batch.events:
        if sent.message_id.strip():
            sent.message_id = f"{nonce}-{sent.message_id}"
    return nonce


def assert_ack_accounts_for_every_event(ack: batch_pb2.BatchAck, batch: batch_pb2.EventBatch,
                                        good_index: int) -> list[str]:
    """The ack's accepted events' message ids, after checking every event is accepted or refused once."""
    assert ack.sequence == batch.sequence
    indices = [rejection.index for rejection in ack.rejections]
    assert len(set(indices)) == len(indices) and all(index < len(batch.events) for index in indices), indices
    assert ack.accepted + len(indices) == len(batch.events)
    for rejection in ack.rejections:
        assert rejection.code != batch_pb2.REJECTION_CODE_UNSPECIFIED and rejection.reason, rejection
    assert good_index not in indices, [r for r in ack.rejections if r.index == good_index]
    refused = set(indices)
    return [event.message_id for index, event in enumerate(batch.events) if index not in refused]


async def assert_still_serving(ingest_server, write_key: str) -> None:
    channel, stub = ingest_stub(ingest_server.port)
    async with channel:
        ack = await stub.Send(batch_of([good_event()], sequence=7), metadata=auth(write_key), timeout=10)
    assert (ack.sequence, ack.accepted, list(ack.rejections)) == (7, 1, [])


@hypothesis_settings(FUZZ, max_examples=120)
@given(case=hostile_batches())
async def test_hostile_batches_are_acked_per_event_and_accepted_events_are_durable(
    case, channel, ingest_server, project, stream_watch: StreamWatch
):
    batch, good_index = case
    tag_message_ids(batch)
    send = channel.unary_unary(SEND, request_serializer=batch_pb2.EventBatch.SerializeToString,
                               response_deserializer=batch_pb2.BatchAck.FromString)
    await stream_watch.mark()
    try:
        ack = await send(batch, metadata=auth(project.write_key), timeout=30)
    except grpc.aio.AioRpcError as error:
        assert_clear_refusal(error)
        # Only the batch as a whole may be refused so: too many events, too many bytes, the rate limit.
        assert error.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED), error
        assert (await stream_watch.added()).message_ids == []
        return
    accepted_ids = assert_ack_accounts_for_every_event(ack, batch, good_index)
    event(f"acked with {'some' if ack.rejections else 'no'} rejections")
    added = await stream_watch.added()
    assert sorted(added.message_ids) == sorted(accepted_ids), "the ack and JetStream disagree"
    # Refused events are dead-lettered, never dropped. (A refusal of a message id that was blank is told
    # apart by content only, so an example repeating an earlier one may be deduplicated by JetStream.)
    expected = [(rejection.index, rejection.code) for rejection in ack.rejections]
    if any(rejection.message_id.strip() for rejection in ack.rejections):
        assert sorted(added.rejections) == sorted(expected)


def _mutations(valid: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.integers(0, max(len(valid) - 1, 0)).map(lambda end: valid[:end]),  # truncated
        st.tuples(st.integers(0, max(len(valid) - 1, 0)), st.integers(0, 255)).map(
            lambda flip: valid[:flip[0]] + bytes([flip[1]]) + valid[flip[0] + 1:]),  # one byte changed
    )


# Bytes that are not an EventBatch, or barely are: random, a valid batch truncated or with one byte changed,
# a string field holding invalid UTF-8 (proto3 refuses it), a group tag, a length past the end, deep nesting.
_VALID = batch_of([good_event()], sequence=3).SerializeToString()
RAW_BODIES = st.one_of(
    st.binary(max_size=300),
    _mutations(_VALID),
    st.sampled_from([
        b"", b"\x00", b"\xff" * 16,
        b"\x12\x04\x0a\x02\xc3\x28",  # events[0].message_id = invalid UTF-8
        b"\x12\x02\x10\xff",  # events[0].type: a truncated varint
        b"\x0b\x0c",  # a group: deprecated wire type
        b"\x12\xff\xff\xff\xff\x0f",  # events: a length far past the end
        b"\x12\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01",  # a varint longer than 64 bits
        b"\x12\x02\x5a\x00" * 1000,  # a thousand events with an empty context
        b"\x5a\x00" * 10 + b"\x12" + b"\x5a\x02" * 200,  # nesting
    ]),
)


@hypothesis_settings(FUZZ, max_examples=200)
@given(body=RAW_BODIES, via_stream=st.booleans())
async def test_bytes_that_are_no_batch_get_a_clear_status(body, via_stream, channel, ingest_server, project):
    metadata = auth(project.write_key)
    try:
        if via_stream:
            call = channel.stream_stream(STREAM, request_serializer=None, response_deserializer=None)(
                iter([body]), metadata=metadata, timeout=30)
            answers = [batch_pb2.BatchAck.FromString(answer) async for answer in call]
            assert len(answers) == 1
        else:
            answer = await channel.unary_unary(SEND, request_serializer=None, response_deserializer=None)(
                body, metadata=metadata, timeout=30)
            batch_pb2.BatchAck.FromString(answer)  # it parsed as some EventBatch: answered with a real ack
    except grpc.aio.AioRpcError as error:
        assert_clear_refusal(error)
    await assert_still_serving(ingest_server, project.write_key)


_METADATA = st.lists(
    st.tuples(st.sampled_from(["authorization", "x-api-key", "x-other"]),
              st.one_of(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=300),
                        st.sampled_from(["Bearer", "Bearer ", "Basic abc", "bearer  tm_live_x", " "]))),
    max_size=3,
)


@hypothesis_settings(FUZZ, max_examples=40)
@given(metadata=_METADATA, events=st.lists(hostile_events(st.text(max_size=5)), max_size=2))
async def test_unknown_write_keys_are_unauthenticated_whatever_the_batch(metadata, events, channel, settings):
    stub_send = channel.unary_unary(SEND, request_serializer=batch_pb2.EventBatch.SerializeToString,
                                    response_deserializer=batch_pb2.BatchAck.FromString)
    batch = batch_pb2.EventBatch(events=events)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub_send(batch, metadata=tuple(metadata), timeout=30)
    # gRPC itself refuses a message over the size limit before the service sees its metadata.
    too_large = batch.ByteSize() > settings.max_batch_bytes
    expected = grpc.StatusCode.RESOURCE_EXHAUSTED if too_large else grpc.StatusCode.UNAUTHENTICATED
    assert refused.value.code() == expected, refused.value
    assert refused.value.details()


@hypothesis_settings(FUZZ, max_examples=25)
@given(batches=st.lists(hostile_batches(), min_size=1, max_size=3))
async def test_hostile_batches_on_one_stream_each_get_an_ack_or_a_clear_status(
    batches, channel, ingest_server, project
):
    """One batch at a time, each ack awaited: a client writing on after the server ended the call would see
    gRPC's local INTERNAL ("Failed execute_batch") instead of the status the server sent."""
    call = channel.stream_stream(STREAM, request_serializer=batch_pb2.EventBatch.SerializeToString,
                                 response_deserializer=batch_pb2.BatchAck.FromString)(
        metadata=auth(project.write_key), timeout=30)
    for batch, good_index in batches:
        tag_message_ids(batch)
        try:
            await call.write(batch)
            ack = await call.read()
        except grpc.aio.AioRpcError as error:
            assert_clear_refusal(error)
            break
        if ack is grpc.aio.EOF:
            code = await call.code()
            event(f"refused: {code.name}")
            assert code not in (*_UNCLEAR, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.OK), await call.details()
            assert await call.details(), f"{code} without a message"
            break
        assert_ack_accounts_for_every_event(ack, batch, good_index)
    else:
        await call.done_writing()
        assert await call.code() == grpc.StatusCode.OK, await call.details()
    await assert_still_serving(ingest_server, project.write_key)
