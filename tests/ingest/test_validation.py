"""The validation pipeline as pure functions: rejection codes and reasons, clock-skew correction, neighbours."""

import json
from collections.abc import Callable

import pytest

from ingest.validation import PIPELINE, Limits, ValidationStats, validate_batch
from tests.payloads import batch_of, track_event
from trackmint.v1 import batch_pb2, event_pb2

Code = batch_pb2.RejectionCode

NS = 1_000_000_000
RECEIVED = 1_750_000_000 * NS  # a fixed server clock, so every expectation is exact
MAX_FUTURE_SECONDS = 3600
MAX_AGE_DAYS = 30
LIMITS = Limits(
    max_event_bytes=2048,
    max_id_length=40,
    max_name_length=50,
    max_properties_depth=3,
    max_future_ns=MAX_FUTURE_SECONDS * NS,
    max_age_ns=MAX_AGE_DAYS * 86_400 * NS,
)


def validate(events: list[event_pb2.Event], *, sent_at_ns: int | None = RECEIVED,
             stats: ValidationStats | None = None):
    batch = batch_of(events, sequence=3)
    if sent_at_ns is None:
        batch.ClearField("sent_at")
    else:
        batch.sent_at.FromNanoseconds(sent_at_ns)
    return validate_batch(batch, LIMITS, stats or ValidationStats(), received_at_ns=RECEIVED)


def good_event(**fields) -> event_pb2.Event:
    event = track_event("signup", timestamp_ns=RECEIVED - 5 * NS)
    for name, value in fields.items():
        setattr(event, name, value)
    return event


def nested(depth: int) -> str:
    """A JSON object nesting objects `depth` levels deep (depth 1 = a flat object)."""
    value: dict = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"child": value}
    return json.dumps(value)


def _set_context(**fields) -> Callable[[event_pb2.Event], None]:
    def mutate(event: event_pb2.Event) -> None:
        for name, value in fields.items():
            setattr(event.context, name, value)
    return mutate


def _set(**fields) -> Callable[[event_pb2.Event], None]:
    def mutate(event: event_pb2.Event) -> None:
        for name, value in fields.items():
            setattr(event, name, value)
    return mutate


def _set_page_url(url: str) -> Callable[[event_pb2.Event], None]:
    def mutate(event: event_pb2.Event) -> None:
        event.context.page.url = url
    return mutate


def _set_timestamp(offset_seconds: float) -> Callable[[event_pb2.Event], None]:
    def mutate(event: event_pb2.Event) -> None:
        event.timestamp.FromNanoseconds(RECEIVED + int(offset_seconds * NS))
    return mutate


