"""Live notices: what the processor just committed, for the query service's subscriptions.

After a batch's transaction commits, the processor publishes one notice per
project of the batch on core NATS (`Names.live_subject`). Only newly stored
events are in it (duplicates are never stored, so never announced twice), and
each query replica subscribes once, so an event reaches a replica once. Core
NATS, not JetStream: a notice nobody listens to is worth nothing, and a lost
one costs little (charts re-run their query on the next one, the feed says
how many events it missed).

A notice is JSON and bounded. Each event carries its ids, name, time, bot flag
and a small set of properties: the enriched columns in NOTICE_COLUMNS (named
as the analytics filters name them) and up to MAX_OWN_PROPERTIES of the
event's own scalar properties, strings cut at MAX_VALUE_CHARS. Events past
MAX_EVENTS_BYTES are left out and counted in `omitted`; `event_names` still
names every stored event's name (or is absent when there are too many), so a
chart knows what changed even when the feed's share was cut.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

NOTICE_VERSION = 1

MAX_EVENTS_BYTES = 48 * 1024
"""Encoded events per notice; far below NATS' 1 MiB message limit, so one batch is one small message."""

MAX_OWN_PROPERTIES = 16
"""Scalar properties of the event itself carried per event (the first ones, in the order sent)."""

MAX_VALUE_CHARS = 200
"""Longest string property value carried; longer ones are cut."""

MAX_EVENT_NAMES = 100
"""Distinct event names listed per notice; with more, the list is left out and means "any event"."""

NOTICE_COLUMNS = {
    "$current_url": "page_url",
    "$pathname": "page_path",
    "$title": "page_title",
    "$referring_domain": "referrer_domain",
    "$browser": "browser",
    "$os": "os",
    "$device_type": "device_type",
    "$country": "country",
    "$city": "city",
    "$utm_source": "utm_source",
}
"""Enriched event columns a notice carries, property name -> column (the names the analytics filters use)."""

Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class LiveEvent:
    message_id: str
    event: str
    distinct_id: str | None
    person_id: str | None
    # Microseconds since the epoch, UTC: the stored (skew-corrected) event time.
    timestamp_us: int
    is_bot: bool
    properties: Mapping[str, Scalar]

    @property
    def timestamp(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_us / 1_000_000, UTC)


@dataclass(frozen=True)
class LiveNotice:
    project_id: str
    # Epoch seconds (wall clock) just after the batch's COMMIT returned.
    committed_at: float
    events: tuple[LiveEvent, ...]
    # Names of every stored event of the notice, omitted ones included; None: too many to list, any name.
    event_names: frozenset[str] | None
    omitted: int

    @property
    def stored(self) -> int:
        """Events this notice announces, carried or omitted."""
        return len(self.events) + self.omitted

    def names_any(self, names: frozenset[str]) -> bool:
        """Whether an event with one of `names` is among the stored ones."""
        return self.event_names is None or not self.event_names.isdisjoint(names)


class MalformedNotice(ValueError):
    """Bytes on a live subject that are not a notice of this version."""


def _bounded(value: object) -> Scalar:
    if isinstance(value, str):
        return value[:MAX_VALUE_CHARS]
    if value is None or isinstance(value, bool | int | float):
        return value  # type: ignore[return-value]
    raise TypeError


def bounded_properties(own: Mapping[str, object], columns: Mapping[str, str | None]) -> dict[str, Scalar]:
    """The properties a notice carries: the first scalar ones of the event, then the enriched columns that are set."""
    carried: dict[str, Scalar] = {}
    for key, value in own.items():
        if len(carried) >= MAX_OWN_PROPERTIES:
            break
        if isinstance(value, str | int | float | bool) and len(key) <= MAX_VALUE_CHARS:
            carried[key] = _bounded(value)
    for name, value in columns.items():
        if value is not None:
            carried[name] = _bounded(value)
    return carried


def _event_json(event: LiveEvent) -> bytes:
    return orjson.dumps({
        "message_id": event.message_id,
        "event": event.event,
        "distinct_id": event.distinct_id,
        "person_id": event.person_id,
        "timestamp_us": event.timestamp_us,
        "is_bot": event.is_bot,
        "properties": event.properties,
    })


def encode_notice(project_id: str, committed_at: float, events: Sequence[LiveEvent]) -> bytes:
    kept: list[bytes] = []
    size = 0
    for event in events:
        encoded = _event_json(event)
        if size + len(encoded) > MAX_EVENTS_BYTES:
            break
        kept.append(encoded)
        size += len(encoded) + 1
    names = sorted({event.event for event in events})
    head = orjson.dumps({
        "v": NOTICE_VERSION,
        "project_id": project_id,
        "committed_at": committed_at,
        "omitted": len(events) - len(kept),
        "event_names": names if len(names) <= MAX_EVENT_NAMES else None,
    })
    # The events are encoded once, to measure them, and spliced in as they are.
    return head[:-1] + b',"events":[' + b",".join(kept) + b"]}"


def _decode_event(item: object) -> LiveEvent:
    if not isinstance(item, dict):
        raise MalformedNotice("each event must be an object")
    properties = item.get("properties") or {}
    if not isinstance(properties, dict):
        raise MalformedNotice("properties must be an object")
    return LiveEvent(
        message_id=str(item["message_id"]),
        event=str(item["event"]),
        distinct_id=_optional_text(item.get("distinct_id")),
        person_id=_optional_text(item.get("person_id")),
        timestamp_us=int(item["timestamp_us"]),  # type: ignore[call-overload]
        is_bot=bool(item.get("is_bot")),
        properties=properties,
    )


def _optional_text(value: object) -> str | None:
    return None if value is None else str(value)


def decode_notice(data: bytes) -> LiveNotice:
    try:
        body = orjson.loads(data)
        if not isinstance(body, dict) or body.get("v") != NOTICE_VERSION:
            raise MalformedNotice(f"not a version {NOTICE_VERSION} notice")
        names = body.get("event_names")
        return LiveNotice(
            project_id=str(body["project_id"]),
            committed_at=float(body["committed_at"]),
            events=tuple(_decode_event(item) for item in body["events"]),
            event_names=None if names is None else frozenset(str(name) for name in names),
            omitted=int(body.get("omitted", 0)),
        )
    except MalformedNotice:
        raise
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise MalformedNotice(f"{type(error).__name__}: {error}") from None
