"""Projects and their write keys over GraphQL, against a real query server, PostgreSQL and ingest.

ADMIN and DEVELOPER manage both; a VIEWER may list projects only; another
organization's project or key answers exactly like a missing one; a key's
secret is in one response only, and works at ingest right away.
"""

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import grpc
import httpx
import pytest

from config import Settings
from storage.api_keys import hash_key
from tests.accounts.graphql import error_codes, execute, messages
from tests.payloads import auth, batch_of, ingest_stub, track_event
from tests.polling import eventually
from tests.query.event_data import GeneratedEvent, insert_events
from tests.query.tenant import Caller, add_member, create_organization

_PROJECT = "id name timezone createdAt rateLimitEventsPerSecond"
_KEY = "id prefix label createdAt lastUsedAt expiresAt revokedAt"

PROJECTS = f"query {{ projects {{ {_PROJECT} }} }}"
API_KEYS = f"query($projectId: ID!) {{ apiKeys(projectId: $projectId) {{ {_KEY} }} }}"
CREATE_PROJECT = f"""mutation($name: String!, $timezone: String) {{
  createProject(name: $name, timezone: $timezone) {{ {_PROJECT} }} }}"""
CREATE_PROJECT_UTC = f"mutation($name: String!) {{ createProject(name: $name) {{ {_PROJECT} }} }}"
UPDATE_PROJECT = f"""mutation($id: ID!, $name: String, $timezone: String, $rate: Int) {{
  updateProject(id: $id, name: $name, timezone: $timezone, rateLimitEventsPerSecond: $rate) {{ {_PROJECT} }} }}"""
RENAME_PROJECT = f"""mutation($id: ID!, $name: String) {{ updateProject(id: $id, name: $name) {{ {_PROJECT} }} }}"""
DELETE_PROJECT = "mutation($id: ID!) { deleteProject(id: $id) }"
CREATE_KEY = f"""mutation($projectId: ID!, $label: String!) {{
  createApiKey(projectId: $projectId, label: $label) {{ key apiKey {{ {_KEY} }} }} }}"""
ROTATE_KEY = f"""mutation($id: ID!, $grace: Int!) {{
  rotateApiKey(id: $id, graceSeconds: $grace) {{ key apiKey {{ {_KEY} }} }} }}"""
ROTATE_KEY_DEFAULT = f"""mutation($id: ID!) {{ rotateApiKey(id: $id) {{ key apiKey {{ {_KEY} }} }} }}"""
REVOKE_KEY = "mutation($id: ID!) { revokeApiKey(id: $id) }"


async def ok(client: httpx.AsyncClient, query: str, caller: Caller, **variables: Any) -> Any:
    """The single field of a successful operation's data."""
    body = await execute(client, query, caller.access_token, **variables)
    assert "errors" not in body, body
    (value,) = body["data"].values()
    return value


@pytest.fixture
async def admin(db: asyncpg.Connection, accounts_settings: Settings) -> Caller:
    return await create_organization(db, accounts_settings, "Tenant")


@pytest.fixture
async def developer(db: asyncpg.Connection, accounts_settings: Settings, admin: Caller) -> Caller:
    return await add_member(db, accounts_settings, admin.organization_id, "DEVELOPER")


@pytest.fixture
async def viewer(db: asyncpg.Connection, accounts_settings: Settings, admin: Caller) -> Caller:
    return await add_member(db, accounts_settings, admin.organization_id, "VIEWER")


@pytest.fixture
async def outsider(db: asyncpg.Connection, accounts_settings: Settings) -> Caller:
    """The ADMIN of another organization."""
    return await create_organization(db, accounts_settings, "Other")


@pytest.fixture
async def project(client: httpx.AsyncClient, admin: Caller) -> dict[str, Any]:
    """A project of `admin`'s organization, created over GraphQL."""
    return await ok(client, CREATE_PROJECT, admin, name="Web", timezone="Europe/Berlin")


@pytest.fixture
async def created_key(client: httpx.AsyncClient, admin: Caller, project: dict[str, Any]) -> dict[str, Any]:
    return await ok(client, CREATE_KEY, admin, projectId=project["id"], label="backend")


