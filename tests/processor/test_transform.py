"""The pure transform: decoded envelopes to staging rows, no servers."""

import json
import uuid

import pytest

from processor.transform import STAGING_COLUMNS, UnprocessableMessage, decode, rows_from_batch
from tests.payloads import track_event
from tests.processor.support import envelope
from trackmint.v1 import event_pb2

PROJECT = uuid.uuid4()
NS = 1_000_000_000


def as_dicts(batch) -> list[dict]:
    return [dict(zip(STAGING_COLUMNS, row, strict=True)) for row in rows_from_batch(batch)]


def event_of(kind: int, name: str = "") -> event_pb2.Event:
    event = track_event(name)
    event.type = kind
    return event


@pytest.mark.parametrize(
    ("kind", "name", "canonical"),
    [
        (event_pb2.EVENT_TYPE_TRACK, "Order Completed", "Order Completed"),
        (event_pb2.EVENT_TYPE_PAGE, "Pricing", "$pageview"),
        (event_pb2.EVENT_TYPE_SCREEN, "Home", "$screen"),
        (event_pb2.EVENT_TYPE_IDENTIFY, "", "$identify"),
        (event_pb2.EVENT_TYPE_GROUP, "", "$groupidentify"),
        (event_pb2.EVENT_TYPE_ALIAS, "", "$create_alias"),
    ],
)
def test_event_column_holds_the_canonical_name_and_name_keeps_the_sent_one(kind, name, canonical):
    (row,) = as_dicts(envelope(PROJECT, [event_of(kind, name)]))

    assert (row["type"], row["event"], row["name"]) == (kind, canonical, name)


def _rich_context_event(extra: dict) -> event_pb2.Event:
    event = track_event()
    context = event.context
    context.ip = "203.0.113.7"
    context.user_agent = "Mozilla/5.0"
    context.locale = "fr-FR"
    context.timezone = "Europe/Paris"
    context.page.url = "https://shop.test/pricing?utm_source=news"
    context.page.path = "/pricing"
    context.campaign.source = "news"
    context.campaign.name = "spring"
    context.library.name = "trackmint-python"
    context.library.version = "0.1.0"
    context.extra_json = json.dumps(extra)
    return event


CONTEXT_COLUMNS = (
    "user_agent", "locale", "timezone", "page_url", "page_path", "page_referrer", "page_title", "page_search",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "library_name", "library_version",
)


def test_context_fields_map_to_typed_columns_and_extra_keys_to_the_context_json():
    (row,) = as_dicts(envelope(PROJECT, [_rich_context_event({"app": {"build": 42}})]))

    assert {column: row[column] for column in CONTEXT_COLUMNS} == {
        "user_agent": "Mozilla/5.0", "locale": "fr-FR", "timezone": "Europe/Paris",
        "page_url": "https://shop.test/pricing?utm_source=news", "page_path": "/pricing",
        "page_referrer": None, "page_title": None, "page_search": None,
        "utm_source": "news", "utm_medium": None, "utm_campaign": "spring", "utm_term": None, "utm_content": None,
        "library_name": "trackmint-python", "library_version": "0.1.0",
    }
    assert json.loads(row["context"]) == {"app": {"build": 42}}


def test_ip_is_stored_only_in_its_column_when_ingest_left_it_and_never_from_extra_context():
    # DESIGN §3: ingest clears context.ip unless the project opted in; an IP in the extra keys is always dropped.
    (row,) = as_dicts(envelope(PROJECT, [_rich_context_event({"ip": "198.51.100.1", "app": "web"})]))

    assert row["ip"] == "203.0.113.7"
    assert "198.51.100.1" not in map(str, row.values())
    assert json.loads(row["context"] or "{}") == {"app": "web"}


def test_event_is_attributed_to_its_user_id_else_its_anonymous_id():
    identified, anonymous = track_event(), track_event()
    identified.user_id, identified.anonymous_id = "user-1", "anon-1"
    anonymous.user_id, anonymous.anonymous_id = "", "anon-2"

    rows = as_dicts(envelope(PROJECT, [identified, anonymous]))

    assert [row["distinct_id"] for row in rows] == ["user-1", "anon-2"]


def test_event_without_context_stores_null_context_columns():
    (row,) = as_dicts(envelope(PROJECT, [track_event()]))

    assert all(row[column] is None for column in (*CONTEXT_COLUMNS, "context"))


def test_properties_default_to_an_empty_object_and_traits_to_null():
    event = track_event()
    event.properties_json = ""

    (row,) = as_dicts(envelope(PROJECT, [event]))

    assert (row["properties"], row["traits"]) == ("{}", None)


