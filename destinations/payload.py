"""What a destination receives: one JSON object per event, in the shape of a stored event, and the batch body.

Pure functions from the JetStream envelope (`IngestedBatch`) to JSON, so the
delivered shape is tested without servers. Field names are camelCase as in the
Segment spec and our GraphQL API; absent values are omitted rather than null,
except the identity fields, which are always present (null when unknown).
"""

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from trackmint.v1 import batch_pb2, event_pb2

TYPE_NAMES = {
    event_pb2.EVENT_TYPE_TRACK: "track",
    event_pb2.EVENT_TYPE_PAGE: "page",
    event_pb2.EVENT_TYPE_SCREEN: "screen",
    event_pb2.EVENT_TYPE_IDENTIFY: "identify",
    event_pb2.EVENT_TYPE_GROUP: "group",
    event_pb2.EVENT_TYPE_ALIAS: "alias",
}

CANONICAL_NAMES = {
    event_pb2.EVENT_TYPE_PAGE: "$pageview",
    event_pb2.EVENT_TYPE_SCREEN: "$screen",
    event_pb2.EVENT_TYPE_IDENTIFY: "$identify",
    event_pb2.EVENT_TYPE_GROUP: "$groupidentify",
    event_pb2.EVENT_TYPE_ALIAS: "$create_alias",
}
"""The stored event name of non-track calls (as processor/transform.py names them); track events keep theirs."""

_DELIVERY_NAMESPACE = uuid.UUID("6f1d8f0e-3c2b-4d7a-9a51-2b7c0d9e4f10")


def _iso(stamp) -> str | None:
    if not stamp.seconds and not stamp.nanos:
        return None
    moment = datetime.fromtimestamp(stamp.seconds, UTC).replace(microsecond=stamp.nanos // 1000)
    return moment.isoformat().replace("+00:00", "Z")


def _json_object(text: str) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value not in (None, "", {})}


def _context(event: event_pb2.Event) -> dict[str, Any]:
    context = event.context
    extra = _json_object(context.extra_json) or {}
    extra.pop("ip", None)  # only the typed field, which ingest keeps only for projects that opted in
    page, campaign, library = context.page, context.campaign, context.library
    return _compact({
        **extra,
        "ip": context.ip,
        "userAgent": context.user_agent,
        "locale": context.locale,
        "timezone": context.timezone,
        "page": _compact({"url": page.url, "path": page.path, "referrer": page.referrer, "title": page.title,
                          "search": page.search}),
        "campaign": _compact({"source": campaign.source, "medium": campaign.medium, "name": campaign.name,
                              "term": campaign.term, "content": campaign.content}),
        "library": _compact({"name": library.name, "version": library.version}),
    })


def _enrichment(event: event_pb2.Event) -> dict[str, Any]:
    found = event.enrichment
    return _compact({
        "browser": found.browser, "browserVersion": found.browser_version, "os": found.os,
        "osVersion": found.os_version, "deviceType": found.device_type, "country": found.country,
        "region": found.region, "city": found.city, "referrerDomain": found.referrer_domain,
        "channel": found.channel, "isBot": found.is_bot or None, "schemaViolation": found.schema_violation,
    })


def event_payload(event: event_pb2.Event, received_at: str | None) -> dict[str, Any]:
    """One event as delivered: the stored event's fields (see docs/webhooks.md, "Payload")."""
    kind = event.type
    payload: dict[str, Any] = {
        "messageId": event.message_id,
        "type": TYPE_NAMES.get(kind, "track"),
        "event": event.name if kind == event_pb2.EVENT_TYPE_TRACK else CANONICAL_NAMES.get(kind, event.name),
        "name": event.name or None,
        "distinctId": event.user_id or event.anonymous_id,
        "userId": event.user_id or None,
        "anonymousId": event.anonymous_id or None,
        "timestamp": _iso(event.timestamp),
        "properties": _json_object(event.properties_json) or {},
    }
    optional = {
        "sessionId": event.session_id, "groupId": event.group_id, "previousId": event.previous_id,
        "traits": _json_object(event.traits_json), "sentAt": _iso(event.sent_at), "receivedAt": received_at,
        "context": _context(event), "enrichment": _enrichment(event),
    }
    payload.update(_compact(optional))
    return payload


def events_of(envelope: batch_pb2.IngestedBatch) -> list[dict[str, Any]]:
    """Every event of one stream message, as delivered, in the order ingest accepted them."""
    received_at = _iso(envelope.received_at)
    return [event_payload(event, received_at) for event in envelope.events]


def delivery_id(destination_id: uuid.UUID, message_ids: list[str]) -> uuid.UUID:
    """The same batch of the same destination always gets the same id, on every retry and after a restart."""
    digest = hashlib.sha256("\n".join(message_ids).encode()).hexdigest()
    return uuid.uuid5(_DELIVERY_NAMESPACE, f"{destination_id}:{digest}")


def batch_body(delivery: uuid.UUID, destination_id: uuid.UUID, project_id: str, events: list[dict[str, Any]],
               *, test: bool = False) -> bytes:
    """The exact bytes POSTed (and signed); dead letters keep these bytes to send them again unchanged."""
    body: dict[str, Any] = {"deliveryId": str(delivery), "destinationId": str(destination_id),
                            "projectId": project_id, "events": events}
    if test:
        body["test"] = True
    return orjson.dumps(body)
