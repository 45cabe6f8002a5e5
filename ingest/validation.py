"""Per-event validation and clock-skew correction as an ordered list of named steps.

Each step looks at one event and either passes it or names a rejection code
and a human-readable reason. Steps run over the whole batch one after another,
so the cost of each step is measured per batch, and one bad event never fails
its neighbours.
"""

import ipaddress
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import orjson

from config import Settings
from trackmint.v1 import batch_pb2, event_pb2

Code = batch_pb2.RejectionCode
Problem = tuple[int, str]  # (RejectionCode value, reason)

_NS = 1_000_000_000
_VALID_TYPES = frozenset(
    value for value in event_pb2.EventType.values() if value != event_pb2.EVENT_TYPE_UNSPECIFIED
)
# Escapes PostgreSQL jsonb refuses: NUL, and surrogates (which must then be checked for pairing).
_SUSPICIOUS_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


@dataclass(frozen=True)
class Limits:
    max_event_bytes: int
    max_id_length: int
    max_name_length: int
    max_properties_depth: int
    max_future_ns: int
    max_age_ns: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "Limits":
        return cls(
            max_event_bytes=settings.max_event_bytes,
            max_id_length=settings.max_id_length,
            max_name_length=settings.max_name_length,
            max_properties_depth=settings.max_properties_depth,
            max_future_ns=int(settings.max_event_future_seconds * _NS),
            max_age_ns=int(settings.max_event_age_days * 86_400 * _NS),
        )


@dataclass(frozen=True)
class BatchContext:
    limits: Limits
    received_at_ns: int
    batch_sent_at_ns: int | None
    batch_sent_at_valid: bool = True


# What a google.protobuf.Timestamp may hold: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
_MIN_SECONDS, _MAX_SECONDS = -62_135_596_800, 253_402_300_799


def _is_valid_timestamp(stamp) -> bool:
    return _MIN_SECONDS <= stamp.seconds <= _MAX_SECONDS and 0 <= stamp.nanos < _NS


def _timestamp_ns(stamp) -> int:
    return stamp.seconds * _NS + stamp.nanos


def _set_timestamp(stamp, value_ns: int) -> None:
    stamp.seconds, stamp.nanos = divmod(value_ns, _NS)


def check_message_id(event: event_pb2.Event, batch: BatchContext) -> Problem | None:
    if not event.message_id.strip():
        return Code.REJECTION_CODE_MISSING_MESSAGE_ID, "message_id is required"
    return None


def check_identity(event: event_pb2.Event, batch: BatchContext) -> Problem | None:
    if not event.user_id and not event.anonymous_id:
        return Code.REJECTION_CODE_MISSING_IDENTITY, "user_id or anonymous_id is required"
    return None


def check_type_fields(event: event_pb2.Event, batch: BatchContext) -> Problem | None:
    kind = event.type
    if kind not in _VALID_TYPES:
        allowed = "TRACK, PAGE, SCREEN, IDENTIFY, GROUP, ALIAS"
        return Code.REJECTION_CODE_INVALID_TYPE, f"type must be one of {allowed} (got {kind})"
    if kind == event_pb2.EVENT_TYPE_TRACK and not event.name.strip():
        return Code.REJECTION_CODE_MISSING_NAME, "track events need a name"
    if kind == event_pb2.EVENT_TYPE_GROUP and not event.group_id:
        return Code.REJECTION_CODE_MISSING_FIELD, "group events need group_id"
    if kind == event_pb2.EVENT_TYPE_ALIAS and not (event.previous_id and event.user_id):
        return Code.REJECTION_CODE_MISSING_FIELD, "alias events need previous_id and user_id"
    return None


def check_text_fields(event: event_pb2.Event, batch: BatchContext) -> Problem | None:
    limit = batch.limits.max_id_length
    for name in ("message_id", "anonymous_id", "user_id", "session_id", "group_id", "previous_id"):
        value = getattr(event, name)
        if len(value) > limit:
            return Code.REJECTION_CODE_FIELD_TOO_LONG, f"{name} is {len(value)} characters; the limit is {limit}"
    if len(event.name) > batch.limits.max_name_length:
        return (
            Code.REJECTION_CODE_FIELD_TOO_LONG,
            f"name is {len(event.name)} characters; the limit is {batch.limits.max_name_length}",
        )
    return None


