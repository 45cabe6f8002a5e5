"""Register, log in, ask who I am, rotate refresh tokens, log out: over real HTTP and PostgreSQL."""

import logging
import time
import uuid

import asyncpg
import httpx
import pytest

from config import Settings
from query.auth.passwords import hash_password
from query.auth.tokens import issue_access_token
from query.permissions import ANALYTICS_SECTIONS
from tests.accounts.graphql import (
    LOGIN,
    LOGOUT,
    ME,
    PASSWORD,
    REFRESH,
    REGISTER,
    error_codes,
    execute,
    messages,
    new_email,
    register,
)

ADMIN_SECTIONS = [*ANALYTICS_SECTIONS, "events", "api_keys", "destinations", "members", "settings"]


async def test_register_login_me_refresh_and_logout(client: httpx.AsyncClient) -> None:
    email = new_email()
    registered = await register(client, email.upper(), org_name="Acme Inc")
    assert registered["user"]["email"] == email
    assert registered["user"]["role"] == "ADMIN"
    assert registered["user"]["organization"]["name"] == "Acme Inc"

    me = await execute(client, ME, registered["accessToken"])
    assert me["data"]["me"]["email"] == email
    assert me["data"]["me"]["role"] == "ADMIN"
    assert me["data"]["me"]["sections"] == ADMIN_SECTIONS

    logged_in = (await execute(client, LOGIN, email=email.title(), password=PASSWORD))["data"]["login"]
    assert logged_in["user"]["id"] == registered["user"]["id"]
    first = logged_in["refreshToken"]

    second = (await execute(client, REFRESH, token=first))["data"]["refreshToken"]
    assert second["refreshToken"] != first
    assert (await execute(client, ME, second["accessToken"]))["data"]["me"]["id"] == registered["user"]["id"]
    third = (await execute(client, REFRESH, token=second["refreshToken"]))["data"]["refreshToken"]

    assert (await execute(client, LOGOUT, token=third["refreshToken"]))["data"]["logout"] is True
    after_logout = await execute(client, REFRESH, token=third["refreshToken"])
    assert error_codes(after_logout) == ["UNAUTHENTICATED"]
    assert "revoked" in messages(after_logout)[0]
    assert (await execute(client, LOGOUT, token=third["refreshToken"]))["data"]["logout"] is False
    # Another session (the one from register) is untouched by that logout.
    assert "errors" not in await execute(client, REFRESH, token=registered["refreshToken"])


async def test_reusing_a_refresh_token_revokes_its_whole_family(client: httpx.AsyncClient) -> None:
    old = (await register(client))["refreshToken"]
    newer = (await execute(client, REFRESH, token=old))["data"]["refreshToken"]["refreshToken"]

    replay = await execute(client, REFRESH, token=old)

    assert error_codes(replay) == ["UNAUTHENTICATED"]
    assert "already used" in messages(replay)[0]
    # The legitimate newer token dies with the family: whoever holds it logs in again.
    assert error_codes(await execute(client, REFRESH, token=newer)) == ["UNAUTHENTICATED"]


async def test_unknown_refresh_token_is_unauthenticated(client: httpx.AsyncClient) -> None:
    body = await execute(client, REFRESH, token="not-a-token")
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_me_without_a_token_is_unauthenticated(client: httpx.AsyncClient) -> None:
    body = await execute(client, ME)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None


async def test_expired_access_token_is_refused_as_expired(
    client: httpx.AsyncClient, accounts_settings: Settings
) -> None:
    user = (await register(client))["user"]
    expired = issue_access_token(
        accounts_settings, uuid.UUID(user["id"]), uuid.UUID(user["organization"]["id"]), "ADMIN",
        now=time.time() - accounts_settings.access_token_ttl_seconds - 60,
    )

    body = await execute(client, ME, expired)

    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert "expired" in messages(body)[0]


@pytest.mark.parametrize("position", [10, 50, -5], ids=["header", "payload", "signature"])
async def test_tampered_access_token_is_refused_as_invalid(client: httpx.AsyncClient, position: int) -> None:
    token = (await register(client))["accessToken"]
    flipped = "A" if token[position] != "A" else "B"
    tampered = token[:position] + flipped + token[position + 1:]

    body = await execute(client, ME, tampered)

    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert "invalid" in messages(body)[0]


async def test_token_signed_with_another_secret_is_invalid(
    client: httpx.AsyncClient, accounts_settings: Settings
) -> None:
    user = (await register(client))["user"]
    other = accounts_settings.model_copy(update={"secret_key": "another-secret-key-of-enough-length-42"})
    forged = issue_access_token(other, uuid.UUID(user["id"]), uuid.UUID(user["organization"]["id"]), "ADMIN")

    assert error_codes(await execute(client, ME, forged)) == ["UNAUTHENTICATED"]


