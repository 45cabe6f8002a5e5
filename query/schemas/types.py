"""GraphQL types of event schemas, rejected events, their replay, and event definitions."""

import json
from datetime import datetime
from enum import Enum
from typing import Any

import asyncpg
import strawberry
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import DecodeError
from strawberry.scalars import JSON

from query.events.types import PageInfo
from query.schemas.store import RejectedPage, encode_cursor
from trackmint.v1 import event_pb2


@strawberry.enum(description="What ingest does with an event that breaks its schema.")
class EventSchemaMode(Enum):
    OFF = "OFF"
    WARN = "WARN"
    REJECT = "REJECT"


@strawberry.type(description="A JSON Schema for the properties of one event name.")
class EventSchema:
    event: str = strawberry.field(description="Track name, or $pageview / $screen for page and screen calls.")
    json_schema: JSON
    mode: EventSchemaMode
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> "EventSchema":
        return cls(event=row["event"], json_schema=json.loads(row["json_schema"]), mode=EventSchemaMode(row["mode"]),
                   created_at=row["created_at"], updated_at=row["updated_at"])


def _payload(data: bytes | None) -> dict[str, Any] | None:
    """The stored protobuf Event as JSON, with its properties and traits as objects rather than text."""
    if data is None:
        return None
    try:
        payload = MessageToDict(event_pb2.Event.FromString(data))
    except DecodeError:
        return None
    for text_key, key in (("propertiesJson", "properties"), ("traitsJson", "traits")):
        if text_key in payload:
            try:
                payload[key] = json.loads(payload[text_key])
            except ValueError:
                continue  # not JSON (often why it was refused): the text stays as sent
            del payload[text_key]
    return payload


@strawberry.type(description="An event refused by ingest (or by storage), kept so it can be replayed.")
class RejectedEvent:
    id: strawberry.ID
    message_id: str
    event: str
    code: str = strawberry.field(description="SCHEMA_VIOLATION, MISSING_IDENTITY, ..., STORAGE_REFUSED, UNDECODABLE.")
    reason: str
    payload: JSON | None = strawberry.field(description="The event as received, as JSON; null if not decodable.")
    received_at: datetime
    rejected_at: datetime
    replayed_at: datetime | None
    replay_result: str | None = strawberry.field(description="ACCEPTED, or the code of the last replay's refusal.")

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> "RejectedEvent":
        return cls(id=strawberry.ID(str(row["id"])), message_id=row["message_id"], event=row["event"],
                   code=row["code"], reason=row["reason"], payload=_payload(row["payload"]),
                   received_at=row["received_at"], rejected_at=row["rejected_at"], replayed_at=row["replayed_at"],
                   replay_result=row["replay_result"])


@strawberry.type
class RejectedEventEdge:
    cursor: str
    node: RejectedEvent


@strawberry.type
class RejectedEventConnection:
    edges: list[RejectedEventEdge]
    page_info: PageInfo

    @classmethod
    def from_page(cls, page: RejectedPage) -> "RejectedEventConnection":
        edges = [RejectedEventEdge(cursor=encode_cursor(row["id"]), node=RejectedEvent.from_row(row))
                 for row in page.rows]
        return cls(edges=edges, page_info=PageInfo(has_next_page=page.has_next_page,
                                                    end_cursor=edges[-1].cursor if edges else None))


@strawberry.type(description="One property key seen on an event with one JSON type.")
class EventProperty:
    name: str
    type: str = strawberry.field(description="string, number, boolean, object, array or null.")
    first_seen: datetime
    last_seen: datetime


@strawberry.type(description="An event name seen in the project.")
class EventDefinition:
    event: str
    volume: int = strawberry.field(description="Events stored under this name, bots excluded.")
    first_seen: datetime | None
    last_seen: datetime | None
    properties: list[EventProperty]


@strawberry.type(description="What a replay did.")
class ReplayResult:
    replayed: int = strawberry.field(description="Rows run through ingest again.")
    accepted: int
    still_rejected: int
    skipped: int = strawberry.field(description="Rows already accepted by an earlier replay, or without an event.")