# (mutation of a good event, expected code, words the reason must contain)
REJECTIONS = {
    "missing message_id": (_set(message_id=""), Code.REJECTION_CODE_MISSING_MESSAGE_ID, ["message_id"]),
    "blank message_id": (_set(message_id="   "), Code.REJECTION_CODE_MISSING_MESSAGE_ID, ["message_id"]),
    "missing identity": (
        _set(user_id="", anonymous_id=""), Code.REJECTION_CODE_MISSING_IDENTITY, ["user_id", "anonymous_id"]
    ),
    "track without name": (_set(name=""), Code.REJECTION_CODE_MISSING_NAME, ["name"]),
    "unspecified type": (_set(type=event_pb2.EVENT_TYPE_UNSPECIFIED), Code.REJECTION_CODE_INVALID_TYPE, ["type"]),
    "unknown type number": (_set(type=42), Code.REJECTION_CODE_INVALID_TYPE, ["type", "42"]),
    "group without group_id": (
        _set(type=event_pb2.EVENT_TYPE_GROUP), Code.REJECTION_CODE_MISSING_FIELD, ["group_id"]
    ),
    "alias without previous_id": (
        _set(type=event_pb2.EVENT_TYPE_ALIAS), Code.REJECTION_CODE_MISSING_FIELD, ["previous_id"]
    ),
    "too-long user_id": (
        _set(user_id="u" * 41), Code.REJECTION_CODE_FIELD_TOO_LONG, ["user_id", "41", "limit is 40"]
    ),
    "too-long message_id": (
        _set(message_id="m" * 41), Code.REJECTION_CODE_FIELD_TOO_LONG, ["message_id", "limit is 40"]
    ),
    "too-long session_id": (
        _set(session_id="s" * 41), Code.REJECTION_CODE_FIELD_TOO_LONG, ["session_id", "limit is 40"]
    ),
    "too-long name": (_set(name="n" * 51), Code.REJECTION_CODE_FIELD_TOO_LONG, ["name", "51", "limit is 50"]),
    "NUL in user_id": (_set(user_id="a\x00b"), Code.REJECTION_CODE_INVALID_JSON, ["NUL", "user_id"]),
    "NUL in context.user_agent": (
        _set_context(user_agent="Mozilla\x00"), Code.REJECTION_CODE_INVALID_JSON, ["NUL", "user_agent"]
    ),
    "NUL in context.page.url": (
        _set_page_url("https://x.test/\x00"), Code.REJECTION_CODE_INVALID_JSON, ["NUL", "url"]
    ),
    "oversized event": (
        _set(properties_json=json.dumps({"blob": "x" * 3000})),
        Code.REJECTION_CODE_EVENT_TOO_LARGE,
        ["bytes", "limit is 2048"],
    ),
    "invalid JSON properties": (
        _set(properties_json='{"plan": '), Code.REJECTION_CODE_INVALID_JSON, ["properties_json", "not valid JSON"]
    ),
    "invalid JSON traits": (
        _set(traits_json="{plan}"), Code.REJECTION_CODE_INVALID_JSON, ["traits_json", "not valid JSON"]
    ),
    "invalid JSON context extra": (
        _set_context(extra_json="nope"), Code.REJECTION_CODE_INVALID_JSON, ["context.extra_json", "not valid JSON"]
    ),
    "JSON array properties": (
        _set(properties_json="[1, 2]"), Code.REJECTION_CODE_INVALID_JSON, ["properties_json", "JSON object", "list"]
    ),
    "JSON string traits": (
        _set(traits_json='"plan"'), Code.REJECTION_CODE_INVALID_JSON, ["traits_json", "JSON object", "str"]
    ),
    "too deep properties": (
        _set(properties_json=nested(4)), Code.REJECTION_CODE_TOO_DEEP, ["properties_json", "3"]
    ),
    "too deep through lists": (
        _set(properties_json='{"a": [[{"b": 1}]]}'), Code.REJECTION_CODE_TOO_DEEP, ["properties_json", "3"]
    ),
    "escaped NUL in properties value": (
        _set(properties_json='{"note": "a\\u0000b"}'), Code.REJECTION_CODE_INVALID_JSON, ["properties_json", "u0000"]
    ),
    "escaped NUL in traits key": (
        _set(traits_json='{"k\\u0000": 1}'), Code.REJECTION_CODE_INVALID_JSON, ["traits_json", "u0000"]
    ),
    "unpaired high surrogate": (
        _set(properties_json='{"emoji": "\\ud83d"}'),
        Code.REJECTION_CODE_INVALID_JSON,
        ["properties_json", "unpaired surrogate"],
    ),
    "unpaired low surrogate": (
        _set_context(extra_json='{"x": "\\uDE00 tail"}'),
        Code.REJECTION_CODE_INVALID_JSON,
        ["context.extra_json", "unpaired surrogate"],
    ),
    "timestamp in the future": (
        _set_timestamp(MAX_FUTURE_SECONDS + 60), Code.REJECTION_CODE_TIMESTAMP_IN_FUTURE, ["timestamp", "future"]
    ),
    "timestamp too old": (
        _set_timestamp(-(MAX_AGE_DAYS * 86_400 + 60)), Code.REJECTION_CODE_TIMESTAMP_TOO_OLD, ["timestamp", "old"]
    ),
}


