"""Hypothesis strategies for the fuzz tests: hostile events and batches for gRPC, hostile Segment JSON for the bridge.

Every strategy mixes plausible values with the edges that break parsers and
databases: NUL, byte-order marks and right-to-left marks, astral characters,
empty and very long strings, 64-bit extremes, unknown enum values, JSON that is
not an object, nests past any limit, carries `\\u0000` or lone surrogate
escapes, or is not JSON at all. Next to the hostile events each batch carries
one known-good event (`good_event`, `good_message`), which must be accepted
whatever its neighbours are.
"""

import json
import time
import uuid

from hypothesis import strategies as st

from trackmint.v1 import batch_pb2, event_pb2

INT64 = st.integers(-(2**63), 2**63 - 1)
INT32 = st.integers(-(2**31), 2**31 - 1)

_EDGE_TEXT = [
    "", " ", "\t\n", "\x00", "a\x00b", "\ufeff", "\u202eevil", "\u200b", "😀", "\U0010ffff", "\ufffd",
    "'; DROP TABLE events; --", "%s%n", "{}", "null", "\\u0000", "${jndi:x}", "NaN", "../../etc/passwd",
]


def _repeat(unit: str, count: int) -> str:
    return unit * count


def rarely(common: st.SearchStrategy, rare: st.SearchStrategy, one_in: int = 8) -> st.SearchStrategy:
    """`rare` about once in `one_in` draws, else `common` (so one huge field does not make every event huge)."""
    return st.integers(0, one_in - 1).flatmap(lambda roll: rare if roll == 0 else common)


# Around the id and name limits (200 characters); rarely past the event size limit (32 KiB), or far past it.
LONG_TEXT = st.builds(
    _repeat, st.sampled_from(["x", "é", "😀", "\x00", " "]),
    rarely(st.integers(190, 210), st.sampled_from([33_000, 120_000])),
)
TEXT = st.one_of(st.text(max_size=30), st.sampled_from(_EDGE_TEXT), rarely(st.text(max_size=5), LONG_TEXT, 3))
SHORT_TEXT = st.one_of(st.text(max_size=12), st.sampled_from(_EDGE_TEXT))

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | SHORT_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(SHORT_TEXT, children, max_size=4),
    max_leaves=16,
)
JSON_OBJECTS = st.dictionaries(SHORT_TEXT, JSON_VALUES, max_size=5)