_TEXT_FIELDS = (
    ("message_id", lambda e: e.message_id), ("anonymous_id", lambda e: e.anonymous_id),
    ("user_id", lambda e: e.user_id), ("session_id", lambda e: e.session_id), ("group_id", lambda e: e.group_id),
    ("previous_id", lambda e: e.previous_id), ("name", lambda e: e.name), ("context.ip", lambda e: e.context.ip),
    ("context.user_agent", lambda e: e.context.user_agent), ("context.locale", lambda e: e.context.locale),
    ("context.timezone", lambda e: e.context.timezone), ("context.page.url", lambda e: e.context.page.url),
    ("context.page.path", lambda e: e.context.page.path),
    ("context.page.referrer", lambda e: e.context.page.referrer),
    ("context.page.title", lambda e: e.context.page.title),
    ("context.page.search", lambda e: e.context.page.search),
    ("context.campaign.source", lambda e: e.context.campaign.source),
    ("context.campaign.medium", lambda e: e.context.campaign.medium),
    ("context.campaign.name", lambda e: e.context.campaign.name),
    ("context.campaign.term", lambda e: e.context.campaign.term),
    ("context.campaign.content", lambda e: e.context.campaign.content),
    ("context.library.name", lambda e: e.context.library.name),
    ("context.library.version", lambda e: e.context.library.version),
)


def _field_with_nul(event: event_pb2.Event) -> str | None:
    for name, read in _TEXT_FIELDS:
        if "\x00" in read(event):
            return name
    return None


def check_size_and_text(event: event_pb2.Event, batch: BatchContext) -> Problem | None:
    """Size limit, and no NUL characters in text (PostgreSQL text cannot hold them).

    One serialization answers both in the common case: proto3 writes no zero
    byte except for a NUL inside a string or an empty sub-message that is set,
    so only events whose encoding holds a zero byte are inspected field by field.
    """
    encoded = event.SerializeToString()
    limit = batch.limits.max_event_bytes
    if len(encoded) > limit:
        return Code.REJECTION_CODE_EVENT_TOO_LARGE, f"event is {len(encoded)} bytes; the limit is {limit}"
    if b"\x00" in encoded and (field_name := _field_with_nul(event)):
        return Code.REJECTION_CODE_INVALID_JSON, f"{field_name} must not contain NUL characters"
    return None


def _depth(value: object) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in node)
    return deepest


