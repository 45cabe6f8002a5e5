"""Building events from call arguments: pure functions, no server."""

import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from trackmint.v1 import event_pb2
from trackmint_sdk import Client, __version__
from trackmint_sdk.events import (
    alias_event,
    build_context,
    group_event,
    identify_event,
    json_default,
    page_event,
    track_event,
)


def test_defaults_fill_message_id_timestamp_and_library():
    before = datetime.now(UTC)
    event = track_event("Signed Up", user_id="u1")
    assert uuid.UUID(event.message_id).version == 4
    assert before - timedelta(seconds=1) <= event.timestamp.ToDatetime(UTC) <= datetime.now(UTC)
    assert (event.context.library.name, event.context.library.version) == ("trackmint-python", __version__)
    assert event.type == event_pb2.EVENT_TYPE_TRACK and event.name == "Signed Up"
    assert event.properties_json == "" and not event.HasField("sent_at")


def test_naive_timestamp_is_utc_and_aware_timestamp_is_converted():
    naive = track_event("x", user_id="u", timestamp=datetime(2024, 3, 1, 12, 0, 0, 250_000))
    aware = track_event(
        "x", user_id="u", timestamp=datetime(2024, 3, 1, 14, 0, 0, 250_000, tzinfo=timezone(timedelta(hours=2)))
    )
    assert naive.timestamp == aware.timestamp
    assert naive.timestamp.ToDatetime(UTC) == datetime(2024, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)


def test_properties_json_handles_datetimes_decimals_uuids_and_sets():
    ident = uuid.uuid4()
    event = track_event(
        "Paid",
        user_id="u",
        properties={
            "at": datetime(2024, 1, 2, 3, 4, 5),
            "day": date(2024, 1, 2),
            "price": Decimal("9.99"),
            "quantity": Decimal("3"),
            "order": ident,
            "tags": {"a"},
            "big": 2**70,
            "text": "café",
        },
    )
    assert json.loads(event.properties_json) == {
        "at": "2024-01-02T03:04:05+00:00",
        "day": "2024-01-02",
        "price": 9.99,
        "quantity": 3,
        "order": str(ident),
        "tags": ["a"],
        "big": 2**70,
        "text": "café",
    }


def test_unserializable_properties_are_a_type_error():
    with pytest.raises(TypeError, match="properties"):
        track_event("x", user_id="u", properties={"handle": object()})
    with pytest.raises(TypeError):
        json_default(b"bytes")
    with pytest.raises(ValueError, match="properties"):
        track_event("x", user_id="u", properties={"ratio": float("nan")})
    with pytest.raises(TypeError, match="mapping"):
        track_event("x", user_id="u", properties=["not", "a", "mapping"])


def test_context_maps_segment_keys_to_typed_fields_and_keeps_the_rest():
    context = build_context(
        {
            "ip": "203.0.113.9",
            "userAgent": "Mozilla/5.0",
            "locale": "de-DE",
            "timezone": "Europe/Berlin",
            "page": {"url": "https://x.test/a?b=1", "path": "/a", "referrer": "https://r.test", "title": "A",
                     "search": "?b=1", "hash": "#top"},
            "campaign": {"source": "google", "medium": "cpc", "name": "spring", "term": "shoes", "content": "ad1"},
            "library": {"name": "my-wrapper", "version": "2.0"},
            "device": {"type": "server"},
            "traits": None,
        }
    )
    assert (context.ip, context.user_agent, context.locale, context.timezone) == (
        "203.0.113.9", "Mozilla/5.0", "de-DE", "Europe/Berlin",
    )
    assert (context.page.url, context.page.path, context.page.referrer, context.page.title, context.page.search) == (
        "https://x.test/a?b=1", "/a", "https://r.test", "A", "?b=1",
    )
    assert (context.campaign.source, context.campaign.medium, context.campaign.name) == ("google", "cpc", "spring")
    assert (context.campaign.term, context.campaign.content) == ("shoes", "ad1")
    assert (context.library.name, context.library.version) == ("my-wrapper", "2.0")
    assert json.loads(context.extra_json) == {"page": {"hash": "#top"}, "device": {"type": "server"}}


def test_context_type_errors():
    with pytest.raises(TypeError):
        build_context({"page": "/pricing"})
    with pytest.raises(TypeError):
        build_context({"ip": 12345})
    with pytest.raises(TypeError):
        build_context(["ip"])


def test_each_call_sets_its_own_fields():
    page = page_event(anonymous_id="a1")
    assert (page.type, page.name, page.anonymous_id) == (event_pb2.EVENT_TYPE_PAGE, "", "a1")
    identify = identify_event("u1", traits={"plan": "pro"}, anonymous_id="a1")
    assert (identify.type, json.loads(identify.traits_json)) == (event_pb2.EVENT_TYPE_IDENTIFY, {"plan": "pro"})
    group = group_event("acme", user_id=42)
    assert (group.type, group.group_id, group.user_id) == (event_pb2.EVENT_TYPE_GROUP, "acme", "42")
    alias = alias_event("a1", "u1")
    assert (alias.type, alias.user_id, alias.previous_id) == (event_pb2.EVENT_TYPE_ALIAS, "u1", "a1")


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda client: client.track("Signed Up"), ValueError),  # no user_id or anonymous_id
        (lambda client: client.track("", user_id="u"), ValueError),
        (lambda client: client.track(None, user_id="u"), TypeError),
        (lambda client: client.track("x", user_id=True), TypeError),
        (lambda client: client.track("x", user_id="u", timestamp="2024-01-01"), TypeError),
        (lambda client: client.track("x", user_id="u", message_id=""), ValueError),
        (lambda client: client.track("x", user_id="u", properties={"blob": "x" * 40_000}), ValueError),
        (lambda client: client.identify(traits={"a": 1}), ValueError),
        (lambda client: client.group("", user_id="u"), ValueError),
        (lambda client: client.alias("a1", ""), ValueError),  # (previous_id, user_id)
    ],
)
def test_programming_errors_raise_at_the_call_and_queue_nothing(call, error):
    client = Client("tm_live_" + "Z" * 32, "127.0.0.1:9", flush_interval=60)
    try:
        with pytest.raises(error):
            call(client)
        assert client.stats.enqueued == 0
    finally:
        client.close(timeout=0)


def test_invalid_options_raise():
    with pytest.raises(ValueError, match="write_key"):
        Client("", "127.0.0.1:9")
    with pytest.raises(ValueError, match="batch_size"):
        Client("tm_live_x", "127.0.0.1:9", batch_size=0)


def test_message_ids_are_unique_version_4_uuids():
    import uuid

    from trackmint_sdk.events import new_message_id

    ids = [new_message_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert {uuid.UUID(value).version for value in ids} == {4}


def test_forked_child_does_not_repeat_the_parents_message_ids():
    import os

    from trackmint_sdk.events import new_message_id

    new_message_id()  # the parent now holds unused pooled randomness
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(write_end, new_message_id().encode())
        os._exit(0)
    os.waitpid(child, 0)
    from_child = os.read(read_end, 64).decode()
    os.close(read_end)
    os.close(write_end)
    assert from_child != new_message_id()