@pytest.mark.parametrize("role", ["ADMIN", "DEVELOPER"])
async def test_project_round_trip_create_list_update_delete(
    client: httpx.AsyncClient, admin: Caller, developer: Caller, role: str
) -> None:
    caller = admin if role == "ADMIN" else developer

    created = await ok(client, CREATE_PROJECT_UTC, caller, name="  Shop  ")
    assert created["name"] == "Shop" and created["timezone"] == "UTC"
    assert created["rateLimitEventsPerSecond"] is None
    assert abs(datetime.fromisoformat(created["createdAt"]) - datetime.now(UTC)) < timedelta(minutes=1)
    assert created in await ok(client, PROJECTS, admin)

    updated = await ok(client, UPDATE_PROJECT, caller, id=created["id"], name="Store", timezone="Asia/Tokyo", rate=50)
    assert updated == {**created, "name": "Store", "timezone": "Asia/Tokyo", "rateLimitEventsPerSecond": 50}
    renamed = await ok(client, RENAME_PROJECT, caller, id=created["id"], name="Store 2")  # the rest unchanged
    assert renamed == {**updated, "name": "Store 2"}
    reset = await ok(client, UPDATE_PROJECT, caller, id=created["id"], rate=None)  # explicit null: ingest default
    assert reset == {**renamed, "rateLimitEventsPerSecond": None}
    assert [p for p in await ok(client, PROJECTS, caller) if p["id"] == created["id"]] == [reset]

    assert await ok(client, DELETE_PROJECT, caller, id=created["id"]) is True
    assert created["id"] not in [p["id"] for p in await ok(client, PROJECTS, caller)]
    again = await execute(client, DELETE_PROJECT, caller.access_token, id=created["id"])
    assert error_codes(again) == ["NOT_FOUND"]


BAD_PROJECT_INPUT = {
    "unknown timezone": (CREATE_PROJECT, {"name": "Web", "timezone": "Mars/Olympus"}),
    "empty name": (CREATE_PROJECT, {"name": "   ", "timezone": "UTC"}),
    "name too long": (CREATE_PROJECT, {"name": "x" * 201, "timezone": "UTC"}),
    "update to unknown timezone": (UPDATE_PROJECT, {"timezone": "Nowhere/Land"}),
    "update to empty name": (UPDATE_PROJECT, {"name": ""}),
    # Found by tests/fuzz: a NUL reached PostgreSQL and the caller got a masked "Unexpected error." (no code).
    "name with a NUL": (CREATE_PROJECT, {"name": "a\x00", "timezone": "UTC"}),
    "update to a name with a NUL": (UPDATE_PROJECT, {"name": "\x00"}),
    "zero rate limit": (UPDATE_PROJECT, {"rate": 0}),
    "negative rate limit": (UPDATE_PROJECT, {"rate": -5}),
    "project id not a UUID": (UPDATE_PROJECT, {"id": "not-a-uuid", "name": "x"}),
}


@pytest.mark.parametrize(("query", "variables"), BAD_PROJECT_INPUT.values(), ids=BAD_PROJECT_INPUT.keys())
async def test_bad_project_input_is_bad_user_input_and_changes_nothing(
    client: httpx.AsyncClient, admin: Caller, project: dict[str, Any], query: str, variables: dict[str, Any]
) -> None:
    body = await execute(client, query, admin.access_token, **{"id": project["id"], **variables})

    assert body["data"] is None
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert await ok(client, PROJECTS, admin) == [project]


@pytest.mark.parametrize("grace", [-1, 7 * 24 * 3600 + 1])
async def test_grace_period_outside_zero_to_seven_days_is_bad_user_input(
    client: httpx.AsyncClient, admin: Caller, created_key: dict[str, Any], grace: int
) -> None:
    body = await execute(client, ROTATE_KEY, admin.access_token, id=created_key["apiKey"]["id"], grace=grace)
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_empty_key_label_is_bad_user_input(
    client: httpx.AsyncClient, admin: Caller, project: dict[str, Any]
) -> None:
    body = await execute(client, CREATE_KEY, admin.access_token, projectId=project["id"], label=" ")
    assert error_codes(body) == ["BAD_USER_INPUT"]


def _every_management_operation(project_id: str, key_id: str) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        "createProject": (CREATE_PROJECT, {"name": "Mine", "timezone": "UTC"}),
        "updateProject": (UPDATE_PROJECT, {"id": project_id, "name": "Renamed"}),
        "deleteProject": (DELETE_PROJECT, {"id": project_id}),
        "apiKeys": (API_KEYS, {"projectId": project_id}),
        "createApiKey": (CREATE_KEY, {"projectId": project_id, "label": "mine"}),
        "rotateApiKey": (ROTATE_KEY, {"id": key_id, "grace": 0}),
        "revokeApiKey": (REVOKE_KEY, {"id": key_id}),
    }


OPERATIONS = list(_every_management_operation("", ""))


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_viewer_is_forbidden_to_manage_projects_and_keys_but_can_list_projects(
    client: httpx.AsyncClient, admin: Caller, viewer: Caller, project: dict[str, Any],
    created_key: dict[str, Any], operation: str
) -> None:
    query, variables = _every_management_operation(project["id"], created_key["apiKey"]["id"])[operation]

    body = await execute(client, query, viewer.access_token, **variables)

    assert body["data"] is None
    assert error_codes(body) == ["FORBIDDEN"]
    assert await ok(client, PROJECTS, viewer) == [project]  # nothing changed, and listing is allowed
    assert await ok(client, API_KEYS, admin, projectId=project["id"]) == [created_key["apiKey"]]