def _unstorable_text(value: object) -> str | None:
    """Why PostgreSQL jsonb would refuse a decoded value: a NUL or an unpaired surrogate in a string."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str):
            if "\x00" in node:
                return "must not contain \\u0000"
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return "contains an unpaired surrogate escape"
    return None


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _parse_json(text: str) -> object:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # Older orjson refuses integers beyond 64 bits, which JSON and PostgreSQL allow; the standard
        # library decides those cases (and words the error for anything really invalid). Either way
        # only the verdict is used here: the event keeps its JSON text exactly as sent.
        return json.loads(text, parse_constant=_reject_constant)


def _json_problem(field_name: str, text: str, max_depth: int) -> Problem | None:
    if not text:
        return None
    try:
        value = _parse_json(text)
    except RecursionError:  # nested past both parsers' own limits (~1000 levels), so far past max_depth
        return Code.REJECTION_CODE_TOO_DEEP, f"{field_name} nests deeper than {max_depth} levels"
    except ValueError as error:
        return Code.REJECTION_CODE_INVALID_JSON, f"{field_name} is not valid JSON: {error}"
    if not isinstance(value, dict):
        return Code.REJECTION_CODE_INVALID_JSON, f"{field_name} must be a JSON object, not {type(value).__name__}"
    # Counting brackets is a cheap upper bound; walk the value only when it could be too deep.
    if text.count("{") + text.count("[") > max_depth and _depth(value) > max_depth:
        return Code.REJECTION_CODE_TOO_DEEP, f"{field_name} nests deeper than {max_depth} levels"
    if _SUSPICIOUS_ESCAPE.search(text) and (problem := _unstorable_text(value)):
        return Code.REJECTION_CODE_INVALID_JSON, f"{field_name} {problem}"
    return None


@lru_cache(maxsize=65_536)
def _is_ip_address(text: str) -> bool:
    # Cached: parsing costs microseconds, and a visitor's address recurs across their events.
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def check_ip(event: event_pb2.Event, batch: BatchContext) -> Problem | None:
    """context.ip must be an IP address: it feeds geo lookup and, for projects that keep it, an inet column."""
    address = event.context.ip
    if address and not _is_ip_address(address):
        return Code.REJECTION_CODE_INVALID_FIELD, f"context.ip {address[:64]!r} is not an IP address"
    return None


def check_json(event: event_pb2.Event, batch: BatchContext) -> Problem | None:
    depth = batch.limits.max_properties_depth
    return (
        _json_problem("properties_json", event.properties_json, depth)
        or _json_problem("traits_json", event.traits_json, depth)
        or _json_problem("context.extra_json", event.context.extra_json, depth)
    )


def check_timestamps(event: event_pb2.Event, batch: BatchContext) -> Problem | None:
    """timestamp and sent_at (the event's own, else the batch's) must be valid Timestamps: the time correction
    would fail on, and the processor could not store, a value beyond years 1 to 9999."""
    for name in ("timestamp", "sent_at"):
        stamp = getattr(event, name)
        if event.HasField(name) and not _is_valid_timestamp(stamp):
            return (Code.REJECTION_CODE_INVALID_FIELD,
                    f"{name} (seconds {stamp.seconds}, nanos {stamp.nanos}) is not a valid timestamp: "
                    "seconds must lie in years 1 to 9999 and nanos in 0 to 999999999")
    if not event.HasField("sent_at") and not batch.batch_sent_at_valid:
        return (Code.REJECTION_CODE_INVALID_FIELD,
                "the batch's sent_at, used for events without their own, is not a valid timestamp")
    return None


def correct_event_time(event: event_pb2.Event, batch: BatchContext) -> Problem | None:
    """Event time = timestamp + (received_at - sent_at); unset timestamp means received_at."""
    received = batch.received_at_ns
    sent = _timestamp_ns(event.sent_at) if event.HasField("sent_at") else batch.batch_sent_at_ns
    if event.HasField("timestamp"):
        event_time = _timestamp_ns(event.timestamp)
        if sent is not None:
            event_time += received - sent
    else:
        event_time = received
    if event_time > received + batch.limits.max_future_ns:
        limit = batch.limits.max_future_ns // _NS
        return (
            Code.REJECTION_CODE_TIMESTAMP_IN_FUTURE,
            f"timestamp is more than {limit} seconds in the future after clock-skew correction",
        )
    if event_time < received - batch.limits.max_age_ns:
        limit_days = batch.limits.max_age_ns / (86_400 * _NS)
        return Code.REJECTION_CODE_TIMESTAMP_TOO_OLD, f"timestamp is more than {limit_days:g} days old"
    _set_timestamp(event.timestamp, event_time)
    if sent is not None:
        _set_timestamp(event.sent_at, sent)
    return None


Step = Callable[[event_pb2.Event, BatchContext], Problem | None]

PIPELINE: tuple[tuple[str, Step], ...] = (
    ("message_id", check_message_id),
    ("identity", check_identity),
    ("type_fields", check_type_fields),
    ("text_fields", check_text_fields),
    ("size_and_text", check_size_and_text),
    ("ip", check_ip),
    ("json", check_json),
    ("timestamps", check_timestamps),
    ("event_time", correct_event_time),
)


@dataclass
class ValidationStats:
    """Running totals since start: rejections by reason and time spent per step."""

    rejections: Counter = field(default_factory=Counter)
    step_seconds: Counter = field(default_factory=Counter)


@dataclass
class ValidatedBatch:
    accepted: list[event_pb2.Event]
    rejections: list[batch_pb2.Rejection]
    received_at_ns: int


def validate_batch(
    batch: batch_pb2.EventBatch, limits: Limits, stats: ValidationStats, received_at_ns: int | None = None
) -> ValidatedBatch:
    """Run every step over the batch; events are corrected in place."""
    received = received_at_ns if received_at_ns is not None else time.time_ns()
    context = BatchContext(
        limits=limits,
        received_at_ns=received,
        batch_sent_at_ns=_timestamp_ns(batch.sent_at) if batch.HasField("sent_at") else None,
        batch_sent_at_valid=_is_valid_timestamp(batch.sent_at),
    )
    alive = list(enumerate(batch.events))
    rejections: list[batch_pb2.Rejection] = []
    for name, step in PIPELINE:
        started = time.perf_counter()
        failed: set[int] = set()
        for index, event in alive:
            problem = step(event, context)
            if problem is not None:
                code, reason = problem
                rejections.append(
                    batch_pb2.Rejection(index=index, code=code, reason=reason, message_id=event.message_id[:200])
                )
                stats.rejections[Code.Name(code)] += 1
                failed.add(index)
        if failed:
            alive = [(index, event) for index, event in alive if index not in failed]
        stats.step_seconds[name] += time.perf_counter() - started
    rejections.sort(key=lambda rejection: rejection.index)
    return ValidatedBatch(accepted=[event for _, event in alive], rejections=rejections, received_at_ns=received)
