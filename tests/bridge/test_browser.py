"""Browser concerns: CORS preflight, allowed origins, the snippet's /v1/config, client IP and the IP opt-in."""

import httpx
import orjson
import pytest

from tests.bridge.messages import message
from tests.bridge.test_endpoints import basic
from tests.polling import wait_for_stored

SITE = "https://shop.example"


@pytest.fixture
async def restricted(db, project):
    """The project, allowing only SITE and every subdomain of example.org (set before ingest caches the key)."""
    await db.execute("UPDATE projects SET allowed_origins = $2, autocapture = '{\"clicks\": true}' WHERE id = $1",
                     project.project_id, [SITE, "https://*.example.org"])
    return project


async def test_preflight_answers_with_the_requesting_origin(http):
    response = await http.options("/v1/batch", headers={
        "origin": "https://any.example", "access-control-request-method": "POST",
        "access-control-request-headers": "content-type, authorization"})
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "https://any.example"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
    assert response.headers["vary"] == "Origin"


async def test_preflight_with_write_key_refuses_an_origin_the_project_does_not_list(http, restricted):
    allowed = await http.options(f"/v1/batch?writeKey={restricted.write_key}", headers={"origin": SITE})
    assert allowed.status_code == 204 and allowed.headers["access-control-allow-origin"] == SITE
    refused = await http.options(f"/v1/batch?writeKey={restricted.write_key}", headers={"origin": "https://evil.example"})
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers


async def test_events_from_origins_not_allowed_are_refused_with_403(http, restricted, processor, db):
    good = message()
    from_site = await http.post("/v1/batch", json={"batch": [good]},
                                headers={**basic(restricted.write_key), "origin": SITE})
    assert from_site.status_code == 200 and from_site.headers["access-control-allow-origin"] == SITE
    subdomain = await http.post("/v1/track", json=message(), headers={**basic(restricted.write_key),
                                                                      "origin": "https://blog.example.org"})
    assert subdomain.status_code == 200
    refused = await http.post("/v1/batch", json={"batch": [message()]},
                              headers={**basic(restricted.write_key), "origin": "https://evil.example"})
    assert refused.status_code == 403
    body = refused.json()
    assert body["code"] == "origin_not_allowed" and "https://evil.example" in body["message"]
    # Readable by the page, so the snippet drops the batch instead of retrying what can never succeed.
    assert refused.headers["access-control-allow-origin"] == "https://evil.example"
    # Server libraries send no Origin: the list does not apply to them.
    server_side = await http.post("/v1/track", json=message(), headers=basic(restricted.write_key))
    assert server_side.status_code == 200
    assert await wait_for_stored(db, restricted.project_id, 3) == 3
    assert await wait_for_stored(db, restricted.project_id, 4, within=1) == 3


async def test_empty_allowed_origins_accept_every_origin(http, project):
    response = await http.post("/v1/track", json=message(), headers={**basic(project.write_key),
                                                                     "origin": "https://anything.example"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://anything.example"


async def test_config_serves_autocapture_and_api_host_with_cors(http, restricted, bridge_url):
    response = await http.get(f"/v1/config?writeKey={restricted.write_key}", headers={"origin": SITE})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SITE
    assert response.json() == {
        "apiHost": bridge_url,
        "autocapture": {"pageviews": True, "clicks": True, "forms": False, "form_values": False},
    }
    by_basic = await http.get("/v1/config", headers=basic(restricted.write_key))
    assert by_basic.json()["autocapture"]["clicks"] is True
    refused = await http.get(f"/v1/config?writeKey={restricted.write_key}", headers={"origin": "https://evil.example"})
    assert refused.status_code == 403
    unknown = await http.get("/v1/config?writeKey=tm_live_nope")
    assert unknown.status_code == 401 and unknown.json()["code"] == "unauthenticated"


async def test_config_api_host_is_the_public_url_when_configured(settings, project):
    from ingest.server import start_ingest

    server = await start_ingest(settings.model_copy(update={"bridge_public_url": "https://t.example.com/"}))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.bridge_port}") as client:
            response = await client.get(f"/v1/config?writeKey={project.write_key}")
        assert response.json()["apiHost"] == "https://t.example.com"
    finally:
        await server.stop(grace=1)


async def _stored_ips(db, project_id) -> dict[str, str | None]:
    rows = await db.fetch("SELECT message_id, host(ip) AS ip FROM events WHERE project_id = $1", project_id)
    return {row["message_id"]: row["ip"] for row in rows}


async def test_ip_is_stored_only_when_the_project_opts_in(http, db, project, processor):
    opted_in = project
    await db.execute("UPDATE projects SET store_ip = true WHERE id = $1", opted_in.project_id)
    from storage.projects import create_project

    opted_out = await create_project(db, "no-ip")
    from_peer, from_body = message(), message(context={"ip": "203.0.113.7"})
    for created in (opted_in, opted_out):
        response = await http.post("/v1/batch", json={"batch": [from_peer, from_body]},
                                   headers=basic(created.write_key))
        assert response.json()["accepted"] == 2
    assert await wait_for_stored(db, opted_in.project_id, 2) == 2
    assert await wait_for_stored(db, opted_out.project_id, 2) == 2
    # The peer address stands in when the body names none; context.ip from a server library is honoured.
    assert await _stored_ips(db, opted_in.project_id) == {from_peer["messageId"]: "127.0.0.1",
                                                          from_body["messageId"]: "203.0.113.7"}
    assert await _stored_ips(db, opted_out.project_id) == {from_peer["messageId"]: None,
                                                           from_body["messageId"]: None}


@pytest.mark.parametrize("trust", [False, True])
async def test_x_forwarded_for_is_used_only_when_trusted(settings, db, project, processor, trust):
    from ingest.server import start_ingest

    await db.execute("UPDATE projects SET store_ip = true WHERE id = $1", project.project_id)
    server = await start_ingest(settings.model_copy(update={"bridge_trust_forwarded_for": trust}))
    sent = message()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.bridge_port}") as client:
            response = await client.post("/v1/track", json=sent, headers={
                **basic(project.write_key), "x-forwarded-for": "198.51.100.9, 10.0.0.1"})
            assert response.json()["accepted"] == 1
    finally:
        await server.stop(grace=1)
    assert await wait_for_stored(db, project.project_id, 1) == 1
    expected = "198.51.100.9" if trust else "127.0.0.1"
    assert await _stored_ips(db, project.project_id) == {sent["messageId"]: expected}


async def test_server_library_user_agent_header_is_not_taken_for_the_visitor(http, project, processor, db):
    sent = message()
    await http.post("/v1/track", content=orjson.dumps(sent), headers={**basic(project.write_key),
                                                                       "user-agent": "analytics-python/2.4.0"})
    assert await wait_for_stored(db, project.project_id, 1) == 1
    assert await db.fetchval("SELECT user_agent FROM events WHERE project_id = $1", project.project_id) is None
