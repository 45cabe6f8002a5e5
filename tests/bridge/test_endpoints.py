"""Every Segment endpoint, authentication style and body encoding, end to end into PostgreSQL.

Real ingest (gRPC and bridge in one process), real JetStream, a real processor,
events checked in the events table.
"""

import base64
import gzip

import httpx
import orjson
import pytest

from tests.bridge.messages import message, now_iso
from tests.polling import wait_for_stored

TYPE_NUMBERS = {"track": 1, "page": 2, "screen": 3, "identify": 4, "group": 5, "alias": 6}


def basic(write_key: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()}


async def stored_row(db, project_id, message_id: str):
    return await db.fetchrow("SELECT * FROM events WHERE project_id = $1 AND message_id = $2", project_id, message_id)


@pytest.mark.parametrize("kind", list(TYPE_NUMBERS))
async def test_each_single_event_endpoint_stores_its_type(http, project, processor, db, kind):
    sent = message(kind)
    response = await http.post(f"/v1/{kind}", json=sent, headers=basic(project.write_key))
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "accepted": 1, "errors": []}
    assert await wait_for_stored(db, project.project_id, 1) == 1
    row = await stored_row(db, project.project_id, sent["messageId"])
    assert row["type"] == TYPE_NUMBERS[kind]
    assert row["user_id"] == "user-1"
    if kind == "track":
        assert row["event"] == "Signed Up" and orjson.loads(row["properties"]) == {"plan": "pro"}
    if kind == "page":
        assert row["name"] == "Home"
    if kind == "identify":
        assert orjson.loads(row["traits"]) == {"email": "ada@example.com"}
    if kind == "group":
        assert row["group_id"] == "group-1"
    if kind == "alias":
        assert row["previous_id"] == "anon-1"


async def test_batch_stores_every_type_with_basic_auth(http, project, processor, db):
    sent = [message(kind) for kind in TYPE_NUMBERS]
    response = await http.post("/v1/batch", json={"batch": sent, "sentAt": now_iso()}, headers=basic(project.write_key))
    assert response.json() == {"success": True, "accepted": 6, "errors": []}
    assert await wait_for_stored(db, project.project_id, 6) == 6
    rows = await db.fetch("SELECT type FROM events WHERE project_id = $1 ORDER BY type", project.project_id)
    assert [row["type"] for row in rows] == [1, 2, 3, 4, 5, 6]


async def test_bearer_token_and_body_write_key_authenticate(http, project, processor, db):
    bearer = await http.post("/v1/track", json=message(), headers={"authorization": f"Bearer {project.write_key}"})
    in_body = await http.post("/v1/batch", json={"batch": [message()], "writeKey": project.write_key})
    in_query = await http.post(f"/v1/track?writeKey={project.write_key}", json=message())
    assert [r.status_code for r in (bearer, in_body, in_query)] == [200, 200, 200]
    assert await wait_for_stored(db, project.project_id, 3) == 3


async def test_gzip_body_is_accepted(http, project, processor, db):
    sent = message()
    body = gzip.compress(orjson.dumps({"batch": [sent]}))
    response = await http.post("/v1/batch", content=body, headers={
        **basic(project.write_key), "content-type": "application/json", "content-encoding": "gzip"})
    assert response.json()["accepted"] == 1
    assert await wait_for_stored(db, project.project_id, 1) == 1


