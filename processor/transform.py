"""Pure functions from decoded JetStream messages to database rows.

No I/O here: the writer stores what these return, so idempotency and
correctness of the mapping can be tested without servers.
"""

import json
from datetime import UTC, datetime
from uuid import UUID

from trackmint.v1 import batch_pb2, event_pb2

EVENT_NAMES = {
    event_pb2.EVENT_TYPE_PAGE: "$pageview",
    event_pb2.EVENT_TYPE_SCREEN: "$screen",
    event_pb2.EVENT_TYPE_IDENTIFY: "$identify",
    event_pb2.EVENT_TYPE_GROUP: "$groupidentify",
    event_pb2.EVENT_TYPE_ALIAS: "$create_alias",
}
"""Canonical event names of the non-track calls; a track event is named by its name."""

STAGING_COLUMNS = (
    "project_id", "event_time", "message_id", "type", "event", "name", "anonymous_id", "user_id",
    "session_id", "group_id", "previous_id", "properties", "traits", "context", "sent_at", "received_at",
)

_PAGE_FIELDS = ("url", "path", "referrer", "title", "search")
_CAMPAIGN_FIELDS = ("source", "medium", "name", "term", "content")


class UnprocessableMessage(ValueError):
    """A message that no retry can turn into rows."""


def _datetime(stamp) -> datetime:
    return datetime.fromtimestamp(stamp.seconds, UTC).replace(microsecond=stamp.nanos // 1000)


def _present(message, fields: tuple[str, ...]) -> dict[str, str]:
    return {name: value for name in fields if (value := getattr(message, name))}


def context_json(event: event_pb2.Event) -> str | None:
    """The context as stored: typed fields in Segment's shape, minus the IP address (never stored by default)."""
    if not event.HasField("context"):
        return None
    context = event.context
    document: dict[str, object] = {}
    if context.extra_json:
        document.update(json.loads(context.extra_json))
    if context.user_agent:
        document["userAgent"] = context.user_agent
    if context.locale:
        document["locale"] = context.locale
    if context.timezone:
        document["timezone"] = context.timezone
    if context.HasField("page") and (page := _present(context.page, _PAGE_FIELDS)):
        document["page"] = page
    if context.HasField("campaign") and (campaign := _present(context.campaign, _CAMPAIGN_FIELDS)):
        document["campaign"] = campaign
    if context.HasField("library") and (library := _present(context.library, ("name", "version"))):
        document["library"] = library
    document.pop("ip", None)
    return json.dumps(document, separators=(",", ":")) if document else None


def decode(data: bytes) -> batch_pb2.IngestedBatch:
    try:
        envelope = batch_pb2.IngestedBatch.FromString(data)
    except Exception as error:  # protobuf raises DecodeError, or others on deeply broken input
        raise UnprocessableMessage(f"not an IngestedBatch: {error}") from error
    try:
        UUID(envelope.project_id)
    except ValueError as error:
        raise UnprocessableMessage(f"project_id {envelope.project_id[:64]!r} is not a UUID") from error
    return envelope


def rows_from_batch(envelope: batch_pb2.IngestedBatch) -> list[tuple]:
    """One staging row per event, in STAGING_COLUMNS order."""
    project_id = envelope.project_id
    received_at = _datetime(envelope.received_at)
    rows = []
    for event in envelope.events:
        if not event.message_id:
            raise UnprocessableMessage("event without message_id")
        kind = event.type
        rows.append((
            project_id,
            _datetime(event.timestamp),
            event.message_id,
            kind,
            event.name if kind == event_pb2.EVENT_TYPE_TRACK else EVENT_NAMES.get(kind, event.name),
            event.name,
            event.anonymous_id or None,
            event.user_id or None,
            event.session_id or None,
            event.group_id or None,
            event.previous_id or None,
            event.properties_json or "{}",
            event.traits_json or None,
            context_json(event),
            _datetime(event.sent_at) if event.HasField("sent_at") else None,
            received_at,
        ))
    return rows
