"""A project's browser settings over GraphQL (allowed origins, autocapture, IP opt-in) and their effect on ingest.

ADMIN and DEVELOPER may change them (they manage projects), a VIEWER may not,
another organization's project answers NOT_FOUND; the HTTP bridge then refuses
other origins and keeps client IP addresses only for a project that opted in.
"""

from typing import Any

import asyncpg
import httpx
import pytest

from config import Settings
from tests.accounts.graphql import error_codes, execute
from tests.query.tenant import Caller, add_member, create_organization

_SETTINGS = "id allowedOrigins storeIp autocapture { pageviews clicks forms formValues }"
CREATE_PROJECT = f"mutation($name: String!) {{ createProject(name: $name) {{ {_SETTINGS} }} }}"
PROJECTS = f"query {{ projects {{ {_SETTINGS} }} }}"
UPDATE_SETTINGS = f"""mutation($projectId: ID!, $origins: [String!], $autocapture: AutocaptureInput,
                                 $storeIp: Boolean) {{
  updateProjectSettings(projectId: $projectId, allowedOrigins: $origins, autocapture: $autocapture,
                        storeIp: $storeIp) {{ {_SETTINGS} }} }}"""

DEFAULTS = {"allowedOrigins": [], "storeIp": False,
            "autocapture": {"pageviews": True, "clicks": False, "forms": False, "formValues": False}}


async def ok(client: httpx.AsyncClient, caller: Caller, query: str, **variables: Any) -> Any:
    body = await execute(client, query, caller.access_token, **variables)
    assert "errors" not in body, body
    (value,) = body["data"].values()
    return value


@pytest.fixture
async def admin(db: asyncpg.Connection, accounts_settings: Settings) -> Caller:
    return await create_organization(db, accounts_settings, "Settings")


@pytest.fixture
async def project(client: httpx.AsyncClient, admin: Caller) -> dict[str, Any]:
    return await ok(client, admin, CREATE_PROJECT, name="Site")


async def test_new_project_has_default_browser_settings(client, admin, project):
    assert project == {"id": project["id"], **DEFAULTS}
    assert project in await ok(client, admin, PROJECTS)


@pytest.mark.parametrize("role", ["ADMIN", "DEVELOPER"])
async def test_admin_and_developer_change_settings_and_omitted_ones_stay(
    client, db, accounts_settings, admin, project, role
):
    caller = admin if role == "ADMIN" else await add_member(db, accounts_settings, admin.organization_id, role)
    changed = await ok(client, caller, UPDATE_SETTINGS, projectId=project["id"],
                       origins=["HTTPS://Shop.Example:443/", "http://localhost:3000", "https://*.example.org",
                                "https://shop.example"],
                       autocapture={"clicks": True}, storeIp=True)
    assert changed["allowedOrigins"] == ["https://shop.example", "http://localhost:3000", "https://*.example.org"]
    assert changed["autocapture"] == {**DEFAULTS["autocapture"], "clicks": True}
    assert changed["storeIp"] is True

    only_forms = await ok(client, caller, UPDATE_SETTINGS, projectId=project["id"],
                          autocapture={"forms": True, "pageviews": False})
    assert only_forms == {**changed, "autocapture": {"pageviews": False, "clicks": True, "forms": True,
                                                     "formValues": False}}
    cleared = await ok(client, caller, UPDATE_SETTINGS, projectId=project["id"], origins=[], storeIp=False)
    assert cleared == {**only_forms, "allowedOrigins": [], "storeIp": False}
    row = await db.fetchrow("SELECT allowed_origins, store_ip FROM projects WHERE id = $1::uuid", project["id"])
    assert (row["allowed_origins"], row["store_ip"]) == ([], False)


async def test_viewer_may_not_change_settings(client, db, accounts_settings, admin, project):
    viewer = await add_member(db, accounts_settings, admin.organization_id, "VIEWER")
    body = await execute(client, UPDATE_SETTINGS, viewer.access_token, projectId=project["id"], storeIp=True)
    assert error_codes(body) == ["FORBIDDEN"]
    assert (await ok(client, admin, PROJECTS))[0]["storeIp"] is False


async def test_another_organizations_project_is_not_found(client, db, accounts_settings, project):
    outsider = await create_organization(db, accounts_settings, "Other")
    body = await execute(client, UPDATE_SETTINGS, outsider.access_token, projectId=project["id"], storeIp=True)
    assert error_codes(body) == ["NOT_FOUND"]


async def test_unauthenticated_caller_is_refused(client, project):
    body = await execute(client, UPDATE_SETTINGS, None, projectId=project["id"], storeIp=True)
    assert error_codes(body) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("origin", ["shop.example", "https://shop.example/path", "ftp://shop.example",
                                    "https://", "https://*", "https://a.*.example", "https://shop.example:99999",
                                    "https://user@shop.example"])
async def test_malformed_origins_are_bad_user_input_and_change_nothing(client, admin, project, origin):
    body = await execute(client, UPDATE_SETTINGS, admin.access_token, projectId=project["id"],
                         origins=["https://fine.example", origin], storeIp=True)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert origin in body["errors"][0]["message"]
    assert (await ok(client, admin, PROJECTS))[0] == project


async def test_too_many_origins_are_bad_user_input(client, admin, project):
    body = await execute(client, UPDATE_SETTINGS, admin.access_token, projectId=project["id"],
                         origins=[f"https://s{index}.example" for index in range(101)])
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_settings_take_effect_at_the_http_bridge(client, db, admin, project, settings, processor):
    from ingest.server import start_ingest
    from storage.api_keys import create_api_key
    from tests.polling import wait_for_stored

    await ok(client, admin, UPDATE_SETTINGS, projectId=project["id"], origins=["https://shop.example"],
             storeIp=True)
    key = await create_api_key(db, project["id"], "web")
    server = await start_ingest(settings)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.bridge_port}",
                                     auth=(key.key, "")) as bridge:
            event = {"messageId": "m-1", "userId": "u-1", "event": "Bought", "context": {"ip": "198.51.100.4"}}
            refused = await bridge.post("/v1/track", json=event, headers={"origin": "https://evil.example"})
            assert refused.status_code == 403 and refused.json()["code"] == "origin_not_allowed"
            accepted = await bridge.post("/v1/track", json=event, headers={"origin": "https://shop.example"})
            assert accepted.json()["accepted"] == 1
    finally:
        await server.stop(grace=1)
    assert await wait_for_stored(db, key.project_id, 1) == 1
    assert await db.fetchval("SELECT host(ip) FROM events WHERE project_id = $1", key.project_id) == "198.51.100.4"
