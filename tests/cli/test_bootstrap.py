"""`trackmint bootstrap` creates an organization, its ADMIN and a project once, then finds them."""

import json
import os
import secrets
import subprocess
import sys

import asyncpg
import pytest

from storage.api_keys import find_project_for_key


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("TRACKMINT_")}
    return {**clean, "TRACKMINT_DATABASE_URL": database_url, "TRACKMINT_NATS_URL": "nats://127.0.0.1:1"}


def _bootstrap(env: dict[str, str], email: str, password: str, org: str = "Acme",
               project: str = "Web") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "bootstrap", "--email", email, "--password", password,
         "--org", org, "--project", project],
        env=env, capture_output=True, text=True, timeout=60,
    )


async def test_bootstrap_twice_finds_the_same_organization_user_and_project(
    env: dict[str, str], db: asyncpg.Connection
) -> None:
    email = f"boot-{secrets.token_hex(4)}@example.com"
    first = _bootstrap(env, email, "a long password")
    second = _bootstrap(env, email.upper(), "a long password")

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert set(one) == {"org_id", "user_id", "project_id", "write_key"}
    assert (one["org_id"], one["user_id"], one["project_id"]) == (two["org_id"], two["user_id"], two["project_id"])
    # Keys are stored hashed, so the second run prints a new key for the same project; both work.
    assert one["write_key"] != two["write_key"]
    for key in (one["write_key"], two["write_key"]):
        assert str(await find_project_for_key(db, key)) == one["project_id"]
    assert str(await db.fetchval("SELECT organization_id FROM projects WHERE id = $1::uuid", one["project_id"])) \
        == one["org_id"]
    assert await db.fetchval("SELECT role FROM users WHERE id = $1::uuid", one["user_id"]) == "ADMIN"

    another_project = json.loads(_bootstrap(env, email, "a long password", project="Mobile").stdout)
    assert another_project["org_id"] == one["org_id"]
    assert another_project["project_id"] != one["project_id"]


def test_bootstrap_verifies_an_existing_users_password(env: dict[str, str]) -> None:
    email = f"boot-{secrets.token_hex(4)}@example.com"
    assert _bootstrap(env, email, "a long password").returncode == 0

    refused = _bootstrap(env, email, "another long password")

    assert refused.returncode == 2
    assert "password does not match" in refused.stderr
    assert "another long password" not in refused.stderr


def test_bootstrap_refuses_a_weak_password(env: dict[str, str]) -> None:
    refused = _bootstrap(env, f"boot-{secrets.token_hex(4)}@example.com", "short")

    assert refused.returncode == 2
    assert "at least 10 characters" in refused.stderr
