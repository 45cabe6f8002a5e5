"""Whole-request refusals get a clear 4xx/5xx JSON error; per-event problems never cost a good neighbour."""

import gzip
import json
import zlib

import orjson
import pytest

from cli.embedded import EmbeddedNats
from ingest.server import start_ingest
from storage.projects import create_project
from tests.bridge.messages import message
from tests.bridge.test_endpoints import basic
from tests.polling import wait_for_stored


def assert_refused(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["code"] == code and body["message"], body
    return body


@pytest.mark.parametrize(("content", "code"), [
    (b'{"batch": [', "malformed_json"),
    (b"", "malformed_json"),
    (b"[1, 2]", "invalid_body"),
    (b'{"batch": {"type": "track"}}', "invalid_body"),
    (b'{"batch": [], "sentAt": "yesterday"}', "invalid_body"),
    (b'{"batch": [{"type": "track", "event": "caf\xe9"}]}', "invalid_utf8"),
    (b"[" * 100_000 + b"]" * 100_000, "too_deep"),
])
async def test_bad_bodies_are_400_with_the_reason(http, project, content, code):
    response = await http.post("/v1/batch", content=content, headers={
        **basic(project.write_key), "content-type": "application/json"})
    assert_refused(response, 400, code)


async def test_deeply_nested_body_does_not_hurt_the_server(http, project, processor, db):
    for _ in range(3):
        deep = b'{"batch": [{"type": "track", "properties": ' + b'{"a": ' * 200_000 + b"1" + b"}" * 200_001 + b"]}"
        response = await http.post("/v1/batch", content=deep, headers=basic(project.write_key))
        assert_refused(response, 400, "too_deep")
    after = await http.post("/v1/track", json=message(), headers=basic(project.write_key))
    assert after.json()["accepted"] == 1


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                          "application/xml"])
async def test_unsupported_content_types_are_415(http, project, content_type):
    response = await http.post("/v1/batch", content=orjson.dumps({"batch": [message()]}),
                               headers={**basic(project.write_key), "content-type": content_type})
    assert_refused(response, 415, "unsupported_media_type")


async def test_unsupported_content_encoding_is_415(http, project):
    response = await http.post("/v1/track", content=zlib.compress(orjson.dumps(message())),
                               headers={**basic(project.write_key), "content-encoding": "br"})
    assert_refused(response, 415, "unsupported_media_type")


async def test_missing_content_type_is_read_as_json(http, project, processor, db):
    response = await http.post("/v1/track", content=orjson.dumps(message()), headers=basic(project.write_key))
    assert response.json()["accepted"] == 1


async def test_body_over_the_limit_is_413_by_length_and_while_reading(http, project, settings):
    limit = settings.bridge_max_body_bytes
    big = orjson.dumps({"batch": [message(properties={"pad": "x" * (limit + 10)})]})
    by_length = await http.post("/v1/batch", content=big, headers=basic(project.write_key))
    assert_refused(by_length, 413, "body_too_large")

    async def chunked():  # no Content-Length: the bridge must count while reading
        for start in range(0, len(big), 65536):
            yield big[start:start + 65536]

    streamed = await http.post("/v1/batch", content=chunked(), headers=basic(project.write_key))
    assert "content-length" not in streamed.request.headers
    assert_refused(streamed, 413, "body_too_large")


async def test_gzip_bomb_is_413_after_decompression(http, project, settings):
    bomb = gzip.compress(b'{"batch": [' + b" " * (settings.bridge_max_body_bytes * 50) + b"]}")
    assert len(bomb) < settings.bridge_max_body_bytes // 10
    response = await http.post("/v1/batch", content=bomb, headers={**basic(project.write_key),
                                                                   "content-encoding": "gzip"})
    body = assert_refused(response, 413, "body_too_large")
    assert "after gzip decompression" in body["message"]


async def test_broken_gzip_is_400(http, project):
    truncated = gzip.compress(orjson.dumps({"batch": [message()]}))[:-12]
    for content in (b"not gzip at all", truncated):
        response = await http.post("/v1/batch", content=content, headers={**basic(project.write_key),
                                                                           "content-encoding": "gzip"})
        assert_refused(response, 400, "invalid_gzip")


async def test_missing_unknown_or_malformed_write_keys_are_401(http, project):
    missing = await http.post("/v1/track", json=message())
    assert "missing write key" in assert_refused(missing, 401, "unauthenticated")["message"]
    unknown = await http.post("/v1/track", json=message(), auth=("tm_live_" + "x" * 32, ""))
    assert_refused(unknown, 401, "unauthenticated")
    malformed = await http.post("/v1/track", json=message(), headers={"authorization": "Basic %%%"})
    assert_refused(malformed, 401, "unauthenticated")
    other_scheme = await http.post("/v1/track", json=message(), headers={"authorization": "Digest abc"})
    assert_refused(other_scheme, 401, "unauthenticated")