@pytest.mark.parametrize(("mutate", "code", "words"), REJECTIONS.values(), ids=REJECTIONS.keys())
def test_bad_event_is_rejected_with_code_and_reason_naming_field_or_limit(mutate, code, words):
    event = good_event()
    mutate(event)
    message_id = event.message_id

    result = validate([event])

    assert result.accepted == []
    assert [(r.index, Code.Name(r.code)) for r in result.rejections] == [(0, Code.Name(code))]
    reason = result.rejections[0].reason
    missing = [word for word in words if word not in reason]
    assert not missing, f"reason {reason!r} does not mention {missing}"
    assert result.rejections[0].message_id == message_id[:200]


@pytest.mark.parametrize(
    "limit_seconds_text",
    [pytest.param((_set_timestamp(MAX_FUTURE_SECONDS + 60), str(MAX_FUTURE_SECONDS)), id="future"),
     pytest.param((_set_timestamp(-(MAX_AGE_DAYS * 86_400 + 60)), str(MAX_AGE_DAYS)), id="too old")],
)
def test_timestamp_rejection_reason_states_the_limit(limit_seconds_text):
    # The contract (batch.proto, Rejection.reason): "Human-readable reason naming the field and the limit".
    mutate, limit_text = limit_seconds_text
    event = good_event()
    mutate(event)

    reason = validate([event]).rejections[0].reason

    assert limit_text in reason, f"reason {reason!r} does not state the limit ({limit_text})"


ACCEPTED_EDGES = {
    "anonymous id only": _set(user_id="", anonymous_id="anon-1"),
    "ids exactly at the limit": _set(user_id="u" * 40, message_id="m" * 40),
    "name exactly at the limit": _set(name="n" * 50),
    "depth exactly at the limit": _set(properties_json=nested(3)),
    "brackets inside strings are not nesting": _set(properties_json=json.dumps({"a": "[[[[{{{{"})),
    "paired surrogate escape": _set(properties_json='{"emoji": "\\ud83d\\ude00"}'),
    "escaped backslash before u0000": _set(properties_json='{"path": "C:\\\\u0000"}'),
    "page without name": _set(type=event_pb2.EVENT_TYPE_PAGE, name=""),
    "group with group_id": _set(type=event_pb2.EVENT_TYPE_GROUP, group_id="acme"),
    "alias with previous_id": _set(type=event_pb2.EVENT_TYPE_ALIAS, previous_id="anon-9"),
    "timestamp just inside the future limit": _set_timestamp(MAX_FUTURE_SECONDS - 1),
    "timestamp just inside the age limit": _set_timestamp(-(MAX_AGE_DAYS * 86_400 - 1)),
    "empty JSON fields": _set(properties_json="", traits_json=""),
}


@pytest.mark.parametrize("mutate", ACCEPTED_EDGES.values(), ids=ACCEPTED_EDGES.keys())
def test_event_at_the_edge_of_a_limit_is_accepted(mutate):
    event = good_event()
    mutate(event)

    result = validate([event])

    assert list(result.rejections) == []
    assert len(result.accepted) == 1


def test_event_time_is_corrected_by_the_skew_between_sent_at_and_received():
    # The client clock is 10 minutes ahead: it says the event happened 5 s before it sent it.
    skew = 600 * NS
    event = good_event()
    event.timestamp.FromNanoseconds(RECEIVED + skew - 5 * NS)
    event.sent_at.FromNanoseconds(RECEIVED + skew)

    result = validate([event], sent_at_ns=RECEIVED + 7 * NS)  # the event's own sent_at wins over the batch's

    (accepted,) = result.accepted
    assert accepted.timestamp.ToNanoseconds() == RECEIVED - 5 * NS
    assert accepted.sent_at.ToNanoseconds() == RECEIVED + skew