async def test_send_beacon_text_plain_body_with_write_key_inside(http, project, processor, db):
    sent = message("page", context={"page": {"url": "https://shop.example/?utm_source=news", "path": "/"}})
    response = await http.post("/v1/batch", content=orjson.dumps({"batch": [sent], "writeKey": project.write_key}),
                               headers={"content-type": "text/plain;charset=UTF-8",
                                        "origin": "https://shop.example",
                                        "user-agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                                                      "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"})
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "https://shop.example"
    assert await wait_for_stored(db, project.project_id, 1) == 1
    row = await stored_row(db, project.project_id, sent["messageId"])
    # A browser's User-Agent header stands in for a missing context.userAgent, and is enriched.
    assert row["user_agent"].startswith("Mozilla/5.0") and row["browser"] == "Chrome"
    assert row["page_url"] == "https://shop.example/?utm_source=news" and row["utm_source"] == "news"


async def test_context_maps_to_columns_and_other_keys_are_kept(http, project, processor, db):
    sent = message(context={
        "userAgent": "curl/8.0", "locale": "de-DE", "timezone": "Europe/Berlin",
        "page": {"url": "https://a.example/p", "path": "/p", "referrer": "https://www.google.com/", "title": "P",
                 "hash": "#top"},
        "campaign": {"source": "mail", "medium": "email", "name": "spring"},
        "library": {"name": "analytics.js", "version": "5.0.0"},
        "app": {"name": "Shop"},
    }, anonymousId="anon-9", integrations={"All": False})
    response = await http.post("/v1/batch", json={"batch": [sent], "context": {"device": {"type": "tv"}}},
                               headers=basic(project.write_key))
    assert response.json()["accepted"] == 1
    assert await wait_for_stored(db, project.project_id, 1) == 1
    row = await stored_row(db, project.project_id, sent["messageId"])
    assert (row["locale"], row["timezone"]) == ("de-DE", "Europe/Berlin")
    assert (row["page_path"], row["page_title"]) == ("/p", "P")
    assert (row["utm_source"], row["utm_medium"], row["utm_campaign"]) == ("mail", "email", "spring")
    assert (row["library_name"], row["library_version"]) == ("analytics.js", "5.0.0")
    assert row["anonymous_id"] == "anon-9" and row["referrer_domain"] == "google.com"
    # Keys without a column, and the batch-level context, end up in the context JSON.
    extra = orjson.loads(row["context"])
    assert extra["app"] == {"name": "Shop"} and extra["device"] == {"type": "tv"} and extra["page"] == {"hash": "#top"}


async def test_missing_message_id_is_derived_so_an_identical_retry_is_stored_once(http, project, processor, db):
    sent = message()
    del sent["messageId"]
    first = await http.post("/v1/track", json=sent, headers=basic(project.write_key))
    retry = await http.post("/v1/track", json=sent, headers=basic(project.write_key))
    assert first.json()["accepted"] == retry.json()["accepted"] == 1
    other = await http.post("/v1/track", json={**sent, "event": "Other"}, headers=basic(project.write_key))
    assert other.json()["accepted"] == 1
    assert await wait_for_stored(db, project.project_id, 2) == 2
    ids = await db.fetch("SELECT message_id FROM events WHERE project_id = $1", project.project_id)
    assert all(row["message_id"].startswith("derived-") for row in ids)
    assert await wait_for_stored(db, project.project_id, 3, within=1) == 2


async def test_clock_skew_is_corrected_from_sent_at(http, project, processor, db):
    # The client clock is an hour behind: its timestamp and sentAt both read an hour early.
    sent = message(timestamp="2020-01-01T10:00:00Z")
    response = await http.post("/v1/batch", json={"batch": [sent], "sentAt": "2020-01-01T10:00:05Z"},
                               headers=basic(project.write_key))
    assert response.json()["accepted"] == 1
    assert await wait_for_stored(db, project.project_id, 1) == 1
    row = await stored_row(db, project.project_id, sent["messageId"])
    # event time = timestamp + (received_at - sentAt): 5 s before receipt.
    gap = (row["received_at"] - row["event_time"]).total_seconds()
    assert 4.9 <= gap <= 5.1


async def test_health_answers_while_serving(http):
    response = await http.get("/health")
    assert response.status_code == 200 and response.json() == {"serving": True}


async def test_good_event_is_stored_beside_messages_that_are_not_events(http, project, processor, db):
    good = message()
    response = await http.post("/v1/batch", json={"batch": [{"type": "track"}, good, "nonsense", None]},
                               headers=basic(project.write_key))
    body = response.json()
    assert response.status_code == 200 and body["success"] is True and body["accepted"] == 1
    assert [error["index"] for error in body["errors"]] == [0, 2, 3]
    assert await wait_for_stored(db, project.project_id, 1) == 1
    assert await stored_row(db, project.project_id, good["messageId"]) is not None


async def test_http_client_can_reuse_one_connection_for_many_batches(bridge_url, project, processor, db):
    async with httpx.AsyncClient(base_url=bridge_url, headers=basic(project.write_key)) as client:
        for _ in range(5):
            response = await client.post("/v1/batch", json={"batch": [message() for _ in range(20)]})
            assert response.json()["accepted"] == 20
    assert await wait_for_stored(db, project.project_id, 100) == 100
