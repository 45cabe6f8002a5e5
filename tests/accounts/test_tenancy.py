"""Tenant isolation: analytics need an access token, and reach only projects of the caller's organization.

Another organization's project, and a project of no organization, answer exactly
like an id that does not exist. Over real HTTP and PostgreSQL.
"""

import base64
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import jwt
import pytest

from config import Settings
from query.auth.tokens import ALGORITHM, issue_access_token
from query.permissions import Role, can_read_analytics
from storage.projects import create_project
from tests.accounts.graphql import error_codes, execute, messages
from tests.query.event_data import GeneratedEvent, insert_events
from tests.query.graphql_client import EVENTS, TRENDS
from tests.query.tenant import Caller, add_member, create_organization, create_owned_project

DAY = {"from": "2024-05-01T00:00:00Z", "to": "2024-05-02T00:00:00Z"}
OPERATIONS = ("trends", "events")


async def read(client: httpx.AsyncClient, operation: str, project_id: str, bearer: str | None) -> dict[str, Any]:
    """Ask for the project's `trends` or `events` as the holder of `bearer` (anonymous if None)."""
    if operation == "trends":
        return await execute(client, TRENDS, bearer, projectId=project_id, series=[{"math": "TOTAL"}],
                             interval="HOUR", dateRange=DAY)
    return await execute(client, EVENTS, bearer, projectId=project_id)


def without(body: dict[str, Any], project_id: str) -> str:
    """The response with the asked-for id blanked out, to compare two answers for different ids."""
    return json.dumps(body, sort_keys=True).replace(project_id, "<id>")


@pytest.fixture
async def tenant(db: asyncpg.Connection, accounts_settings: Settings) -> Caller:
    """The ADMIN of a new organization."""
    return await create_organization(db, accounts_settings, "Tenant")


@pytest.fixture
async def project_id(db: asyncpg.Connection, tenant: Caller) -> str:
    """A project of `tenant`'s organization with one stored event."""
    project = await create_owned_project(db, tenant.organization_id, "Web")
    event = GeneratedEvent(datetime(2024, 5, 1, 10, 30, tzinfo=UTC), "msg-tenancy", "signup")
    await insert_events(db, project.project_id, [event])
    return str(project.project_id)


@pytest.fixture
async def outsider(db: asyncpg.Connection, accounts_settings: Settings) -> Caller:
    """The ADMIN of another organization."""
    return await create_organization(db, accounts_settings, "Other")


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_anonymous_caller_is_unauthenticated(client: httpx.AsyncClient, project_id: str, operation: str) -> None:
    body = await read(client, operation, project_id, None)

    assert body["data"] is None
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert "Authorization: Bearer" in messages(body)[0]


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_expired_token_is_unauthenticated_and_says_it_expired(
    client: httpx.AsyncClient, accounts_settings: Settings, tenant: Caller, project_id: str, operation: str
) -> None:
    long_ago = time.time() - accounts_settings.access_token_ttl_seconds - 60
    expired = issue_access_token(accounts_settings, tenant.user_id, tenant.organization_id, "ADMIN", now=long_ago)

    body = await read(client, operation, project_id, expired)

    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert "expired" in messages(body)[0]


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("role", ["VIEWER", "DEVELOPER", "ADMIN"])
async def test_every_role_of_the_organization_reads_its_analytics(
    client: httpx.AsyncClient, db: asyncpg.Connection, accounts_settings: Settings, tenant: Caller,
    project_id: str, role: str, operation: str,
) -> None:
    member = await add_member(db, accounts_settings, tenant.organization_id, role)

    body = await read(client, operation, project_id, member.access_token)

    assert "errors" not in body, body
    if operation == "trends":
        assert sum(point["value"] for point in body["data"]["trends"][0]["points"]) == 1
    else:
        assert [edge["node"]["messageId"] for edge in body["data"]["events"]["edges"]] == ["msg-tenancy"]


def test_every_role_may_read_analytics() -> None:
    assert all(can_read_analytics(role) for role in Role)


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_another_organizations_project_answers_like_a_nonexistent_one(
    client: httpx.AsyncClient, outsider: Caller, project_id: str, operation: str
) -> None:
    missing = str(uuid.uuid4())

    foreign = await read(client, operation, project_id, outsider.access_token)
    nonexistent = await read(client, operation, missing, outsider.access_token)

    assert error_codes(foreign) == error_codes(nonexistent) == ["NOT_FOUND"]
    assert messages(foreign) == [f"no project {project_id}"]
    assert messages(nonexistent) == [f"no project {missing}"]
    assert without(foreign, project_id) == without(nonexistent, missing)


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_a_project_of_no_organization_answers_like_a_nonexistent_one(
    client: httpx.AsyncClient, db: asyncpg.Connection, tenant: Caller, operation: str
) -> None:
    orphan = str((await create_project(db, "made by `trackmint project create`")).project_id)
    missing = str(uuid.uuid4())

    invisible = await read(client, operation, orphan, tenant.access_token)
    nonexistent = await read(client, operation, missing, tenant.access_token)

    assert error_codes(invisible) == ["NOT_FOUND"]
    assert without(invisible, orphan) == without(nonexistent, missing)


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_a_token_signed_with_the_wrong_secret_is_refused(
    client: httpx.AsyncClient, outsider: Caller, tenant: Caller, project_id: str, operation: str
) -> None:
    # An outsider claims to be in the tenant's organization, signing with a secret they guessed.
    forged = jwt.encode(
        {"sub": str(outsider.user_id), "org": str(tenant.organization_id), "role": "ADMIN",
         "iat": int(time.time()), "exp": int(time.time()) + 600, "typ": "access"},
        "a-guessed-secret-that-is-not-the-servers-one", algorithm=ALGORITHM,
    )

    body = await read(client, operation, project_id, forged)

    assert body["data"] is None
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert "invalid" in messages(body)[0]


@pytest.mark.parametrize("operation", OPERATIONS)
async def test_a_token_whose_org_claim_was_edited_is_refused(
    client: httpx.AsyncClient, outsider: Caller, tenant: Caller, project_id: str, operation: str
) -> None:
    # The outsider's genuine token with its payload rewritten to the tenant's organization, signature kept.
    header, payload, signature = outsider.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["org"] = str(tenant.organization_id)
    edited = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    body = await read(client, operation, project_id, f"{header}.{edited}.{signature}")

    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert "invalid" in messages(body)[0]