@pytest.mark.parametrize("operation", [*OPERATIONS, "projects"])
async def test_anonymous_caller_is_unauthenticated(
    client: httpx.AsyncClient, project: dict[str, Any], created_key: dict[str, Any], operation: str
) -> None:
    operations = {**_every_management_operation(project["id"], created_key["apiKey"]["id"]), "projects": (PROJECTS, {})}
    query, variables = operations[operation]

    body = await execute(client, query, None, **variables)

    assert error_codes(body) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("operation", [op for op in OPERATIONS if op != "createProject"])
async def test_another_organizations_project_or_key_answers_like_a_missing_one(
    client: httpx.AsyncClient, admin: Caller, outsider: Caller, project: dict[str, Any],
    created_key: dict[str, Any], operation: str
) -> None:
    missing = str(uuid.uuid4())
    theirs = _every_management_operation(project["id"], created_key["apiKey"]["id"])[operation]
    nobodys = _every_management_operation(missing, missing)[operation]

    foreign = await execute(client, theirs[0], outsider.access_token, **theirs[1])
    absent = await execute(client, nobodys[0], outsider.access_token, **nobodys[1])

    assert error_codes(foreign) == ["NOT_FOUND"]
    strip = {project["id"]: "<id>", created_key["apiKey"]["id"]: "<id>", missing: "<id>"}
    assert _blanked(foreign, strip) == _blanked(absent, strip)
    assert await ok(client, PROJECTS, admin) == [project]  # untouched
    assert await ok(client, API_KEYS, admin, projectId=project["id"]) == [created_key["apiKey"]]


def _blanked(body: dict[str, Any], replacements: dict[str, str]) -> str:
    text = json.dumps(body, sort_keys=True)
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text


async def test_other_organization_does_not_see_the_projects(
    client: httpx.AsyncClient, admin: Caller, outsider: Caller, project: dict[str, Any]
) -> None:
    own = await ok(client, CREATE_PROJECT_UTC, outsider, name="Theirs")

    assert await ok(client, PROJECTS, outsider) == [own]
    assert await ok(client, PROJECTS, admin) == [project]


