"""Pure functions from decoded JetStream messages to database rows.

No I/O here: the writer stores what these return, so idempotency and
correctness of the mapping can be tested without servers. Per-event work is
kept to attribute reads: times travel as integer microseconds and become
timestamps in SQL, context fields map to typed columns, JSON stays text. An event is attributed to
its distinct id: user_id when known, else anonymous_id.
"""

import json
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

TIME_COLUMNS = ("event_time", "sent_at", "received_at")
"""Staged as microseconds since the epoch; stored as timestamptz."""

STAGING_COLUMNS = (
    "project_id", "event_time", "message_id", "type", "event", "name", "anonymous_id", "user_id",
    "session_id", "group_id", "previous_id", "properties", "traits",
    "user_agent", "locale", "timezone", "page_url", "page_path", "page_referrer", "page_title", "page_search",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "library_name", "library_version",
    "context", "sent_at", "received_at",
    "browser", "browser_version", "os", "os_version", "device_type", "country", "region", "city",
    "referrer_domain", "referrer_channel", "is_bot", "distinct_id", "ip", "schema_violation",
)

EVENT_TIME_INDEX = STAGING_COLUMNS.index("event_time")
_NO_CONTEXT = (None,) * 16


class UnprocessableMessage(ValueError):
    """A message that no retry can turn into rows."""


def micros(stamp) -> int:
    return stamp.seconds * 1_000_000 + stamp.nanos // 1000


def context_values(event: event_pb2.Event) -> tuple:
    """The typed context columns, user_agent … library_version then the extra JSON; no IP address."""
    if not event.HasField("context"):
        return _NO_CONTEXT
    context = event.context
    page, campaign, library = context.page, context.campaign, context.library
    return (
        context.user_agent or None, context.locale or None, context.timezone or None,
        page.url or None, page.path or None, page.referrer or None, page.title or None, page.search or None,
        campaign.source or None, campaign.medium or None, campaign.name or None, campaign.term or None,
        campaign.content or None, library.name or None, library.version or None,
        _extra_without_ip(context.extra_json),
    )


def enrichment_values(event: event_pb2.Event) -> tuple:
    """The columns ingest derived, browser … referrer_channel then is_bot."""
    enrichment = event.enrichment
    return (
        enrichment.browser or None, enrichment.browser_version or None, enrichment.os or None,
        enrichment.os_version or None, enrichment.device_type or None, enrichment.country or None,
        enrichment.region or None, enrichment.city or None, enrichment.referrer_domain or None,
        enrichment.channel or None, enrichment.is_bot,
    )


def _extra_without_ip(extra_json: str) -> str | None:
    """Other context keys as sent, minus an IP address (not stored unless a project opts in)."""
    if not extra_json or '"ip"' not in extra_json:
        return extra_json or None
    try:
        extra = json.loads(extra_json)
    except ValueError as error:
        raise UnprocessableMessage(f"context.extra_json is not JSON: {error}") from error
    if not isinstance(extra, dict):
        raise UnprocessableMessage("context.extra_json is not a JSON object")
    extra.pop("ip", None)
    return json.dumps(extra, separators=(",", ":")) if extra else None


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
    received_at = micros(envelope.received_at)
    track = event_pb2.EVENT_TYPE_TRACK
    rows = []
    for event in envelope.events:
        if not event.message_id:
            raise UnprocessableMessage("event without message_id")
        kind = event.type
        name = event.name
        rows.append((
            project_id,
            micros(event.timestamp),
            event.message_id,
            kind,
            name if kind == track else EVENT_NAMES.get(kind, name),
            name,
            event.anonymous_id or None,
            event.user_id or None,
            event.session_id or None,
            event.group_id or None,
            event.previous_id or None,
            event.properties_json or "{}",
            event.traits_json or None,
            *context_values(event),
            micros(event.sent_at) if event.HasField("sent_at") else None,
            received_at,
            *enrichment_values(event),
            event.user_id or event.anonymous_id,
            # Ingest leaves the IP in place only for projects that opted in to storing it.
            event.context.ip or None,
            event.enrichment.schema_violation or None,
        ))
    return rows
