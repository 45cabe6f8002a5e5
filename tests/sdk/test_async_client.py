"""The AsyncClient against the real pipeline: every Segment call arrives as sent."""

import json
from datetime import UTC, datetime, timedelta

from tests.polling import wait_for_stored
from tests.sdk.stored import stored_events
from trackmint.v1 import event_pb2
from trackmint_sdk import AsyncClient


async def test_every_call_type_is_stored_with_its_fields(ingest_server, processor, project, db):
    when = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(minutes=30)  # naive: UTC
    context = {
        "userAgent": "Mozilla/5.0",
        "locale": "fr-FR",
        "page": {"url": "https://example.com/pricing?a=1", "path": "/pricing", "title": "Pricing"},
        "campaign": {"source": "newsletter", "medium": "email"},
        "app": {"build": 7},
    }
    async with AsyncClient(project.write_key, f"127.0.0.1:{ingest_server.port}", flush_interval=0.05) as client:
        ids = {
            "track": client.track("Upgraded", user_id="u1", properties={"plan": "pro", "seats": 3}, timestamp=when),
            "page": client.page("Pricing", anonymous_id="a1", context=context, timestamp=when),
            "screen": client.screen("Home", user_id="u1", timestamp=when),
            "identify": client.identify("u1", anonymous_id="a1", traits={"email": "u1@example.com"}, timestamp=when),
            "group": client.group("acme", user_id="u1", traits={"employees": 50}, timestamp=when),
            "alias": client.alias("old-u1", "u1", timestamp=when),
        }
        assert await client.flush(timeout=10)
        assert client.stats.acked == 6

    assert await wait_for_stored(db, project.project_id, 6) == 6
    rows = await stored_events(db, project.project_id)
    expected = {
        "track": (event_pb2.EVENT_TYPE_TRACK, "Upgraded", "Upgraded"),
        "page": (event_pb2.EVENT_TYPE_PAGE, "$pageview", "Pricing"),
        "screen": (event_pb2.EVENT_TYPE_SCREEN, "$screen", "Home"),
        "identify": (event_pb2.EVENT_TYPE_IDENTIFY, "$identify", ""),
        "group": (event_pb2.EVENT_TYPE_GROUP, "$groupidentify", ""),
        "alias": (event_pb2.EVENT_TYPE_ALIAS, "$create_alias", ""),
    }
    for call, (kind, event, name) in expected.items():
        row = rows[ids[call]]
        assert (row["type"], row["event"], row["name"]) == (kind, event, name), call
        assert abs(row["event_time"] - when.replace(tzinfo=UTC)) < timedelta(seconds=5), call
    assert json.loads(rows[ids["track"]]["properties"]) == {"plan": "pro", "seats": 3}
    assert json.loads(rows[ids["identify"]]["traits"]) == {"email": "u1@example.com"}
    assert (rows[ids["identify"]]["user_id"], rows[ids["identify"]]["anonymous_id"]) == ("u1", "a1")
    assert rows[ids["group"]]["group_id"] == "acme"
    assert json.loads(rows[ids["group"]]["traits"]) == {"employees": 50}
    assert (rows[ids["alias"]]["user_id"], rows[ids["alias"]]["previous_id"]) == ("u1", "old-u1")
    page = rows[ids["page"]]
    assert (page["page_url"], page["page_path"], page["page_title"]) == (
        "https://example.com/pricing?a=1", "/pricing", "Pricing",
    )
    assert (page["utm_source"], page["utm_medium"]) == ("newsletter", "email")
    assert (page["user_agent"], page["locale"]) == ("Mozilla/5.0", "fr-FR")
    assert json.loads(page["context"]) == {"app": {"build": 7}}