async def test_refresh_token_is_not_an_access_token(client: httpx.AsyncClient) -> None:
    session = await register(client)
    assert error_codes(await execute(client, ME, session["refreshToken"])) == ["UNAUTHENTICATED"]
    assert error_codes(await execute(client, REFRESH, token=session["accessToken"])) == ["UNAUTHENTICATED"]


async def test_duplicate_email_is_a_conflict(client: httpx.AsyncClient) -> None:
    email = new_email()
    await register(client, email)

    body = await execute(client, REGISTER, input={"orgName": "Other", "email": email.upper(), "password": PASSWORD})

    assert error_codes(body) == ["CONFLICT"]


@pytest.mark.parametrize(
    "field, value",
    [("password", "short-pw1"), ("email", "not-an-email"), ("email", "a b@example.com"), ("orgName", "  ")],
)
async def test_invalid_registration_is_bad_user_input(client: httpx.AsyncClient, field: str, value: str) -> None:
    registration = {"orgName": "Acme", "email": new_email(), "password": PASSWORD, field: value}

    body = await execute(client, REGISTER, input=registration)

    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_unknown_email_and_wrong_password_look_the_same(client: httpx.AsyncClient) -> None:
    email = new_email()
    await register(client, email)

    wrong_password = await execute(client, LOGIN, email=email, password="wrong password!")
    unknown_email = await execute(client, LOGIN, email=new_email(), password=PASSWORD)

    assert error_codes(wrong_password) == error_codes(unknown_email) == ["UNAUTHENTICATED"]
    assert messages(wrong_password) == messages(unknown_email)


async def test_login_with_a_nul_in_the_email_is_a_wrong_login_not_an_error(client: httpx.AsyncClient) -> None:
    # Found by tests/fuzz: PostgreSQL refused the NUL and the caller got a masked "Unexpected error." (no code).
    nul = await execute(client, LOGIN, email="a\x00@example.com", password=PASSWORD)
    unknown_email = await execute(client, LOGIN, email=new_email(), password=PASSWORD)

    assert error_codes(nul) == error_codes(unknown_email) == ["UNAUTHENTICATED"]
    assert messages(nul) == messages(unknown_email)


async def test_login_is_throttled_after_five_failures(client: httpx.AsyncClient) -> None:
    email = new_email()
    await register(client, email)
    for _ in range(5):
        assert error_codes(await execute(client, LOGIN, email=email, password="wrong password!")) == [
            "UNAUTHENTICATED"
        ]

    # Even the right password is refused until the window passes.
    throttled = await execute(client, LOGIN, email=email.upper(), password=PASSWORD)

    assert error_codes(throttled) == ["RATE_LIMITED"]
    retry_after = throttled["errors"][0]["extensions"]["retryAfterSeconds"]
    assert 0 < retry_after <= 300
    # Other emails are not affected.
    assert error_codes(await execute(client, LOGIN, email=new_email(), password=PASSWORD)) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    "role, sections",
    [
        ("DEVELOPER", [*ANALYTICS_SECTIONS, "events", "api_keys", "destinations", "settings"]),
        ("VIEWER", list(ANALYTICS_SECTIONS)),
    ],
)
async def test_me_lists_the_sections_of_the_role(
    client: httpx.AsyncClient, db: asyncpg.Connection, role: str, sections: list[str]
) -> None:
    # Members join through inviteMember (next); until then, insert one directly.
    org_id = uuid.UUID((await register(client))["user"]["organization"]["id"])
    email = new_email()
    await db.execute(
        "INSERT INTO users (organization_id, email, name, password_hash, role) VALUES ($1, $2, '', $3, $4)",
        org_id, email, await hash_password(PASSWORD), role,
    )
    token = (await execute(client, LOGIN, email=email, password=PASSWORD))["data"]["login"]["accessToken"]

    me = (await execute(client, ME, token))["data"]["me"]

    assert me["role"] == role
    assert me["sections"] == sections


async def test_no_secret_reaches_logs_or_me(
    client: httpx.AsyncClient, db: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    email = new_email()
    session = await register(client, email)
    await execute(client, LOGIN, email=email, password="wrong password!")
    await execute(client, REGISTER, input={"orgName": "Dup", "email": email, "password": PASSWORD})
    refreshed = (await execute(client, REFRESH, token=session["refreshToken"]))["data"]["refreshToken"]
    await execute(client, REFRESH, token=session["refreshToken"])  # reuse
    me = await client.post("/graphql", json={"query": ME},
                           headers={"authorization": f"Bearer {refreshed['accessToken']}"})
    password_hash = await db.fetchval("SELECT password_hash FROM users WHERE email = $1", email)

    secrets = [PASSWORD, "wrong password!", password_hash, session["accessToken"], session["refreshToken"],
               refreshed["accessToken"], refreshed["refreshToken"]]
    logged = "\n".join(record.getMessage() + repr(record.__dict__) for record in caplog.records)
    assert caplog.records  # the server did log (so the check below is not vacuous)
    for secret in secrets:
        assert secret not in logged
        assert secret not in me.text