def test_optional_ids_are_null_when_empty_and_kept_when_set():
    event = track_event(user_id="")
    event.anonymous_id = "anon-1"
    event.type = event_pb2.EVENT_TYPE_ALIAS
    event.previous_id = "anon-0"

    (row,) = as_dicts(envelope(PROJECT, [event]))

    assert (row["anonymous_id"], row["user_id"], row["session_id"], row["group_id"], row["previous_id"]) == (
        "anon-1", None, None, None, "anon-0"
    )


def test_timestamps_are_staged_as_integer_microseconds_truncating_nanoseconds():
    event = track_event(timestamp_ns=1_700_000_000 * NS + 123_456_789)
    event.sent_at.FromNanoseconds(1_700_000_001 * NS + 999)
    batch = envelope(PROJECT, [event], received_at_ns=1_700_000_002 * NS + 500_000)

    (row,) = as_dicts(batch)

    assert (row["event_time"], row["sent_at"], row["received_at"]) == (
        1_700_000_000_123_456, 1_700_000_001_000_000, 1_700_000_002_000_500
    )


def test_timestamps_before_1970_stay_exact():
    event = track_event(timestamp_ns=-(86_400 * NS) + 1_000)  # 1969-12-31T00:00:00.000001Z

    (row,) = as_dicts(envelope(PROJECT, [event]))

    assert row["event_time"] == -86_400_000_000 + 1


def test_sent_at_is_null_when_unset():
    (row,) = as_dicts(envelope(PROJECT, [track_event()]))

    assert row["sent_at"] is None


def test_every_event_of_the_envelope_becomes_one_row_in_order():
    events = [track_event(f"e{i}") for i in range(5)]

    rows = as_dicts(envelope(PROJECT, events))

    assert [(row["project_id"], row["message_id"]) for row in rows] == [(str(PROJECT), e.message_id) for e in events]


def test_decode_round_trips_an_envelope():
    batch = envelope(PROJECT, [track_event()])

    assert decode(batch.SerializeToString()) == batch


@pytest.mark.parametrize(
    "data",
    [b"\xff\xff\xff\xff", b"\x0a\x40abc", b"not protobuf at all \x00\x01\x02\xfe"],
    ids=["bad tag", "truncated", "text"],
)
def test_decode_of_garbage_raises_unprocessable_message(data):
    with pytest.raises(UnprocessableMessage, match="not an IngestedBatch"):
        decode(data)


@pytest.mark.parametrize("project_id", ["", "project-1", "'; DROP TABLE events; --"])
def test_decode_of_an_envelope_without_a_uuid_project_raises_unprocessable_message(project_id):
    batch = envelope(PROJECT, [track_event()])
    batch.project_id = project_id

    with pytest.raises(UnprocessableMessage, match="not a UUID"):
        decode(batch.SerializeToString())


def test_event_without_message_id_is_unprocessable():
    event = track_event()
    event.message_id = ""

    with pytest.raises(UnprocessableMessage, match="message_id"):
        rows_from_batch(envelope(PROJECT, [track_event(), event]))


@pytest.mark.parametrize("extra", ['{"ip": "1.2.3.4"', '["ip"]'])
def test_broken_extra_context_with_an_ip_is_unprocessable_rather_than_a_crash(extra):
    event = track_event()
    event.context.extra_json = extra
    with pytest.raises(UnprocessableMessage, match=r"context\.extra_json"):
        rows_from_batch(envelope(uuid.uuid4(), [event]))


ENRICHMENT_COLUMNS = (
    "browser", "browser_version", "os", "os_version", "device_type", "country", "region", "city",
    "referrer_domain", "referrer_channel", "is_bot",
)


def test_enrichment_maps_to_its_columns():
    event = track_event()
    event.enrichment.MergeFrom(event_pb2.Enrichment(
        browser="Firefox", browser_version="125.0", os="Linux", device_type="desktop", country="GB", region="ENG",
        city="London", referrer_domain="google.com", channel="search", is_bot=True,
    ))

    (row,) = as_dicts(envelope(PROJECT, [event]))

    assert {column: row[column] for column in ENRICHMENT_COLUMNS} == {
        "browser": "Firefox", "browser_version": "125.0", "os": "Linux", "os_version": None,
        "device_type": "desktop", "country": "GB", "region": "ENG", "city": "London",
        "referrer_domain": "google.com", "referrer_channel": "search", "is_bot": True,
    }


def test_event_without_enrichment_stores_null_columns_and_no_bot_flag():
    (row,) = as_dicts(envelope(PROJECT, [track_event()]))

    assert {column: row[column] for column in ENRICHMENT_COLUMNS} == {
        **dict.fromkeys(ENRICHMENT_COLUMNS), "is_bot": False
    }
