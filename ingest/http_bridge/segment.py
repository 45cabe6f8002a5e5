"""Segment tracking-spec JSON messages into trackmint.v1 Events: a pure conversion, no I/O.

A message that cannot be converted (a non-object `properties`, an unparseable
timestamp, an unknown type) becomes an EventProblem at its index in the
request; the others are converted, so one bad message never costs its
neighbours. What the pipeline checks anyway (ids present, lengths, depth,
timestamp range) is left to it, so both transports answer alike.

Field mapping (camelCase on the wire): type, event (track name) or name
(page/screen), userId, anonymousId, messageId, timestamp (or RudderStack's
originalTimestamp), sentAt, properties, traits, groupId, previousId,
sessionId (or context.sessionId), context {ip, userAgent, locale, timezone,
page, campaign, library; other keys -> extra_json}. `integrations` is ignored.
"""

import hashlib
import ipaddress
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from ingest.http_bridge.errors import BadRequestError
from trackmint.v1 import batch_pb2, event_pb2

TYPES: dict[str, int] = {
    "track": event_pb2.EVENT_TYPE_TRACK,
    "page": event_pb2.EVENT_TYPE_PAGE,
    "screen": event_pb2.EVENT_TYPE_SCREEN,
    "identify": event_pb2.EVENT_TYPE_IDENTIFY,
    "group": event_pb2.EVENT_TYPE_GROUP,
    "alias": event_pb2.EVENT_TYPE_ALIAS,
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# What a protobuf Timestamp holds: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
_MIN_SECONDS, _MAX_SECONDS = -62_135_596_800, 253_402_300_799
_ID_FIELDS = (("userId", "user_id"), ("anonymousId", "anonymous_id"), ("sessionId", "session_id"),
              ("groupId", "group_id"), ("previousId", "previous_id"))
_CONTEXT_FIELDS = {"ip": "ip", "userAgent": "user_agent", "locale": "locale", "timezone": "timezone"}
_SUB_MESSAGES = {
    "page": ("page", {"url": "url", "path": "path", "referrer": "referrer", "title": "title", "search": "search"}),
    "campaign": ("campaign", {"source": "source", "medium": "medium", "name": "name", "term": "term",
                              "content": "content"}),
    "library": ("library", {"name": "name", "version": "version"}),
}


@dataclass(frozen=True)
class EventProblem:
    index: int
    message_id: str
    code: str
    reason: str


@dataclass(frozen=True)
class RequestDefaults:
    """What the HTTP request says about events that do not say it themselves."""

    ip: str = ""
    user_agent: str = ""


@dataclass
class Conversion:
    batch: batch_pb2.EventBatch
    # Request index of each event in `batch`, to report pipeline rejections by request position.
    positions: list[int] = field(default_factory=list)
    problems: list[EventProblem] = field(default_factory=list)


class _Problem(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _timestamp_ns(value: object, name: str) -> int:
    if not isinstance(value, str):
        raise _Problem("invalid_timestamp", f"{name} must be an ISO-8601 string, not {type(value).__name__}")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _Problem("invalid_timestamp", f"{name} {value[:64]!r} is not an ISO-8601 timestamp") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # Segment reads a timestamp without offset as UTC
    try:
        delta = moment - _EPOCH
    except OverflowError:  # an offset pushing year 1 or 9999 out of range
        delta = None
    if delta is None or not _MIN_SECONDS <= delta.days * 86_400 + delta.seconds <= _MAX_SECONDS:
        raise _Problem("invalid_timestamp", f"{name} {value[:64]!r} is outside years 1 to 9999 UTC")
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _text(value: object, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate escape (\ud800): JSON allows it, protobuf text does not
            raise _Problem("invalid_field", f"{name} is not valid Unicode text") from None
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)  # Segment's libraries stringify numeric ids; so do we
    raise _Problem("invalid_field", f"{name} must be a string, not {type(value).__name__}")


def dump_json(value: object) -> str:
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):
        # Integers beyond 64 bits and lone surrogates: the standard library writes them (escaped),
        # and the pipeline decides whether the text is storable.
        try:
            return json.dumps(value, allow_nan=False)
        except ValueError as error:
            raise _Problem("invalid_json", f"not representable as JSON: {error}") from None
        except RecursionError:
            raise _Problem("invalid_json", "nested too deeply") from None


def _object_json(value: object, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, dict):
        raise _Problem("invalid_json", f"{name} must be a JSON object, not {type(value).__name__}")
    return dump_json(value)


def derived_message_id(kind: str, message: dict) -> str:
    """A messageId for a message that has none, the same for the same message.

    Segment's libraries always send one; a hand-written curl call may not. Deriving it
    from the content (rather than a random id) keeps ingest idempotent: a client that
    retries the identical request after a timeout gets its event stored once. Two
    deliberately identical messages without a timestamp collapse into one, which is the
    price of that; send a messageId to tell them apart.
    """
    try:
        canonical = orjson.dumps([kind, message], option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        try:
            canonical = json.dumps([kind, message], sort_keys=True).encode("utf-8", "surrogatepass")
        except RecursionError:
            raise _Problem("invalid_json", "the message is nested too deeply") from None
    return "derived-" + hashlib.sha256(canonical).hexdigest()[:32]


def _fill_context(event: event_pb2.Event, context: dict, defaults: RequestDefaults) -> None:
    extra = dict(context)
    target = event.context
    for key, attribute in _CONTEXT_FIELDS.items():
        if key in extra:
            setattr(target, attribute, _text(extra.pop(key), f"context.{key}"))
    for key, (attribute, fields) in _SUB_MESSAGES.items():
        value = extra.pop(key, None)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise _Problem("invalid_field", f"context.{key} must be an object, not {type(value).__name__}")
        rest = dict(value)
        sub = getattr(target, attribute)
        for name, sub_attribute in fields.items():
            if name in rest:
                setattr(sub, sub_attribute, _text(rest.pop(name), f"context.{key}.{name}"))
        if rest:
            extra[key] = rest  # keys the proto has no field for are kept, not dropped
    session_id = extra.pop("sessionId", None)
    if session_id is not None and not event.session_id:
        event.session_id = _text(session_id, "context.sessionId")
    if target.ip:
        try:
            # Checked here because a project that stores IPs writes it to an inet column.
            target.ip = str(ipaddress.ip_address(target.ip.strip()))
        except ValueError:
            raise _Problem("invalid_field", f"context.ip {target.ip[:64]!r} is not an IP address") from None
    elif defaults.ip:
        target.ip = defaults.ip
    if defaults.user_agent and not target.user_agent:
        target.user_agent = defaults.user_agent
    if extra:
        target.extra_json = dump_json(extra)


def convert_message(
    message: dict, kind: str, shared_context: dict, defaults: RequestDefaults
) -> event_pb2.Event:
    """One Segment message as an Event; raises _Problem naming what cannot be converted."""
    event = event_pb2.Event(type=TYPES[kind])
    message_id = message.get("messageId")
    event.message_id = _text(message_id, "messageId") if message_id not in (None, "") else derived_message_id(
        kind, message)
    name_key = "event" if kind == "track" else "name"
    if kind in ("track", "page", "screen"):
        event.name = _text(message.get(name_key), name_key)
    for key, attribute in _ID_FIELDS:
        value = message.get(key)
        if value is not None:
            setattr(event, attribute, _text(value, key))
    timestamp = message.get("timestamp")
    if timestamp is None:
        timestamp = message.get("originalTimestamp")
    if timestamp is not None:
        event.timestamp.FromNanoseconds(_timestamp_ns(timestamp, "timestamp"))
    if message.get("sentAt") is not None:
        event.sent_at.FromNanoseconds(_timestamp_ns(message["sentAt"], "sentAt"))
    if (properties := message.get("properties")) is not None:
        event.properties_json = _object_json(properties, "properties")
    if (traits := message.get("traits")) is not None:
        event.traits_json = _object_json(traits, "traits")
    context = message.get("context")
    if context is not None and not isinstance(context, dict):
        raise _Problem("invalid_field", f"context must be an object, not {type(context).__name__}")
    _fill_context(event, {**shared_context, **(context or {})}, defaults)
    return event


def _message_id_of(message: object) -> str:
    value = message.get("messageId") if isinstance(message, dict) else None
    return value[:200] if isinstance(value, str) else ""


def _convert(messages: list, kind: str | None, shared_context: dict, defaults: RequestDefaults,
             batch: batch_pb2.EventBatch) -> Conversion:
    conversion = Conversion(batch)
    for index, message in enumerate(messages):
        try:
            if not isinstance(message, dict):
                raise _Problem("invalid_body", f"message must be a JSON object, not {type(message).__name__}")
            message_kind = kind or message.get("type")
            if not isinstance(message_kind, str) or message_kind not in TYPES:  # a list or object is unhashable
                raise _Problem("invalid_type", f"type must be one of {', '.join(TYPES)} (got {message_kind!r})")
            event = convert_message(message, message_kind, shared_context, defaults)
        except _Problem as problem:
            conversion.problems.append(EventProblem(index, _message_id_of(message), problem.code, problem.reason))
            continue
        batch.events.append(event)
        conversion.positions.append(index)
    return conversion


def _shared_context(body: dict) -> dict:
    context = body.get("context")
    if context is None:
        return {}
    if not isinstance(context, dict):
        raise BadRequestError(f"context must be a JSON object, not {type(context).__name__}")
    return context


def convert_batch(body: dict, defaults: RequestDefaults) -> Conversion:
    """A `/v1/batch` body: `{"batch": [...], "sentAt"?, "context"?}`; context is merged into every message."""
    messages = body.get("batch")
    if not isinstance(messages, list):
        found = "missing" if messages is None else type(messages).__name__
        raise BadRequestError(f"`batch` must be a list of messages ({found})")
    batch = batch_pb2.EventBatch()
    if body.get("sentAt") is not None:
        try:
            batch.sent_at.FromNanoseconds(_timestamp_ns(body["sentAt"], "sentAt"))
        except _Problem as problem:
            raise BadRequestError(problem.reason) from None
    return _convert(messages, None, _shared_context(body), defaults, batch)


def convert_single(body: dict, kind: str, defaults: RequestDefaults) -> Conversion:
    """A `/v1/<type>` body: the message itself; its type is the endpoint's."""
    return _convert([body], kind, {}, defaults, batch_pb2.EventBatch())
