"""Payload factories shared by the tests: plain functions building wire messages."""

import json
import time
import uuid

import grpc

from trackmint.v1 import batch_pb2, event_pb2, ingest_service_pb2_grpc


def track_event(name: str = "signup", *, user_id: str = "user-1", properties: dict | None = None,
                message_id: str | None = None, timestamp_ns: int | None = None) -> event_pb2.Event:
    event = event_pb2.Event(
        message_id=message_id or str(uuid.uuid4()),
        type=event_pb2.EVENT_TYPE_TRACK,
        name=name,
        user_id=user_id,
        properties_json=json.dumps(properties or {}),
    )
    event.timestamp.FromNanoseconds(timestamp_ns if timestamp_ns is not None else time.time_ns())
    return event


def batch_of(
    events: list[event_pb2.Event], sequence: int = 1, *, sent_at_ns: int | None = None
) -> batch_pb2.EventBatch:
    batch = batch_pb2.EventBatch(sequence=sequence, events=events)
    batch.sent_at.FromNanoseconds(sent_at_ns if sent_at_ns is not None else time.time_ns())
    return batch


def auth(write_key: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {write_key}"),)


def ingest_stub(port: int) -> tuple[grpc.aio.Channel, ingest_service_pb2_grpc.IngestStub]:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    return channel, ingest_service_pb2_grpc.IngestStub(channel)


_EVENT_TYPES = {
    "track": event_pb2.EVENT_TYPE_TRACK, "page": event_pb2.EVENT_TYPE_PAGE, "screen": event_pb2.EVENT_TYPE_SCREEN,
    "identify": event_pb2.EVENT_TYPE_IDENTIFY, "group": event_pb2.EVENT_TYPE_GROUP, "alias": event_pb2.EVENT_TYPE_ALIAS,
}


def event_of(kind: str, *, at_ns: int, name: str = "", user_id: str = "", anonymous_id: str = "",
             previous_id: str = "", session_id: str = "", traits: dict | None = None,
             properties: dict | None = None, page_path: str = "", referrer: str = "", country: str = "",
             browser: str = "", is_bot: bool = False, message_id: str | None = None) -> event_pb2.Event:
    """Any of the six event types as ingest publishes it (validated, skew-corrected, enriched)."""
    event = event_pb2.Event(
        message_id=message_id or str(uuid.uuid4()), type=_EVENT_TYPES[kind], name=name, user_id=user_id,
        anonymous_id=anonymous_id, previous_id=previous_id, session_id=session_id,
        properties_json=json.dumps(properties or {}), traits_json=json.dumps(traits) if traits is not None else "",
    )
    event.timestamp.FromNanoseconds(at_ns)
    if page_path or referrer:
        event.context.page.path = page_path
        event.context.page.url = f"https://shop.example{page_path}"
        event.context.page.referrer = referrer
    event.enrichment.country = country
    event.enrichment.browser = browser
    event.enrichment.is_bot = is_bot
    return event