def _nested_objects(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


def _nested_arrays(depth: int) -> str:
    return '{"a": ' + "[" * depth + "]" * depth + "}"


_ODD_JSON = [
    '{"a": "\\u0000"}', '{"\\u0000": 1}', '{"a": "\\ud800"}', '{"\\udc00": 1}', '{"a": "\\ud83d\\ude00"}',
    '{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}', '{"a": 1e999}', '{"a": -0}', '{"a": 1.0e-400}',
    '{"a": 123456789012345678901234567890}', '{"a": 1, "a": 2}', ' {"a": 1} ', '{"a": 1}garbage', "{",
    '{"a": 1,}', "{'a': 1}", "[]", "[1, 2]", "null", "true", "1", '"text"', "", " ", "\ufeff{}", "{}\x00",
]

# What an SDK puts in properties_json / traits_json / context.extra_json.
JSON_TEXT = st.one_of(
    JSON_OBJECTS.map(json.dumps),
    JSON_VALUES.map(json.dumps),
    st.sampled_from(_ODD_JSON),
    st.builds(_nested_objects, st.one_of(st.integers(8, 14), st.sampled_from([500, 5_000]))),
    st.builds(_nested_arrays, st.one_of(st.integers(8, 14), st.sampled_from([500, 5_000]))),
    st.text(max_size=30),
)

EVENT_TYPES = st.one_of(st.sampled_from(list(event_pb2.EventType.values())), INT32)


def _now_s() -> int:
    return int(time.time())


@st.composite
def timestamps(draw: st.DrawFn) -> tuple[int, int] | None:
    """(seconds, nanos) of a Timestamp, or None for unset: near now, far off, or out of every valid range."""
    if draw(st.booleans()):
        return None
    seconds = draw(st.one_of(
        st.integers(-10_000, 10_000).map(lambda offset: _now_s() + offset),
        st.integers(-(10**9), 10**9).map(lambda offset: _now_s() + offset),
        INT64,
        st.sampled_from([0, -62_135_596_800, 253_402_300_799, 2**63 - 1, -(2**63)]),
    ))
    nanos = draw(st.one_of(st.integers(0, 999_999_999), INT32))
    return seconds, nanos


def _set(stamp, value: tuple[int, int] | None) -> None:
    if value is not None:
        stamp.seconds, stamp.nanos = value


@st.composite
def hostile_events(draw: st.DrawFn, message_ids: st.SearchStrategy[str]) -> event_pb2.Event:
    event = event_pb2.Event(
        message_id=draw(message_ids), type=draw(EVENT_TYPES), name=draw(TEXT),
        anonymous_id=draw(st.one_of(st.just(""), SHORT_TEXT, rarely(SHORT_TEXT, LONG_TEXT, 3))),
        user_id=draw(st.one_of(st.just("user-1"), SHORT_TEXT, rarely(SHORT_TEXT, LONG_TEXT, 3))),
        session_id=draw(SHORT_TEXT), group_id=draw(SHORT_TEXT), previous_id=draw(SHORT_TEXT),
    )
    _set(event.timestamp, draw(timestamps()))
    _set(event.sent_at, draw(timestamps()))
    for name in ("properties_json", "traits_json"):
        if draw(st.booleans()):
            setattr(event, name, draw(JSON_TEXT))
    if draw(st.booleans()):
        context = event.context
        context.ip = draw(st.one_of(st.sampled_from(["127.0.0.1", "::1", "256.1.1.1", "fe80::1%eth0", ""]),
                                    SHORT_TEXT))
        context.user_agent = draw(TEXT)
        context.locale, context.timezone = draw(SHORT_TEXT), draw(SHORT_TEXT)
        context.page.url = draw(st.one_of(st.sampled_from(
            ["https://example.com/a?utm_source=x&utm_campaign=%ff", "http://[::1", "//", "https://☃.net/"]),
            TEXT))
        context.page.referrer = draw(st.one_of(st.sampled_from(["https://www.google.com/", "http://[", ""]),
                                               SHORT_TEXT))
        context.page.path, context.page.title = draw(SHORT_TEXT), draw(SHORT_TEXT)
        context.campaign.source, context.library.name = draw(SHORT_TEXT), draw(SHORT_TEXT)
        if draw(st.booleans()):
            context.extra_json = draw(JSON_TEXT)
    if draw(st.booleans()):  # clients may not set enrichment; ingest must clear what they send
        event.enrichment.country, event.enrichment.is_bot = draw(SHORT_TEXT), draw(st.booleans())
    return event


def good_event() -> event_pb2.Event:
    """A valid track event: its own sent_at equals its timestamp, so no batch sent_at can skew it out of range."""
    event = event_pb2.Event(message_id=f"good-{uuid.uuid4()}", type=event_pb2.EVENT_TYPE_TRACK,
                            name="Fuzz Good", user_id="fuzz-user", properties_json='{"plan": "pro"}')
    now = time.time_ns()
    event.timestamp.FromNanoseconds(now)
    event.sent_at.FromNanoseconds(now)
    return event


@st.composite
def hostile_batches(draw: st.DrawFn) -> tuple[batch_pb2.EventBatch, int]:
    """(batch, index of its good event). Message ids repeat within a batch; sometimes a batch is very long."""
    pool = draw(st.lists(SHORT_TEXT, min_size=1, max_size=3))
    message_ids = st.one_of(st.sampled_from(pool), TEXT)
    events = draw(st.lists(hostile_events(message_ids), max_size=6))
    copies = draw(st.sampled_from([0, 0, 0, 0, 0, 0, 0, 300, 998, 1000]))
    if copies:  # many events, cheaply: one small drawn event repeated (the limit is 1000 per batch)
        filler = events[-1] if events and events[-1].ByteSize() < 200 else event_pb2.Event(message_id="x", type=1)
        events.extend(filler for _ in range(copies))
    good_index = draw(st.integers(0, len(events)))
    events.insert(good_index, good_event())
    batch = batch_pb2.EventBatch(sequence=draw(st.integers(0, 2**64 - 1)), events=events)
    _set(batch.sent_at, draw(timestamps()))
    return batch, good_index


# Segment JSON for the HTTP bridge.

SEGMENT_TYPES = ["track", "page", "screen", "identify", "group", "alias"]
_SEGMENT_KEYS = ["type", "event", "name", "userId", "anonymousId", "messageId", "timestamp", "originalTimestamp",
                 "sentAt", "properties", "traits", "groupId", "previousId", "sessionId", "context", "integrations",
                 "writeKey"]
_ISO = st.one_of(
    st.datetimes(timezones=st.timezones() | st.none()).map(lambda moment: moment.isoformat()),
    st.sampled_from(["2026-13-01T00:00:00Z", "0001-01-01T00:00:00-23:59", "9999-12-31T23:59:59+00:00",
                     "9999-12-31T23:59:59-12:00", "yesterday", "", "2026-01-01T00:00:00.123456789Z"]),
)
_CONTEXTS = st.fixed_dictionaries({}, optional={
    "ip": st.one_of(st.sampled_from(["1.2.3.4", " ::1 ", "999.0.0.1", ""]), JSON_VALUES),
    "userAgent": st.one_of(SHORT_TEXT, JSON_VALUES), "locale": JSON_VALUES,
    "page": st.one_of(st.fixed_dictionaries({}, optional={"url": JSON_VALUES, "path": JSON_VALUES,
                                                          "referrer": SHORT_TEXT, "extra": JSON_VALUES}),
                      JSON_VALUES),
    "campaign": JSON_VALUES, "library": JSON_VALUES, "sessionId": JSON_VALUES, "custom": JSON_VALUES,
})


@st.composite
def segment_messages(draw: st.DrawFn) -> object:
    """A Segment message with any of its fields wrong, or anything that is not a message at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(JSON_VALUES)
    value_for = {
        "type": st.one_of(st.sampled_from(SEGMENT_TYPES), JSON_VALUES),
        "timestamp": st.one_of(_ISO, JSON_VALUES), "originalTimestamp": _ISO, "sentAt": st.one_of(_ISO, JSON_VALUES),
        "properties": st.one_of(JSON_OBJECTS, JSON_VALUES), "traits": st.one_of(JSON_OBJECTS, JSON_VALUES),
        "context": st.one_of(_CONTEXTS, JSON_VALUES),
        "messageId": st.one_of(st.text(max_size=20), JSON_VALUES, rarely(SHORT_TEXT, LONG_TEXT, 3)),
        "userId": st.one_of(st.just("user-1"), SHORT_TEXT, JSON_VALUES, rarely(SHORT_TEXT, LONG_TEXT, 3)),
    }
    keys = draw(st.lists(st.sampled_from(_SEGMENT_KEYS), unique=True, max_size=9))
    return {key: draw(value_for.get(key, st.one_of(SHORT_TEXT, JSON_VALUES))) for key in keys}


def good_message(kind: str = "track") -> dict:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    message = {"type": kind, "messageId": f"good-{uuid.uuid4()}", "userId": "fuzz-user", "timestamp": now,
               "sentAt": now, "event": "Fuzz Good", "name": "Home", "properties": {"plan": "pro"}}
    if kind == "group":
        message["groupId"] = "group-1"
    if kind == "alias":
        message["previousId"] = "anon-1"
    return message
