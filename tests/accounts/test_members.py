"""Members over GraphQL: the role-by-operation matrix, invitations, role changes, removal and request limits.

Against a real query server and PostgreSQL. Only an ADMIN manages members; a
user of another organization answers exactly like a missing one; a role change
ends the member's sessions; an organization always keeps an ADMIN.
"""

import base64
import json
import logging
import time
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from config import Settings
from query.auth.tokens import issue_access_token
from query.permissions import ANALYTICS_SECTIONS
from query.schema import MAX_ALIASES, MAX_TOKENS
from tests.accounts.graphql import LOGIN, ME, PASSWORD, REFRESH, error_codes, execute, messages, new_email
from tests.query.graphql_client import TRENDS
from tests.query.tenant import Caller, add_member, create_organization, create_owned_project

_MEMBER = "id email name role createdAt"
_SESSION = "accessToken refreshToken user { id email name role organization { id } sections }"

MEMBERS = f"query {{ members {{ {_MEMBER} }} }}"
INVITE = """mutation($email: String!, $role: Role!) {
  inviteMember(email: $email, role: $role) { id email role expiresAt token } }"""
ACCEPT = f"""mutation($token: String!, $name: String!, $password: String!) {{
  acceptInvitation(token: $token, name: $name, password: $password) {{ {_SESSION} }} }}"""
SET_ROLE = f"""mutation($userId: ID!, $role: Role!) {{ setMemberRole(userId: $userId, role: $role) {{ {_MEMBER} }} }}"""
REMOVE = "mutation($userId: ID!) { removeMember(userId: $userId) }"
CREATE_KEY = """mutation($projectId: ID!, $label: String!) {
  createApiKey(projectId: $projectId, label: $label) { key apiKey { id } } }"""

DEVELOPER_SECTIONS = [*ANALYTICS_SECTIONS, "events", "api_keys", "destinations", "settings"]
DAY = {"from": "2024-05-01T00:00:00Z", "to": "2024-05-02T00:00:00Z"}


async def ok(client: httpx.AsyncClient, query: str, bearer: str | None, **variables: Any) -> Any:
    """The single field of a successful operation's data."""
    body = await execute(client, query, bearer, **variables)
    assert "errors" not in body, body
    (value,) = body["data"].values()
    return value


@pytest.fixture
async def admin(db: asyncpg.Connection, accounts_settings: Settings) -> Caller:
    return await create_organization(db, accounts_settings, "Tenant")


async def invite_and_accept(client: httpx.AsyncClient, admin: Caller, role: str,
                            password: str = PASSWORD) -> dict[str, Any]:
    """A new member of `admin`'s organization, joined through an invitation; their first session."""
    invitation = await ok(client, INVITE, admin.access_token, email=new_email(), role=role)
    return await ok(client, ACCEPT, None, token=invitation["token"], name="Grace", password=password)


# The role-by-operation matrix: one representative operation per class.