def test_batch_sent_at_is_used_when_the_event_has_none():
    skew = -90 * NS  # client clock 90 s behind
    event = good_event()
    event.timestamp.FromNanoseconds(RECEIVED + skew - 2 * NS)

    result = validate([event], sent_at_ns=RECEIVED + skew)

    (accepted,) = result.accepted
    assert accepted.timestamp.ToNanoseconds() == RECEIVED - 2 * NS
    assert accepted.HasField("sent_at")
    assert accepted.sent_at.ToNanoseconds() == RECEIVED + skew


def _stamps(event: event_pb2.Event, name: str, seconds: int, nanos: int) -> None:
    stamp = getattr(event, name)
    stamp.seconds, stamp.nanos = seconds, nanos


@pytest.mark.parametrize(("field", "seconds", "nanos"), [
    # Found by tests/fuzz: both far in the past cancel out in the skew correction, then writing sent_at back
    # raised ValueError (seconds beyond int64) out of validation: an UNKNOWN status on Send.
    ("both", -(2**63), -1),
    # Accepted before, then unstorable: the processor stages sent_at as int64 microseconds.
    ("both", 2**62, 0),
    ("sent_at", RECEIVED // NS, -1),
    ("sent_at", RECEIVED // NS, NS),
    ("timestamp", 253_402_300_800, 0),  # 10000-01-01
])
def test_timestamp_or_sent_at_that_is_no_valid_timestamp_is_rejected_and_its_neighbour_accepted(
    field, seconds, nanos
):
    bad = good_event()
    for name in ("timestamp", "sent_at") if field == "both" else (field,):
        _stamps(bad, name, seconds, nanos)

    result = validate([bad, good_event()])

    (rejection,) = result.rejections
    assert (rejection.index, rejection.code) == (0, Code.REJECTION_CODE_INVALID_FIELD)
    assert "is not a valid timestamp" in rejection.reason and "years 1 to 9999" in rejection.reason
    assert len(result.accepted) == 1


def test_events_relying_on_a_batch_sent_at_that_is_no_valid_timestamp_are_rejected():
    own = good_event()
    own.sent_at.FromNanoseconds(RECEIVED)
    relying = good_event()
    batch = batch_of([relying, own], sequence=3)
    batch.sent_at.seconds, batch.sent_at.nanos = -(2**63), 0

    result = validate_batch(batch, LIMITS, ValidationStats(), received_at_ns=RECEIVED)

    (rejection,) = result.rejections
    assert (rejection.index, rejection.code) == (0, Code.REJECTION_CODE_INVALID_FIELD)
    assert "the batch's sent_at" in rejection.reason
    assert [event.message_id for event in result.accepted] == [own.message_id]


def test_unset_timestamp_means_received_time():
    event = good_event()
    event.ClearField("timestamp")

    result = validate([event], sent_at_ns=RECEIVED - 3600 * NS)

    assert result.accepted[0].timestamp.ToNanoseconds() == RECEIVED


def test_timestamp_is_kept_when_nothing_says_when_it_was_sent():
    event = good_event()
    event.timestamp.FromNanoseconds(RECEIVED - 42 * NS)

    result = validate([event], sent_at_ns=None)

    assert result.accepted[0].timestamp.ToNanoseconds() == RECEIVED - 42 * NS
    assert not result.accepted[0].HasField("sent_at")


def test_skew_correction_rescues_an_event_from_a_client_clock_far_ahead():
    # Without correction this timestamp is two hours in the future (beyond the one hour limit).
    ahead = 2 * 3600 * NS
    event = good_event()
    event.timestamp.FromNanoseconds(RECEIVED + ahead - NS)

    result = validate([event], sent_at_ns=RECEIVED + ahead)

    assert list(result.rejections) == []
    assert result.accepted[0].timestamp.ToNanoseconds() == RECEIVED - NS


def test_limits_are_checked_after_skew_correction():
    # The raw timestamp looks current, but the client sent it 40 days "late" by its clock.
    event = good_event()
    event.timestamp.FromNanoseconds(RECEIVED)

    result = validate([event], sent_at_ns=RECEIVED + 40 * 86_400 * NS)

    assert [Code.Name(r.code) for r in result.rejections] == ["REJECTION_CODE_TIMESTAMP_TOO_OLD"]


def test_good_neighbours_of_bad_events_are_accepted_and_rejections_sorted_by_index():
    events = [
        good_event(properties_json="[]"),  # 0: fails late, at the json step
        good_event(),                       # 1
        good_event(user_id=""),             # 2: fails at the identity step
        good_event(),                       # 3
        good_event(message_id=""),          # 4: fails first, at the message_id step
        good_event(),                       # 5
    ]
    good_ids = [events[i].message_id for i in (1, 3, 5)]
    stats = ValidationStats()

    result = validate(events, stats=stats)

    assert [event.message_id for event in result.accepted] == good_ids
    assert [(r.index, Code.Name(r.code)) for r in result.rejections] == [
        (0, "REJECTION_CODE_INVALID_JSON"),
        (2, "REJECTION_CODE_MISSING_IDENTITY"),
        (4, "REJECTION_CODE_MISSING_MESSAGE_ID"),
    ]
    assert stats.rejections == {
        "REJECTION_CODE_INVALID_JSON": 1, "REJECTION_CODE_MISSING_IDENTITY": 1, "REJECTION_CODE_MISSING_MESSAGE_ID": 1
    }
    assert set(stats.step_seconds) == {name for name, _ in PIPELINE}


def test_an_event_is_rejected_once_by_the_first_failing_step():
    event = good_event(message_id="", user_id="", properties_json="[")

    result = validate([event])

    assert [Code.Name(r.code) for r in result.rejections] == ["REJECTION_CODE_MISSING_MESSAGE_ID"]


def test_received_time_is_reported_with_the_batch():
    assert validate([good_event()]).received_at_ns == RECEIVED


def test_nan_and_infinity_are_rejected_as_postgresql_cannot_store_them():
    from ingest.validation import _json_problem

    for text in ('{"x": NaN}', '{"x": Infinity}', '{"x": -Infinity}'):
        code, reason = _json_problem("properties_json", text, 10)
        assert code == batch_pb2.REJECTION_CODE_INVALID_JSON
        assert "properties_json is not valid JSON" in reason


def test_integers_beyond_64_bits_are_accepted_like_postgresql_does():
    from ingest.validation import _json_problem

    assert _json_problem("properties_json", '{"big": 123456789012345678901234567890}', 10) is None


@pytest.mark.parametrize("text", ["[" * 3000 + "]" * 3000, '{"a": ' * 3000 + "1" + "}" * 3000,
                                  '{"a": ' + "[" * 3000 + "]" * 3000 + "}"])
def test_json_nested_past_the_parsers_own_limits_is_too_deep_not_a_crash(text):
    # Found by tests/fuzz: orjson refuses ~1000 levels, and the standard library fallback then raised
    # RecursionError out of validation (an UNKNOWN status on Send, an endless UNAVAILABLE retry on Stream).
    from ingest.validation import _json_problem

    code, reason = _json_problem("traits_json", text, 10)

    assert code == Code.REJECTION_CODE_TOO_DEEP
    assert reason == "traits_json nests deeper than 10 levels"


@pytest.mark.parametrize("address", ["203.0.113.7", "2001:db8::1", "::ffff:192.0.2.1"])
def test_a_valid_ip_address_passes(address):
    event = good_event()
    event.context.ip = address

    assert validate([event]).rejections == []


@pytest.mark.parametrize("address", ["not-an-ip", "300.1.1.1", "203.0.113.7, 10.0.0.1", "1.2.3.4:80"])
def test_an_ip_that_is_not_an_address_is_rejected_and_its_neighbour_accepted(address):
    bad = good_event()
    bad.context.ip = address

    result = validate([bad, good_event()])

    (rejection,) = result.rejections
    assert (rejection.index, rejection.code) == (0, Code.REJECTION_CODE_INVALID_FIELD)
    assert "is not an IP address" in rejection.reason and "context.ip" in rejection.reason
    assert len(result.accepted) == 1
