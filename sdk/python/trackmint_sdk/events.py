"""Building ``trackmint.v1.Event`` messages from call arguments, as pure functions.

One function per Segment call (``track_event``, ``page_event``, ...). They fill
what the caller left out (a uuid4 ``message_id``, ``timestamp`` = now in UTC,
the library in the context), encode properties and traits as JSON, map a
Segment-shaped ``context`` dict onto the typed ``Context`` message, and raise
``ValueError`` / ``TypeError`` for programming errors, so those surface at the
call site instead of as server rejections later.
"""

from __future__ import annotations

import json
import os
import threading
import time as _time
import uuid
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from trackmint.v1 import event_pb2
from trackmint_sdk._version import __version__

UTC = timezone.utc  # noqa: UP017 - datetime.UTC is Python 3.11+, the SDK supports 3.9
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

LIBRARY_NAME = "trackmint-python"
"""Sent as context.library.name unless the caller's context names another library."""

DEFAULT_MAX_EVENT_BYTES = 32 * 1024
"""The server's default per-event limit (serialized size)."""

_TOP_LEVEL_CONTEXT = {
    "ip": "ip",
    "userAgent": "user_agent",
    "user_agent": "user_agent",
    "locale": "locale",
    "timezone": "timezone",
}
_NESTED_CONTEXT = {
    "page": ("url", "path", "referrer", "title", "search"),
    "campaign": ("source", "medium", "name", "term", "content"),
    "library": ("name", "version"),
}

ContextArg = Mapping[str, Any]
Properties = Mapping[str, Any]