async def test_created_key_authenticates_at_ingest_and_its_secret_is_never_shown_or_logged_again(
    client: httpx.AsyncClient, db: asyncpg.Connection, admin: Caller, project: dict[str, Any],
    ingest_server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = await ok(client, CREATE_KEY, admin, projectId=project["id"], label="backend")
    key = created["key"]
    assert key.startswith("tm_live_") and len(key) == len("tm_live_") + 32
    assert key.startswith(created["apiKey"]["prefix"]) and len(created["apiKey"]["prefix"]) < len(key)
    assert created["apiKey"]["label"] == "backend" and created["apiKey"]["revokedAt"] is None

    channel, stub = ingest_stub(ingest_server.port)
    async with channel:
        ack = await stub.Send(batch_of([track_event()]), metadata=auth(key))
    assert ack.accepted == 1

    listing = await execute(client, API_KEYS, admin.access_token, projectId=project["id"])
    assert listing["data"]["apiKeys"] == [created["apiKey"]]
    stored_hash = await db.fetchval("SELECT key_hash FROM api_keys WHERE id = $1", uuid.UUID(created["apiKey"]["id"]))
    assert stored_hash == hash_key(key)
    for secret in (key, key[len(created["apiKey"]["prefix"]):], stored_hash.hex()):
        assert secret not in json.dumps(listing)
        assert secret not in caplog.text
    assert "api key created" in caplog.text  # the log names the key, by id and prefix only


async def _refused(stub, key: str) -> bool:
    try:
        await stub.Send(batch_of([track_event()]), metadata=auth(key))
    except grpc.aio.AioRpcError as error:
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        return True
    return False


async def test_rotated_key_new_secret_works_and_old_one_only_during_the_grace_period(
    client: httpx.AsyncClient, admin: Caller, project: dict[str, Any], ingest_server
) -> None:
    first = await ok(client, CREATE_KEY, admin, projectId=project["id"], label="web")
    second = await ok(client, CREATE_KEY, admin, projectId=project["id"], label="app")
    channel, stub = ingest_stub(ingest_server.port)
    async with channel:
        assert (await stub.Send(batch_of([track_event()]), metadata=auth(first["key"]))).accepted == 1

        rotated = await ok(client, ROTATE_KEY_DEFAULT, admin, id=first["apiKey"]["id"])  # an hour of grace
        assert rotated["key"] != first["key"] and rotated["apiKey"]["label"] == "web"
        assert rotated["apiKey"]["id"] != first["apiKey"]["id"] and rotated["apiKey"]["expiresAt"] is None
        assert (await stub.Send(batch_of([track_event()]), metadata=auth(rotated["key"]))).accepted == 1
        assert (await stub.Send(batch_of([track_event()]), metadata=auth(first["key"]))).accepted == 1

        # No grace: the old secret expires at once; ingest checks expiry on every use.
        immediate = await ok(client, ROTATE_KEY, admin, id=second["apiKey"]["id"], grace=0)
        assert await _refused(stub, second["key"])
        assert (await stub.Send(batch_of([track_event()]), metadata=auth(immediate["key"]))).accepted == 1

    keys = {k["id"]: k for k in await ok(client, API_KEYS, admin, projectId=project["id"])}
    in_an_hour = datetime.now(UTC) + timedelta(hours=1)
    assert abs(datetime.fromisoformat(keys[first["apiKey"]["id"]]["expiresAt"]) - in_an_hour) < timedelta(minutes=1)
    assert datetime.fromisoformat(keys[second["apiKey"]["id"]]["expiresAt"]) <= datetime.now(UTC)
    assert keys[rotated["apiKey"]["id"]]["expiresAt"] is None


async def test_revoked_key_shows_revoked_at_and_is_refused_by_ingest(
    client: httpx.AsyncClient, admin: Caller, developer: Caller, project: dict[str, Any],
    created_key: dict[str, Any], settings: Settings
) -> None:
    from ingest.server import start_ingest

    server = await start_ingest(settings.model_copy(update={"api_key_cache_ttl_seconds": 0.5}))
    try:
        channel, stub = ingest_stub(server.port)
        async with channel:
            assert (await stub.Send(batch_of([track_event()]), metadata=auth(created_key["key"]))).accepted == 1
            assert await ok(client, REVOKE_KEY, developer, id=created_key["apiKey"]["id"]) is True
            assert await eventually(lambda: _refused(stub, created_key["key"]), bool, within=5)
    finally:
        await server.stop(grace=1)

    (listed,) = await ok(client, API_KEYS, admin, projectId=project["id"])
    assert abs(datetime.fromisoformat(listed["revokedAt"]) - datetime.now(UTC)) < timedelta(minutes=1)
    assert await ok(client, REVOKE_KEY, admin, id=created_key["apiKey"]["id"]) is False  # already revoked
    rotate = await execute(client, ROTATE_KEY, admin.access_token, id=created_key["apiKey"]["id"], grace=0)
    assert error_codes(rotate) == ["BAD_USER_INPUT"]
    assert "revoked" in messages(rotate)[0]


_COUNTS = """SELECT (SELECT count(*) FROM events WHERE project_id = $1),
                    (SELECT count(*) FROM event_message_ids WHERE project_id = $1),
                    (SELECT count(*) FROM event_counts WHERE project_id = $1),
                    (SELECT count(*) FROM api_keys WHERE project_id = $1),
                    (SELECT count(*) FROM projects WHERE id = $1)"""


async def _with_data(db: asyncpg.Connection, project_id: uuid.UUID) -> None:
    events = [GeneratedEvent(datetime.now(UTC) - timedelta(minutes=i), f"msg-{i}", "signup") for i in range(2)]
    await insert_events(db, project_id, events)
    await db.executemany("INSERT INTO event_message_ids (project_id, message_id) VALUES ($1, $2)",
                         [(project_id, event.message_id) for event in events])


async def test_delete_project_removes_its_events_rollups_message_ids_and_keys_only(
    client: httpx.AsyncClient, db: asyncpg.Connection, admin: Caller, project: dict[str, Any],
    created_key: dict[str, Any]
) -> None:
    doomed = uuid.UUID(project["id"])
    kept_project = await ok(client, CREATE_PROJECT_UTC, admin, name="Kept")
    kept = uuid.UUID(kept_project["id"])
    await ok(client, CREATE_KEY, admin, projectId=kept_project["id"], label="kept")
    await _with_data(db, doomed)
    await _with_data(db, kept)
    assert tuple(await db.fetchrow(_COUNTS, doomed)) == (2, 2, 2, 1, 1)

    assert await ok(client, DELETE_PROJECT, admin, id=project["id"]) is True

    assert tuple(await db.fetchrow(_COUNTS, doomed)) == (0, 0, 0, 0, 0)
    assert tuple(await db.fetchrow(_COUNTS, kept)) == (2, 2, 2, 1, 1)
    assert error_codes(await execute(client, API_KEYS, admin.access_token, projectId=project["id"])) == ["NOT_FOUND"]
    gone = await execute(client, REVOKE_KEY, admin.access_token, id=created_key["apiKey"]["id"])
    assert error_codes(gone) == ["NOT_FOUND"]
