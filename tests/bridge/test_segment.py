"""The pure Segment → Event conversion: field mapping, timestamps, ids and per-message problems."""

import orjson
import pytest

from ingest.http_bridge.errors import BadRequestError
from ingest.http_bridge.segment import RequestDefaults, convert_batch, convert_single, derived_message_id
from tests.bridge.messages import message
from trackmint.v1 import event_pb2

DEFAULTS = RequestDefaults(ip="192.0.2.1", user_agent="Mozilla/5.0")


def only_event(conversion) -> event_pb2.Event:
    assert conversion.problems == []
    (event,) = conversion.batch.events
    return event


@pytest.mark.parametrize(("text", "expected_ns"), [
    ("2026-01-02T03:04:05.678Z", 1767323045678000000),
    ("2026-01-02T04:04:05.678+01:00", 1767323045678000000),
    ("2026-01-02T03:04:05.678", 1767323045678000000),  # no offset: UTC, as Segment reads it
    ("2026-01-02T03:04:05.678901+00:00", 1767323045678901000),
])
def test_iso_timestamps_are_read_exactly(text, expected_ns):
    event = only_event(convert_single(message(timestamp=text), "track", DEFAULTS))
    assert event.timestamp.ToNanoseconds() == expected_ns


def test_rudderstack_original_timestamp_and_numeric_ids():
    event = only_event(convert_batch({"batch": [message(
        timestamp=None, originalTimestamp="2026-01-02T03:04:05Z", userId=42, sessionId=1700000000123)]},
        DEFAULTS))
    assert event.timestamp.ToSeconds() == 1767323045
    assert (event.user_id, event.session_id) == ("42", "1700000000123")


def test_request_defaults_fill_only_what_the_message_lacks():
    own = only_event(convert_single(message(context={"ip": "2001:db8::1", "userAgent": "curl/8"}), "track", DEFAULTS))
    assert (own.context.ip, own.context.user_agent) == ("2001:db8::1", "curl/8")
    default = only_event(convert_single(message(), "track", DEFAULTS))
    assert (default.context.ip, default.context.user_agent) == ("192.0.2.1", "Mozilla/5.0")


def test_context_session_id_and_unknown_keys():
    event = only_event(convert_single(message(context={
        "sessionId": "s-1", "page": {"url": "https://a.example/", "hash": "#x"}, "os": {"name": "iOS"}}),
        "page", DEFAULTS))
    assert event.session_id == "s-1" and event.context.page.url == "https://a.example/"
    assert orjson.loads(event.context.extra_json) == {"page": {"hash": "#x"}, "os": {"name": "iOS"}}


def test_endpoint_type_wins_over_the_body_type():
    event = only_event(convert_single(message("track", type="identify"), "track", DEFAULTS))
    assert event.type == event_pb2.EVENT_TYPE_TRACK and event.name == "Signed Up"


def test_derived_message_id_is_stable_and_content_sensitive():
    body = {"type": "track", "event": "A", "userId": "u", "properties": {"b": 1, "a": 2}}
    reordered = {"properties": {"a": 2, "b": 1}, "userId": "u", "event": "A", "type": "track"}
    assert derived_message_id("track", body) == derived_message_id("track", reordered)
    assert derived_message_id("track", body) != derived_message_id("track", {**body, "event": "B"})
    assert derived_message_id("track", body) != derived_message_id("page", body)


@pytest.mark.parametrize(("fields", "code"), [
    ({"properties": "text"}, "invalid_json"),
    ({"traits": [1]}, "invalid_json"),
    ({"timestamp": 1700000000}, "invalid_timestamp"),
    ({"sentAt": "soon"}, "invalid_timestamp"),
    ({"context": "browser"}, "invalid_field"),
    ({"context": {"page": "home"}}, "invalid_field"),
    ({"userId": {"id": 1}}, "invalid_field"),
    ({"context": {"ip": "999.1.1.1"}}, "invalid_field"),
    # Found by tests/fuzz: an unhashable type (a list or object) raised TypeError, a 500 for the whole batch.
    ({"type": ["track"]}, "invalid_type"),
    ({"type": {"track": 1}}, "invalid_type"),
])
def test_unconvertible_messages_are_problems_at_their_index(fields, code):
    conversion = convert_batch({"batch": [message(), message(**fields)]}, DEFAULTS)
    assert len(conversion.batch.events) == 1 and conversion.positions == [0]
    (problem,) = conversion.problems
    assert (problem.index, problem.code) == (1, code) and problem.reason


def test_batch_context_is_merged_under_each_message_context():
    conversion = convert_batch({"batch": [message(context={"locale": "fr-FR"}), message()],
                                "context": {"locale": "en-US", "timezone": "UTC"}}, DEFAULTS)
    first, second = conversion.batch.events
    assert (first.context.locale, first.context.timezone) == ("fr-FR", "UTC")
    assert second.context.locale == "en-US"


@pytest.mark.parametrize("body", [{}, {"batch": "x"}, {"batch": [], "context": []}, {"batch": [], "sentAt": 5}])
def test_malformed_batch_envelopes_are_bad_requests(body):
    with pytest.raises(BadRequestError):
        convert_batch(body, DEFAULTS)