async def test_per_event_problems_are_reported_and_good_events_stored(http, project, processor, db, settings):
    depth = settings.max_properties_depth
    nested: dict = {}
    for _ in range(depth + 2):
        nested = {"n": nested}
    good = message()
    batch = [
        message(properties=["not", "an", "object"]),           # 0 conversion: invalid_json
        message(timestamp="next tuesday"),                    # 1 conversion: invalid_timestamp
        good,                                                 # 2 stored
        message(properties=nested),                           # 3 pipeline: too_deep
        message(event=""),                                    # 4 pipeline: missing_name
        message(type="purchase"),                             # 5 conversion: invalid_type
        message(userId=None),                                 # 6 pipeline: missing_identity
        message(context={"ip": "not-an-ip"}),                 # 7 conversion: invalid_field
        message(properties={"big": 2**70}),                   # 8 stored: big integers are valid JSON
    ]
    response = await http.post("/v1/batch", json={"batch": batch}, headers=basic(project.write_key))
    body = response.json()
    assert response.status_code == 200 and body["success"] is True and body["accepted"] == 2, body
    codes = {error["index"]: error["code"] for error in body["errors"]}
    assert codes == {0: "invalid_json", 1: "invalid_timestamp", 3: "too_deep", 4: "missing_name",
                     5: "invalid_type", 6: "missing_identity", 7: "invalid_field"}
    assert all(error["reason"] for error in body["errors"])
    assert body["errors"][0]["messageId"] == batch[0]["messageId"]
    assert await wait_for_stored(db, project.project_id, 2) == 2
    stored = await db.fetchval("SELECT properties->>'big' FROM events WHERE project_id = $1 AND message_id = $2",
                               project.project_id, batch[8]["messageId"])
    assert stored == str(2**70)


async def test_a_message_whose_type_is_a_list_or_object_is_refused_alone_not_a_500(http, project):
    # Found by tests/fuzz: `{"type": []}` made the whole request a 500 (TypeError: unhashable type).
    batch = [message(), message(type=[]), message(type={"track": 1})]
    response = await http.post("/v1/batch", json={"batch": batch}, headers=basic(project.write_key))
    body = response.json()
    assert response.status_code == 200 and body["accepted"] == 1, body
    assert [(error["index"], error["code"]) for error in body["errors"]] == [(1, "invalid_type"), (2, "invalid_type")]


async def test_batch_over_the_event_limit_is_400(http, project, settings):
    batch = [message() for _ in range(settings.max_batch_events + 1)]
    response = await http.post("/v1/batch", json={"batch": batch}, headers=basic(project.write_key))
    assert_refused(response, 400, "invalid_batch")


async def test_rate_limited_key_gets_429_with_retry_after(http, db, processor):
    slow = await create_project(db, "slow", rate_limit=1)
    first = await http.post("/v1/batch", json={"batch": [message(), message()]}, headers=basic(slow.write_key))
    assert first.json()["accepted"] == 2
    limited = await http.post("/v1/batch", json={"batch": [message() for _ in range(3)]},
                              headers={**basic(slow.write_key), "origin": "https://shop.example"})
    assert_refused(limited, 429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1
    # A browser's script may read the header only when it is exposed.
    assert limited.headers["access-control-allow-origin"] == "https://shop.example"
    assert "Retry-After" in limited.headers["access-control-expose-headers"]


async def test_jetstream_outage_is_503_and_nothing_is_acked(settings, project, tmp_path):
    import httpx

    nats_server = EmbeddedNats(tmp_path / "own-nats").start()
    server = None
    try:
        server = await start_ingest(settings.model_copy(update={"nats_url": nats_server.url}))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.bridge_port}", timeout=30) as client:
            before = await client.post("/v1/track", json=message(), headers=basic(project.write_key))
            assert before.json()["accepted"] == 1
            nats_server.stop()
            during = await client.post("/v1/track", json=message(), headers=basic(project.write_key))
            assert "nothing was acked" in assert_refused(during, 503, "unavailable")["message"]
    finally:
        if server is not None:
            await server.stop(grace=1)
        nats_server.stop()


async def test_shutting_down_bridge_answers_503_then_closes(settings, project):
    import httpx

    server = await start_ingest(settings)
    url = f"http://127.0.0.1:{server.bridge_port}"
    server.service.draining.set()  # what stop() does first
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            during = await client.post("/v1/track", json=message(), headers=basic(project.write_key))
            assert_refused(during, 503, "unavailable")
            assert (await client.get("/health")).status_code == 503
    finally:
        await server.stop(grace=1)
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/health")


async def test_taken_bridge_port_fails_the_ingest_start(settings, ingest_server):
    taken = settings.model_copy(update={"bridge_port": ingest_server.bridge_port})
    with pytest.raises(OSError):
        await start_ingest(taken)


async def test_values_an_event_cannot_hold_are_refused_per_event_not_a_500(http, project, processor, db):
    deep = "1"
    for _ in range(900):  # just below the body's depth limit: refused as one event, not as a 500
        deep = '{"a": ' + deep + "}"
    good = message()
    batch = ",".join([
        json.dumps(message(userId="\ud800")),                        # 0 lone surrogate: invalid_field
        json.dumps(message(timestamp="0001-01-01T00:00:00+01:00")),  # 1 before year 1 UTC: invalid_timestamp
        json.dumps(good),                                             # 2 stored
        '{"type": "track", "event": "deep", "userId": "u", "properties": ' + deep + "}",  # 3 too_deep
    ])
    response = await http.post("/v1/batch", content=('{"batch": [' + batch + "]}").encode(),
                               headers={**basic(project.write_key), "content-type": "application/json"})
    body = response.json()
    assert response.status_code == 200 and body["accepted"] == 1, body
    assert {error["index"]: error["code"] for error in body["errors"]} == {
        0: "invalid_field", 1: "invalid_timestamp", 3: "too_deep"}
    assert await wait_for_stored(db, project.project_id, 1) == 1

    out_of_range = await http.post("/v1/batch", json={"batch": [message()], "sentAt": "9999-12-31T23:00:00-05:00"},
                                   headers=basic(project.write_key))
    assert_refused(out_of_range, 400, "invalid_body")
    surrogate_key = await http.post("/v1/track", content=json.dumps({**message(), "writeKey": "\ud800"}).encode(),
                                    headers={"content-type": "application/json"})
    assert_refused(surrogate_key, 401, "unauthenticated")
