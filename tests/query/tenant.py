"""Callers for the query tests: an organization, its users with their access tokens, and its projects.

Analytics are scoped to the caller's organization, so a test that reads a
project creates it here, owned by the organization whose token it sends.
"""

import secrets
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from config import Settings
from query.auth.tokens import issue_access_token
from storage import accounts
from storage.projects import CreatedProject, create_project

# These users never log in, so no real (slow) argon2 hash is needed.
_UNUSABLE_PASSWORD_HASH = "not-a-password-hash"


@dataclass(frozen=True)
class Caller:
    organization_id: UUID
    user_id: UUID
    role: str
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.access_token}"}


def _email(role: str) -> str:
    return f"{role.lower()}-{secrets.token_hex(4)}@example.com"


async def create_organization(connection: asyncpg.Connection, settings: Settings, name: str = "Tenant") -> Caller:
    """A new organization and its ADMIN, with an access token signed by `settings`' secret."""
    organization, user = await accounts.create_organization_with_admin(
        connection, name, email=_email("admin"), name="Admin", password_hash=_UNUSABLE_PASSWORD_HASH
    )
    token = issue_access_token(settings, user.id, organization.id, user.role)
    return Caller(organization.id, user.id, user.role, token)


async def add_member(connection: asyncpg.Connection, settings: Settings, organization_id: UUID, role: str) -> Caller:
    """Another user of the organization, with this role and an access token."""
    user_id = await connection.fetchval(
        "INSERT INTO users (organization_id, email, name, password_hash, role) VALUES ($1, $2, '', $3, $4)"
        " RETURNING id",
        organization_id, _email(role), _UNUSABLE_PASSWORD_HASH, role,
    )
    return Caller(organization_id, user_id, role, issue_access_token(settings, user_id, organization_id, role))


async def create_owned_project(
    connection: asyncpg.Connection, organization_id: UUID, name: str, timezone: str = "UTC"
) -> CreatedProject:
    """A project (with its write key) belonging to the organization."""
    created = await create_project(connection, name, timezone)
    await accounts.assign_project(connection, created.project_id, organization_id)
    return created
