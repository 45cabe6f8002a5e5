"""Pure parts of destinations: the filter semantics, the delivered event shape, the retry delays."""

import random
import uuid

import orjson
import pytest

from destinations.backoff import retry_delay
from destinations.matching import matches, predicate_matches
from destinations.payload import batch_body, delivery_id, events_of
from tests.payloads import event_of
from trackmint.v1 import batch_pb2

EVENT = {"event": "purchase", "properties": {"plan": "pro", "total": 20, "flag": True, "count": "5", "none": None},
         "enrichment": {"browser": "Firefox"}, "context": {"page": {"path": "/pricing"}}}


@pytest.mark.parametrize(("key", "operator", "value", "expected"), [
    ("plan", "eq", "pro", True),
    ("plan", "eq", "free", False),
    ("total", "eq", 20, True),
    ("total", "eq", "20", True),  # the text form
    ("count", "eq", 5, False),  # a number matches JSON numbers only
    ("flag", "eq", True, True),
    ("flag", "eq", "true", True),
    ("missing", "eq", "x", False),
    ("missing", "neq", "x", True),
    ("plan", "neq", "pro", False),
    ("plan", "contains", "r", True),
    ("plan", "not_contains", "r", False),
    ("missing", "not_contains", "r", True),
    ("total", "gt", 10, True),
    ("total", "lt", 10, False),
    ("count", "gt", 1, False),  # a string is not a number
    ("flag", "gt", 0, False),
    ("none", "is_set", None, False),
    ("none", "is_not_set", None, True),
    ("plan", "is_set", None, True),
    ("total", "in", ["20", "30"], True),
    ("total", "in", [20], True),
    ("plan", "in", ["free"], False),
    ("$browser", "eq", "Firefox", True),
    ("$pathname", "contains", "pric", True),
    ("$country", "is_not_set", None, True),
    ("plan", "regex", ".*", False),  # an unknown operator matches nothing
])
def test_predicates_follow_the_analytics_filter_semantics(key, operator, value, expected):
    assert predicate_matches({"key": key, "operator": operator, "value": value}, EVENT) is expected


def test_names_and_predicates_are_anded_and_an_empty_filter_matches_everything():
    assert matches({"events": [], "properties": []}, EVENT)
    assert matches({"events": ["purchase"], "properties": [{"key": "plan", "operator": "eq", "value": "pro"}]}, EVENT)
    assert not matches({"events": ["signup"]}, EVENT)
    assert not matches({"events": ["purchase"], "properties": [
        {"key": "plan", "operator": "eq", "value": "pro"}, {"key": "total", "operator": "gt", "value": 50}]}, EVENT)


def test_a_page_event_is_delivered_with_its_stored_name_context_and_enrichment():
    event = event_of("page", at_ns=1_764_860_400_123_456_000, name="Pricing", anonymous_id="anon-1",
                     page_path="/pricing", referrer="https://www.google.com/", country="DE", browser="Firefox",
                     properties={"a": 1})
    envelope = batch_pb2.IngestedBatch(project_id=str(uuid.uuid4()), events=[event])
    envelope.received_at.FromNanoseconds(1_764_860_401_000_000_000)
    [payload] = events_of(envelope)
    assert payload["type"] == "page" and payload["event"] == "$pageview" and payload["name"] == "Pricing"
    assert payload["distinctId"] == "anon-1" and payload["userId"] is None
    assert payload["timestamp"] == "2025-12-04T15:00:00.123456Z"
    assert payload["receivedAt"] == "2025-12-04T15:00:01Z"
    assert payload["properties"] == {"a": 1}
    assert payload["context"]["page"]["path"] == "/pricing"
    assert payload["enrichment"]["country"] == "DE" and payload["enrichment"]["browser"] == "Firefox"
    assert "traits" not in payload and "sessionId" not in payload


def test_a_batch_keeps_its_delivery_id_and_bytes_for_the_same_events():
    destination = uuid.uuid4()
    first = delivery_id(destination, ["a", "b"])
    assert first == delivery_id(destination, ["a", "b"])
    assert first != delivery_id(destination, ["a", "c"]) and first != delivery_id(uuid.uuid4(), ["a", "b"])
    body = batch_body(first, destination, "p", [{"messageId": "a"}])
    assert body == batch_body(first, destination, "p", [{"messageId": "a"}])
    assert orjson.loads(body) == {"deliveryId": str(first), "destinationId": str(destination), "projectId": "p",
                                  "events": [{"messageId": "a"}]}


def test_retry_delays_grow_exponentially_with_jitter_up_to_the_cap():
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (10, 60), (100, 60)]:
        delays = [retry_delay(attempt, 1.0, 60.0, rng) for _ in range(50)]
        assert all(ceiling * 0.5 <= delay <= ceiling for delay in delays)
        assert len(set(delays)) > 1