def track_event(
    event: str,
    *,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    properties: Properties | None = None,
    timestamp: datetime | None = None,
    message_id: str | None = None,
    session_id: str | None = None,
    context: ContextArg | None = None,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> event_pb2.Event:
    """A ``track`` event: something the user did, named ``event``."""
    return build_event(
        event_pb2.EVENT_TYPE_TRACK,
        name=_required_name(event, "event"),
        user_id=user_id,
        anonymous_id=anonymous_id,
        properties=properties,
        timestamp=timestamp,
        message_id=message_id,
        session_id=session_id,
        context=context,
        max_event_bytes=max_event_bytes,
    )


def page_event(
    name: str | None = None,
    *,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    properties: Properties | None = None,
    url: str | None = None,
    path: str | None = None,
    referrer: str | None = None,
    title: str | None = None,
    search: str | None = None,
    timestamp: datetime | None = None,
    message_id: str | None = None,
    session_id: str | None = None,
    context: ContextArg | None = None,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> event_pb2.Event:
    """A ``page`` event: the user viewed a web page (``name`` is optional).

    ``url``, ``path``, ``referrer``, ``title`` and ``search`` go to ``context.page``
    (over the same keys of a ``context["page"]`` given too); without ``path`` and
    ``search``, they are taken from ``url``.
    """
    return build_event(
        event_pb2.EVENT_TYPE_PAGE,
        name=_optional_name(name),
        user_id=user_id,
        anonymous_id=anonymous_id,
        properties=properties,
        timestamp=timestamp,
        message_id=message_id,
        session_id=session_id,
        context=page_context(context, url=url, path=path, referrer=referrer, title=title, search=search),
        max_event_bytes=max_event_bytes,
    )


def page_context(
    context: ContextArg | None,
    *,
    url: str | None = None,
    path: str | None = None,
    referrer: str | None = None,
    title: str | None = None,
    search: str | None = None,
) -> ContextArg | None:
    """``context`` with the given page fields set in ``context["page"]``; unchanged when none is given."""
    fields = {"url": url, "path": path, "referrer": referrer, "title": title, "search": search}
    given = {key: value for key, value in fields.items() if value is not None}
    if not given:
        return context
    for key, value in given.items():
        if not isinstance(value, str):
            raise TypeError(f"{key} must be a string, not {type(value).__name__}")
    if context is not None and not isinstance(context, Mapping):
        raise TypeError(f"context must be a mapping, not {type(context).__name__}")
    merged = dict(context or {})
    page = merged.get("page")
    if page is not None and not isinstance(page, Mapping):
        raise TypeError(f"context['page'] must be a mapping, not {type(page).__name__}")
    page = dict(page or {})
    page.update(given)
    if url is not None:
        # Analytics group pages by path; browsers report path and search apart from the URL, so do the same.
        parts = urlsplit(url)
        if page.get("path") is None and parts.path:
            page["path"] = parts.path
        if page.get("search") is None and parts.query:
            page["search"] = "?" + parts.query
    merged["page"] = page
    return merged


def screen_event(
    name: str | None = None,
    *,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    properties: Properties | None = None,
    timestamp: datetime | None = None,
    message_id: str | None = None,
    session_id: str | None = None,
    context: ContextArg | None = None,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> event_pb2.Event:
    """A ``screen`` event: the user viewed an app screen (``name`` is optional)."""
    return build_event(
        event_pb2.EVENT_TYPE_SCREEN,
        name=_optional_name(name),
        user_id=user_id,
        anonymous_id=anonymous_id,
        properties=properties,
        timestamp=timestamp,
        message_id=message_id,
        session_id=session_id,
        context=context,
        max_event_bytes=max_event_bytes,
    )


def identify_event(
    user_id: str | None = None,
    *,
    traits: Properties | None = None,
    anonymous_id: str | None = None,
    timestamp: datetime | None = None,
    message_id: str | None = None,
    session_id: str | None = None,
    context: ContextArg | None = None,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> event_pb2.Event:
    """An ``identify`` event: who the user is (with an ``anonymous_id`` it links the two)."""
    return build_event(
        event_pb2.EVENT_TYPE_IDENTIFY,
        user_id=user_id,
        anonymous_id=anonymous_id,
        traits=traits,
        timestamp=timestamp,
        message_id=message_id,
        session_id=session_id,
        context=context,
        max_event_bytes=max_event_bytes,
    )


def group_event(
    group_id: str,
    *,
    traits: Properties | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    timestamp: datetime | None = None,
    message_id: str | None = None,
    session_id: str | None = None,
    context: ContextArg | None = None,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> event_pb2.Event:
    """A ``group`` event: the user belongs to ``group_id`` (a company, team, account)."""
    group = _id(group_id, "group_id")
    if not group:
        raise ValueError("group() needs a group_id")
    return build_event(
        event_pb2.EVENT_TYPE_GROUP,
        user_id=user_id,
        anonymous_id=anonymous_id,
        traits=traits,
        timestamp=timestamp,
        message_id=message_id,
        session_id=session_id,
        context=context,
        group_id=group,
        max_event_bytes=max_event_bytes,
    )


def alias_event(
    previous_id: str,
    user_id: str,
    *,
    timestamp: datetime | None = None,
    message_id: str | None = None,
    session_id: str | None = None,
    context: ContextArg | None = None,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> event_pb2.Event:
    """An ``alias`` event: ``previous_id`` (e.g. an anonymous id) and ``user_id`` are the same person.

    The order is Segment's: ``alias(previous_id, user_id)``.
    """
    previous = _id(previous_id, "previous_id")
    if not _id(user_id, "user_id") or not previous:
        raise ValueError("alias() needs both previous_id and user_id")
    return build_event(
        event_pb2.EVENT_TYPE_ALIAS,
        user_id=user_id,
        timestamp=timestamp,
        message_id=message_id,
        session_id=session_id,
        context=context,
        previous_id=previous,
        max_event_bytes=max_event_bytes,
    )


def build_event(
    event_type: int,
    *,
    name: str = "",
    user_id: str | None = None,
    anonymous_id: str | None = None,
    session_id: str | None = None,
    properties: Properties | None = None,
    traits: Properties | None = None,
    context: ContextArg | None = None,
    timestamp: datetime | None = None,
    message_id: str | None = None,
    group_id: str = "",
    previous_id: str = "",
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> event_pb2.Event:
    """The event every call-specific function above builds; validates what is common to all."""
    user = _id(user_id, "user_id")
    anonymous = _id(anonymous_id, "anonymous_id")
    if not user and not anonymous:
        raise ValueError("an event needs a user_id or an anonymous_id")
    event = event_pb2.Event(
        message_id=_message_id(message_id),
        type=event_type,
        name=name,
        user_id=user,
        anonymous_id=anonymous,
        session_id=_id(session_id, "session_id"),
        properties_json=_json_object(properties, "properties"),
        traits_json=_json_object(traits, "traits"),
        context=_DEFAULT_CONTEXT if context is None else build_context(context),
        group_id=group_id,
        previous_id=previous_id,
    )
    if timestamp is None:
        event.timestamp.seconds, nanos = divmod(_time.time_ns(), 1_000_000_000)
        event.timestamp.nanos = nanos
    else:
        set_timestamp(event.timestamp, timestamp)
    size = event.ByteSize()
    if size > max_event_bytes:
        raise ValueError(f"event is {size} bytes, more than max_event_bytes={max_event_bytes}")
    return event


def build_context(context: ContextArg | None) -> event_pb2.Context:
    """Map a Segment-shaped context dict onto the typed Context message.

    ``ip``, ``userAgent`` (or ``user_agent``), ``locale``, ``timezone``, and the
    known keys of ``page``, ``campaign`` and ``library`` go to their typed
    fields; every other key, including unknown keys inside those three, is kept
    in ``extra_json``. The library defaults to this SDK.
    """
    message = event_pb2.Context(
        library=event_pb2.Library(name=LIBRARY_NAME, version=__version__),
    )
    if context is None:
        return message
    if not isinstance(context, Mapping):
        raise TypeError(f"context must be a mapping, not {type(context).__name__}")
    extra: dict[str, Any] = {}
    for key, value in context.items():
        if value is None:
            continue
        if key in _TOP_LEVEL_CONTEXT:
            setattr(message, _TOP_LEVEL_CONTEXT[key], _context_text(value, key))
        elif key in _NESTED_CONTEXT:
            unknown = _fill_nested(getattr(message, key), value, key, _NESTED_CONTEXT[key])
            if unknown:
                extra[key] = unknown
        else:
            extra[key] = value
    if extra:
        message.extra_json = _json_object(extra, "context")
    return message


def json_default(value: Any) -> Any:
    """``json.dumps`` default: datetimes (naive = UTC), dates, times, Decimals, UUIDs, sets."""
    if isinstance(value, datetime):
        return to_utc(value).isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        # Integral decimals stay exact integers; others become the nearest float.
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def to_utc(moment: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def set_timestamp(target: Any, moment: datetime) -> None:
    """Write ``moment`` into a google.protobuf.Timestamp, exactly to the microsecond."""
    if not isinstance(moment, datetime):
        raise TypeError(f"timestamp must be a datetime, not {type(moment).__name__}")
    delta: timedelta = to_utc(moment) - _EPOCH
    target.seconds = delta.days * 86_400 + delta.seconds
    target.nanos = delta.microseconds * 1000


def _json_object(value: Properties | None, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a mapping, not {type(value).__name__}")
    if not value:
        return ""
    try:
        return _ENCODER.encode(value if type(value) is dict else dict(value))
    except TypeError as error:
        raise TypeError(f"{what} are not JSON-serializable: {error}") from error
    except ValueError as error:  # NaN/Infinity, circular references
        raise ValueError(f"{what} are not valid JSON: {error}") from error


def _fill_nested(target: Any, value: Any, key: str, fields: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"context[{key!r}] must be a mapping, not {type(value).__name__}")
    unknown = {}
    for field, item in value.items():
        if item is None:
            continue
        if field in fields:
            setattr(target, field, _context_text(item, f"{key}.{field}"))
        else:
            unknown[field] = item
    return unknown


def _context_text(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"context {key} must be a string, not {type(value).__name__}")
    return value


def _id(value: Any, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    # Numeric ids are common (database keys); booleans are a bug, not an id.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"{field} must be a string, not {type(value).__name__}")


class _RandomBytes(threading.local):
    """Per-thread pool of OS randomness: one getrandom() call per 256 message ids instead of one each."""

    def __init__(self) -> None:
        self.data = b""
        self.offset = 0

    def take16(self) -> bytes:
        if self.offset >= len(self.data):
            self.data = os.urandom(4096)
            self.offset = 0
        start = self.offset
        self.offset = start + 16
        return self.data[start:start + 16]


_random = _RandomBytes()
if hasattr(os, "register_at_fork"):
    # A forked child must never reuse its parent's unused randomness (ids would repeat).
    os.register_at_fork(after_in_child=lambda: _random.__init__())


def new_message_id() -> str:
    """A random (version 4) UUID as text, like str(uuid.uuid4()) but cheaper per call."""
    raw = bytearray(_random.take16())
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _message_id(value: str | None) -> str:
    if value is None:
        return new_message_id()
    if not isinstance(value, str):
        raise TypeError(f"message_id must be a string, not {type(value).__name__}")
    if not value:
        raise ValueError("message_id must not be empty (leave it out to get a generated one)")
    return value


def _required_name(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a string, not {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{field} must not be empty")
    return value


def _optional_name(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"name must be a string, not {type(value).__name__}")
    return value


# One encoder for every call: json.dumps with options builds a new encoder each time.
_ENCODER = json.JSONEncoder(default=json_default, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_DEFAULT_CONTEXT = build_context(None)

__all__ = [
    "DEFAULT_MAX_EVENT_BYTES",
    "LIBRARY_NAME",
    "alias_event",
    "build_context",
    "build_event",
    "group_event",
    "identify_event",
    "json_default",
    "new_message_id",
    "page_context",
    "page_event",
    "screen_event",
    "set_timestamp",
    "to_utc",
    "track_event",
]