def _tampered(token: str) -> str:
    """A genuine VIEWER token whose payload now claims ADMIN, signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "ADMIN"
    edited = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{edited}.{signature}"


async def _bearer(caller: str, db: asyncpg.Connection, settings: Settings, admin: Caller) -> str | None:
    if caller == "anonymous":
        return None
    if caller == "expired":
        long_ago = time.time() - settings.access_token_ttl_seconds - 60
        return issue_access_token(settings, admin.user_id, admin.organization_id, "ADMIN", now=long_ago)
    if caller == "other_org_admin":
        return (await create_organization(db, settings, "Other")).access_token
    if caller == "admin":
        return admin.access_token
    if caller == "tampered":
        return _tampered((await add_member(db, settings, admin.organization_id, "VIEWER")).access_token)
    return (await add_member(db, settings, admin.organization_id, caller.upper())).access_token


async def _operate(client: httpx.AsyncClient, operation: str, project_id: str, bearer: str | None) -> dict[str, Any]:
    if operation == "trends":
        return await execute(client, TRENDS, bearer, projectId=project_id, series=[{"math": "TOTAL"}],
                             interval="HOUR", dateRange=DAY)
    if operation == "createApiKey":
        return await execute(client, CREATE_KEY, bearer, projectId=project_id, label="ci")
    if operation == "inviteMember":
        return await execute(client, INVITE, bearer, email=new_email(), role="VIEWER")
    return await execute(client, ME, bearer)


OK = None
MATRIX = {
    # caller:            trends              createApiKey        inviteMember        me
    "admin":           (OK,                OK,                 OK,                 OK),
    "developer":       (OK,                OK,                 "FORBIDDEN",        OK),
    "viewer":          (OK,                "FORBIDDEN",        "FORBIDDEN",        OK),
    # Their own organization's members are theirs to manage; the tenant's project looks missing.
    "other_org_admin": ("NOT_FOUND",       "NOT_FOUND",        OK,                 OK),
    "anonymous":       ("UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED"),
    "expired":         ("UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED"),
    "tampered":        ("UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED"),
}
OPERATIONS = ("trends", "createApiKey", "inviteMember", "me")


@pytest.mark.parametrize(("caller", "operation", "expected"), [
    pytest.param(caller, operation, codes[i], id=f"{caller}-{operation}")
    for caller, codes in MATRIX.items() for i, operation in enumerate(OPERATIONS)
])
async def test_role_operation_matrix(
    client: httpx.AsyncClient, db: asyncpg.Connection, accounts_settings: Settings, admin: Caller,
    caller: str, operation: str, expected: str | None,
) -> None:
    project = await create_owned_project(db, admin.organization_id, "Web")
    bearer = await _bearer(caller, db, accounts_settings, admin)

    body = await _operate(client, operation, str(project.project_id), bearer)

    if expected is OK:
        assert "errors" not in body, body
        assert body["data"][operation] is not None
    else:
        assert body["data"] is None
        assert error_codes(body) == [expected], body


# Invitations.


async def test_invited_member_joins_with_the_invited_role_and_logs_in(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    email = new_email()
    invitation = await ok(client, INVITE, admin.access_token, email=email.upper(), role="DEVELOPER")
    assert invitation["email"] == email
    assert invitation["role"] == "DEVELOPER"
    assert len(invitation["token"]) >= 40

    joined = await ok(client, ACCEPT, None, token=invitation["token"], name=" Grace ", password=PASSWORD)
    assert joined["user"]["email"] == email
    assert joined["user"]["name"] == "Grace"
    assert joined["user"]["role"] == "DEVELOPER"
    assert joined["user"]["organization"]["id"] == str(admin.organization_id)

    session = await ok(client, LOGIN, None, email=email, password=PASSWORD)
    me = await ok(client, ME, session["accessToken"])
    assert me["role"] == "DEVELOPER"
    assert me["sections"] == DEVELOPER_SECTIONS

    listed = await ok(client, MEMBERS, admin.access_token)
    assert [(m["email"], m["role"]) for m in listed][-1] == (email, "DEVELOPER")
    assert "members" not in me["sections"]


async def test_used_expired_replaced_and_unknown_invitations_are_refused_alike(
    client: httpx.AsyncClient, db: asyncpg.Connection, admin: Caller
) -> None:
    used = await ok(client, INVITE, admin.access_token, email=new_email(), role="VIEWER")
    await ok(client, ACCEPT, None, token=used["token"], name="", password=PASSWORD)
    expired = await ok(client, INVITE, admin.access_token, email=new_email(), role="VIEWER")
    await db.execute("UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = $1",
                     uuid.UUID(expired["id"]))
    replaced_email = new_email()
    replaced = await ok(client, INVITE, admin.access_token, email=replaced_email, role="ADMIN")
    await ok(client, INVITE, admin.access_token, email=replaced_email, role="VIEWER")

    answers = [await execute(client, ACCEPT, token=token, name="", password=PASSWORD)
               for token in (used["token"], expired["token"], replaced["token"], "not-a-token")]

    assert [error_codes(body) for body in answers] == [["UNAUTHENTICATED"]] * 4
    assert len({messages(body)[0] for body in answers}) == 1


async def test_accepting_with_a_weak_password_keeps_the_invitation(client: httpx.AsyncClient, admin: Caller) -> None:
    invitation = await ok(client, INVITE, admin.access_token, email=new_email(), role="VIEWER")

    weak = await execute(client, ACCEPT, token=invitation["token"], name="", password="short")
    assert error_codes(weak) == ["BAD_USER_INPUT"]
    assert "short" not in messages(weak)[0]

    assert (await ok(client, ACCEPT, None, token=invitation["token"], name="", password=PASSWORD))["user"]


async def test_inviting_an_existing_users_email_is_a_conflict(
    client: httpx.AsyncClient, db: asyncpg.Connection, accounts_settings: Settings, admin: Caller
) -> None:
    other = await create_organization(db, accounts_settings, "Other")
    email = await db.fetchval("SELECT email FROM users WHERE id = $1", other.user_id)

    body = await execute(client, INVITE, admin.access_token, email=email, role="VIEWER")

    assert error_codes(body) == ["CONFLICT"]


# Role changes and removal.


async def test_set_member_role_ends_their_sessions_and_the_next_login_has_the_new_role(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    member = await invite_and_accept(client, admin, "DEVELOPER")

    changed = await ok(client, SET_ROLE, admin.access_token, userId=member["user"]["id"], role="VIEWER")
    assert changed["role"] == "VIEWER"

    refused = await execute(client, REFRESH, token=member["refreshToken"])
    assert error_codes(refused) == ["UNAUTHENTICATED"]
    session = await ok(client, LOGIN, None, email=member["user"]["email"], password=PASSWORD)
    me = await ok(client, ME, session["accessToken"])
    assert me["role"] == "VIEWER"
    assert me["sections"] == list(ANALYTICS_SECTIONS)


async def test_the_last_admin_cannot_be_demoted_or_removed(
    client: httpx.AsyncClient, db: asyncpg.Connection, accounts_settings: Settings, admin: Caller
) -> None:
    demote = await execute(client, SET_ROLE, admin.access_token, userId=str(admin.user_id), role="DEVELOPER")
    remove = await execute(client, REMOVE, admin.access_token, userId=str(admin.user_id))
    assert error_codes(demote) == ["BAD_USER_INPUT"]
    assert error_codes(remove) == ["BAD_USER_INPUT"]
    assert "last ADMIN" in messages(demote)[0]

    # With a second ADMIN, the first may step down.
    second = await add_member(db, accounts_settings, admin.organization_id, "ADMIN")
    assert (await ok(client, SET_ROLE, second.access_token, userId=str(admin.user_id), role="VIEWER"))["role"] == \
        "VIEWER"
    still = await execute(client, REMOVE, second.access_token, userId=str(second.user_id))
    assert error_codes(still) == ["BAD_USER_INPUT"]


async def test_removed_member_is_gone_and_their_refresh_token_fails(client: httpx.AsyncClient, admin: Caller) -> None:
    member = await invite_and_accept(client, admin, "VIEWER")

    assert await ok(client, REMOVE, admin.access_token, userId=member["user"]["id"]) is True

    assert error_codes(await execute(client, REFRESH, token=member["refreshToken"])) == ["UNAUTHENTICATED"]
    assert member["user"]["id"] not in [m["id"] for m in await ok(client, MEMBERS, admin.access_token)]
    assert error_codes(await execute(client, REMOVE, admin.access_token, userId=member["user"]["id"])) == \
        ["NOT_FOUND"]


async def test_another_organizations_user_answers_like_a_missing_one(
    client: httpx.AsyncClient, db: asyncpg.Connection, accounts_settings: Settings, admin: Caller
) -> None:
    outsider = await create_organization(db, accounts_settings, "Other")
    theirs = await add_member(db, accounts_settings, outsider.organization_id, "VIEWER")
    missing = str(uuid.uuid4())

    for user_id in (str(theirs.user_id), missing):
        role = await execute(client, SET_ROLE, admin.access_token, userId=user_id, role="ADMIN")
        remove = await execute(client, REMOVE, admin.access_token, userId=user_id)
        assert error_codes(role) == error_codes(remove) == ["NOT_FOUND"]
        assert messages(role) == [f"no member {user_id}"]
    assert await db.fetchval("SELECT role FROM users WHERE id = $1", theirs.user_id) == "VIEWER"
    assert str(theirs.user_id) not in [m["id"] for m in await ok(client, MEMBERS, admin.access_token)]


async def test_no_invitation_token_or_password_reaches_logs_or_later_responses(
    client: httpx.AsyncClient, admin: Caller, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "invited member password"
    invitation = await ok(client, INVITE, admin.access_token, email=new_email(), role="DEVELOPER")
    joined = await ok(client, ACCEPT, None, token=invitation["token"], name="", password=password)
    await execute(client, ACCEPT, token=invitation["token"], name="", password=password)  # reuse
    await ok(client, SET_ROLE, admin.access_token, userId=joined["user"]["id"], role="VIEWER")
    listed = await client.post("/graphql", json={"query": MEMBERS}, headers=admin.headers)

    logged = "\n".join(record.getMessage() + repr(record.__dict__) for record in caplog.records)
    assert caplog.records
    for secret in (invitation["token"], password, joined["accessToken"], joined["refreshToken"]):
        assert secret not in logged
        assert secret not in listed.text


# Request limits.


async def test_alias_amplified_documents_are_refused(client: httpx.AsyncClient, admin: Caller) -> None:
    allowed = "query { " + " ".join(f"m{i}: me {{ id }}" for i in range(MAX_ALIASES)) + " }"
    amplified = "query { " + " ".join(f"m{i}: me {{ id }}" for i in range(MAX_ALIASES + 1)) + " }"

    assert "errors" not in await execute(client, allowed, admin.access_token)
    body = await execute(client, amplified, admin.access_token)
    assert body.get("data") is None
    assert messages(body) == [f"{MAX_ALIASES + 1} aliases found. Allowed: {MAX_ALIASES}"]


async def test_huge_documents_are_refused(client: httpx.AsyncClient, admin: Caller) -> None:
    huge = "query { me { " + "id " * MAX_TOKENS + "} }"

    body = await execute(client, huge, admin.access_token)

    assert body.get("data") is None
    assert messages(body) == [f"Syntax Error: Document contains more than {MAX_TOKENS} tokens. Parsing aborted."]
